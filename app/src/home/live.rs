//! Live updates in the browser, and an honest word on how live the page is.
//!
//! The event stream (`/tasks/stream`) moves the bars on each tick and carries a `status` event
//! (at once, on each change, and every few seconds) saying whether the server reaches the
//! queue. The page tells apart: live; the queue unreachable (the server says so); reconnecting
//! (the stream dropped or went silent); the server unreachable (requests fail). While the
//! stream is down it asks the server with back-off (one request at a time, at most one every
//! few seconds), and when the server answers but the stream cannot be opened it polls. All
//! other requests (statuses of changed tasks, counts) go through one throttle: at most one
//! request a second, however busy the queue.

use leptos::prelude::*;

use crate::model::time::relative;
use crate::model::types::{TaskProgress, TaskResult};

/// How the page is kept up to date right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// Not started (server render, or before hydration).
    Off,
    /// Opening the event stream for the first time.
    Starting,
    /// Events arrive and the queue answers.
    Live,
    /// The server answers but the event stream cannot be opened: polling.
    Polling,
    /// The server answers but cannot reach the queue.
    QueueDown,
    /// The event stream dropped or went silent; finding out why.
    Reconnecting,
    /// Requests to the server fail.
    ServerDown,
}

/// The link and its history.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LiveState {
    /// How the page is kept up to date.
    pub link: Link,
    /// Since when the page has not been live (ms since the epoch).
    pub since: f64,
    /// When the page last got news it trusts (ms since the epoch).
    pub last_update: f64,
}

impl Default for LiveState {
    fn default() -> Self {
        Self {
            link: Link::Off,
            since: 0.0,
            last_update: 0.0,
        }
    }
}

impl LiveState {
    /// Short name, for styling and tests.
    pub fn name(&self) -> &'static str {
        match self.link {
            Link::Off => "off",
            Link::Starting => "starting",
            Link::Live => "live",
            Link::Polling => "polling",
            Link::QueueDown => "queue-down",
            Link::Reconnecting => "reconnecting",
            Link::ServerDown => "server-down",
        }
    }

    /// Whether what the page shows may be out of date.
    pub fn is_stale(&self) -> bool {
        matches!(
            self.link,
            Link::QueueDown | Link::Reconnecting | Link::ServerDown
        )
    }

    /// The words of the indicator at `now`.
    pub fn label(&self, now: f64) -> String {
        let since = || {
            let ago = relative(self.since.max(0.0) as u64, now);
            ago.strip_suffix(" ago").map(str::to_string).unwrap_or(ago)
        };
        let age = || {
            if self.last_update > 0.0 {
                format!("; last update {}", relative(self.last_update as u64, now))
            } else {
                String::new()
            }
        };
        match self.link {
            // True with or without scripts: the `<noscript>` beside it says why, where no
            // script runs (the page would otherwise promise updates that never come).
            Link::Off => "Not live yet".to_string(),
            Link::Starting => "Connecting…".to_string(),
            Link::Live => "Live".to_string(),
            Link::Polling => "Live (checking every second; no event stream)".to_string(),
            Link::QueueDown => format!("Queue unreachable for {}{}", since(), age()),
            Link::Reconnecting => format!("Reconnecting for {}{}", since(), age()),
            Link::ServerDown => format!("Server unreachable for {}{}", since(), age()),
        }
    }
}

/// The indicator of the current state.
#[component]
pub fn LiveIndicator(
    state: RwSignal<LiveState>,
    now: Signal<f64>,
    /// What the page says where no script runs (how it updates without them).
    no_script: String,
) -> impl IntoView {
    view! {
        <p class=move || format!("live live-{}", state.with(LiveState::name)) data-mode=move || state.with(LiveState::name)>
            <span class="dot" aria-hidden="true"></span>
            <span class="label">{move || state.get().label(now.get())}</span>
            <noscript inner_html=no_script></noscript>
        </p>
    }
}

/// What the page reads of a stream event's data: each field on its own, so a field of another
/// shape (Node producers and other tools write these jobs too) counts as absent without losing
/// the rest; data that is not a JSON object has none.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StreamData {
    /// `jobId`: the job the event is about.
    pub job_id: Option<String>,
    /// `queue`: in a `status` event, `up` when the server reaches the queue.
    pub queue: Option<String>,
    /// `failedReason`, in a `failed` event.
    pub failed_reason: Option<String>,
    /// `data` of a `progress` event, when it has the task's shape.
    pub progress: Option<TaskProgress>,
    /// `returnvalue` of a `completed` event, when it has the task's shape.
    pub result: Option<TaskResult>,
}

