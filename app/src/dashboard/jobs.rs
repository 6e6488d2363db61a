//! The dashboard's jobs: a tab per state with its count, a search box (the admin API's
//! language), a table, paging, and the actions on each job. The state, the search and the
//! page live in the URL, so a link shows the same view.

use leptos::prelude::*;
use leptos_router::components::Form;
use leptos_router::hooks::use_query_map;

use std::collections::BTreeSet;

use super::across::{Across, Elsewhere};
use super::api::{admin_act, admin_bulk, admin_bulk_progress, admin_jobs, error_text};
use super::kept::Kept;
use super::live::Live;
use super::{confirm, link, owner_of, progress_of, state_cell, state_counts, state_title};
use crate::model::admin::{AcrossQuery, AdminAccess, JobPage, JobQuery, ListedJob, Overview};
use crate::model::types::JobState;

/// Jobs per page.
const PAGE_SIZE: u64 = 20;

/// The actions a job in `state` takes.
fn actions_for(state: JobState) -> &'static [&'static str] {
    match state {
        JobState::Failed | JobState::Completed => &["retry", "remove"],
        JobState::Delayed => &["promote", "cancel"],
        JobState::Waiting | JobState::Prioritized | JobState::WaitingChildren => &["cancel"],
        JobState::Active => &["cancel"],
        JobState::Unknown => &[],
    }
}

/// A button for each of `actions` on job `id`, named "Retry job 42" and so on.
pub fn action_buttons(
    id: &str,
    actions: &'static [&'static str],
    class: &'static str,
    notice: RwSignal<Option<(bool, String)>>,
    tick: RwSignal<u64>,
    queue: Memo<Option<String>>,
) -> impl IntoView + use<> {
    actions
        .iter()
        .map(|action| {
            let job = id.to_string();
            let action: &'static str = action;
            view! {
                <button
                    type="button"
                    class=action_class(action, class)
                    aria-label=format!("{} job {id}", action_title(action))
                    on:click=move |_| act(job.clone(), action, notice, tick, queue.get_untracked())
                >
                    {action_title(action)}
                </button>
            }
        })
        .collect_view()
}

fn action_title(action: &str) -> &'static str {
    match action {
        "retry" => "Retry",
        "remove" => "Remove",
        "promote" => "Promote",
        _ => "Cancel",
    }
}

/// Runs `action` on job `id` after asking; reports in `notice`; asks for a new read.
pub fn act(
    id: String,
    action: &'static str,
    notice: RwSignal<Option<(bool, String)>>,
    tick: RwSignal<u64>,
    queue: Option<String>,
) {
    let question = match action {
        "retry" => format!("Retry job {id}? It runs again from the start."),
        "remove" => format!("Remove job {id}? Its record and logs are deleted."),
        "promote" => format!("Promote job {id}? It becomes due now."),
        _ => format!(
            "Cancel job {id}? A waiting job is removed; a running one is stopped and fails as cancelled."
        ),
    };
    if !confirm(&question) {
        return;
    }
    leptos::task::spawn_local(async move {
        match admin_act(id.clone(), action.to_string(), queue).await {
            Ok(outcome) => {
                let words = if outcome.result == "requested" {
                    format!("Job {id}: asked its worker to stop it")
                } else {
                    format!("Job {id}: {} done", action_title(action).to_lowercase())
                };
                notice.set(Some((false, words)));
                tick.update(|t| *t += 1);
            }
            Err(error) => notice.set(Some((true, format!("Job {id}: {}", error_text(&error))))),
        }
    });
}

