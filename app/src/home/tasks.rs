//! The user's task list: a row per task, each with its own signal so that a progress update
//! re-renders one row, not the list; the submissions not yet confirmed by the queue on top; and
//! the words a screen reader hears when a task changes state.

use leptos::either::Either;
use leptos::prelude::*;

use crate::home::storage::{Entry, Submission};
use crate::home::view::{Presence, TaskView, label};
use crate::model::time::{exact, relative};
use crate::model::types::JobState;

/// Rows shown at first, and added by each "Show older".
pub const PAGE_ROWS: usize = 20;

/// One task of the list. Its signal is reference-counted rather than owned by the reactive
/// scope that happened to create it (an effect or an event callback), so it lives exactly as
/// long as the row.
#[derive(Debug, Clone)]
pub struct TaskRow {
    /// The job id (never changes).
    pub id: String,
    /// When it was listed (orders the list the same way in every tab).
    pub at: f64,
    /// What we know of it.
    pub view: ArcRwSignal<TaskView>,
}

/// A submission waiting for the queue's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingRow {
    /// What was sent.
    pub submission: Submission,
    /// Why it is not confirmed yet, once a try failed.
    pub note: Option<String>,
}

/// The list of the user's tasks, newest first.
#[derive(Debug, Clone, Copy)]
pub struct TaskStore {
    rows: RwSignal<Vec<TaskRow>>,
    pending: RwSignal<Vec<PendingRow>>,
    shown: RwSignal<usize>,
    announcement: RwSignal<String>,
}

impl Default for TaskStore {
    fn default() -> Self {
        Self {
            rows: RwSignal::new(Vec::new()),
            pending: RwSignal::new(Vec::new()),
            shown: RwSignal::new(PAGE_ROWS),
            announcement: RwSignal::new(String::new()),
        }
    }
}

/// What a screen reader should hear when a task goes from `before` to `after`: starts,
/// completions and failures, never ticks or first loads.
fn transition(before: &TaskView, after: &TaskView) -> Option<String> {
    if before.presence != Presence::Present
        || after.presence != Presence::Present
        || before.state == after.state
    {
        return None;
    }
    let name = label(&after.id);
    match after.state? {
        JobState::Active => Some(format!("Task {name} started.")),
        JobState::Completed => Some(format!("Task {name} completed.")),
        JobState::Failed => Some(format!("Task {name} failed.")),
        _ => None,
    }
}

impl TaskStore {
    /// The rows, tracked.
    pub fn rows(&self) -> Vec<TaskRow> {
        self.rows.get()
    }

    /// The ids, newest first, untracked.
    pub fn ids(&self) -> Vec<String> {
        self.rows
            .with_untracked(|rows| rows.iter().map(|r| r.id.clone()).collect())
    }

    /// The list as stored, untracked.
    pub fn entries(&self) -> Vec<Entry> {
        self.rows.with_untracked(|rows| {
            rows.iter()
                .map(|r| Entry {
                    id: r.id.clone(),
                    at: r.at,
                })
                .collect()
        })
    }

    fn find(&self, id: &str) -> Option<TaskRow> {
        self.rows
            .with_untracked(|rows| rows.iter().find(|r| r.id == id).cloned())
    }

    /// Lists `id`, first listed at `at`, in its place; `false` when it was listed already.
    pub fn add(&self, id: &str, at: f64) -> bool {
        if self.find(id).is_some() {
            return false;
        }
        self.rows.update(|rows| {
            let place = rows.iter().position(|r| r.at < at).unwrap_or(rows.len());
            rows.insert(
                place,
                TaskRow {
                    id: id.to_string(),
                    at,
                    view: ArcRwSignal::new(TaskView::pending(id)),
                },
            );
        });
        true
    }

    /// Lists every entry not yet listed; returns the ids that were new.
    pub fn merge(&self, entries: &[Entry]) -> Vec<String> {
        entries
            .iter()
            .filter(|e| self.add(&e.id, e.at))
            .map(|e| e.id.clone())
            .collect()
    }

    /// Takes `ids` off the list.
    pub fn remove(&self, ids: &[String]) {
        self.rows
            .update(|rows| rows.retain(|r| !ids.contains(&r.id)));
    }