impl StreamData {
    /// Reads an event's data (JSON text).
    pub fn parse(text: &str) -> Self {
        use serde_json::value::RawValue;
        #[derive(Default, serde::Deserialize)]
        #[serde(default)]
        struct Fields<'a> {
            #[serde(rename = "jobId", borrow)]
            job_id: Option<&'a RawValue>,
            #[serde(borrow)]
            queue: Option<&'a RawValue>,
            #[serde(rename = "failedReason", borrow)]
            failed_reason: Option<&'a RawValue>,
            #[serde(borrow)]
            data: Option<&'a RawValue>,
            #[serde(borrow)]
            returnvalue: Option<&'a RawValue>,
        }
        fn read<T: serde::de::DeserializeOwned>(raw: Option<&RawValue>) -> Option<T> {
            raw.and_then(|raw| serde_json::from_str(raw.get()).ok())
        }
        let fields: Fields = serde_json::from_str(text).unwrap_or_default();
        Self {
            job_id: read(fields.job_id),
            queue: read(fields.queue),
            failed_reason: read(fields.failed_reason),
            progress: read(fields.data),
            result: read(fields.returnvalue),
        }
    }
}

#[cfg(feature = "hydrate")]
pub use browser::{Targets, read_now, start};

#[cfg(feature = "hydrate")]
mod browser {
    use std::cell::{Cell, RefCell};
    use std::rc::Rc;

    use gloo_timers::future::TimeoutFuture;
    use leptos::prelude::*;
    use leptos::task::spawn_local;
    use web_sys::MessageEvent;

    use super::{Link, LiveState, StreamData};
    use crate::home::api::{
        MAX_IDS_PER_CALL, QueueCounts, QueueReachable, TaskStatuses, statuses_form,
    };
    use crate::home::client::{CallError, call};
    use crate::home::tasks::TaskStore;
    use crate::home::view::Presence;
    use crate::model::time::now_ms;
    use crate::model::types::{JobCounts, JobState};
    use crate::model::url::Form;

