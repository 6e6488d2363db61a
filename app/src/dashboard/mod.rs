//! The operations dashboard (`/admin` and `/admin/jobs/:id`): lazily loaded routes, so their
//! code is fetched only by the browsers that open them and the home page does not grow.
//! Server-rendered (the first view needs no WASM), then hydrated and kept live by
//! [`live`]: the event stream marks what changed, the overview comes from the server's shared
//! per-process copy ([`api::admin_overview`]).

pub mod across;
pub mod alerts;
pub mod api;
pub mod audit;
pub mod chart;
pub mod flow;
pub mod frame;
pub mod history;
pub mod job;
pub mod jobs;
pub mod kept;
pub mod live;
pub mod queues;
pub mod schedulers;
pub mod tools;
pub mod tree;

use leptos::prelude::*;
#[cfg(feature = "split")]
use leptos_router::{LazyRoute, lazy_route};
use serde_json::Value;

use crate::model::admin::{AdminAccess, Overview, QueueAction, WorkerInfo};
use crate::model::types::{JobCounts, JobState};
use alerts::AlertsPage;
use api::{admin_overview, admin_queue, error_text};
use audit::AuditPageView;
use frame::Live;
use job::JobPage;
use kept::Kept;
use queues::QueuesPage;

/// Declares a dashboard page's route view, `$view()`: lazily loaded in a split build (feature
/// `split`, which the release build turns on for both the server and the browser so that they
/// agree: the page's code is fetched only by the browsers that open it), a plain view otherwise
/// (`cargo leptos watch` does not split: there a lazy route would import a module that only the
/// splitting step provides). `$split` is the name the splitting step gives the route's module
/// (`__<route in snake case>_view_`), which the server names in the page's head so the browser
/// fetches it at once.
macro_rules! lazy_page {
    ($(#[$doc:meta])* $view:ident, $route:ident, $split:literal, $page:ident) => {
        $(#[$doc])*
        #[cfg(feature = "split")]
        pub fn $view() -> leptos_router::Lazy<$route> {
            leptos_router::Lazy::new()
        }

        $(#[$doc])*
        #[cfg(not(feature = "split"))]
        pub fn $view() -> fn() -> AnyView {
            || view! { <$page/> }.into_any()
        }

        #[doc = concat!("The lazily loaded route of [`", stringify!($view), "`].")]
        #[cfg(feature = "split")]
        pub struct $route;

        #[cfg(feature = "split")]
        #[lazy_route]
        impl LazyRoute for $route {
            fn data() -> Self {
                $route
            }

            fn view(_this: Self) -> AnyView {
                // Leptos adds these links itself only now and then when the page renders whole.
                #[cfg(feature = "ssr")]
                crate::head::preload_split($split);
                view! { <$page/> }.into_any()
            }
        }
    };
}

lazy_page!(
    /// `/admin`: the overview, the jobs, the schedulers, the tools.
    admin_view, AdminRoute, "__admin_route_view_", Dashboard
);
lazy_page!(
    /// `/admin/jobs/:id`: one job.
    job_view, JobRoute, "__job_route_view_", JobPage
);
lazy_page!(
    /// `/admin/queues`: every queue on the Redis.
    queues_view, QueuesRoute, "__queues_route_view_", QueuesPage
);
lazy_page!(
    /// `/admin/alerts`: the alert rules.
    alerts_view, AlertsRoute, "__alerts_route_view_", AlertsPage
);
lazy_page!(
    /// `/admin/audit`: the audit log.
    audit_view, AuditRoute, "__audit_route_view_", AuditPageView
);

/// The queue the dashboard shows: `?queue=<prefix>:<name>` (as the queues page links it);
/// Sentinel's own when absent.
pub fn queue_param() -> Memo<Option<String>> {
    let query = leptos_router::hooks::use_query_map();
    Memo::new(move |_| query.get().get("queue").filter(|q| !q.trim().is_empty()))
}

/// The job page's address for job `id` of `queue` (Sentinel's own when `None`).
pub fn job_link(id: &str, queue: Option<&str>) -> String {
    match queue {
        Some(queue) => format!(
            "/admin/jobs/{}?queue={}",
            crate::model::url::encode(id),
            crate::model::url::encode(queue)
        ),
        None => format!("/admin/jobs/{}", crate::model::url::encode(id)),
    }
}

/// A link to the dashboard with these parameters (on `queue`, `<prefix>:<name>`, when it is
/// not Sentinel's own).
pub fn link(
    queue: Option<&str>,
    state: Option<&str>,
    q: Option<&str>,
    page: u64,
    cursor: Option<&str>,
) -> String {
    let mut parts = Vec::new();
    if let Some(queue) = queue.filter(|q| !q.is_empty()) {
        parts.push(format!("queue={}", crate::model::url::encode(queue)));
    }
    if let Some(state) = state.filter(|s| !s.is_empty()) {
        parts.push(format!("state={}", crate::model::url::encode(state)));
    }
    if let Some(q) = q.filter(|q| !q.is_empty()) {
        parts.push(format!("q={}", crate::model::url::encode(q)));
    }
    if page > 0 {
        parts.push(format!("page={page}"));
    }
    if let Some(cursor) = cursor {
        parts.push(format!("cursor={}", crate::model::url::encode(cursor)));
    }
    if parts.is_empty() {
        "/admin".to_string()
    } else {
        format!("/admin?{}", parts.join("&"))
    }
}

/// A table cell with a job's state and, when it failed, the start of its reason.
pub fn state_cell(state: JobState, reason: Option<String>) -> impl IntoView + use<> {
    view! {
        <td>
            <span class=format!("state state-{}", state.as_str())>{state_title(state)}</span>
            {reason.map(|r| view! { <span class="reason" title=r.clone()>{crate::model::text::shorten(&r, 60)}</span> })}
        </td>
    }
}

/// The dashboard: overview, then jobs.
#[component]
fn Dashboard() -> impl IntoView {
    let queue = queue_param();
    // The event stream carries Sentinel's own queue: another queue's view is read every 2 s.
    let live = Live::start(None, queue.get_untracked().is_none());
    let tick = live.tick;
    let overview = Resource::new(
        move || (queue.get(), tick.get()),
        |(queue, _)| admin_overview(queue),
    );
    let (history, range) = history::history_read(queue);
    let schedulers = schedulers::schedulers_read(queue, live);
    // A queue that is not there (a mistyped or stale link) is said once, on a page of its
    // own (answered 404), rather than by every panel; read once per queue asked, not per tick.
    let missing = Resource::new(
        move || queue.get(),
        |queue| async move {
            match admin_overview(queue).await {
                Err(error) if error_text(&error).starts_with("no BullMQ queue") => {
                    Some(error_text(&error))
                }
                _ => None,
            }
        },
    );
    frame::frame_or_missing(
        || "Dashboard · Sentinel".to_string(),
        queue,
        live,
        Some(missing),
        move |access| {
            view! {
                <nav class="sections" aria-label="Sections of this page">
                    <a href="#overview-title" on:click=skip_to("overview-title")>"Overview"</a>
                    <a href="#jobs-title" on:click=skip_to("jobs-title")>"Jobs"</a>
                    <a href="#schedulers-title" on:click=skip_to("schedulers-title")>"Schedulers"</a>
                    {(access == AdminAccess::Operator).then(|| view! {
                        <a href="#tools" on:click=skip_to("tools")>"Clean and add"</a>
                    })}
                </nav>
                {view! { <OverviewPanel overview history range live access queue/> }.into_any()}
                {view! { <jobs::Jobs live access overview/> }.into_any()}
                {view! { <schedulers::SchedulersPanel list=schedulers live access queue/> }.into_any()}
                {(access == AdminAccess::Operator).then(|| view! {
                    <section class="panel tools" id="tools" tabindex="-1" aria-label="Clean and add">
                        <tools::CleanForm tick queue/>
                        {queue.get_untracked().is_none().then(|| view! { <tools::AddJobForm tick/> })}
                    </section>
                }.into_any())}
            }
        },
    )
}

/// Counts as the overview lists them: name, count, and whether the state has a listing.
pub fn state_counts(counts: &JobCounts) -> [(JobState, u64); 7] {
    [
        (JobState::Waiting, counts.waiting + counts.paused),
        (JobState::Active, counts.active),
        (JobState::Delayed, counts.delayed),
        (JobState::Prioritized, counts.prioritized),
        (JobState::Failed, counts.failed),
        (JobState::Completed, counts.completed),
        (JobState::WaitingChildren, counts.waiting_children),
    ]
}

/// The state's name for people.
pub fn state_title(state: JobState) -> &'static str {
    match state {
        JobState::Waiting => "Waiting",
        JobState::Active => "Active",
        JobState::Delayed => "Delayed",
        JobState::Prioritized => "Prioritized",
        JobState::Completed => "Completed",
        JobState::Failed => "Failed",
        JobState::WaitingChildren => "Waiting for children",
        JobState::Unknown => "Unknown",
    }
}

#[component]
fn OverviewPanel(
    overview: Resource<Result<Overview, ServerFnError>>,
    history: history::HistoryRead,
    range: Memo<crate::model::admin::HistoryRange>,
    live: Live,
    access: AdminAccess,
    queue: Memo<Option<String>>,
) -> impl IntoView {
    let tick = live.tick;
    let kept = Kept::new(live);
    let problem = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let toggle = move |pause: bool| {
        // Pausing stops every worker of every process: asked first, like every other action
        // that stops work.
        if pause
            && !confirm(
                "Pause the queue? Workers of every process stop taking new jobs until it is resumed; running jobs finish.",
            )
        {
            return;
        }
        busy.set(true);
        leptos::task::spawn_local(async move {
            let action = if pause {
                QueueAction::Pause
            } else {
                QueueAction::Resume
            };
            match admin_queue(action.as_str().to_string(), queue.get_untracked()).await {
                Ok(()) => {
                    problem.set(None);
                    tick.update(|t| *t += 1);
                }
                Err(error) => problem.set(Some(error_text(&error))),
            }
            busy.set(false);
        });
    };
    view! {
        <section class="panel overview" aria-labelledby="overview-title">
            <h2 id="overview-title" tabindex="-1">"Overview"</h2>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    kept.show(overview.await, move |o| {
                            let paused = o.paused;
                            let total_busy: usize = o.workers.iter().filter_map(|w| w.busy).sum();
                            let full = o.memory.filter(|m| m.full).map(|m| view! {
                                <p class="warning" role="alert" data-redis-full="true">
                                    {format!(
                                        "Redis is nearly full ({} of the {} the guard allows): new jobs are refused until jobs finish or are cleaned. Running jobs still finish.",
                                        crate::model::time::bytes_words(m.used),
                                        crate::model::time::bytes_words(m.limit.unwrap_or(m.max)),
                                    )}
                                </p>
                            });
                            view! {
                                {full}
                                <div class="queue-line">
                                    {if paused {
                                        view! { <span class="badge paused" data-paused="true">"Paused: workers take no new job"</span> }.into_any()
                                    } else {
                                        view! { <span class="badge running">"Running"</span> }.into_any()
                                    }}
                                    {(access == AdminAccess::Operator).then(|| view! {
                                        <button
                                            type="button"
                                            class="action"
                                            disabled=move || busy.get()
                                            on:click=move |_| toggle(!paused)
                                        >
                                            {if paused { "Resume the queue" } else { "Pause the queue" }}
                                        </button>
                                    })}
                                    <span class="muted">
                                        {format!(
                                            "{}, {} running",
                                            crate::model::text::plural(o.workers.len() as u64, "worker", "workers"),
                                            crate::model::text::plural(total_busy as u64, "job", "jobs"),
                                        )}
                                    </span>
                                </div>
                                {move || problem.get().map(|p| view! { <p class="error" role="alert">{p}</p> })}
                                {workers(&o.workers)}
                            }
                            .into_any()
                    })
                })}
            </Transition>
            <history::HistoryCharts history range live/>
        </section>
    }
}

