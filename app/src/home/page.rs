//! The home page: what a person sees at `/` (the form, their tasks, the queue's counts, the live
//! indicator), as its own app ([`HomeApp`], hydrated by the home bundle) and inside the router
//! ([`HomePage`]).
//!
//! The server sends the home page finished: for `/` it reads the settings, counts and listed
//! tasks before rendering [`HomeApp`] (and writes them into the page for the browser); inside
//! the router the home route waits for them (`SsrMode::Async`). So the page (and its form)
//! works before the WASM loads, and without JavaScript at all (then it refreshes itself while
//! a task runs).

use leptos::prelude::*;

use crate::home::api::{HomePageData, home_data};
use crate::home::counts::CountsPanel;
use crate::home::live::{LiveIndicator, LiveState};
use crate::home::tasks::{ListContext, TaskList, TaskStore};
use crate::model::types::JobCounts;
use crate::model::types::PageSettings;

/// How often a page without JavaScript reloads itself while one of its tasks may change.
pub const NO_SCRIPT_REFRESH_SECS: u32 = 2;

/// The id of the `<script type="application/json">` that carries the home page's data.
pub const HOME_DATA_ID: &str = "home-data";

/// The home page's data as JSON that is safe inside a `<script>` element: no `<` (so no
/// `</script>` or `<!--`), written `\u003c` instead, which JSON reads back the same (`<` can
/// only occur inside strings).
pub fn home_data_json(data: &HomePageData) -> String {
    serde_json::to_string(data)
        .unwrap_or_else(|_| "null".to_string())
        .replace('<', "\\u003c")
}

/// The home page as its own app: what the server renders for `/` and the home bundle hydrates
/// there. Its query comes from [`HomeQuery::current`], its data from the page
/// ([`home_shell`]).
#[component]
pub fn HomeApp() -> impl IntoView {
    let query = HomeQuery::current();
    let data = given_home_data();
    let home = Home::new(&query);
    let settings = data.settings.clone();
    home.start(move || Some(settings.clone()));
    let first_value = query
        .seconds
        .unwrap_or_else(|| crate::model::types::DEFAULT_SECONDS.to_string());
    let error_on_load = query.error.is_some();
    view! {
        <main class="page" data-hydrated=move || home.hydrated.get().to_string()>
            {home.content(data, first_value, error_on_load)}
        </main>
    }
}

/// The home page's data: on the server what the request provided as context, in the browser
/// what the server wrote into the page ([`home_shell`]); the fallback where it is missing.
fn given_home_data() -> HomePageData {
    #[cfg(feature = "hydrate")]
    {
        web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.get_element_by_id(HOME_DATA_ID))
            .and_then(|script| script.text_content())
            .and_then(|text| serde_json::from_str::<HomePageData>(&text).ok())
            .unwrap_or_else(HomePageData::fallback)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        use_context::<HomePageData>().unwrap_or_else(HomePageData::fallback)
    }
}

/// What the home page reads from its address: the task a no-JavaScript submission made, the
/// refusal it met, and the value it sent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HomeQuery {
    pub task: Option<String>,
    pub error: Option<String>,
    pub seconds: Option<String>,
}

/// The longest value the home page takes from its address (bytes; a longer one is cut): ours
/// are short, anyone can write a long one into a link.
pub const MAX_QUERY_VALUE: usize = 1024;

impl HomeQuery {
    /// The query from its values, each cut to [`MAX_QUERY_VALUE`].
    pub fn new(task: Option<String>, error: Option<String>, seconds: Option<String>) -> Self {
        let cut = |value: Option<String>| {
            value.map(|mut text| {
                if text.len() > MAX_QUERY_VALUE {
                    let mut end = MAX_QUERY_VALUE;
                    while !text.is_char_boundary(end) {
                        end -= 1;
                    }
                    text.truncate(end);
                }
                text
            })
        };
        Self {
            task: cut(task),
            error: cut(error),
            seconds: cut(seconds),
        }
    }