    /// The stream events the page listens to.
    const EVENTS: [&str; 13] = [
        "status",
        "reset",
        "paused",
        "resumed",
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
    /// The server sends a `status` event at least this often; a stream silent for longer is
    /// taken as dropped.
    const SILENT_AFTER_MS: f64 = 7000.0;
    /// Back-off between checks while the stream is down: first, then doubled up to the cap
    /// (the cap keeps recovery noticed within a few seconds).
    const FIRST_CHECK_MS: f64 = 1000.0;
    const MAX_CHECK_MS: f64 = 3000.0;
    /// Failed stream opens (with the server answering) before falling back to polling, and
    /// how often a polling page tries the stream again.
    const STREAM_TRIES: u32 = 3;
    const STREAM_RETRY_MS: f64 = 30_000.0;
    /// How often waiting tasks' places in the queue are read again.
    const WAITING_EVERY_MS: f64 = 5000.0;

    /// What the live loop updates.
    #[derive(Clone, Copy)]
    pub struct Targets {
        /// The user's tasks.
        pub store: TaskStore,
        /// The indicator.
        pub state: RwSignal<LiveState>,
        /// The counts panel, when the viewer may see counts.
        pub counts: Option<RwSignal<Option<JobCounts>>>,
        /// Whether the stream carries only this user's jobs (a submitter): then an `added`
        /// event is one of their tasks, enqueued elsewhere, and joins the list.
        pub own_stream: bool,
        /// Called after tasks joined the list (to store it).
        pub listed: Callback<()>,
    }

    /// The loop's state, shared with the stream's callbacks.
    struct Live {
        targets: Targets,
        stream: RefCell<Option<crate::stream::EventStream>>,
        /// Set by the stream's error callback (which must not drop the stream it belongs to).
        failed: Cell<bool>,
        last_event: Cell<f64>,
        stream_tries: Cell<u32>,
        /// Tasks whose status should be read again, and whether counts should.
        dirty: RefCell<Vec<String>>,
        counts_wanted: Cell<bool>,
        last_waiting_check: Cell<f64>,
    }

    impl Live {
        fn set_link(&self, link: Link) {
            let now = now_ms();
            self.targets.state.update(|state| {
                let was_live = !state.is_stale();
                if link == Link::Live || link == Link::Polling {
                    state.last_update = now;
                } else if was_live || state.since == 0.0 {
                    state.since = now;
                }
                state.link = link;
            });
        }

        fn link(&self) -> Link {
            self.targets.state.with_untracked(|s| s.link)
        }

        fn stream_ok(&self) -> bool {
            self.stream.borrow().is_some() && !self.failed.get()
        }
    }

    /// Starts live updates for the page's lifetime.
    pub fn start(targets: Targets) {
        let live = Rc::new(Live {
            targets,
            stream: RefCell::new(None),
            failed: Cell::new(false),
            last_event: Cell::new(now_ms()),
            stream_tries: Cell::new(0),
            dirty: RefCell::new(Vec::new()),
            counts_wanted: Cell::new(false),
            last_waiting_check: Cell::new(now_ms()),
        });
        live.set_link(Link::Starting);
        open(&live);
        spawn_local(run(live));
    }

    /// Opens the event stream (closing any previous one) and wires its events to the page.
    fn open(live: &Rc<Live>) {
        live.stream.borrow_mut().take();
        live.failed.set(false);
        live.last_event.set(now_ms());
        live.stream_tries.set(live.stream_tries.get() + 1);
        let on_error = {
            let live = Rc::downgrade(live);
            move || {
                if let Some(live) = live.upgrade() {
                    live.failed.set(true);
                    if !live.targets.state.with_untracked(LiveState::is_stale) {
                        live.set_link(Link::Reconnecting);
                    }
                }
            }
        };
        let on_event = {
            let live = Rc::downgrade(live);
            move |name: &'static str, event: MessageEvent| {
                let Some(live) = live.upgrade() else {
                    return;
                };
                live.last_event.set(now_ms());
                let data = event
                    .data()
                    .as_string()
                    .map(|text| StreamData::parse(&text))
                    .unwrap_or_default();
                // A queue event's id is its Redis stream entry id: `<ms>-<seq>`, when it
                // happened.
                let at = event
                    .last_event_id()
                    .split_once('-')
                    .and_then(|(ms, _)| ms.parse::<u64>().ok());
                on_stream_event(&live, name, &data, at);
            }
        };
        match crate::stream::EventStream::open(&EVENTS, on_error, on_event) {
            Some(stream) => *live.stream.borrow_mut() = Some(stream),
            None => live.failed.set(true),
        }
    }

    fn on_stream_event(live: &Live, name: &str, data: &StreamData, at: Option<u64>) {
        match name {
            "status" => {
                live.stream_tries.set(0);
                let up = data.queue.as_deref() == Some("up");
                match (up, live.link()) {
                    (true, Link::Live) => {
                        live.targets.state.update(|s| s.last_update = now_ms());
                    }
                    (true, _) => {
                        live.set_link(Link::Live);
                        // Catch up on whatever happened while we were not live.
                        mark_all(live);
                    }
                    (false, Link::QueueDown) => {}
                    (false, _) => live.set_link(Link::QueueDown),
                }
            }
            // A pause or resume changes what every waiting task's line says.
            "reset" | "paused" | "resumed" => mark_all(live),
            _ => {
                if live.link() == Link::Live {
                    live.targets.state.update(|s| s.last_update = now_ms());
                }
                apply(live, name, data, at);
            }
        }
    }

    /// Asks for every listed task that may have changed, and the counts.
    fn mark_all(live: &Live) {
        mark(live, live.targets.store.ids_to_refresh());
        live.counts_wanted.set(true);
    }

    /// Applies one stream event to the page.
    fn apply(live: &Live, name: &str, data: &StreamData, at: Option<u64>) {
        let store = live.targets.store;
        if name != "progress" {
            live.counts_wanted.set(true);
        }
        let Some(id) = data.job_id.as_deref() else {
            return;
        };
        if name == "added" && live.targets.own_stream && store.add(id, now_ms()) {
            // One of this user's tasks, enqueued in another browser.
            live.targets.listed.run(());
        }
        if !store.has(id) {
            return;
        }
        store.update(id, |view| match name {
            "progress" => {
                if let Some(progress) = data.progress.clone() {
                    view.progress = Some(progress);
                    view.state = Some(JobState::Active);
                    view.presence = Presence::Present;
                }
            }
            "active" => {
                view.state = Some(JobState::Active);
                view.started_at = at.or(view.started_at);
            }
            "waiting" | "stalled" => view.state = Some(JobState::Waiting),
            "delayed" => view.state = Some(JobState::Delayed),
            "completed" => {
                view.state = Some(JobState::Completed);
                view.result = data.result.clone();
                view.finished_at = at.or(view.finished_at);
            }
            "failed" => {
                view.state = Some(JobState::Failed);
                view.finished_at = at.or(view.finished_at);
                view.failed_reason = data.failed_reason.clone();
            }
            "removed" => view.presence = Presence::Gone,
            _ => {}
        });
        // State changes bring times and attempts the event does not carry.
        if name != "progress" {
            mark(live, [id.to_string()]);
        }
    }

