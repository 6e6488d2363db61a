//! The user's task list: a row per task, each with its own signal so that a progress update
//! re-renders one bar, not the list.

use leptos::prelude::*;

use crate::types::{JobState, TaskView};

/// Most tasks the page remembers.
pub const MAX_TASKS: usize = 50;

/// One task of the list. Its signal is reference-counted rather than owned by the reactive
/// scope that happened to create it (an effect or an event callback), so it lives exactly as
/// long as the row.
#[derive(Debug, Clone)]
pub struct TaskRow {
    /// The job id (never changes).
    pub id: String,
    /// What we know of it.
    pub view: ArcRwSignal<TaskView>,
}

impl TaskRow {
    fn new(id: &str) -> Self {
        Self {
            id: id.to_string(),
            view: ArcRwSignal::new(TaskView::pending(id)),
        }
    }
}

/// The list of the user's tasks, newest first.
#[derive(Debug, Clone, Copy)]
pub struct TaskStore {
    rows: RwSignal<Vec<TaskRow>>,
}

impl Default for TaskStore {
    fn default() -> Self {
        Self {
            rows: RwSignal::new(Vec::new()),
        }
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

    fn find(&self, id: &str) -> Option<TaskRow> {
        self.rows
            .with_untracked(|rows| rows.iter().find(|r| r.id == id).cloned())
    }

    /// Puts `id` at the top (or leaves it where it is if known).
    pub fn add_newest(&self, id: &str) {
        if self.find(id).is_some() {
            return;
        }
        self.rows.update(|rows| {
            rows.insert(0, TaskRow::new(id));
            rows.truncate(MAX_TASKS);
        });
    }

    /// Adds ids not yet listed, below the known ones, keeping their order.
    pub fn add_older(&self, ids: &[String]) {
        let fresh: Vec<TaskRow> = ids
            .iter()
            .filter(|id| self.find(id).is_none())
            .map(|id| TaskRow::new(id))
            .collect();
        if fresh.is_empty() {
            return;
        }
        self.rows.update(|rows| {
            rows.extend(fresh);
            rows.truncate(MAX_TASKS);
        });
    }

    /// Replaces what we know of a task.
    pub fn set_view(&self, view: TaskView) {
        if let Some(row) = self.find(&view.id) {
            row.view.set(view);
        }
    }

    /// Changes a known task in place; unknown ids are ignored (other users' jobs).
    pub fn update(&self, id: &str, change: impl FnOnce(&mut TaskView)) {
        if let Some(row) = self.find(id) {
            row.view.update(change);
        }
    }
}

/// The list itself.
#[component]
pub fn TaskList(store: TaskStore) -> impl IntoView {
    view! {
        <section class="tasks" aria-labelledby="tasks-title">
            <h2 id="tasks-title">"Your tasks"</h2>
            <Show
                when=move || !store.rows().is_empty()
                fallback=|| view! { <p class="empty">"No tasks yet. Enqueue one above."</p> }
            >
                <ol class="task-list">
                    <For each=move || store.rows() key=|row| row.id.clone() let:row>
                        <TaskItem row/>
                    </For>
                </ol>
            </Show>
        </section>
    }
}

/// One task: id, state in words, progress bar, outcome.
#[component]
fn TaskItem(row: TaskRow) -> impl IntoView {
    let id = row.id.clone();
    // A handle owned by this item on the row's shared signal: Copy, so the closures below can
    // each hold one.
    let view = RwSignal::from(row.view);
    let label_id = format!("task-{id}-label");
    let state = move || view.with(|v| v.state_label());
    let bar = move || view.with(TaskView::bar);
    let info = move || {
        view.with(|v| match (&v.progress, v.state) {
            (Some(p), _) => p.info.clone(),
            (None, Some(JobState::Waiting | JobState::Prioritized | JobState::Delayed)) => {
                "waiting for a worker".to_string()
            }
            (None, None) => "not found (finished tasks are kept for an hour)".to_string(),
            (None, _) => String::new(),
        })
    };
    let outcome = move || {
        view.with(|v| match (&v.result, &v.failed_reason) {
            (Some(result), _) => Some(view! {
                <p class="result">
                    <span class="message">{result.message.clone()}</span>
                    " "
                    <span class="elapsed">{format!("({:.1} s)", result.elapsed_ms as f64 / 1000.0)}</span>
                </p>
            }
            .into_any()),
            (None, Some(reason)) => Some(view! {
                <p class="failure">"Failed: " {reason.clone()}</p>
            }
            .into_any()),
            _ => None,
        })
    };
    view! {
        <li class="task" data-id=id.clone() data-state=state>
            <div class="task-head">
                <span class="task-id" id=label_id.clone()>{format!("#{id}")}</span>
                <span class=move || format!("state state-{}", state())>{state}</span>
            </div>
            <progress
                aria-labelledby=label_id
                value=move || bar().0
                max=move || bar().1
                data-step=move || bar().0
            ></progress>
            <p class="info">{info}</p>
            {outcome}
        </li>
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use leptos::prelude::*;

    use super::{TaskList, TaskStore};
    use crate::types::{JobState, TaskProgress, TaskResult, TaskView};

    fn render(store: TaskStore) -> String {
        view! { <TaskList store/> }.to_html()
    }

    #[test]
    fn rows_render_newest_first_with_bar_state_and_outcome() {
        let owner = Owner::new();
        owner.with(|| {
            let store = TaskStore::default();
            store.add_newest("7");
            store.add_newest("8");
            store.set_view(TaskView {
                id: "7".into(),
                state: Some(JobState::Completed),
                progress: Some(TaskProgress::after_tick(3, 3)),
                result: Some(TaskResult::finished("7", 3012)),
                failed_reason: None,
            });
            store.update("8", |view| {
                view.state = Some(JobState::Active);
                view.progress = Some(TaskProgress::after_tick(2, 5));
            });
            // An event about somebody else's job changes nothing.
            store.update("99", |view| view.state = Some(JobState::Failed));

            let html = render(store);
            let newest = html.find("#8").expect("row 8");
            let older = html.find("#7").expect("row 7");
            assert!(newest < older, "newest first: {html}");
            assert!(html.contains(r#"value="2" max="5""#), "{html}");
            assert!(html.contains(r#"value="3" max="3""#), "{html}");
            assert!(html.contains("Tâche 7 terminée"), "{html}");
            assert!(html.contains("(3.0 s)"), "{html}");
            assert!(html.contains(r#"data-state="active""#), "{html}");
            assert!(!html.contains("#99"), "{html}");
        });
    }

    #[test]
    fn a_failed_task_shows_its_reason_and_an_empty_list_says_so() {
        let owner = Owner::new();
        owner.with(|| {
            let empty = render(TaskStore::default());
            assert!(empty.contains("No tasks yet"), "{empty}");

            let store = TaskStore::default();
            store.add_older(&["4".to_string()]);
            store.update("4", |view| {
                view.state = Some(JobState::Failed);
                view.failed_reason = Some("payload has no \"seconds\" field".into());
            });
            let html = render(store);
            assert!(html.contains("Failed: "), "{html}");
            assert!(html.contains("seconds"), "{html}");
            assert!(html.contains(">failed<"), "{html}");
        });
    }

    #[test]
    fn the_list_keeps_at_most_fifty_tasks() {
        let owner = Owner::new();
        owner.with(|| {
            let store = TaskStore::default();
            for id in 0..60 {
                store.add_newest(&id.to_string());
            }
            let ids = store.ids();
            assert_eq!(ids.len(), super::MAX_TASKS);
            assert_eq!(ids.first().map(String::as_str), Some("59"));
        });
    }
}
