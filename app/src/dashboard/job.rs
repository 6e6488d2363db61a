//! One job (`/admin/jobs/:id`): its state and progress, live; a timeline; data and options as
//! formatted JSON; the logs, following as the job writes them; the result or the failed reason
//! with its stack traces; the actions.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use serde_json::Value;

use super::api::{admin_add_copy, admin_edit_data, admin_job, admin_why};
use super::frame::{Live, frame};
use super::kept::Kept;
use super::{owner_of, progress_of, state_title, when};
use crate::model::admin::{AdminAccess, JobDetail, WhyReport};
use crate::model::types::JobState;

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

/// The job page.
#[component]
pub fn JobPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.with(|p| p.get("id").unwrap_or_default()));
    let queue = super::queue_param();
    let live = Live::start(Some(id.get_untracked()), queue.get_untracked().is_none());
    let tick = live.tick;
    let kept = Kept::new(live);
    let job = Resource::new(
        move || (id.get(), queue.get(), tick.get()),
        |(id, queue, _)| admin_job(id, queue),
    );
    let why = Resource::new(
        move || (id.get(), queue.get(), tick.get()),
        |(id, queue, _)| admin_why(id, queue),
    );
    let tree = super::tree::tree_read(id, queue);
    let notice = RwSignal::new(None::<(bool, String)>);
    // A message about an action does not outlive its outcome: once the job reaches a new end
    // ("retry done", then the retried job failed again), the message goes.
    let seen_state = StoredValue::new(None::<JobState>);
    Effect::new(move |_| {
        if let Some(Ok(Some(detail))) = job.get() {
            let before = seen_state.get_value();
            seen_state.set_value(Some(detail.state));
            if before.is_some_and(|b| b != detail.state) && detail.state.is_finished() {
                notice.set(None);
            }
        }
    });
    frame(
        move || format!("Job {} · Sentinel", id.get()),
        queue,
        live,
        move |access| {
            view! {
                <p><a href=move || super::link(queue.get().as_deref(), None, None, 0, None)>"← All jobs"</a></p>
                <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        kept.show(job.await, move |job| match job {
                            None => view! {
                                <section class="panel">
                                    <h2>{format!("Job {}", id.get_untracked())}</h2>
                                    <p>"There is no such job: it was never added, or it was removed (finished jobs are kept for a while, then removed)."</p>
                                </section>
                            }
                            .into_any(),
                            Some(detail) => detail_view(detail, access, notice, tick, queue, why).into_any(),
                        })
                    })}
                </Transition>
                {(access == AdminAccess::Operator).then(|| view! {
                    <DataEditor job id queue tick/>
                    <CopyForm job queue/>
                })}
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        match why.await {
                            Ok(Some(report)) => why_view(report).into_any(),
                            _ => ().into_any(),
                        }
                    })}
                </Transition>
                <super::tree::FlowTreePanel tree id queue live/>
            }
        },
    )
}

fn fact(term: &'static str, value: impl IntoView + 'static) -> impl IntoView {
    view! { <dt>{term}</dt> <dd>{value}</dd> }
}