    /// Reads a query string (`a=1&b=2`, with or without the leading `?`): percent-encoding
    /// and `+` for a space decoded, the first of repeated names kept, malformed values and
    /// other names ignored.
    pub fn parse(query: &str) -> Self {
        let mut out = Self::default();
        for pair in query.trim_start_matches('?').split('&') {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let slot = match name {
                "task" => &mut out.task,
                "error" => &mut out.error,
                "seconds" => &mut out.seconds,
                _ => continue,
            };
            if slot.is_none() {
                *slot = crate::model::url::decode(&value.replace('+', " "));
            }
        }
        Self::new(out.task, out.error, out.seconds)
    }

    /// This page's query: on the server what it provided as context for the request, in the
    /// browser the address bar's.
    pub fn current() -> Self {
        #[cfg(feature = "hydrate")]
        {
            web_sys::window()
                .and_then(|w| w.location().search().ok())
                .map(|search| Self::parse(&search))
                .unwrap_or_default()
        }
        #[cfg(not(feature = "hydrate"))]
        {
            use_context::<Self>().unwrap_or_default()
        }
    }
}

/// The home page inside the router: its data through a resource (the dashboard's pages reach
/// it without a reload), under one suspense boundary (the server renders it finished,
/// `SsrMode::Async`).
#[component]
pub fn HomePage(query: HomeQuery) -> impl IntoView {
    let task = query.task.clone();
    let data = Resource::new(
        move || task.clone(),
        |task| async move { home_data(task).await.ok() },
    );
    let home = Home::new(&query);
    home.start(move || data.get_untracked().flatten().map(|d| d.settings));
    let first_value = query
        .seconds
        .unwrap_or_else(|| crate::model::types::DEFAULT_SECONDS.to_string());
    let error_on_load = query.error.is_some();
    view! {
        <main class="page" data-hydrated=move || home.hydrated.get().to_string()>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || {
                    let first_value = first_value.clone();
                    Suspend::new(async move {
                        let data = data.await.unwrap_or_else(HomePageData::fallback);
                        home.content(data, first_value, error_on_load)
                    })
                }}
            </Suspense>
        </main>
    }
}

/// The home page's state, the same whichever way its data comes.
#[derive(Clone, Copy)]
struct Home {
    store: TaskStore,
    live: RwSignal<LiveState>,
    live_counts: RwSignal<Option<JobCounts>>,
    clock: RwSignal<f64>,
    hydrated: RwSignal<bool>,
    message: RwSignal<Option<String>>,
    sending: RwSignal<bool>,
    dismiss: Callback<Vec<String>>,
    retry: Callback<String>,
    retry_refused: RwSignal<Option<(String, String)>>,
    stale: Signal<bool>,
}

impl Home {
    fn new(query: &HomeQuery) -> Self {
        let store = TaskStore::default();
        let live = RwSignal::new(LiveState::default());
        let retry_refused = RwSignal::new(None);
        Self {
            store,
            live,
            live_counts: RwSignal::new(None),
            clock: RwSignal::new(crate::model::time::now_ms()),
            hydrated: RwSignal::new(false),
            message: RwSignal::new(query.error.clone()),
            sending: RwSignal::new(false),
            dismiss: Callback::new(move |ids: Vec<String>| {
                store.remove(&ids);
                #[cfg(feature = "hydrate")]
                crate::home::storage::dismiss(&ids);
            }),
            retry: Callback::new(move |id: String| {
                #[cfg(feature = "hydrate")]
                leptos::task::spawn_local(retry_from_page(store, retry_refused, id));
                #[cfg(not(feature = "hydrate"))]
                let _ = id;
            }),
            retry_refused,
            stale: Signal::derive(move || live.with(LiveState::is_stale)),
        }
    }