/// The jobs section.
#[component]
pub fn Jobs(
    live: Live,
    access: AdminAccess,
    overview: Resource<Result<Overview, ServerFnError>>,
) -> impl IntoView {
    let tick = live.tick;
    let kept = Kept::new(live);
    let query = use_query_map();
    let queue = super::queue_param();
    let asked = Memo::new(move |_| {
        let query = query.get();
        JobQuery {
            state: query.get("state").filter(|s| !s.is_empty()),
            q: query.get("q").filter(|q| !q.trim().is_empty()),
            cursor: query.get("cursor").filter(|c| !c.is_empty()),
            page: query
                .get("page")
                .and_then(|p| p.parse().ok())
                .unwrap_or(0)
                .min(1_000_000),
            size: PAGE_SIZE,
            queue: queue.get(),
        }
    });
    // `in=all`: the search looks in every queue the caller may see (see `across.rs`).
    let across = Memo::new(move |_| {
        let query = query.get();
        (query.get("in").as_deref() == Some("all") && asked.with(|a| a.q.is_some())).then(|| {
            asked.with(|a| AcrossQuery {
                q: view_search(a),
                cursor: a.cursor.clone(),
                size: PAGE_SIZE,
                queue: a.queue.clone(),
                only_in_view: false,
            })
        })
    });
    let jobs = Resource::new(
        move || (asked.get(), across.with(Option::is_some), tick.get()),
        |(asked, across, _)| async move {
            if across {
                // Not shown: the search across queues is.
                return Ok(JobPage {
                    total: 0,
                    page: 0,
                    size: PAGE_SIZE,
                    jobs: Vec::new(),
                    complete: true,
                    next: None,
                    skipped: 0,
                });
            }
            admin_jobs(asked).await
        },
    );
    let notice = RwSignal::new(None::<(bool, String)>);
    // The selection survives live refreshes; another view starts a new one.
    let selected = RwSignal::new(BTreeSet::<String>::new());
    Effect::new(move |_| {
        asked.track();
        selected.set(BTreeSet::new());
    });
    let bulk = Bulk {
        selected,
        notice,
        tick,
        running: RwSignal::new(false),
        queue,
    };
    let search_box = NodeRef::<leptos::html::Input>::new();
    // "/" anywhere but in a field goes to the search box.
    #[cfg(feature = "hydrate")]
    let _ = window_event_listener(leptos::ev::keydown, move |event| {
        use wasm_bindgen::JsCast;
        let typing = event
            .target()
            .and_then(|t| t.dyn_into::<web_sys::HtmlElement>().ok())
            .is_some_and(|el| matches!(el.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT"));
        if event.key() == "/"
            && !typing
            && !event.ctrl_key()
            && !event.meta_key()
            && let Some(input) = search_box.get()
        {
            event.prevent_default();
            let _ = input.focus();
        }
    });
    let tabs = move || {
        let current = asked.with(|a| a.state.clone());
        let q = asked.with(|a| a.q.clone());
        let on = asked.with(|a| a.queue.clone());
        Suspend::new(async move {
            let counts = overview.await.ok().map(|o| state_counts(&o.counts));
            let all = view! {
                <li>
                    <a href=link(on.as_deref(), None, q.as_deref(), 0, None) aria-current=current.is_none().then_some("page")>
                        "All"
                    </a>
                </li>
            };
            let each = JobState::ALL
                .iter()
                .map(|state| {
                    let name = state.as_str();
                    let count = counts
                        .as_ref()
                        .and_then(|c| c.iter().find(|(s, _)| s == state).map(|(_, n)| *n));
                    let here = current.as_deref() == Some(name);
                    view! {
                        <li>
                            <a href=link(on.as_deref(), Some(name), q.as_deref(), 0, None) aria-current=here.then_some("page")>
                                {state_title(*state)}
                                {count.map(|n| view! { " " <span class="count">{n}</span> })}
                            </a>
                        </li>
                    }
                })
                .collect_view();
            view! { {all} {each} }
        })
    };
    view! {
        <section class="panel jobs" aria-labelledby="jobs-title">
            <h2 id="jobs-title" tabindex="-1">"Jobs" <a class="skip-link" href="#job-rows" on:click=super::skip_to("job-rows")>"Skip to the rows"</a></h2>
            <nav aria-label="Job states">
                <ul class="tabs">
                    <Transition fallback=|| ()>{tabs}</Transition>
                </ul>
            </nav>
            <Form method="GET" action="/admin" attr:class="search" attr:role="search">
                {move || asked.with(|a| a.queue.clone()).map(|q| view! { <input type="hidden" name="queue" value=q/> })}
                {move || asked.with(|a| a.state.clone()).map(|s| view! { <input type="hidden" name="state" value=s/> })}
                <label for="job-search">"Search"</label>
                <input
                    id="job-search"
                    node_ref=search_box
                    type="search"
                    name="q"
                    maxlength="200"
                    placeholder="name:longTask data.seconds:5 timeout"
                    aria-describedby="search-help"
                    aria-keyshortcuts="/"
                    prop:value=move || asked.with(|a| a.q.clone().unwrap_or_default())
                />
                <label for="search-in" class="sr-only">"Where"</label>
                <select id="search-in" name="in">
                    <option value="" selected=move || across.with(Option::is_none)>"This queue"</option>
                    <option value="all" selected=move || across.with(Option::is_some)>"Every queue"</option>
                </select>
                <button type="submit">"Search"</button>
                <details id="search-help" class="help">
                    <summary>"How to search (press / to jump here)"</summary>
                    <ul>
                        <li><code>"id:42"</code>" or just "<code>"42"</code>": one job"</li>
                        <li><code>"name:longTask"</code>", "<code>"name:\"nightly: export\""</code></li>
                        <li><code>"state:failed,completed"</code></li>
                        <li><code>"data.seconds:5"</code>", "<code>"data.user.id:\"u 1\""</code>": a value in the job's data"</li>
                        <li>"other words, or "<code>"\"quoted phrases\""</code>", must appear in the failed reason"</li>
                    </ul>
                </details>
            </Form>
            <div class="notice" role="status" aria-live="polite">
                {move || notice.get().map(|(bad, text)| view! { <p class=if bad { "error" } else { "ok" }>{text}</p> })}
            </div>
            {move || match across.get() {
                Some(_) => view! { <Across live asked=Memo::new(move |_| across.get().unwrap_or_default())/> }.into_any(),
                None => view! {
                    <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                        {move || Suspend::new(async move {
                            let asked = asked.get_untracked();
                            kept.show(jobs.await, |page| table(page, &asked, access, notice, tick, bulk))
                        })}
                    </Transition>
                }.into_any(),
            }}
        </section>
    }
}

fn summary_line(page: &JobPage, asked: &JobQuery) -> String {
    let line = count_line(page, asked);
    match page.skipped {
        0 => line,
        1 => format!(
            "{line} 1 entry listed among this queue's jobs is no job (another program wrote it) and is left out."
        ),
        n => format!(
            "{line} {n} entries listed among this queue's jobs are no jobs (another program wrote them) and are left out."
        ),
    }
}

fn count_line(page: &JobPage, asked: &JobQuery) -> String {
    let shown = page.jobs.len() as u64;
    let from = page.page * page.size + 1;
    if shown == 0 {
        return if page.complete {
            "No job matches.".to_string()
        } else {
            format!(
                "No match in the part of the queue searched so far ({} found in all so far).",
                page.total
            )
        };
    }
    if asked.q.is_some() && !page.complete {
        format!(
            "Jobs {from}–{}; {} matches so far (the search goes on with More).",
            from + shown - 1,
            page.total
        )
    } else {
        format!("Jobs {from}–{} of {}.", from + shown - 1, page.total)
    }
}

fn table(
    page: JobPage,
    asked: &JobQuery,
    access: AdminAccess,
    notice: RwSignal<Option<(bool, String)>>,
    tick: RwSignal<u64>,
    bulk: Bulk,
) -> impl IntoView + use<> {
    let line = summary_line(&page, asked);
    let state = asked.state.clone();
    let q = asked.q.clone();
    let on = asked.queue.clone();
    let link = |state: Option<&str>, q: Option<&str>, page: u64, cursor: Option<&str>| {
        link(on.as_deref(), state, q, page, cursor)
    };
    let previous = (page.page > 0 && asked.cursor.is_none())
        .then(|| link(state.as_deref(), q.as_deref(), page.page - 1, None));
    let following = match &page.next {
        Some(next) => Some(link(state.as_deref(), q.as_deref(), 0, Some(next))),
        None if page.complete
            && asked.cursor.is_none()
            && (page.page + 1) * page.size < page.total =>
        {
            Some(link(state.as_deref(), q.as_deref(), page.page + 1, None))
        }
        None => None,
    };
    let restart = asked
        .cursor
        .is_some()
        .then(|| link(state.as_deref(), q.as_deref(), 0, None));
    let operator = access == AdminAccess::Operator;
    let page_ids: Vec<String> = page.jobs.iter().map(|j| j.job.id.clone()).collect();
    let listed: Vec<(String, JobState)> = page
        .jobs
        .iter()
        .map(|j| (j.job.id.clone(), j.state))
        .collect();
    let selection = operator.then(|| selection_bar(&listed, bulk));
    let on_all = operator.then(|| all_bar(&page, asked, bulk));
    let all_box = operator.then(|| {
        let ids = page_ids.clone();
        let ids_for_check = page_ids.clone();
        view! {
            <th scope="col">
                <input
                    type="checkbox"
                    aria-label="Select every job on this page"
                    prop:checked=move || {
                        !ids_for_check.is_empty()
                            && bulk.selected.with(|s| ids_for_check.iter().all(|id| s.contains(id)))
                    }
                    on:change=move |_| {
                        let all = bulk.selected.with(|s| ids.iter().all(|id| s.contains(id)));
                        bulk.selected.update(|s| {
                            for id in &ids {
                                if all { s.remove(id); } else { s.insert(id.clone()); }
                            }
                        });
                    }
                />
            </th>
        }
    });
    let elsewhere =
        (page.jobs.is_empty() && page.complete && asked.q.is_some() && asked.cursor.is_none())
            .then(|| view! { <Elsewhere q=view_search(asked) queue=asked.queue.clone()/> });
    let rows = page
        .jobs
        .into_iter()
        .map(|job| row(job, access, notice, tick, bulk))
        .collect_view();
    view! {
        <p class="muted" aria-live="polite">{line}</p>
        {elsewhere}
        <div class="table-wrap" id="job-rows" tabindex="-1">
            <table class="job-table">
                <thead>
                    <tr>
                        {all_box}
                        <th scope="col">"Id"</th>
                        <th scope="col">"Name"</th>
                        <th scope="col">"State"</th>
                        <th scope="col">"Progress"</th>
                        <th scope="col">"Created"</th>
                        <th scope="col">"Duration"</th>
                        <th scope="col" class="num">"Attempts"</th>
                        <th scope="col">"Owner"</th>
                        {operator.then(|| view! { <th scope="col">"Actions"</th> })}
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
        {selection}
        {on_all}
        <nav class="pager" aria-label="Pages">
            {restart.map(|href| view! { <a href=href>"First page"</a> })}
            {previous.map(|href| view! { <a href=href rel="prev">"Previous"</a> })}
            {following.map(|href| view! { <a href=href rel="next">"More"</a> })}
        </nav>
    }
}

fn row(
    listed: ListedJob,
    access: AdminAccess,
    notice: RwSignal<Option<(bool, String)>>,
    tick: RwSignal<u64>,
    bulk: Bulk,
) -> impl IntoView + use<> {
    let ListedJob { state, job } = listed;
    let href = super::job_link(&job.id, bulk.queue.get_untracked().as_deref());
    let bar = progress_of(&job.progress);
    let now = crate::model::time::now_ms() as u64;
    let duration = job.processed_on.map(|started| {
        let end = job.finished_on.unwrap_or(now);
        crate::model::time::duration_words(end.saturating_sub(started))
    });
    let owner = owner_of(&job.data).unwrap_or_else(|| "–".to_string());
    let label = format!("Job {}", job.id);
    let actions = (access == AdminAccess::Operator).then(|| {
        let buttons = action_buttons(
            &job.id,
            actions_for(state),
            "action small quiet",
            notice,
            tick,
            bulk.queue,
        );
        view! { <td class="actions">{buttons}</td> }
    });
    let reason = job.failed_reason.clone();
    let pick = (access == AdminAccess::Operator).then(|| {
        let id = job.id.clone();
        let id_for_check = job.id.clone();
        view! {
            <td>
                <input
                    type="checkbox"
                    aria-label=format!("Select job {}", job.id)
                    prop:checked=move || bulk.selected.with(|s| s.contains(&id_for_check))
                    on:change=move |_| {
                        bulk.selected.update(|s| {
                            if !s.remove(&id) {
                                s.insert(id.clone());
                            }
                        })
                    }
                />
            </td>
        }
    });
    view! {
        <tr data-id=job.id.clone() data-state=state.as_str()>
            {pick}
            <td class="id"><a href=href title=job.id.clone()>{crate::model::text::shown_id(&job.id)}</a></td>
            <td>{job.name.clone()}</td>
            {state_cell(state, reason)}
            <td>
                {match bar {
                    Some((value, max, words)) => view! {
                        <progress value=value max=max aria-label=format!("{label}: {words}")></progress>
                        <span class="muted">{words}</span>
                    }
                    .into_any(),
                    None => view! { <span class="muted">"–"</span> }.into_any(),
                }}
            </td>
            <td class="nowrap">{super::when(job.timestamp)}</td>
            <td class="nowrap">{duration.unwrap_or_else(|| "–".to_string())}</td>
            <td class="num">{job.attempts_made}</td>
            <td>{owner}</td>
            {actions}
        </tr>
    }
}

/// What the bulk actions need: the selection, where to report, how to ask for a new read.
#[derive(Clone, Copy)]
pub struct Bulk {
    selected: RwSignal<BTreeSet<String>>,
    notice: RwSignal<Option<(bool, String)>>,
    tick: RwSignal<u64>,
    running: RwSignal<bool>,
    queue: Memo<Option<String>>,
}

/// The search that covers this view: its states and its query.
fn view_search(asked: &JobQuery) -> String {
    let mut parts = Vec::new();
    if let Some(state) = asked.state.as_deref().filter(|s| !s.is_empty()) {
        parts.push(format!("state:{state}"));
    }
    if let Some(q) = asked.q.as_deref() {
        parts.push(q.to_string());
    }
    parts.join(" ")
}

fn verb(action: &str) -> &'static str {
    match action {
        "retry" => "Retrying",
        "remove" => "Removing",
        "promote" => "Promoting",
        _ => "Cancelling",
    }
}

/// Waits `ms` in the browser (the server never runs the handlers that call it).
async fn pause_ms(ms: u32) {
    #[cfg(feature = "hydrate")]
    gloo_timers::future::TimeoutFuture::new(ms).await;
    #[cfg(not(feature = "hydrate"))]
    let _ = ms;
}

fn skipped_words(skipped: u64) -> String {
    if skipped > 0 {
        format!(", {skipped} skipped (gone, or in a state the action does not take)")
    } else {
        String::new()
    }
}

/// Starts a bulk run after asking, then follows it until it ends.
fn run_bulk(
    bulk: Bulk,
    action: &'static str,
    ids: Vec<String>,
    q: Option<String>,
    question: String,
) {
    if !confirm(&question) {
        return;
    }
    bulk.running.set(true);
    leptos::task::spawn_local(async move {
        let say = |bad: bool, text: String| bulk.notice.set(Some((bad, text)));
        let mut progress = match admin_bulk(
            action.to_string(),
            ids.join("\n"),
            q,
            bulk.queue.get_untracked(),
        )
        .await
        {
            Ok(progress) => progress,
            Err(error) => {
                say(true, error_text(&error));
                bulk.running.set(false);
                return;
            }
        };
        loop {
            say(
                false,
                format!(
                    "{}: {} of {} done{}",
                    verb(action),
                    progress.done,
                    progress.total,
                    skipped_words(progress.skipped)
                ),
            );
            if progress.finished {
                break;
            }
            pause_ms(500).await;
            match admin_bulk_progress(progress.bulk.clone()).await {
                Ok(Some(next)) => progress = next,
                Ok(None) => {
                    say(
                        false,
                        format!(
                            "{}: running on another server process; the list shows its effect as it goes",
                            verb(action)
                        ),
                    );
                    break;
                }
                Err(error) => {
                    say(true, error_text(&error));
                    break;
                }
            }
        }
        if let Some(error) = progress.error.clone() {
            say(true, error);
        } else if progress.finished {
            say(
                false,
                format!(
                    "Done: {} of {} jobs{}",
                    progress.done,
                    progress.total,
                    skipped_words(progress.skipped)
                ),
            );
        }
        bulk.selected.set(BTreeSet::new());
        bulk.running.set(false);
        bulk.tick.update(|t| *t += 1);
    });
}

/// The actions that apply to some job in one of `states` (in the order they are offered).
fn actions_for_any(states: &[JobState]) -> Vec<&'static str> {
    ["retry", "promote", "cancel", "remove"]
        .into_iter()
        .filter(|action| states.iter().any(|s| actions_for(*s).contains(action)))
        .collect()
}