    /// What a failed request says about the link.
    fn link_of(error: &CallError) -> Link {
        match error {
            CallError::Unreachable => Link::ServerDown,
            CallError::Failed => Link::QueueDown,
        }
    }

    async fn queue_reachable() -> Result<bool, CallError> {
        call::<QueueReachable>(Form::default()).await
    }

    async fn task_statuses(
        ids: Vec<String>,
    ) -> Result<Vec<crate::home::view::TaskView>, CallError> {
        call::<TaskStatuses>(statuses_form(&ids)).await
    }

    /// The page's one loop: keeps the stream open, finds out why it is not, and sends at most
    /// one request a second.
    async fn run(live: Rc<Live>) {
        let mut check_every = FIRST_CHECK_MS;
        let mut next_check = 0.0;
        let mut next_stream_try = 0.0;
        // The first read of the listed tasks.
        mark_all(&live);
        loop {
            let now = now_ms();
            if live.stream_ok() && now - live.last_event.get() > SILENT_AFTER_MS {
                // Nothing, not even the server's status beat: the connection is gone.
                live.stream.borrow_mut().take();
                live.failed.set(true);
                live.set_link(Link::Reconnecting);
            }
            if live.stream_ok() {
                check_every = FIRST_CHECK_MS;
                if live.link() == Link::Live {
                    sync(&live).await;
                }
            } else if now >= next_check {
                // The stream is down: one question, then back off.
                let answer = if live.link() == Link::Polling {
                    poll(&live).await
                } else {
                    queue_reachable()
                        .await
                        .map_err(|e| link_of(&e))
                        .and_then(|up| if up { Ok(()) } else { Err(Link::QueueDown) })
                };
                match answer {
                    Ok(()) => {
                        check_every = FIRST_CHECK_MS;
                        if live.stream_tries.get() < STREAM_TRIES {
                            open(&live);
                            if live.link() != Link::Polling {
                                live.set_link(Link::Reconnecting);
                            }
                        } else if live.link() != Link::Polling {
                            // The server answers but the stream will not open (a proxy may
                            // block it): poll, and try the stream again now and then.
                            live.set_link(Link::Polling);
                            mark_all(&live);
                            next_stream_try = now + STREAM_RETRY_MS;
                        } else if now >= next_stream_try {
                            live.stream_tries.set(0);
                            open(&live);
                            next_stream_try = now + STREAM_RETRY_MS;
                        }
                    }
                    Err(link) => {
                        live.stream.borrow_mut().take();
                        live.set_link(link);
                        check_every = (check_every * 2.0).min(MAX_CHECK_MS);
                    }
                }
                next_check = now_ms() + check_every;
            }
            TimeoutFuture::new(1000).await;
        }
    }

    /// While polling: reads what may have changed (or just asks whether the queue answers).
    async fn poll(live: &Live) -> Result<(), Link> {
        mark_all(live);
        let ids = take_dirty(live);
        if ids.is_empty() {
            return match queue_reachable().await {
                Ok(true) => {
                    refresh_counts(live).await;
                    Ok(())
                }
                Ok(false) => Err(Link::QueueDown),
                Err(error) => Err(link_of(&error)),
            };
        }
        read_statuses(live, ids).await
    }