fn detail_view(
    job: JobDetail,
    access: AdminAccess,
    notice: RwSignal<Option<(bool, String)>>,
    tick: RwSignal<u64>,
    queue: Memo<Option<String>>,
    why: Resource<Result<Option<WhyReport>, ServerFnError>>,
) -> impl IntoView + use<> {
    let state = job.state;
    // The deciding reason, in one sentence under the title (the whole panel is below).
    let deciding = move || {
        Suspend::new(async move {
            why.await.ok().flatten().and_then(|report| {
                report.reasons.into_iter().next().map(|reason| {
                    view! { <p class="deciding" data-code=reason.code>{reason.message}</p> }
                })
            })
        })
    };
    let said = move || {
        notice
            .get()
            .map(|(bad, text)| view! { <p class=if bad { "error" } else { "ok" }>{text}</p> })
    };
    let copy_id = job.id.clone();
    let bar = progress_of(&job.progress);
    let owner = owner_of(&job.data);
    let actions = (access == AdminAccess::Operator).then(|| {
        let buttons = super::jobs::action_buttons(
            &job.id,
            page_actions(state),
            "action",
            notice,
            tick,
            queue,
        );
        view! { <div class="actions">{buttons}</div> }
    });
    let mut timeline = vec![("Created", job.timestamp)];
    if let Some(at) = job.delayed_until {
        timeline.push(("Due", at));
    }
    if let Some(at) = job.processed_on {
        timeline.push((
            if job.attempts_started > 1 {
                "Last started"
            } else {
                "Started"
            },
            at,
        ));
    }
    if let Some(at) = job.finished_on {
        timeline.push((
            if state == JobState::Failed {
                "Failed"
            } else {
                "Finished"
            },
            at,
        ));
    }
    let steps = timeline
        .into_iter()
        .map(|(what, at)| view! { <li><span class="what">{what}</span> " " {when(at)} </li> })
        .collect_view();
    let history_note = {
        let shown = job.history.len() as u64;
        let mut note = if job.history_total > shown {
            format!(
                "The last {shown} of {} events from the queue's event stream.",
                job.history_total
            )
        } else {
            format!("{shown} events from the queue's event stream.")
        };
        if job.history_partial {
            note.push_str(" Earlier events are no longer in the stream.");
        }
        note
    };
    let history = job
        .history
        .iter()
        .map(|event| {
            let what = event_title(&event.event);
            let due = (event.event == "delayed")
                .then(|| event.detail.as_deref().and_then(|d| d.parse::<u64>().ok()))
                .flatten();
            let detail = match due {
                Some(at) => view! { " until " {when(at)} }.into_any(),
                None => event.detail.clone().map(|d| format!(" {d}")).into_any(),
            };
            view! { <li><span class="what">{what}</span> {detail} " · " {when(event.at)}</li> }
        })
        .collect_view();
    let logs_note = if job.log_count > job.logs.len() as u64 {
        format!("The last {} of {} lines.", job.logs.len(), job.log_count)
    } else {
        format!("{} lines.", job.log_count)
    };
    let logs = job
        .logs
        .iter()
        .map(|line| view! { <li>{line.clone()}</li> })
        .collect_view();
    let tree_href = super::tree::tree_link(&job.id, &queue.get_untracked().unwrap_or_default(), 0);
    let flow = super::flow::flow_view(job.family.clone(), tree_href, access, notice, tick);
    let outcome = match (&job.returnvalue, &job.failed_reason) {
        (_, Some(reason)) => {
            // One trace per failed attempt (BullMQ keeps the last ones, oldest first).
            let count = job.stacktrace.len();
            let stacks = job
                .stacktrace
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    let attempt = job
                        .attempts_made
                        .saturating_sub(u32::try_from(count - 1 - i).unwrap_or(u32::MAX));
                    let title = if attempt > 0 {
                        format!("Stack trace of attempt {attempt}")
                    } else {
                        format!("Stack trace {}", i + 1)
                    };
                    view! {
                        <details class="stack" open={i + 1 == count}>
                            <summary>{title}</summary>
                            <pre>{s.clone()}</pre>
                        </details>
                    }
                })
                .collect_view();
            Some(
                view! {
                    <section class="panel" aria-labelledby="outcome">
                        <h3 id="outcome">"Failed reason"</h3>
                        <p class="error">{reason.clone()}</p>
                        {stacks}
                    </section>
                }
                .into_any(),
            )
        }
        (Some(value), None) => Some(
            view! {
                <section class="panel" aria-labelledby="outcome">
                    <h3 id="outcome">"Result"</h3>
                    <pre>{pretty(value)}</pre>
                </section>
            }
            .into_any(),
        ),
        (None, None) => None,
    };
    view! {
        <section class="panel job" aria-labelledby="job-title" data-state=state.as_str()>
            <h2 id="job-title">
                {format!("Job {} ", job.id)}
                <span class=format!("state state-{}", state.as_str())>{state_title(state)}</span>
            </h2>
            <p class="id-tools">
                <button type="button" class="link" on:click=move |_| copy_text(&copy_id)>"Copy id"</button>
            </p>
            <Transition fallback=|| ()>{deciding}</Transition>
            {bar.map(|(value, max, words)| view! {
                <p class="job-progress">
                    <progress value=value max=max aria-label=format!("Progress: {words}")></progress>
                    " " {words}
                </p>
            })}
            <div class="notice" role="status" aria-live="polite">{said}</div>
            {actions}
            <dl class="facts">
                {fact("Name", job.name.clone())}
                {fact("Attempts", format!("{} ended, {} started", job.attempts_made, job.attempts_started))}
                {fact("Worker", job.processed_by.clone().unwrap_or_else(|| "–".to_string()))}
                {fact("Owner", owner.unwrap_or_else(|| "–".to_string()))}
            </dl>
            <h3>"Timeline"</h3>
            <ol class="timeline">{steps}</ol>
            <h3 id="history-title">"Events"</h3>
            <p class="muted">{history_note}</p>
            <ol class="timeline history" aria-labelledby="history-title" tabindex="0">{history}</ol>
        </section>
        {flow}
        {outcome}
        <section class="panel" aria-labelledby="logs-title">
            <h3 id="logs-title">"Logs"</h3>
            <p class="muted">{logs_note}</p>
            <ol class="logs" aria-live="off">{logs}</ol>
        </section>
        <section class="panel" aria-labelledby="data-title">
            <h3 id="data-title">"Data and options"</h3>
            {json_view("Data", pretty(&job.data))}
            {json_view("Options", pretty(&job.opts))}
        </section>
    }
}