    /// The browser side, once hydrated: the stored list, other tabs, live updates, the clock
    /// (`settings` gives the page's settings then). Nothing on the server.
    #[cfg_attr(not(feature = "hydrate"), allow(unused_variables))]
    fn start(self, settings: impl Fn() -> Option<PageSettings> + 'static) {
        #[cfg(feature = "hydrate")]
        {
            let Self {
                store,
                live,
                live_counts,
                clock,
                hydrated,
                message,
                ..
            } = self;
            let listed_cb = Callback::new(move |()| {
                let merged = crate::home::storage::save_tasks(&store.entries());
                store.merge(&merged);
            });
            let sender = crate::home::submit::Sender {
                store,
                listed: listed_cb,
                refused: Callback::new(move |reason: String| message.set(Some(reason))),
            };
            // Runs once, after hydration (it reads no signal).
            Effect::new(move |_| {
                hydrated.set(true);
                start_browser(store, live, live_counts, clock, sender, settings().as_ref());
            });
            let handle = leptos::prelude::window_event_listener(
                leptos::ev::storage,
                move |event: web_sys::StorageEvent| {
                    let key = event.key().unwrap_or_default();
                    if key == crate::home::storage::PENDING_KEY || key.is_empty() {
                        sync_pending(store);
                    }
                    if key == crate::home::storage::TASKS_KEY
                        || key == crate::home::storage::DISMISSED_KEY
                        || key.is_empty()
                    {
                        store.remove(&crate::home::storage::load_dismissed());
                        store.merge(&crate::home::storage::load_tasks());
                    }
                },
            );
            on_cleanup(move || handle.remove());
            provide_context(sender);
        }
    }

    /// The page under its header, from its data.
    fn content(
        self,
        data: HomePageData,
        first_value: String,
        error_on_load: bool,
    ) -> impl IntoView {
        let Self {
            store,
            live,
            live_counts,
            clock,
            message,
            sending,
            dismiss,
            retry,
            retry_refused,
            stale,
            ..
        } = self;
        let HomePageData {
            settings,
            counts: rendered,
            listed,
        } = data;
        let now_ms = crate::model::time::now_ms();
        for view in listed {
            store.add(&view.id, view.queued_at.map_or(now_ms, |at| at as f64));
            store.set_view(view);
        }
        // Without JavaScript nothing else moves the page: it reloads itself while a listed
        // task may still change (inert where scripts run).
        let refresh = !store.ids_to_refresh().is_empty();
        let now = Signal::from(clock);
        let context = ListContext {
            now,
            tick_ms: settings.tick_ms,
            stale,
            dismiss,
            retry,
            retry_refused,
        };
        let counts = Signal::derive(move || live_counts.get().or(rendered));
        let who = settings.auth.then(|| {
            let who = settings.who.clone().unwrap_or_default();
            let role = settings.role.clone().unwrap_or_default();
            view! {
                <form class="who" method="post" action="/signout">
                    <span>{format!("{who} ({role})")}</span>
                    " "
                    <button type="submit" class="link">"Sign out"</button>
                </form>
            }
        });
        view! {
            <header class="top">
                <h1>"Sentinel"</h1>
                <LiveIndicator state=live now no_script=if refresh {
                    format!("(JavaScript is off: this page reloads itself every {NO_SCRIPT_REFRESH_SECS} s until your tasks finish)")
                } else {
                    "(JavaScript is off: reload the page to see changes)".to_string()
                }/>
                {who}
            </header>
            <p class="lede">"Run a long task and watch it progress."</p>
            <EnqueueForm
                max=settings.max_seconds
                message
                sending
                first_value
                form_key=settings.form_key
                autofocus=error_on_load
            />
            <div class="columns">
                <noscript inner_html=refresh.then(|| format!(
                    r#"<meta http-equiv="refresh" content="{NO_SCRIPT_REFRESH_SECS}"><p class="help">This page reloads itself every {NO_SCRIPT_REFRESH_SECS} s until your tasks finish.</p>"#
                ))></noscript>
                <TaskList store context/>
                {settings.can_see_counts.then(|| view! { <CountsPanel counts/> })}
            </div>
        }
    }
}