    /// While live: one request for whatever is wanted most.
    async fn sync(live: &Live) {
        let now = now_ms();
        if now - live.last_waiting_check.get() > WAITING_EVERY_MS {
            live.last_waiting_check.set(now);
            let store = live.targets.store;
            let waiting: Vec<String> = store
                .ids_to_refresh()
                .into_iter()
                .filter(|id| {
                    store.view_of(id).is_some_and(|v| {
                        v.presence == Presence::Loading
                            || matches!(v.state, Some(JobState::Waiting | JobState::Prioritized))
                    })
                })
                .collect();
            mark(live, waiting);
        }
        // Rows shown that were never read (older tasks the user just opened).
        let loading = live.targets.store.loading_ids();
        mark(live, loading);
        let ids = take_dirty(live);
        if !ids.is_empty() {
            let _ = read_statuses(live, ids).await;
        } else if live.counts_wanted.get() {
            refresh_counts(live).await;
        }
    }

    /// Marks tasks to be read again (each once, in the order first marked).
    fn mark(live: &Live, ids: impl IntoIterator<Item = String>) {
        let mut dirty = live.dirty.borrow_mut();
        for id in ids {
            if !dirty.contains(&id) {
                dirty.push(id);
            }
        }
    }

    /// The next tasks to read, at most one call's worth.
    fn take_dirty(live: &Live) -> Vec<String> {
        let mut dirty = live.dirty.borrow_mut();
        let take = dirty.len().min(MAX_IDS_PER_CALL);
        dirty.drain(..take).collect()
    }

    async fn read_statuses(live: &Live, ids: Vec<String>) -> Result<(), Link> {
        match task_statuses(ids.clone()).await {
            Ok(views) => {
                for view in views {
                    live.targets.store.set_view(view);
                }
                Ok(())
            }
            Err(error) => {
                // Asked again on the next round.
                mark(live, ids);
                Err(link_of(&error))
            }
        }
    }

    async fn refresh_counts(live: &Live) {
        live.counts_wanted.set(false);
        let Some(counts) = live.targets.counts else {
            return;
        };
        if let Ok(Some(fresh)) = call::<QueueCounts>(Form::default()).await {
            counts.set(Some(fresh));
        }
    }

    /// Reads the status of `ids` now (a task that just joined the list), outside the throttle.
    pub async fn read_now(store: TaskStore, ids: Vec<String>) {
        if let Ok(views) = task_statuses(ids).await {
            for view in views {
                store.set_view(view);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_data_is_read_field_by_field() {
        let data = StreamData::parse(
            r#"{"jobId":"7","data":{"step":2,"total":5,"info":"tick 2/5"},"extra":[1,{"a":null}]}"#,
        );
        assert_eq!(data.job_id.as_deref(), Some("7"));
        assert_eq!(data.progress, Some(TaskProgress::after_tick(2, 5)));
        assert_eq!(data.result, None);
        let done = StreamData::parse(
            r#"{"jobId":"8","returnvalue":{"message":"Tâche 8 terminée","elapsedMs":3012}}"#,
        );
        assert_eq!(done.result, Some(TaskResult::finished("8", 3012)));
        assert_eq!(
            StreamData::parse(r#"{"queue":"up"}"#).queue.as_deref(),
            Some("up")
        );
        // A field of another shape is absent; the others are kept.
        let odd = StreamData::parse(
            r#"{"jobId":"9","failedReason":{"not":"text"},"data":42,"returnvalue":"done"}"#,
        );
        assert_eq!(
            odd,
            StreamData {
                job_id: Some("9".into()),
                ..StreamData::default()
            }
        );
        let numeric = StreamData::parse(r#"{"jobId":9,"failedReason":"boom \"quoted\""}"#);
        assert_eq!(numeric.job_id, None);
        assert_eq!(numeric.failed_reason.as_deref(), Some("boom \"quoted\""));
        // Not an object, or not JSON at all: nothing.
        for text in ["", "null", "[1,2]", "\"x\"", "{", "{\"jobId\":"] {
            assert_eq!(StreamData::parse(text), StreamData::default(), "{text}");
        }
    }

    #[test]
    fn the_indicator_says_how_stale_the_page_is() {
        let now = 100_000.0;
        let down = LiveState {
            link: Link::QueueDown,
            since: 88_000.0,
            last_update: 86_000.0,
        };
        assert_eq!(
            down.label(now),
            "Queue unreachable for 12 s; last update 14 s ago"
        );
        assert!(down.is_stale());
        let server = LiveState {
            link: Link::ServerDown,
            ..down
        };
        assert!(server.label(now).starts_with("Server unreachable for 12 s"));
        let live = LiveState {
            link: Link::Live,
            ..down
        };
        assert_eq!(live.label(now), "Live");
        assert!(!live.is_stale());
        assert_eq!(live.name(), "live");
    }
}
