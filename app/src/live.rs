//! Live updates in the browser: the event stream (`/tasks/stream`, EventSource) moves the bars
//! on each tick; while the stream cannot be opened or has dropped, statuses are polled every
//! second until it is back. Only the browser runs this; the server renders the page as it is.

use leptos::prelude::*;

/// How the page is kept up to date right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveMode {
    /// Not started (server render, or before hydration).
    Off,
    /// Opening the event stream.
    Connecting,
    /// Events arrive over the stream.
    Streaming,
    /// The stream is down; polling every second.
    Polling,
}

impl LiveMode {
    /// Words for the indicator.
    pub fn label(self) -> &'static str {
        match self {
            LiveMode::Off => "Updates start when the page has loaded",
            LiveMode::Connecting => "Connecting…",
            LiveMode::Streaming => "Live: streaming",
            LiveMode::Polling => "Live: polling every second",
        }
    }

    /// Short name, for styling and tests.
    pub fn name(self) -> &'static str {
        match self {
            LiveMode::Off => "off",
            LiveMode::Connecting => "connecting",
            LiveMode::Streaming => "sse",
            LiveMode::Polling => "polling",
        }
    }
}

/// The indicator of the current mode.
#[component]
pub fn LiveIndicator(mode: RwSignal<LiveMode>) -> impl IntoView {
    view! {
        <p class=move || format!("live live-{}", mode.get().name()) role="status" data-mode=move || mode.get().name()>
            {move || mode.get().label()}
        </p>
    }
}

#[cfg(feature = "hydrate")]
pub use browser::{Targets, refresh, start};

#[cfg(feature = "hydrate")]
mod browser {
    use std::cell::RefCell;
    use std::rc::Rc;

    use gloo_timers::future::TimeoutFuture;
    use leptos::prelude::*;
    use leptos::task::spawn_local;
    use serde_json::Value;
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;
    use web_sys::{EventSource, MessageEvent};

    use super::LiveMode;
    use crate::api::{queue_counts, task_statuses};
    use crate::tasks::TaskStore;
    use crate::types::{JobCounts, JobState, TaskProgress, TaskResult};

    /// The stream events the page listens to: state changes (which also change the counts)
    /// and progress.
    const EVENTS: [&str; 10] = [
        "reset",
        "added",
        "waiting",
        "active",
        "completed",
        "failed",
        "delayed",
        "stalled",
        "removed",
        "progress",
    ];
    /// How long the page waits before opening a closed stream again.
    const REOPEN_AFTER_MS: u32 = 3000;
    const POLL_EVERY_MS: u32 = 1000;

    /// What the live loop updates.
    #[derive(Clone, Copy)]
    pub struct Targets {
        /// The user's tasks.
        pub store: TaskStore,
        /// The mode indicator.
        pub mode: RwSignal<LiveMode>,
        /// The counts panel.
        pub counts: RwSignal<Option<JobCounts>>,
    }

    /// An open event stream with the callbacks wired to it. The callbacks are owned here and
    /// dropped with the stream when it is replaced, so reopening never leaks them.
    pub struct OpenStream {
        source: EventSource,
        _on_open: Closure<dyn FnMut()>,
        _on_error: Closure<dyn FnMut()>,
        _on_events: Vec<Closure<dyn FnMut(MessageEvent)>>,
    }

    impl Drop for OpenStream {
        fn drop(&mut self) {
            self.source.set_onopen(None);
            self.source.set_onerror(None);
            self.source.close();
        }
    }

    type Slot = Rc<RefCell<Option<OpenStream>>>;

    /// Starts the event stream and the polling fallback for the page's lifetime.
    pub fn start(targets: Targets) {
        let stream: Slot = Rc::new(RefCell::new(None));
        open(targets, &stream);
        spawn_local(poll_loop(targets, stream));
    }