/// Starts what only the browser does: the stored list, unconfirmed submissions, live updates
/// and the clock.
#[cfg(feature = "hydrate")]
fn start_browser(
    store: TaskStore,
    live: RwSignal<LiveState>,
    counts: RwSignal<Option<JobCounts>>,
    clock: RwSignal<f64>,
    sender: crate::home::submit::Sender,
    page: Option<&PageSettings>,
) {
    use leptos::task::spawn_local;
    store.remove(&crate::home::storage::load_dismissed());
    store.merge(&crate::home::storage::load_tasks());
    sender.listed.run(());
    for submission in crate::home::storage::load_pending() {
        store.add_pending(submission.clone());
        spawn_local(crate::home::submit::keep_sending(sender, submission, None));
    }
    crate::home::live::start(crate::home::live::Targets {
        store,
        state: live,
        counts: page.is_some_and(|p| p.can_see_counts).then_some(counts),
        own_stream: page.is_some_and(|p| p.auth && p.role.as_deref() == Some("submitter")),
        listed: sender.listed,
    });
    spawn_local(async move {
        loop {
            gloo_timers::future::TimeoutFuture::new(1000).await;
            clock.set(crate::model::time::now_ms());
        }
    });
}

/// Shows the submissions other tabs stored and drops the ones they confirmed.
#[cfg(feature = "hydrate")]
fn sync_pending(store: TaskStore) {
    let stored = crate::home::storage::load_pending();
    for row in store.pending() {
        if !stored.iter().any(|s| s.key == row.submission.key) {
            store.remove_pending(&row.submission.key);
        }
    }
    for submission in stored {
        store.add_pending(submission);
    }
}

