//! The operator's tools on the dashboard: clean finished jobs (a preview of the count first),
//! and add a job with every option of the enqueue API.

use leptos::prelude::*;

use super::api::{admin_clean, error_text};
use super::confirm;
use crate::home::api::enqueue_task;
use crate::model::types::EnqueueOutcome;

/// Clean: which finished jobs, how old; Preview says how many; Remove asks, then removes.
#[component]
pub fn CleanForm(tick: RwSignal<u64>, queue: Memo<Option<String>>) -> impl IntoView {
    let which = RwSignal::new("completed".to_string());
    let minutes = RwSignal::new("60".to_string());
    let preview = RwSignal::new(None::<(String, u64, u64)>);
    let message = RwSignal::new(None::<(bool, String)>);
    let busy = RwSignal::new(false);
    let ask = move |dry_run: bool| {
        let Ok(age) = minutes.get_untracked().trim().parse::<u64>() else {
            message.set(Some((
                true,
                "Older than: a whole number of minutes".to_string(),
            )));
            return;
        };
        let state = which.get_untracked();
        if !dry_run {
            let Some((_, _, count)) = preview.get_untracked() else {
                return;
            };
            if !confirm(&format!(
                "Remove {count} {state} jobs that finished more than {age} min ago? Their records and logs are deleted."
            )) {
                return;
            }
        }
        busy.set(true);
        leptos::task::spawn_local(async move {
            match admin_clean(state.clone(), age, dry_run, queue.get_untracked()).await {
                Ok(outcome) if outcome.dry_run => {
                    preview.set(Some((state, age, outcome.count)));
                    message.set(None);
                }
                Ok(outcome) => {
                    preview.set(None);
                    message.set(Some((
                        false,
                        format!("Removed {} {state} jobs", outcome.count),
                    )));
                    tick.update(|t| *t += 1);
                }
                Err(error) => message.set(Some((true, error_text(&error)))),
            }
            busy.set(false);
        });
    };
    view! {
        <form
            class="tool clean"
            on:submit=move |ev| {
                ev.prevent_default();
                ask(true);
            }
        >
            <fieldset>
                <legend>"Clean finished jobs"</legend>
                <label for="clean-state">"Which"</label>
                <select
                    id="clean-state"
                    on:change=move |ev| {
                        which.set(event_target_value(&ev));
                        preview.set(None);
                    }
                >
                    <option value="completed" selected=true>"Completed"</option>
                    <option value="failed">"Failed"</option>
                </select>
                <label for="clean-age">"Finished more than (minutes ago)"</label>
                <input
                    id="clean-age"
                    type="number"
                    min="0"
                    max="5256000"
                    prop:value=move || minutes.get()
                    on:input=move |ev| {
                        minutes.set(event_target_value(&ev));
                        preview.set(None);
                    }
                />
                <button type="submit" disabled=move || busy.get()>"Preview"</button>
                {move || {
                    preview
                        .get()
                        .map(|(state, age, count)| {
                            view! {
                                <p class="preview" data-count=count>
                                    {format!(
                                        "{count} {state} jobs finished more than {age} min ago (at most 10,000 a run)."
                                    )} " "
                                    <button
                                        type="button"
                                        class="action small"
                                        disabled=move || busy.get() || count == 0
                                        on:click=move |_| ask(false)
                                    >
                                        {format!("Remove {count} jobs")}
                                    </button>
                                </p>
                            }
                        })
                }}
                <p class="status" role="status" aria-live="polite">
                    {move || message.get().map(|(bad, text)| view! { <span class=if bad { "error" } else { "ok" }>{text}</span> })}
                </p>
            </fieldset>
        </form>
    }
    .into_any()
}

/// Add a job: the enqueue form's fields, every option included.
#[component]
pub fn AddJobForm(tick: RwSignal<u64>) -> impl IntoView {
    let fields: [(&'static str, &'static str, &'static str); 7] = [
        ("add-seconds", "Seconds", "10"),
        ("add-delay", "Delay (s)", ""),
        ("add-priority", "Priority (1 is first)", ""),
        ("add-attempts", "Attempts", ""),
        ("add-backoff-s", "Back-off delay (s)", ""),
        ("add-job-id", "Job id", ""),
        ("add-timeout", "Timeout (s)", ""),
    ];
    let values: Vec<RwSignal<String>> = fields
        .iter()
        .map(|(_, _, v)| RwSignal::new(v.to_string()))
        .collect();
    let backoff = RwSignal::new(String::new());
    let message = RwSignal::new(None::<(bool, String, Option<String>)>);
    let busy = RwSignal::new(false);
    let inputs = fields
        .iter()
        .zip(values.iter().copied())
        .map(|((id, label, _), value)| {
            view! {
                <label for=*id>{*label}</label>
                <input
                    id=*id
                    type="text"
                    inputmode=if *id == "add-job-id" { "text" } else { "numeric" }
                    prop:value=move || value.get()
                    on:input=move |ev| value.set(event_target_value(&ev))
                />
            }
        })
        .collect_view();
    let submit = {
        let values = values.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            let get = |i: usize| {
                let v = values[i].get_untracked();
                (!v.trim().is_empty()).then(|| v.trim().to_string())
            };
            let seconds = get(0).unwrap_or_default();
            let backoff_kind = Some(backoff.get_untracked()).filter(|b| !b.is_empty());
            let args = (get(1), get(2), get(3), backoff_kind, get(4), get(5), get(6));
            busy.set(true);
            leptos::task::spawn_local(async move {
                let (delay, priority, attempts, backoff, backoff_s, job_id, timeout) = args;
                match enqueue_task(
                    seconds, None, delay, priority, attempts, backoff, backoff_s, job_id, timeout,
                )
                .await
                {
                    Ok(EnqueueOutcome::Enqueued { id }) => {
                        message.set(Some((false, format!("Added job {id}"), Some(id))));
                        tick.update(|t| *t += 1);
                    }
                    Ok(EnqueueOutcome::Rejected { message: why }) => {
                        message.set(Some((true, why, None)))
                    }
                    Ok(EnqueueOutcome::Unconfirmed { message: why }) => {
                        message.set(Some((true, why, None)))
                    }
                    Err(error) => message.set(Some((true, error_text(&error), None))),
                }
                busy.set(false);
            });
        }
    };
    view! {
        <form class="tool add-job" on:submit=submit>
            <fieldset>
                <legend>"Add a job"</legend>
                <div class="option-grid">
                    {inputs}
                    <label for="add-backoff">"Back-off"</label>
                    <select id="add-backoff" on:change=move |ev| backoff.set(event_target_value(&ev))>
                        <option value="" selected=true>"None"</option>
                        <option value="fixed">"Fixed"</option>
                        <option value="exponential">"Exponential"</option>
                    </select>
                </div>
                <button type="submit" disabled=move || busy.get()>"Add the job"</button>
                <p class="status" role="status" aria-live="polite">
                    {move || message.get().map(|(bad, text, id)| view! {
                        <span class=if bad { "error" } else { "ok" }>{text}</span>
                        {id.map(|id| view! { " " <a href=format!("/admin/jobs/{}", crate::model::url::encode(&id))>"Open it"</a> })}
                    })}
                </p>
            </fieldset>
        </form>
    }
    .into_any()
}