/// Changing the data of a job that is not running (operators): the job's data to edit as
/// JSON, saved through BullMQ's `updateData` (refused while it runs or once it completed; on
/// Sentinel's own queue the data must stay a task's, and keeps its owner). Drawn once, apart
/// from the job's details that are drawn again at every read, so typing is never cut off.
#[component]
fn DataEditor(
    job: Resource<Result<Option<JobDetail>, ServerFnError>>,
    id: Memo<String>,
    queue: Memo<Option<String>>,
    tick: RwSignal<u64>,
) -> impl IntoView {
    // The state alone: the button shows or hides when it changes, not at every read.
    let state = Memo::new(move |_| job.get().and_then(|r| r.ok().flatten()).map(|d| d.state));
    let editable = move || {
        state
            .get()
            .is_some_and(|s| !matches!(s, JobState::Active | JobState::Completed))
    };
    let text = RwSignal::new(None::<String>);
    // Whether the form is open: typing changes `text`, not this (the form is not drawn again).
    let editable = Memo::new(move |_| editable());
    let editing = Memo::new(move |_| text.with(Option::is_some));
    let said = RwSignal::new(None::<(bool, String)>);
    let busy = RwSignal::new(false);
    let open = move |_| {
        let data = job
            .get_untracked()
            .and_then(|r| r.ok().flatten())
            .map(|d| pretty(&d.data))
            .unwrap_or_default();
        said.set(None);
        text.set(Some(data));
        super::focus_soon("edit-data");
    };
    let save = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let Some(data) = text.get_untracked() else {
            return;
        };
        busy.set(true);
        leptos::task::spawn_local(async move {
            match admin_edit_data(id.get_untracked(), data, queue.get_untracked()).await {
                Ok(_) => {
                    text.set(None);
                    said.set(Some((false, "Data changed.".to_string())));
                    tick.update(|t| *t += 1);
                }
                Err(error) => {
                    said.set(Some((true, super::api::error_text(&error))));
                    super::focus_soon("edit-data");
                }
            }
            busy.set(false);
        });
    };
    view! {
        <section class="panel edit-data" aria-labelledby="edit-data-title">
            <h3 id="edit-data-title">"Change its data"</h3>
            <div class="notice" role="status" aria-live="polite">
                {move || said.get().map(|(bad, words)| view! { <p class=if bad { "error" } else { "ok" }>{words}</p> })}
            </div>
            {move || match (editing.get(), editable.get()) {
                (true, _) => view! {
                    <form class="edit-data-form" on:submit=save>
                        <label for="edit-data">"Data (JSON)"</label>
                        <textarea
                            id="edit-data"
                            rows="10"
                            spellcheck="false"
                            aria-invalid=move || said.with(|s| s.as_ref().is_some_and(|(bad, _)| *bad)).to_string()
                            prop:value=move || text.get().unwrap_or_default()
                            on:input=move |ev| text.set(Some(event_target_value(&ev)))
                        ></textarea>
                        <p>
                            <button type="submit" class="action" disabled=move || busy.get()>"Save the data"</button>
                            " "
                            <button type="button" class="link" on:click=move |_| text.set(None)>"Cancel"</button>
                        </p>
                    </form>
                }.into_any(),
                (false, true) => view! {
                    <button type="button" class="action quiet" on:click=open>"Edit data"</button>
                }.into_any(),
                (false, false) => view! {
                    <p class="muted">"A job's data can be changed while it waits, is delayed or failed; not while it runs, nor once it completed."</p>
                }.into_any(),
            }}
        </section>
    }
}