/// Whether `action` undoes work or loses a record (drawn as a danger, asked first like all).
fn destructive(action: &str) -> bool {
    matches!(action, "remove" | "cancel")
}

/// The class of a bulk or row button for `action`.
fn action_class(action: &str, base: &'static str) -> String {
    if destructive(action) {
        format!("{base} danger")
    } else {
        base.to_string()
    }
}

/// The bar of actions on the selected jobs: there only while some are selected, stuck to the
/// bottom of the window, offering only what applies to a selected job's state.
fn selection_bar(jobs: &[(String, JobState)], bulk: Bulk) -> impl IntoView + use<> {
    let jobs = StoredValue::new(jobs.to_vec());
    let applicable = move || {
        bulk.selected.with(|selected| {
            let states: Vec<JobState> = jobs.with_value(|jobs| {
                jobs.iter()
                    .filter(|(id, _)| selected.contains(id))
                    .map(|(_, state)| *state)
                    .collect()
            });
            actions_for_any(&states)
        })
    };
    let buttons = move || {
        applicable()
            .into_iter()
            .map(|action| {
                view! {
                    <button
                        type="button"
                        class=action_class(action, "action small")
                        disabled=move || bulk.running.get()
                        on:click=move |_| {
                            let ids: Vec<String> = bulk.selected.get_untracked().into_iter().collect();
                            let question = format!(
                                "{} {}?",
                                action_title(action),
                                match ids.len() {
                                    1 => "the selected job".to_string(),
                                    n => format!("the {n} selected jobs"),
                                }
                            );
                            run_bulk(bulk, action, ids, None, question);
                        }
                    >
                        {format!("{} selected", action_title(action))}
                    </button>
                }
            })
            .collect_view()
    };
    view! {
        <Show when=move || !bulk.selected.with(BTreeSet::is_empty)>
            <div class="bulk selection" role="group" aria-label="Actions on the selected jobs">
                <span class="muted">
                    {move || format!("{} selected: ", bulk.selected.with(BTreeSet::len))}
                </span>
                {buttons}
                <button
                    type="button"
                    class="link"
                    on:click=move |_| bulk.selected.set(BTreeSet::new())
                >
                    "Clear selection"
                </button>
            </div>
        </Show>
    }
}

