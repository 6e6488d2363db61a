//! The queue's job schedulers on the dashboard: each with its schedule, next and last run,
//! whether it is late or paused; for operators, run now, pause or resume, edit and remove, and
//! a form that creates or changes one (a cron pattern with its time zone, or a period).

use leptos::prelude::*;

use super::api::{admin_scheduler_act, admin_scheduler_save, admin_schedulers, error_text};
use super::confirm;
use super::kept::Kept;
use super::live::Live;
use crate::model::admin::{AdminAccess, Scheduler};

/// The form's fields, for editing a scheduler in place.
#[derive(Clone, Copy)]
struct Form {
    id: RwSignal<String>,
    pattern: RwSignal<String>,
    every: RwSignal<String>,
    tz: RwSignal<String>,
    name: RwSignal<String>,
    data: RwSignal<String>,
    /// The scheduler being changed (its id is then fixed), or `None` for a new one.
    editing: RwSignal<Option<String>>,
    /// The field the last save was refused for, and why (said next to it).
    refused: RwSignal<Option<(&'static str, String)>>,
}

/// The form's fields by the names the server's refusals give them.
const FIELDS: [(&str, &str); 6] = [
    ("id", "scheduler-id"),
    ("pattern", "scheduler-pattern"),
    ("tz", "scheduler-tz"),
    ("every", "scheduler-every"),
    ("name", "scheduler-name"),
    ("data", "scheduler-data"),
];

impl Form {
    /// Empties the form for a new scheduler.
    fn clear(self) {
        for field in [
            self.id,
            self.pattern,
            self.every,
            self.tz,
            self.name,
            self.data,
        ] {
            field.set(String::new());
        }
        self.editing.set(None);
        self.refused.set(None);
    }