/// The options of `job` a copy takes (as the task API names them), and its data: a
/// Sentinel task's time limit is kept in its data, and goes back to the options.
fn copy_of(job: &JobDetail) -> (String, String) {
    let mut data = job.data.clone();
    let mut opts = serde_json::Map::new();
    for field in ["attempts", "delay", "priority", "backoff"] {
        if let Some(value) = job.opts.get(field).filter(|v| !v.is_null()) {
            opts.insert(field.to_string(), value.clone());
        }
    }
    if let Value::Object(fields) = &mut data {
        fields.remove("owner");
        if let Some(limit) = fields.remove("timeoutMs") {
            opts.insert("timeoutMs".to_string(), limit);
        }
    }
    (pretty(&data), pretty(&Value::Object(opts)))
}

/// "Duplicate": a copy of the job, its data and options editable first, added to the same
/// queue as a job of its own (operators). Drawn once, like the data editor.
#[component]
fn CopyForm(
    job: Resource<Result<Option<JobDetail>, ServerFnError>>,
    queue: Memo<Option<String>>,
) -> impl IntoView {
    let copy = RwSignal::new(None::<(String, String, String)>);
    let open = Memo::new(move |_| copy.with(Option::is_some));
    let said = RwSignal::new(None::<(bool, String, Option<String>)>);
    let busy = RwSignal::new(false);
    let start = move |_| {
        if let Some(detail) = job.get_untracked().and_then(|r| r.ok().flatten()) {
            let (data, opts) = copy_of(&detail);
            said.set(None);
            copy.set(Some((detail.name.clone(), data, opts)));
            super::focus_soon("copy-data");
        }
    };
    let add = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let Some((name, data, opts)) = copy.get_untracked() else {
            return;
        };
        busy.set(true);
        leptos::task::spawn_local(async move {
            match admin_add_copy(name, data, opts, queue.get_untracked()).await {
                Ok(id) => {
                    copy.set(None);
                    let href = super::job_link(&id, queue.get_untracked().as_deref());
                    said.set(Some((false, format!("Added job {id}."), Some(href))));
                }
                Err(error) => {
                    said.set(Some((true, super::api::error_text(&error), None)));
                    super::focus_soon("copy-data");
                }
            }
            busy.set(false);
        });
    };
    let field = move |index: usize| {
        move || {
            copy.with(|c| {
                c.as_ref()
                    .map(|(name, data, opts)| [name, data, opts][index].clone())
                    .unwrap_or_default()
            })
        }
    };
    let set = move |index: usize| {
        move |ev| {
            let value = event_target_value(&ev);
            copy.update(|c| {
                if let Some((_, data, opts)) = c {
                    if index == 1 {
                        *data = value;
                    } else {
                        *opts = value;
                    }
                }
            })
        }
    };
    view! {
        <section class="panel copy" aria-labelledby="copy-title">
            <h3 id="copy-title">"Add it again"</h3>
            <div class="notice" role="status" aria-live="polite">
                {move || said.get().map(|(bad, words, href)| view! {
                    <p class=if bad { "error" } else { "ok" }>
                        {words} " " {href.map(|href| view! { <a href=href>"Open it"</a> })}
                    </p>
                })}
            </div>
            {move || if open.get() {
                view! {
                    <form class="copy-form" on:submit=add>
                        <p>"Name: " <code>{field(0)}</code></p>
                        <label for="copy-data">"Data (JSON)"</label>
                        <textarea id="copy-data" rows="8" spellcheck="false"
                            prop:value=field(1) on:input=set(1)></textarea>
                        <label for="copy-opts">"Options (JSON: attempts, delay, priority, backoff, timeoutMs)"</label>
                        <textarea id="copy-opts" rows="4" spellcheck="false"
                            prop:value=field(2) on:input=set(2)></textarea>
                        <p>
                            <button type="submit" class="action" disabled=move || busy.get()>"Add the copy"</button>
                            " "
                            <button type="button" class="link" on:click=move |_| copy.set(None)>"Cancel"</button>
                        </p>
                    </form>
                }.into_any()
            } else {
                view! { <button type="button" class="action quiet" on:click=start>"Duplicate"</button> }.into_any()
            }}
        </section>
    }
}