/// The Seconds form. In the browser it sends through the enqueue server function with a fresh
/// key per submission; without JavaScript the browser posts it as a plain form (with the key
/// the server rendered into it, so a double post makes one task) and the server redirects
/// back with the outcome.
#[component]
fn EnqueueForm(
    max: u64,
    message: RwSignal<Option<String>>,
    sending: RwSignal<bool>,
    first_value: String,
    form_key: String,
    autofocus: bool,
) -> impl IntoView {
    let input = NodeRef::<leptos::html::Input>::new();
    #[cfg(feature = "hydrate")]
    let sender = use_context::<crate::home::submit::Sender>();
    let on_submit = move |event: leptos::ev::SubmitEvent| {
        #[cfg(feature = "hydrate")]
        {
            event.prevent_default();
            if let Some(sender) = sender {
                submit_from_page(input, max, message, sending, sender);
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = event;
    };
    view! {
        <form method="post" action="/api/enqueue" on:submit=on_submit aria-busy=move || sending.get().to_string()>
            <input type="hidden" name="key" value=form_key/>
            <div class="field">
                <label for="seconds">"Seconds"</label>
                <input
                    node_ref=input
                    id="seconds"
                    name="seconds"
                    type="number"
                    inputmode="numeric"
                    min="1"
                    max=max.to_string()
                    step="1"
                    required
                    autofocus=autofocus
                    value=first_value
                    aria-describedby="seconds-help seconds-error"
                    aria-invalid=move || message.with(Option::is_some).to_string()
                    on:input=move |_| message.set(None)
                />
                <button type="submit" disabled=move || sending.get()>
                    {move || if sending.get() { "Enqueuing…" } else { "Enqueue" }}
                </button>
            </div>
            <p id="seconds-help" class="help">{format!("A whole number from 1 to {max}.")}</p>
            <details class="options">
                <summary>"Options"</summary>
                <div class="option-grid">
                    <label for="opt-delay">"Start after (s)"</label>
                    <input id="opt-delay" name="delay_s" type="number" inputmode="numeric" min="0" step="1" placeholder="0"/>
                    <label for="opt-priority">"Priority"</label>
                    <input id="opt-priority" name="priority" type="number" inputmode="numeric" min="0" max="2097152" step="1" placeholder="none" aria-describedby="opt-priority-help"/>
                    <p id="opt-priority-help" class="help">"1 runs first; empty or 0: no priority."</p>
                    <label for="opt-attempts">"Attempts"</label>
                    <input id="opt-attempts" name="attempts" type="number" inputmode="numeric" min="1" max="100" step="1" placeholder="1"/>
                    <label for="opt-backoff">"Retry delay"</label>
                    <span class="pair">
                        <select id="opt-backoff" name="backoff" aria-label="Retry delay kind">
                            <option value="none">"none"</option>
                            <option value="fixed">"fixed"</option>
                            <option value="exponential">"doubling"</option>
                        </select>
                        <input id="opt-backoff-s" name="backoff_s" type="number" inputmode="numeric" min="0" step="1" placeholder="0" aria-label="Retry delay (s)"/>
                    </span>
                    <label for="opt-job-id">"Job id"</label>
                    <input id="opt-job-id" name="job_id" type="text" maxlength="256" autocomplete="off" aria-describedby="opt-job-id-help"/>
                    <p id="opt-job-id-help" class="help">"Optional; the same id again returns the existing task."</p>
                    <label for="opt-timeout">"Time limit (s)"</label>
                    <input id="opt-timeout" name="timeout_s" type="number" inputmode="numeric" min="1" step="1" placeholder="none"/>
                </div>
            </details>
            <p id="seconds-error" class="field-error" role="alert">{move || message.get()}</p>
        </form>
    }
}

/// Sends the form's value from the page: checked here first (the same rule as the server's),
/// then stored as an unconfirmed submission and sent until the queue answers.
#[cfg(feature = "hydrate")]
fn submit_from_page(
    input: NodeRef<leptos::html::Input>,
    max: u64,
    message: RwSignal<Option<String>>,
    sending: RwSignal<bool>,
    sender: crate::home::submit::Sender,
) {
    use leptos::task::spawn_local;
    let store = sender.store;
    if sending.get_untracked() {
        // A second click while the first is on its way makes nothing.
        return;
    }
    let Some(field) = input.get_untracked() else {
        return;
    };
    let focus = move || {
        if let Some(field) = input.get_untracked() {
            let _ = field.focus();
        }
    };
    let seconds = match crate::model::types::parse_seconds(&field.value(), max) {
        Ok(seconds) => seconds,
        Err(error) => {
            message.set(Some(error.to_string()));
            focus();
            return;
        }
    };
    let sender = crate::home::submit::Sender {
        refused: Callback::new(move |reason: String| {
            message.set(Some(reason));
            focus();
        }),
        ..sender
    };
    let submission = crate::home::storage::Submission {
        key: crate::home::submit::new_key(),
        seconds,
        at: crate::model::time::now_ms(),
        options: form_options(),
    };
    // Checked here as the server checks it: a refusal names the field at once.
    if let Err(error) = submission.options.parse() {
        message.set(Some(error.message));
        return;
    }
    message.set(None);
    sending.set(true);
    // The button is disabled while the task is on its way: focus stays in the form (on the
    // field, for the next task) rather than falling to the page's body.
    focus();
    crate::home::submit::begin(store, &submission);
    spawn_local(async move {
        let first = crate::home::submit::send_once(sender, &submission).await;
        sending.set(false);
        // The options went with this task (and are stored with it while unconfirmed); a
        // refusal keeps them in the form to be mended.
        if !matches!(first, crate::home::submit::Answer::Refused(_)) {
            reset_options();
        }
        crate::home::submit::keep_sending(sender, submission, Some(first)).await;
    });
}

/// Runs a failed task again from its row: the row follows it back to waiting (and on), the
/// outcome is announced, and a refusal is said next to the row's Retry.
#[cfg(feature = "hydrate")]
async fn retry_from_page(
    store: TaskStore,
    refused: RwSignal<Option<(String, String)>>,
    id: String,
) {
    use crate::home::api::{RetryTask, retry_form};
    use crate::home::view::label;
    refused.set(None);
    let why = match crate::home::client::call::<RetryTask>(retry_form(&id)).await {
        Ok(None) => {
            store.announce(format!("Task {} queued again.", label(&id)));
            crate::home::live::read_now(store, vec![id]).await;
            return;
        }
        Ok(Some(why)) => why,
        Err(_) => "The server did not answer; try again.".to_string(),
    };
    store.announce(format!("Task {} was not retried: {why}", label(&id)));
    refused.set(Some((id, why)));
}

/// Empties the Options fields (after a task took them: one-off options do not carry over to
/// the next task).
#[cfg(feature = "hydrate")]
fn reset_options() {
    use wasm_bindgen::JsCast;
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    for id in [
        "opt-delay",
        "opt-priority",
        "opt-attempts",
        "opt-backoff-s",
        "opt-job-id",
        "opt-timeout",
    ] {
        if let Some(input) = document
            .get_element_by_id(id)
            .and_then(|e| e.dyn_into::<web_sys::HtmlInputElement>().ok())
        {
            input.set_value("");
        }
    }
    if let Some(select) = document
        .get_element_by_id("opt-backoff")
        .and_then(|e| e.dyn_into::<web_sys::HtmlSelectElement>().ok())
    {
        select.set_value("none");
    }
}

/// The Options fields as the form holds them.
#[cfg(feature = "hydrate")]
fn form_options() -> crate::model::options::FormOptions {
    use wasm_bindgen::JsCast;
    let value = |id: &str| -> Option<String> {
        let element = web_sys::window()?.document()?.get_element_by_id(id)?;
        let text = match element.dyn_ref::<web_sys::HtmlInputElement>() {
            Some(input) => input.value(),
            None => element.dyn_ref::<web_sys::HtmlSelectElement>()?.value(),
        };
        (!text.trim().is_empty()).then_some(text)
    };
    crate::model::options::FormOptions {
        delay_s: value("opt-delay"),
        priority: value("opt-priority"),
        attempts: value("opt-attempts"),
        backoff: value("opt-backoff"),
        backoff_s: value("opt-backoff-s"),
        job_id: value("opt-job-id"),
        timeout_s: value("opt-timeout"),
    }
}

#[cfg(test)]
mod tests {
    use super::HomeQuery;

    #[test]
    fn the_home_data_in_the_page_cannot_end_its_script_and_reads_back_the_same() {
        use crate::home::api::HomePageData;
        use crate::home::view::{Presence, TaskView};
        use crate::model::types::JobState;
        let hostile = "</script><script>alert(1)</script><!-- \u{2028} & é";
        let data = HomePageData {
            listed: vec![TaskView {
                presence: Presence::Present,
                state: Some(JobState::Failed),
                failed_reason: Some(hostile.to_string()),
                ..TaskView::pending("7")
            }],
            ..HomePageData::fallback()
        };
        let json = super::home_data_json(&data);
        assert!(!json.contains('<'), "{json}");
        let back: HomePageData = serde_json::from_str(&json).unwrap();
        assert_eq!(back.listed[0].failed_reason.as_deref(), Some(hostile));
        assert_eq!(back.settings, data.settings);
    }

    #[test]
    fn home_query_reads_what_the_redirects_write() {
        let error = "Seconds: must be 1..3600 & a whole number";
        let query = format!(
            "?seconds=abc&error={}&task=7",
            crate::model::url::encode(error)
        );
        assert_eq!(
            HomeQuery::parse(&query),
            HomeQuery {
                task: Some("7".into()),
                error: Some(error.into()),
                seconds: Some("abc".into()),
            }
        );
        // `+` is a space, `%2B` a plus; the first of repeated names wins; junk is ignored.
        let query = HomeQuery::parse("error=a+b%2Bc&task=1&task=2&x=%zz&seconds=%zz&&=");
        assert_eq!(query.error.as_deref(), Some("a b+c"));
        assert_eq!(query.task.as_deref(), Some("1"));
        assert_eq!(query.seconds, None);
        assert_eq!(HomeQuery::parse(""), HomeQuery::default());
        // A value as long as a link can carry is cut, on a character boundary.
        let long = HomeQuery::parse(&format!("error={}", "%C3%A9".repeat(4000)));
        let error = long.error.unwrap();
        assert!(error.len() <= super::MAX_QUERY_VALUE && error.len() >= super::MAX_QUERY_VALUE - 1);
        assert!(error.chars().all(|c| c == 'é'));
    }
}