    /// Replaces what we know of a task (announcing a change of state).
    pub fn set_view(&self, view: TaskView) {
        if let Some(row) = self.find(&view.id) {
            let said = row.view.with_untracked(|before| transition(before, &view));
            row.view.set(view);
            if let Some(said) = said {
                self.announce(said);
            }
        }
    }

    /// Changes a known task in place; unknown ids are ignored (other users' jobs).
    pub fn update(&self, id: &str, change: impl FnOnce(&mut TaskView)) {
        if let Some(row) = self.find(id) {
            let before = row.view.get_untracked();
            let mut after = before.clone();
            change(&mut after);
            if after != before {
                let said = transition(&before, &after);
                row.view.set(after);
                if let Some(said) = said {
                    self.announce(said);
                }
            }
        }
    }

    /// Whether `id` is listed.
    pub fn has(&self, id: &str) -> bool {
        self.find(id).is_some()
    }

    /// The ids whose status should be read again: those shown that may still change.
    pub fn ids_to_refresh(&self) -> Vec<String> {
        let shown = self.shown.get_untracked();
        self.rows.with_untracked(|rows| {
            rows.iter()
                .take(shown)
                .filter(|r| r.view.with_untracked(|v| !v.is_settled()))
                .map(|r| r.id.clone())
                .collect()
        })
    }

    /// What is known of `id`, untracked.
    pub fn view_of(&self, id: &str) -> Option<TaskView> {
        self.find(id).map(|row| row.view.get_untracked())
    }

    /// The ids shown whose status was never read.
    pub fn loading_ids(&self) -> Vec<String> {
        let shown = self.shown.get_untracked();
        self.rows.with_untracked(|rows| {
            rows.iter()
                .take(shown)
                .filter(|r| r.view.with_untracked(|v| v.presence == Presence::Loading))
                .map(|r| r.id.clone())
                .collect()
        })
    }

    /// The ids of tasks that will not change any more (finished or gone).
    pub fn settled_ids(&self) -> Vec<String> {
        self.rows.with(|rows| {
            rows.iter()
                .filter(|r| r.view.with(TaskView::is_settled))
                .map(|r| r.id.clone())
                .collect()
        })
    }

    /// Says `text` to screen readers (once).
    pub fn announce(&self, text: String) {
        self.announcement.set(text);
    }

    /// The last announcement, tracked.
    pub fn announcement(&self) -> String {
        self.announcement.get()
    }

    /// The rows shown, tracked: the unconfirmed submissions, then the first `shown` tasks.
    pub fn items(&self) -> Vec<Item> {
        let mut items: Vec<Item> = self.pending().into_iter().map(Item::Sending).collect();
        let shown = self.shown.get();
        self.rows.with(|rows| {
            items.extend(rows.iter().take(shown).cloned().map(Item::Task));
        });
        items
    }

    /// The unconfirmed submissions, tracked.
    pub fn pending(&self) -> Vec<PendingRow> {
        self.pending.get()
    }

    /// Shows a submission as sent and not yet confirmed.
    pub fn add_pending(&self, submission: Submission) {
        self.pending.update(|all| {
            if !all.iter().any(|p| p.submission.key == submission.key) {
                all.insert(
                    0,
                    PendingRow {
                        submission,
                        note: None,
                    },
                );
            }
        });
    }

    /// Says why a submission is not confirmed yet.
    pub fn note_pending(&self, key: &str, note: String) {
        self.pending.update(|all| {
            if let Some(row) = all.iter_mut().find(|p| p.submission.key == key) {
                row.note = Some(note);
            }
        });
    }

    /// Takes a submission off the list (confirmed or refused).
    pub fn remove_pending(&self, key: &str) {
        self.pending
            .update(|all| all.retain(|p| p.submission.key != key));
    }

    /// Whether a submission is still shown.
    pub fn is_pending(&self, key: &str) -> bool {
        self.pending
            .with_untracked(|all| all.iter().any(|p| p.submission.key == key))
    }
}

/// A row of the list.
#[derive(Debug, Clone)]
pub enum Item {
    /// A submission the queue has not confirmed.
    Sending(PendingRow),
    /// A task.
    Task(TaskRow),
}

