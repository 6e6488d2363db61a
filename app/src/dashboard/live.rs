//! Live updates for the dashboard. The event stream (the one shared reader of the queue's
//! events per server process) only marks the view as changed; a loop reads it again at most
//! once a second while things change, and every five seconds anyway (workers' heartbeats, the
//! minute's figures). Without a stream the loop polls every five seconds and tries the stream
//! again every thirty.

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

/// Starts the updates for the current view: `tick` goes up when it should be read again.
/// With `job`, only that job's events count. Without `stream` (a queue the event stream does
/// not carry), the view is read every two seconds.
pub fn start(tick: RwSignal<u64>, feed: RwSignal<Feed>, job: Option<String>, stream: bool) {
    #[cfg(feature = "hydrate")]
    imp::start(tick, feed, job, stream);
    #[cfg(not(feature = "hydrate"))]
    let _ = (tick, feed, job, stream);
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

    use super::Feed;
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
    const READ_OTHER_MS: u32 = 2000;
    const STREAM_RETRY_MS: f64 = 30_000.0;
    const QUICK_RETRY_MS: f64 = 2000.0;
    const QUICK_TRIES: u32 = 5;
    const SILENT_AFTER_MS: f64 = 7000.0;

    struct Marks {
        dirty: Cell<bool>,
        failed: Cell<bool>,
        heard: Cell<f64>,
    }

    fn open(marks: &Rc<Marks>, job: &Option<String>) -> Option<EventStream> {
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

    pub fn start(tick: RwSignal<u64>, feed: RwSignal<Feed>, job: Option<String>, stream: bool) {
        let alive = Arc::new(AtomicBool::new(true));
        {
            let alive = alive.clone();
            on_cleanup(move || alive.store(false, Ordering::Relaxed));
        }
        if !stream {
            spawn_local(async move {
                feed.set(Feed::Reading);
                loop {
                    TimeoutFuture::new(READ_OTHER_MS).await;
                    if !alive.load(Ordering::Relaxed) {
                        return;
                    }
                    tick.update(|t| *t += 1);
                }
            });
            return;
        }
        spawn_local(async move {
            let marks = Rc::new(Marks {
                dirty: Cell::new(false),
                failed: Cell::new(false),
                heard: Cell::new(now_ms()),
            });
            let mut stream = open(&marks, &job);
            let mut opened_at = now_ms();
            let mut tries: u32 = 0;
            let mut read_at = now_ms();
            loop {
                TimeoutFuture::new(1000).await;
                if !alive.load(Ordering::Relaxed) {
                    return;
                }
                let now = now_ms();
                let silent = now - marks.heard.get() > SILENT_AFTER_MS;
                let up = stream.is_some() && !marks.failed.get() && !silent;
                if !up && stream.is_some() {
                    stream = None;
                }
                // A stream that dropped is tried again soon (a restarting server), then every
                // thirty seconds.
                let wait = if tries < QUICK_TRIES {
                    QUICK_RETRY_MS
                } else {
                    STREAM_RETRY_MS
                };
                if stream.is_none() && now - opened_at >= wait {
                    stream = open(&marks, &job);
                    opened_at = now;
                    tries += 1;
                }
                if up {
                    tries = 0;
                }
                let feed_now = if up { Feed::Live } else { Feed::Polling };
                if feed.get_untracked() != feed_now {
                    feed.set(feed_now);
                    // Back from a gap: read at once.
                    marks.dirty.set(true);
                }
                if marks.dirty.replace(false) || now - read_at >= QUIET_READ_MS {
                    read_at = now;
                    tick.update(|t| *t += 1);
                }
            }
        });
    }
}