/// A JSON value, formatted, folded under its title, with a button that copies it.
fn json_view(title: &'static str, text: String) -> impl IntoView {
    let copied = text.clone();
    view! {
        <details class="json" open=true>
            <summary>{title}</summary>
            <button type="button" class="link copy" on:click=move |_| copy_text(&copied)>
                {format!("Copy the {}", title.to_lowercase())}
            </button>
            <pre>{text}</pre>
        </details>
    }
}

/// Puts `text` on the clipboard (in the browser; where there is none, nothing happens).
fn copy_text(text: &str) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        // `navigator.clipboard.writeText`, reached by name (web-sys's Clipboard feature is
        // not built for one call).
        let call = || -> Option<()> {
            let window: wasm_bindgen::JsValue = web_sys::window()?.into();
            let navigator = js_sys::Reflect::get(&window, &"navigator".into()).ok()?;
            let clipboard = js_sys::Reflect::get(&navigator, &"clipboard".into()).ok()?;
            let write = js_sys::Reflect::get(&clipboard, &"writeText".into())
                .ok()?
                .dyn_into::<js_sys::Function>()
                .ok()?;
            write.call1(&clipboard, &text.into()).ok()?;
            Some(())
        };
        let _ = call();
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = text;
}

/// A BullMQ event's name in words.
fn event_title(event: &str) -> String {
    match event {
        "added" => "Added",
        "waiting" => "Waiting",
        "active" => "Started",
        "progress" => "Progress",
        "completed" => "Completed",
        "failed" => "Failed",
        "delayed" => "Delayed",
        "stalled" => "Stalled (back to waiting)",
        "retries-exhausted" => "No attempts left",
        "removed" => "Removed",
        "waiting-children" => "Waiting for its children",
        "duplicated" => "Added again (same id)",
        "deduplicated" => "Deduplicated",
        other => return other.to_string(),
    }
    .to_string()
}

/// The actions the job page offers (the table's, and Remove for a job that is not running).
fn page_actions(state: JobState) -> &'static [&'static str] {
    match state {
        JobState::Failed | JobState::Completed => &["retry", "remove"],
        JobState::Delayed => &["promote", "cancel", "remove"],
        JobState::Active => &["cancel"],
        JobState::Unknown => &[],
        _ => &["cancel", "remove"],
    }
}

/// "Why isn't it running?": each reason that holds now, the deciding one first.
fn why_view(report: WhyReport) -> impl IntoView {
    let title = match report.state {
        JobState::Active => "Where is it running?",
        JobState::Completed | JobState::Failed => "Why is it not running any more?",
        _ => "Why isn't it running?",
    };
    let items = report
        .reasons
        .into_iter()
        .map(|reason| view! { <li data-code=reason.code>{reason.message}</li> })
        .collect_view();
    view! {
        <section class="panel why" aria-labelledby="why-title">
            <h2 id="why-title">{title}</h2>
            <ul>{items}</ul>
        </section>
    }
}