impl Item {
    /// The row's key in the list (a submission's and a task's never collide).
    fn key(&self) -> String {
        match self {
            Self::Sending(row) => format!("s{}", row.submission.key),
            Self::Task(row) => format!("t{}", row.id),
        }
    }
}

/// What the list needs besides the tasks.
#[derive(Clone, Copy)]
pub struct ListContext {
    /// The clock, ticking each second in the browser.
    pub now: Signal<f64>,
    /// How long one tick lasts, in ms.
    pub tick_ms: u64,
    /// Whether what is shown may be out of date (the page is not live).
    pub stale: Signal<bool>,
    /// Called with the ids the user takes off the list.
    pub dismiss: Callback<Vec<String>>,
    /// Called with the id of a failed task the user runs again.
    pub retry: Callback<String>,
    /// Why the last retry was refused, and of which task.
    pub retry_refused: RwSignal<Option<(String, String)>>,
}

/// The list itself.
#[component]
pub fn TaskList(store: TaskStore, context: ListContext) -> impl IntoView {
    let total = move || store.rows.with(Vec::len);
    let hidden = move || total().saturating_sub(store.shown.get());
    let settled = Memo::new(move |_| store.settled_ids());
    let empty = move || total() == 0 && store.pending.with(Vec::is_empty);
    view! {
        <section class="tasks" aria-labelledby="tasks-title" data-stale=move || context.stale.get().to_string()>
            <div class="tasks-head">
                <h2 id="tasks-title">"Your tasks"</h2>
                <Show when=move || !settled.with(Vec::is_empty)>
                    <button type="button" class="link clear" on:click=move |_| context.dismiss.run(settled.get_untracked())>
                        {move || format!("Clear finished ({})", settled.with(Vec::len))}
                    </button>
                </Show>
            </div>
            {move || context.stale.get().then(|| view! {
                <p class="stale-note">"Not live: these statuses may be out of date."</p>
            })}
            <Show
                when=move || !empty()
                fallback=|| view! { <p class="empty">"No tasks yet. Enqueue one above."</p> }
            >
                <ol class="task-list">
                    // One list for both kinds of row (one keyed list's code in the WASM, not
                    // two): the unconfirmed submissions first, then the tasks shown.
                    <For each=move || store.items() key=Item::key let:item>
                        {match item {
                            Item::Sending(row) => {
                                Either::Left(view! { <PendingItem store submission=row.submission/> })
                            }
                            Item::Task(row) => Either::Right(view! { <TaskItem row context/> }),
                        }}
                    </For>
                </ol>
                <Show when=move || { hidden() > 0 }>
                    <button type="button" class="link more" on:click=move |_| store.shown.update(|n| *n += PAGE_ROWS)>
                        {move || format!("Show older tasks ({} more)", hidden())}
                    </button>
                </Show>
            </Show>
            <p class="sr-only" role="status" aria-live="polite" id="announcer">{move || store.announcement()}</p>
        </section>
    }
}

/// A submission the queue has not confirmed.
#[component]
fn PendingItem(store: TaskStore, submission: Submission) -> impl IntoView {
    let seconds = submission.seconds;
    let key = submission.key.clone();
    // The note changes while the row stays: read it from the store.
    let note = move || {
        store.pending.with(|all| {
            all.iter()
                .find(|p| p.submission.key == key)
                .and_then(|p| p.note.clone())
                .unwrap_or_else(|| "Sending it to the queue…".to_string())
        })
    };
    let name = format!("New {seconds} s task");
    view! {
        <li class="task pending" data-state="sending" data-key=submission.key.clone()>
            <div class="task-head">
                <span class="task-id">{name.clone()}</span>
                <span class="state state-sending">"Not confirmed yet"</span>
            </div>
            <div class="bar" role="progressbar" aria-label=name aria-valuetext="not confirmed yet">
                <progress aria-hidden="true"></progress>
            </div>
            <p class="info">{note}</p>
        </li>
    }
}

