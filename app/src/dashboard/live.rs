//! Live updates for the dashboard, and how honest the page is about them.
//!
//! The event stream (the one shared reader of the queue's events per server process) marks the
//! view as changed; a loop reads it again at most once a second while things change, and every
//! five seconds anyway (workers' heartbeats, the minute's figures). Another program's queue,
//! which the stream does not carry, is read every two seconds. Every page keeps the stream open
//! for its `status` events: whether the server reaches Redis.
//!
//! When Redis or the server does not answer (a `status` event says so, or a read is refused as
//! unreachable), the page says since when and when it last read anything, keeps what it showed
//! (marked stale, `kept.rs`) and reads again with back-off (2 s, doubling to 30 s); the
//! stream's `status` event saying Redis answers again brings a read at once.

use leptos::prelude::*;

/// How the dashboard learns of changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feed {
    /// Not started (the server's render, or the first second).
    Starting,
    /// Pushed by the event stream.
    Live,
    /// Read every few seconds: the stream is not available.
    Polling,
    /// Read every two seconds: another program's queue, which the event stream does not carry.
    Reading,
}

impl Feed {
    /// The badge's words.
    pub fn words(self) -> &'static str {
        match self {
            Feed::Starting => "Connecting…",
            Feed::Live => "Live",
            Feed::Polling => "Not live: reading every 5 s",
            Feed::Reading => "Reading every 2 s",
        }
    }
}

/// What does not answer, when something does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Down {
    /// The server answers and says Redis does not.
    Redis,
    /// The server itself does not answer.
    Server,
}

/// Whether the page's reads are answered, and since when not.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Health {
    /// What does not answer and since when (ms since the epoch), while something does not.
    pub down: Option<(Down, f64)>,
    /// When a read was last answered (ms since the epoch).
    pub last_good: Option<f64>,
}

impl Health {
    /// The badge's words while something does not answer: since when, and the last good read.
    pub fn words(&self, now_ms: f64) -> Option<String> {
        use crate::model::time::{clock, relative};
        let (what, since) = self.down?;
        let what = match what {
            Down::Redis => "Redis unreachable",
            Down::Server => "Server unreachable",
        };
        let last = match self.last_good {
            Some(at) => format!(
                "; last good read {} ({})",
                clock(at as u64),
                relative(at as u64, now_ms)
            ),
            None => String::new(),
        };
        Some(format!("{what} since {}{last}", clock(since as u64)))
    }
}

/// What a page keeps live: the tick its reads follow, how live it is, whether its reads are
/// answered, and the time its ages are counted from.
#[derive(Clone, Copy)]
pub struct Live {
    /// Moves when the page should read again.
    pub tick: RwSignal<u64>,
    /// How live it is.
    pub feed: RwSignal<Feed>,
    /// Whether reads are answered.
    pub health: RwSignal<Health>,
    /// Now (ms since the epoch), moved every second in the browser.
    pub now: RwSignal<f64>,
}

impl Live {
    /// Starts the updates for the current view. With `job`, only that job's events count.
    /// Without `stream` (a queue the event stream does not carry), the view is read every two
    /// seconds.
    pub fn start(job: Option<String>, stream: bool) -> Self {
        let live = Self {
            tick: RwSignal::new(0),
            feed: RwSignal::new(Feed::Starting),
            health: RwSignal::new(Health::default()),
            now: RwSignal::new(crate::model::time::now_ms()),
        };
        #[cfg(feature = "hydrate")]
        imp::start(live, job, stream);
        #[cfg(not(feature = "hydrate"))]
        let _ = (job, stream);
        live
    }

    /// A read was answered at `at`.
    pub fn answered(self, at: f64) {
        let health = self.health.get_untracked();
        if health.down.is_some() || health.last_good.is_none_or(|last| at - last > 1000.0) {
            self.health.set(Health {
                down: None,
                last_good: Some(at),
            });
        }
    }

    /// A read was refused because `what` does not answer, at `at`.
    pub fn unanswered(self, what: Down, at: f64) {
        let health = self.health.get_untracked();
        if health.down.map(|(was, _)| was) != Some(what) {
            let since = health.down.map_or(at, |(_, since)| since);
            self.health.set(Health {
                down: Some((what, since)),
                ..health
            });
        }
    }
}

#[cfg(feature = "hydrate")]
mod imp {
    use std::cell::Cell;
    use std::rc::Rc;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use gloo_timers::future::TimeoutFuture;
    use leptos::prelude::*;
    use leptos::task::spawn_local;
    use web_sys::MessageEvent;

    use crate::stream::EventStream;

    use super::{Down, Feed, Live};
    use crate::model::time::now_ms;

    const EVENTS: [&str; 16] = [
        "status",
        "reset",
        "added",
        "waiting",
        "active",
        "progress",
        "completed",
        "failed",
        "delayed",
        "removed",
        "stalled",
        "paused",
        "resumed",
        "cleaned",
        "retries-exhausted",
        "log",
    ];
    const QUIET_READ_MS: f64 = 5000.0;
    const READ_OTHER_MS: f64 = 2000.0;
    const STREAM_RETRY_MS: f64 = 30_000.0;
    const QUICK_RETRY_MS: f64 = 2000.0;
    const QUICK_TRIES: u32 = 5;
    const SILENT_AFTER_MS: f64 = 7000.0;
    /// Reads while something does not answer: after 2 s, doubling up to 30 s.
    const FIRST_BACKOFF_MS: f64 = 2000.0;
    const MAX_BACKOFF_MS: f64 = 30_000.0;