/// The actions on every job of this view, folded under the table (so the rows come first in
/// the tab order), offering what applies to the view's state.
fn all_bar(page: &JobPage, asked: &JobQuery, bulk: Bulk) -> impl IntoView + use<> {
    let search = view_search(asked);
    let how_many = if page.complete {
        format!("{} jobs", page.total)
    } else {
        format!(
            "at least {} jobs (the search runs to the end of the queue)",
            page.total
        )
    };
    let scope = if search.is_empty() {
        "every job in the queue".to_string()
    } else {
        format!("every job matching “{search}”")
    };
    let states: Vec<JobState> = match asked.state.as_deref().and_then(JobState::parse) {
        Some(state) => vec![state],
        None => JobState::ALL.to_vec(),
    };
    let on_all = actions_for_any(&states)
        .into_iter()
        .map(|action| {
            let search = search.clone();
            let question = format!("{} {scope}: {how_many}?", action_title(action));
            view! {
                <button
                    type="button"
                    class=action_class(action, "action small")
                    disabled=move || bulk.running.get()
                    on:click=move |_| {
                        run_bulk(bulk, action, Vec::new(), Some(search.clone()), question.clone())
                    }
                >
                    {format!("{} all", action_title(action))}
                </button>
            }
        })
        .collect_view();
    let all_count = if page.complete {
        page.total.to_string()
    } else {
        format!("{}+", page.total)
    };
    (page.total > 0).then(|| {
        view! {
            <details class="bulk all" role="group" aria-label="Actions on every job of this view">
                <summary>{format!("Act on all {all_count} jobs of this view…")}</summary>
                <p>{on_all}</p>
            </details>
        }
    })
}