/// A `<time>` saying how long ago (or in how long) `at` is, exact on hover.
fn when(at: u64, now: Signal<f64>) -> impl IntoView {
    let iso = crate::model::time::iso(at);
    view! { <time datetime=iso title=exact(at)>{move || relative(at, now.get())}</time> }
}

/// One task: label, state in words, times, progress bar, where it stands, outcome.
#[component]
fn TaskItem(row: TaskRow, context: ListContext) -> impl IntoView {
    let id = row.id.clone();
    // A handle owned by this item on the row's shared signal: Copy, so the closures below can
    // each hold one.
    let view = RwSignal::from(row.view);
    let name = format!("Task {}", label(&id));
    // Job ids may hold spaces, which an HTML id may not: the id's bytes in hex.
    let info_id = format!("task-info-{}", crate::model::url::hex(id.bytes()));
    let state_name = move || view.with(TaskView::state_name);
    let bar = move || view.with(TaskView::bar);
    let now = context.now;
    let tick_ms = context.tick_ms;
    // A fixed set of optional parts (no boxed views: the three times are one type).
    let stamp = move |words: &'static str, at: Option<u64>| {
        at.map(|at| view! { <span>{words}{when(at, now)}</span> })
    };
    let meta = move || {
        view.with(|v| {
            (
                v.seconds
                    .map(|seconds| view! { <span>{format!("{seconds} s task")}</span> }),
                stamp("queued ", v.queued_at),
                stamp("started ", v.started_at),
                stamp("finished ", v.finished_at),
            )
        })
    };
    let situation = move || view.with(|v| v.situation(now.get(), tick_ms));
    let failed = move || view.with(|v| v.state == Some(JobState::Failed));
    let note = move || view.with(TaskView::restart_note);
    let gone = move || view.with(|v| v.presence == Presence::Gone);
    // Sentinel's own task reports a fixed message naming its id (the seed's API keeps it):
    // the situation already says it in the page's words. Another worker's message is shown.
    let result = move || view.with(TaskView::foreign_message);
    let dismiss_id = id.clone();
    let retry_id = StoredValue::new(id.clone());
    let refused = move || {
        context.retry_refused.with(|r| {
            r.as_ref()
                .filter(|(of, _)| retry_id.with_value(|id| of == id))
                .map(|(_, why)| why.clone())
        })
    };
    view! {
        <li class="task" data-id=id.clone() data-state=state_name title=format!("Job id {id}")>
            <div class="task-head">
                <span class="task-id">{name.clone()}</span>
                <span class=move || format!("state state-{}", state_name())>{move || view.with(TaskView::state_words)}</span>
            </div>
            <p class="meta">{meta}</p>
            // Chromium does not pass `aria-valuetext` on from a native <progress>: the bar is
            // drawn by one and named, valued and described by its wrapper.
            <div
                class="bar"
                role="progressbar"
                aria-label=name
                aria-valuemin="0"
                aria-valuenow=move || bar().0
                aria-valuemax=move || bar().1
                aria-valuetext=move || view.with(TaskView::value_text)
                aria-describedby=info_id.clone()
            >
                <progress aria-hidden="true" value=move || bar().0 max=move || bar().1 data-step=move || bar().0></progress>
            </div>
            <p id=info_id class=move || if failed() { "info failure" } else { "info" }>{situation}</p>
            {move || note().map(|note| view! { <p class="note">{note}</p> })}
            {move || result().map(|message| view! {
                <p class="result">"The task reported: " <q class="message">{message}</q></p>
            })}
            // A plain form, so Retry works without scripts too (the server function answers
            // a form post with a redirect back to the page).
            <Show when=failed>
                <form class="retry" method="post" action="/api/retry" on:submit=move |event: leptos::ev::SubmitEvent| {
                    event.prevent_default();
                    context.retry.run(retry_id.get_value());
                }>
                    <input type="hidden" name="id" value=retry_id.get_value()/>
                    <button type="submit" class="quiet">"Retry"</button>
                    {move || refused().map(|why| view! { <span class="failure" role="alert">{why}</span> })}
                </form>
            </Show>
            <Show when=gone>
                <button type="button" class="link" on:click={
                    let id = dismiss_id.clone();
                    move |_| context.dismiss.run(vec![id.clone()])
                }>"Dismiss"</button>
            </Show>
        </li>
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use leptos::prelude::*;

    use super::{ListContext, TaskList, TaskStore};
    use crate::home::view::{Presence, TaskView};
    use crate::model::types::{JobState, TaskProgress, TaskResult};

    fn render(store: TaskStore) -> String {
        let context = ListContext {
            now: Signal::stored(1_000_000.0),
            tick_ms: 1000,
            stale: Signal::stored(false),
            dismiss: Callback::new(|_| {}),
            retry: Callback::new(|_| {}),
            retry_refused: RwSignal::new(None),
        };
        view! { <TaskList store context/> }.to_html()
    }

    fn present(id: &str, state: JobState) -> TaskView {
        TaskView {
            presence: Presence::Present,
            state: Some(state),
            ..TaskView::pending(id)
        }
    }

    #[test]
    fn rows_render_newest_first_with_bar_state_and_outcome() {
        let owner = Owner::new();
        owner.with(|| {
            let store = TaskStore::default();
            store.add("7", 1.0);
            store.add("8", 2.0);
            store.set_view(TaskView {
                progress: Some(TaskProgress::after_tick(3, 3)),
                result: Some(TaskResult::finished("7", 3012)),
                ..present("7", JobState::Completed)
            });
            store.set_view(present("8", JobState::Waiting));
            store.update("8", |view| {
                view.state = Some(JobState::Active);
                view.progress = Some(TaskProgress::after_tick(2, 5));
            });
            // An event about somebody else's job changes nothing.
            store.update("99", |view| view.state = Some(JobState::Failed));

            let html = render(store);
            let newest = html.find("Task #8").expect("row 8");
            let older = html.find("Task #7").expect("row 7");
            assert!(newest < older, "newest first: {html}");
            assert!(html.contains(r#"value="2" max="5""#), "{html}");
            assert!(
                html.contains(r#"aria-valuenow="2" aria-valuemax="5""#),
                "{html}"
            );
            assert!(
                html.contains(r#"aria-valuetext="2 of 5 s, running""#),
                "{html}"
            );
            assert!(html.contains(r#"value="3" max="3""#), "{html}");
            // Completion in the page's words; Sentinel's own result message is not repeated.
            assert!(html.contains("Done: ran for 3.0 s"), "{html}");
            assert!(!html.contains("terminée"), "{html}");
            assert!(html.contains(r#"data-state="active""#), "{html}");
            assert!(!html.contains("#99"), "{html}");
            // Only the change of state was announced, not the first load.
            assert_eq!(store.announcement.get_untracked(), "Task #8 started.");
        });
    }

    #[test]
    fn a_failed_task_shows_its_reason_and_an_empty_list_says_so() {
        let owner = Owner::new();
        owner.with(|| {
            let empty = render(TaskStore::default());
            assert!(empty.contains("No tasks yet"), "{empty}");

            let store = TaskStore::default();
            store.add("4", 1.0);
            store.set_view(TaskView {
                failed_reason: Some("payload has no \"seconds\" field".into()),
                ..present("4", JobState::Failed)
            });
            store.add("5", 0.5);
            store.set_view(TaskView::gone("5"));
            let html = render(store);
            assert!(html.contains("Failed: "), "{html}");
            assert!(html.contains("seconds"), "{html}");
            assert!(html.contains(r#"data-state="failed""#), "{html}");
            assert!(html.contains("Removed from history"), "{html}");
            assert!(html.contains("Dismiss"), "{html}");
            assert!(html.contains("Clear finished (2)"), "{html}");
        });
    }

    #[test]
    fn long_lists_are_paged_not_dropped() {
        let owner = Owner::new();
        owner.with(|| {
            let store = TaskStore::default();
            for id in 0..60 {
                store.add(&id.to_string(), f64::from(id));
            }
            assert_eq!(store.ids().len(), 60);
            assert_eq!(store.ids().first().map(String::as_str), Some("59"));
            let html = render(store);
            assert!(html.contains("Show older tasks (40 more)"), "{html}");
            assert!(
                !html.contains("Task #39<"),
                "only the first page is rendered"
            );
        });
    }
}