    /// Fills the form with `scheduler` to change it: its id stays fixed (a new id would make
    /// a second scheduler), and focus moves to its schedule.
    fn fill(self, scheduler: &Scheduler) {
        self.editing.set(Some(scheduler.id.clone()));
        self.refused.set(None);
        super::focus_by_id("scheduler-pattern");
        self.id.set(scheduler.id.clone());
        self.pattern
            .set(scheduler.pattern.clone().unwrap_or_default());
        self.every.set(
            scheduler
                .every
                .map(|ms| (ms / 1000).to_string())
                .unwrap_or_default(),
        );
        self.tz.set(scheduler.tz.clone().unwrap_or_default());
        self.name.set(scheduler.name.clone());
        self.data.set(scheduler.data.to_string());
    }
}

/// How a scheduler repeats, in words.
fn schedule_words(scheduler: &Scheduler) -> String {
    match (&scheduler.pattern, scheduler.every) {
        (Some(pattern), _) => match &scheduler.tz {
            Some(tz) => format!("{pattern} ({tz})"),
            None => format!("{pattern} (UTC)"),
        },
        (None, Some(every)) => format!("every {}", crate::model::time::duration_words(every)),
        (None, None) => "–".to_string(),
    }
}

/// A read of a queue's schedulers.
pub type SchedulersRead = Resource<Result<crate::model::admin::SchedulerList, ServerFnError>>;

/// The schedulers of `queue`, read again on each of the page's ticks; made once per page,
/// outside the frame's content (see `history::history_read`).
pub fn schedulers_read(queue: Memo<Option<String>>, live: Live) -> SchedulersRead {
    let tick = live.tick;
    Resource::new(
        move || (queue.get(), tick.get()),
        |(queue, _)| admin_schedulers(queue),
    )
}

/// The schedulers panel, of a [`schedulers_read`].
#[component]
pub fn SchedulersPanel(
    list: SchedulersRead,
    live: Live,
    access: AdminAccess,
    queue: Memo<Option<String>>,
) -> impl IntoView {
    let tick = live.tick;
    let kept = Kept::new(live);
    let notice = RwSignal::new(None::<(bool, String)>);
    let form = Form {
        id: RwSignal::new(String::new()),
        pattern: RwSignal::new(String::new()),
        every: RwSignal::new(String::new()),
        tz: RwSignal::new(String::new()),
        name: RwSignal::new(String::new()),
        data: RwSignal::new(String::new()),
        editing: RwSignal::new(None),
        refused: RwSignal::new(None),
    };
    let operator = access == AdminAccess::Operator;
    let act = move |id: String, action: &'static str| {
        if action == "remove" && !confirm(&format!("Remove scheduler {id}? Its next job goes too."))
        {
            return;
        }
        leptos::task::spawn_local(async move {
            match admin_scheduler_act(id.clone(), action.to_string(), queue.get_untracked()).await {
                Ok(words) => notice.set(Some((false, words))),
                Err(error) => notice.set(Some((true, format!("{id}: {}", error_text(&error))))),
            }
            tick.update(|t| *t += 1);
        });
    };
    let save = move |_| {
        let id = form.id.get_untracked();
        leptos::task::spawn_local(async move {
            let saved = admin_scheduler_save(
                id.clone(),
                form.pattern.get_untracked(),
                form.every.get_untracked(),
                form.tz.get_untracked(),
                form.name.get_untracked(),
                form.data.get_untracked(),
                queue.get_untracked(),
            )
            .await;
            match saved {
                Ok(()) => {
                    notice.set(Some((false, format!("{id}: saved"))));
                    form.clear();
                }
                Err(error) => {
                    let text = error_text(&error);
                    // A refusal that names a field is said next to it, and focus goes there.
                    match FIELDS.iter().find_map(|(name, input)| {
                        Some((*input, text.strip_prefix(name)?.strip_prefix(": ")?))
                    }) {
                        Some((input, why)) => {
                            form.refused.set(Some((input, why.to_string())));
                            notice.set(None);
                            super::focus_by_id(input);
                        }
                        None => notice.set(Some((true, text))),
                    }
                }
            }
            tick.update(|t| *t += 1);
        });
    };
    let rows = move || {
        Suspend::new(async move {
            kept.show(list.await, move |list| {
                if list.schedulers.is_empty() {
                    view! { <p class="muted">"No job scheduler on this queue."</p> }.into_any()
                } else {
                    let now = crate::model::time::now_ms();
                    let rows = list
                        .schedulers
                        .into_iter()
                        .map(|scheduler| {
                            let state = if scheduler.paused {
                                view! { <span class="badge paused">"Paused"</span> }.into_any()
                            } else if scheduler.late {
                                view! { <span class="badge late">"Late"</span> }.into_any()
                            } else {
                                view! { <span class="muted">"On time"</span> }.into_any()
                            };
                            // The time, then how far it is.
                            let next = scheduler
                                .next
                                .map(|at| format!("{} ({})", crate::model::time::clock(at), crate::model::time::relative(at, now)))
                                .unwrap_or_else(|| "–".to_string());
                            // BullMQ counts the job it has scheduled next among the iterations:
                            // the runs are the others (a scheduler that never ran shows none).
                            let ran = scheduler
                                .iterations
                                .saturating_sub(u64::from(scheduler.next.is_some()));
                            let runs = if ran == 0 { "–".to_string() } else { ran.to_string() };
                            let last = scheduler
                                .last
                                .map(|at| crate::model::time::relative(at, now))
                                .unwrap_or_else(|| "–".to_string());
                            let buttons = operator.then(|| {
                                let id = scheduler.id.clone();
                                let toggle = if scheduler.paused { "resume" } else { "pause" };
                                let (run_id, toggle_id, remove_id) = (id.clone(), id.clone(), id.clone());
                                let editing = scheduler.clone();
                                view! {
                                    <td class="actions">
                                        <button type="button" class="action small" aria-label=format!("Run scheduler {id} now")
                                            on:click=move |_| act(run_id.clone(), "run")>"Run now"</button>
                                        <button type="button" class="action small" aria-label=format!("{} scheduler {id}", if toggle == "pause" { "Pause" } else { "Resume" })
                                            on:click=move |_| act(toggle_id.clone(), toggle)>
                                            {if toggle == "pause" { "Pause" } else { "Resume" }}
                                        </button>
                                        <button type="button" class="action small" aria-label=format!("Edit scheduler {id}")
                                            on:click=move |_| form.fill(&editing)>"Edit"</button>
                                        <button type="button" class="action small" aria-label=format!("Remove scheduler {id}")
                                            on:click=move |_| act(remove_id.clone(), "remove")>"Remove"</button>
                                    </td>
                                }
                            });
                            view! {
                                <tr data-scheduler=scheduler.id.clone() data-paused=scheduler.paused.to_string() data-late=scheduler.late.to_string()>
                                    <td>{scheduler.id.clone()}</td>
                                    <td>{scheduler.name.clone()}</td>
                                    <td class="schedule">{schedule_words(&scheduler)}</td>
                                    <td class="next">{next}</td>
                                    <td>{last}</td>
                                    <td class="num runs">{runs}</td>
                                    <td>{state}</td>
                                    {buttons}
                                </tr>
                            }
                        })
                        .collect_view();
                    view! {
                        <table class="jobs-table schedulers-table">
                            <thead>
                                <tr>
                                    <th scope="col">"Scheduler"</th>
                                    <th scope="col">"Job name"</th>
                                    <th scope="col">"Schedule"</th>
                                    <th scope="col">"Next run"</th>
                                    <th scope="col">"Last run"</th>
                                    <th scope="col">"Runs"</th>
                                    <th scope="col">"State"</th>
                                    {operator.then(|| view! { <th scope="col">"Actions"</th> })}
                                </tr>
                            </thead>
                            <tbody>{rows}</tbody>
                        </table>
                    }
                    .into_any()
                }
            })
        })
    };
    let field = move |id: &'static str,
                      label: &'static str,
                      value: RwSignal<String>,
                      hint: &'static str| {
        let error_id = format!("{id}-error");
        let why = move || {
            form.refused.with(|r| {
                r.as_ref()
                    .filter(|(field, _)| *field == id)
                    .map(|(_, why)| why.clone())
            })
        };
        view! {
            <label for=id>{label}</label>
            <input id=id type="text" maxlength="2000" placeholder=hint
                readonly=move || id == "scheduler-id" && form.editing.with(Option::is_some)
                aria-invalid=move || why().is_some().to_string()
                aria-describedby=error_id.clone()
                prop:value=move || value.get()
                on:input=move |ev| {
                    value.set(event_target_value(&ev));
                    if why().is_some() {
                        form.refused.set(None);
                    }
                }/>
            <p id=error_id class="field-error" role="alert">{why}</p>
        }
    };
    view! {
        <section class="panel schedulers" aria-labelledby="schedulers-title">
            <h2 id="schedulers-title" tabindex="-1">"Job schedulers"</h2>
            <div class="notice" role="status" aria-live="polite">
                {move || notice.get().map(|(bad, text)| view! { <p class=if bad { "error" } else { "ok" }>{text}</p> })}
            </div>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>{rows}</Transition>
            {operator.then(|| view! {
                <form class="scheduler-form" on:submit=move |ev| { ev.prevent_default(); save(()); }>
                    <h3 id="scheduler-form-title">
                        {move || match form.editing.get() {
                            Some(id) => format!("Editing scheduler {id}"),
                            None => "New scheduler".to_string(),
                        }}
                    </h3>
                    {field("scheduler-id", "Id", form.id, "nightly-report")}
                    {field("scheduler-pattern", "Cron pattern", form.pattern, "0 0 3 * * * (or give Every)")}
                    {field("scheduler-tz", "Time zone", form.tz, "Europe/Paris (UTC when empty)")}
                    {field("scheduler-every", "Every (s)", form.every, "300 (or give a pattern)")}
                    {field("scheduler-name", "Job name", form.name, "the id when empty")}
                    {field("scheduler-data", "Data (JSON)", form.data, "{\"report\": \"daily\"}")}
                    <button type="submit" class="action">
                        {move || if form.editing.with(Option::is_some) { "Save changes" } else { "Create scheduler" }}
                    </button>
                    <Show when=move || form.editing.with(Option::is_some)>
                        <button type="button" class="link" on:click=move |_| form.clear()>"Cancel editing"</button>
                    </Show>
                </form>
            })}
        </section>
    }
}