fn workers(list: &[WorkerInfo]) -> impl IntoView + use<> {
    if list.is_empty() {
        return view! {
            <p class="warning" role="alert">
                "No worker is running: jobs wait until one starts (a Sentinel with role all or worker, or a BullMQ worker)."
            </p>
        }
        .into_any();
    }
    let rows = list
        .iter()
        .map(|w| {
            let or_dash = |v: Option<String>| v.unwrap_or_else(|| "–".to_string());
            view! {
                <tr>
                    <td>{w.name.clone()}</td>
                    <td>{w.kind.clone()}</td>
                    <td>{or_dash(w.host.clone())}</td>
                    <td>{or_dash(w.pid.map(|p| p.to_string()))}</td>
                    <td class="num">{or_dash(w.concurrency.map(|c| c.to_string()))}</td>
                    <td class="num">{or_dash(w.busy.map(|b| b.to_string()))}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-wrap">
        <table class="workers">
            <caption>"Workers"</caption>
            <thead>
                <tr>
                    <th scope="col">"Name"</th>
                    <th scope="col">"Kind"</th>
                    <th scope="col">"Host"</th>
                    <th scope="col">"Process"</th>
                    <th scope="col" class="num">"Concurrency"</th>
                    <th scope="col" class="num">"Busy"</th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
        </div>
    }
    .into_any()
}

/// A job's progress as a bar: `(value, max, words)`. Sentinel's `{step, total}`, a number
/// (Node's percentage), or nothing to draw.
pub fn progress_of(progress: &Value) -> Option<(f64, f64, String)> {
    match progress {
        Value::Number(n) => {
            let v = n.as_f64()?.clamp(0.0, 100.0);
            Some((v, 100.0, format!("{v:.0} %")))
        }
        Value::Object(fields) => {
            let step = fields.get("step")?.as_f64()?;
            let total = fields.get("total")?.as_f64()?;
            (total > 0.0).then(|| {
                (
                    step.clamp(0.0, total),
                    total,
                    format!("{step:.0} of {total:.0}"),
                )
            })
        }
        _ => None,
    }
}

/// The owner recorded in a job's data, if any.
pub fn owner_of(data: &Value) -> Option<String> {
    data.get("owner")?.as_str().map(str::to_owned)
}

/// A `<time>` with the relative words, exact on hover.
pub fn when(at: u64) -> impl IntoView {
    let now = crate::model::time::now_ms();
    view! {
        <time datetime=crate::model::time::iso(at) title=crate::model::time::exact(at)>
            {crate::model::time::relative(at, now)}
        </time>
    }
}

/// A skip link's click: focus moves to the element `id` names (the router would otherwise take
/// the in-page link as a navigation, and focus would stay where it was).
pub fn skip_to(id: &'static str) -> impl Fn(leptos::ev::MouseEvent) + Clone + 'static {
    move |event| {
        #[cfg(feature = "hydrate")]
        {
            use wasm_bindgen::JsCast;
            if let Some(target) = web_sys::window()
                .and_then(|w| w.document())
                .and_then(|d| d.get_element_by_id(id))
                .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
            {
                event.prevent_default();
                let _ = target.focus();
                target.scroll_into_view();
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (event, id);
    }
}

/// Moves focus to the element `id` names once the page has drawn what was just asked for (a
/// form opened by the same click is not in the document yet).
pub fn focus_soon(id: &'static str) {
    #[cfg(feature = "hydrate")]
    request_animation_frame(move || focus_by_id(id));
    #[cfg(not(feature = "hydrate"))]
    let _ = id;
}

/// Moves focus to the element `id` names (in the browser).
pub fn focus_by_id(id: &str) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        if let Some(element) = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.get_element_by_id(id))
            .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
        {
            let _ = element.focus();
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = id;
}

/// Asks the person to confirm; always "no" where there is no browser.
pub fn confirm(message: &str) -> bool {
    #[cfg(feature = "hydrate")]
    {
        web_sys::window()
            .and_then(|w| w.confirm_with_message(message).ok())
            .unwrap_or(false)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = message;
        false
    }
}