    /// Opens the event stream (closing any previous one) and wires its events to the page.
    fn open(targets: Targets, slot: &Slot) {
        slot.borrow_mut().take();
        targets.mode.set(LiveMode::Connecting);
        let Ok(source) = EventSource::new("/tasks/stream") else {
            targets.mode.set(LiveMode::Polling);
            return;
        };
        let on_open = Closure::<dyn FnMut()>::new(move || {
            targets.mode.set(LiveMode::Streaming);
            // Catch up on anything that happened while we were not streaming.
            spawn_local(refresh(targets));
        });
        source.set_onopen(Some(on_open.as_ref().unchecked_ref()));

        let on_error = Closure::<dyn FnMut()>::new(move || {
            targets.mode.set(LiveMode::Polling);
        });
        source.set_onerror(Some(on_error.as_ref().unchecked_ref()));

        let mut on_events = Vec::with_capacity(EVENTS.len());
        for name in EVENTS {
            let on_event = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
                if name == "reset" {
                    // The server could not replay everything we missed: reload it all.
                    spawn_local(refresh(targets));
                    return;
                }
                let Some(text) = event.data().as_string() else {
                    return;
                };
                let Ok(data) = serde_json::from_str::<Value>(&text) else {
                    return;
                };
                apply(targets, name, &data);
            });
            let _ =
                source.add_event_listener_with_callback(name, on_event.as_ref().unchecked_ref());
            on_events.push(on_event);
        }
        *slot.borrow_mut() = Some(OpenStream {
            source,
            _on_open: on_open,
            _on_error: on_error,
            _on_events: on_events,
        });
    }

    /// Applies one stream event to the page.
    fn apply(targets: Targets, name: &str, data: &Value) {
        if name != "progress" {
            spawn_local(refresh_counts(targets));
        }
        let Some(id) = data.get("jobId").and_then(Value::as_str) else {
            return;
        };
        targets.store.update(id, |view| match name {
            "progress" => {
                if let Some(progress) = data.get("data").and_then(TaskProgress::from_value) {
                    view.progress = Some(progress);
                    view.state = Some(JobState::Active);
                }
            }
            "active" => view.state = Some(JobState::Active),
            "waiting" | "stalled" => view.state = Some(JobState::Waiting),
            "delayed" => view.state = Some(JobState::Delayed),
            "completed" => {
                view.state = Some(JobState::Completed);
                view.result = data.get("returnvalue").and_then(TaskResult::from_value);
            }
            "failed" => {
                view.state = Some(JobState::Failed);
                view.failed_reason = data
                    .get("failedReason")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
            }
            "removed" => view.state = None,
            _ => {}
        });
    }

    /// Every second: poll while the stream is down, and reopen a stream the browser gave up on.
    async fn poll_loop(targets: Targets, slot: Slot) {
        let mut closed_for_ms = 0;
        loop {
            TimeoutFuture::new(POLL_EVERY_MS).await;
            if targets.mode.get_untracked() != LiveMode::Polling {
                closed_for_ms = 0;
                continue;
            }
            refresh(targets).await;
            let closed = slot
                .borrow()
                .as_ref()
                .is_none_or(|s| s.source.ready_state() == EventSource::CLOSED);
            if closed {
                closed_for_ms += POLL_EVERY_MS;
                if closed_for_ms >= REOPEN_AFTER_MS {
                    closed_for_ms = 0;
                    open(targets, &slot);
                    // `open` says Connecting; keep polling until the stream confirms.
                    targets.mode.set(LiveMode::Polling);
                }
            }
        }
    }

    /// Fetches every listed task's status and the counts.
    pub async fn refresh(targets: Targets) {
        let ids = targets.store.ids();
        if !ids.is_empty()
            && let Ok(views) = task_statuses(ids).await
        {
            for view in views {
                targets.store.set_view(view);
            }
        }
        refresh_counts(targets).await;
    }

    thread_local! {
        /// Whether a counts request is in flight, and whether another one was asked for
        /// meanwhile: a busy queue sends many events, but the page asks for counts at most
        /// once per [`COUNTS_EVERY_MS`], one request at a time.
        static COUNTS: std::cell::Cell<(bool, bool)> = const { std::cell::Cell::new((false, false)) };
    }

    /// Least time between two counts requests.
    const COUNTS_EVERY_MS: u32 = 1000;

    async fn refresh_counts(targets: Targets) {
        let (in_flight, _) = COUNTS.get();
        if in_flight {
            COUNTS.set((true, true));
            return;
        }
        loop {
            COUNTS.set((true, false));
            let started = js_sys::Date::now();
            if let Ok(Some(counts)) = queue_counts().await {
                targets.counts.set(Some(counts));
            }
            // Asked again meanwhile: wait out the rest of the interval, then ask once for all.
            let spent = (js_sys::Date::now() - started).max(0.0) as u32;
            TimeoutFuture::new(COUNTS_EVERY_MS.saturating_sub(spent)).await;
            let (_, again) = COUNTS.get();
            if !again {
                COUNTS.set((false, false));
                return;
            }
        }
    }
}
