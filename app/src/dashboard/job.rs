//! One job (`/admin/jobs/:id`): its state and progress, live; a timeline; data and options as
//! formatted JSON; the logs, following as the job writes them; the result or the failed reason
//! with its stack traces; the actions.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use serde_json::Value;

use super::api::{admin_job, admin_why};
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