    struct Marks {
        dirty: Cell<bool>,
        failed: Cell<bool>,
        heard: Cell<f64>,
    }

    /// The `status` event's news: whether the server reaches Redis, and since when.
    fn status(event: &MessageEvent) -> Option<(bool, f64)> {
        let text = event.data().as_string()?;
        let data: serde_json::Value = serde_json::from_str(&text).ok()?;
        let up = data.get("queue")?.as_str()? == "up";
        let since = data.get("since").and_then(serde_json::Value::as_f64)?;
        Some((up, since))
    }

    fn open(
        marks: &Rc<Marks>,
        live: Live,
        job: &Option<String>,
        stream: bool,
    ) -> Option<EventStream> {
        marks.failed.set(false);
        marks.heard.set(now_ms());
        let on_error = {
            let marks = Rc::downgrade(marks);
            move || {
                if let Some(marks) = marks.upgrade() {
                    marks.failed.set(true);
                }
            }
        };
        let on_event = {
            let marks = Rc::downgrade(marks);
            let job = job.clone();
            move |name: &'static str, event: MessageEvent| {
                let Some(marks) = marks.upgrade() else { return };
                marks.heard.set(now_ms());
                if name == "status" {
                    match status(&event) {
                        Some((false, since)) => {
                            let health = live.health.get_untracked();
                            if health.down.map(|(what, _)| what) != Some(Down::Redis) {
                                live.health.set(super::Health {
                                    down: Some((Down::Redis, since)),
                                    ..health
                                });
                            }
                        }
                        Some((true, _)) if live.health.get_untracked().down.is_some() => {
                            // Back: read at once (the read's answer clears the badge).
                            live.tick.update(|t| *t += 1);
                        }
                        _ => {}
                    }
                    return;
                }
                if !stream {
                    return;
                }
                let about_job = match &job {
                    None => true,
                    Some(id) => event
                        .data()
                        .as_string()
                        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
                        .and_then(|data| {
                            data.get("jobId").and_then(|v| v.as_str()).map(|j| j == id)
                        })
                        .unwrap_or(name == "reset"),
                };
                if about_job {
                    marks.dirty.set(true);
                }
            }
        };
        EventStream::open(&EVENTS, on_error, on_event)
    }

    pub fn start(live: Live, job: Option<String>, stream: bool) {
        let alive = Arc::new(AtomicBool::new(true));
        {
            let alive = alive.clone();
            on_cleanup(move || alive.store(false, Ordering::Relaxed));
        }
        spawn_local(async move {
            let marks = Rc::new(Marks {
                dirty: Cell::new(false),
                failed: Cell::new(false),
                heard: Cell::new(now_ms()),
            });
            let mut events = open(&marks, live, &job, stream);
            let mut opened_at = now_ms();
            let mut tries: u32 = 0;
            let mut read_at = now_ms();
            let mut backoff = FIRST_BACKOFF_MS;
            loop {
                TimeoutFuture::new(1000).await;
                if !alive.load(Ordering::Relaxed) {
                    return;
                }
                let now = now_ms();
                live.now.set(now);
                let silent = now - marks.heard.get() > SILENT_AFTER_MS;
                let up = events.is_some() && !marks.failed.get() && !silent;
                if !up && events.is_some() {
                    events = None;
                }
                // A stream that dropped is tried again soon (a restarting server), then every
                // thirty seconds.
                let wait = if tries < QUICK_TRIES {
                    QUICK_RETRY_MS
                } else {
                    STREAM_RETRY_MS
                };
                if events.is_none() && now - opened_at >= wait {
                    events = open(&marks, live, &job, stream);
                    opened_at = now;
                    tries += 1;
                }
                if up {
                    tries = 0;
                }
                let feed_now = match (stream, up) {
                    (false, _) => Feed::Reading,
                    (true, true) => Feed::Live,
                    (true, false) => Feed::Polling,
                };
                if live.feed.get_untracked() != feed_now {
                    live.feed.set(feed_now);
                    // Back from a gap: read at once.
                    if feed_now == Feed::Live {
                        marks.dirty.set(true);
                    }
                }
                let down = live.health.get_untracked().down.is_some();
                let due = if down {
                    now - read_at >= backoff
                } else {
                    backoff = FIRST_BACKOFF_MS;
                    let quiet = if stream { QUIET_READ_MS } else { READ_OTHER_MS };
                    marks.dirty.replace(false) || now - read_at >= quiet
                };
                if due {
                    if down {
                        backoff = (backoff * 2.0).min(MAX_BACKOFF_MS);
                        marks.dirty.set(false);
                    }
                    read_at = now;
                    live.tick.update(|t| *t += 1);
                }
            }
        });
    }
}
