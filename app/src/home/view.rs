//! What the page knows of one task, and how it says it in words: state, where the task is, how
//! long it has left, what happened to it. Pure (no signals), so both sides render the same and
//! the wording is unit-tested.

use serde::{Deserialize, Serialize};

use crate::model::time::{duration_words, relative};
use crate::model::types::{JobState, JobStatus, MAX_COUNTED_AHEAD, TaskProgress, TaskResult};

/// Whether the page knows a task exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Presence {
    /// Listed, status not read yet.
    Loading,
    /// The queue has it.
    Present,
    /// The queue does not have it (removed by retention, or never existed).
    Gone,
}

/// What the page knows of one of the user's tasks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskView {
    /// The job id.
    pub id: String,
    /// Whether it exists.
    pub presence: Presence,
    /// Its state, while present.
    pub state: Option<JobState>,
    /// Last progress of the task's shape.
    pub progress: Option<TaskProgress>,
    /// The result, once completed.
    pub result: Option<TaskResult>,
    /// Why it failed, once failed.
    pub failed_reason: Option<String>,
    /// The duration asked for, in seconds (ticks).
    pub seconds: Option<u64>,
    /// When it was queued (ms since the epoch).
    pub queued_at: Option<u64>,
    /// When a worker last took it.
    pub started_at: Option<u64>,
    /// When it finished.
    pub finished_at: Option<u64>,
    /// While delayed: when it becomes due.
    pub delayed_until: Option<u64>,
    /// Times a worker took it.
    pub attempts_started: u32,
    /// Attempts that ended.
    pub attempts_made: u32,
    /// While waiting: jobs a worker takes first.
    pub jobs_ahead: Option<u64>,
    /// While waiting: an operator has paused the queue.
    #[serde(default)]
    pub queue_paused: bool,
}

impl TaskView {
    /// A task we know only by id so far.
    pub fn pending(id: &str) -> Self {
        Self {
            id: id.to_string(),
            presence: Presence::Loading,
            state: None,
            progress: None,
            result: None,
            failed_reason: None,
            seconds: None,
            queued_at: None,
            started_at: None,
            finished_at: None,
            delayed_until: None,
            attempts_started: 0,
            attempts_made: 0,
            jobs_ahead: None,
            queue_paused: false,
        }
    }

    /// A task the queue no longer has.
    pub fn gone(id: &str) -> Self {
        Self {
            presence: Presence::Gone,
            ..Self::pending(id)
        }
    }

    /// The view of a job's status.
    pub fn from_status(status: &JobStatus) -> Self {
        Self {
            id: status.id.clone(),
            presence: Presence::Present,
            state: Some(status.state),
            progress: status.task_progress(),
            result: status.task_result(),
            failed_reason: status.failed_reason.clone(),
            seconds: status.seconds,
            queued_at: status.timestamp,
            started_at: status.processed_on,
            finished_at: status.finished_on,
            delayed_until: status.delayed_until,
            attempts_started: status.attempts_started.unwrap_or(0),
            attempts_made: status.attempts_made.unwrap_or(0),
            jobs_ahead: status.jobs_ahead,
            queue_paused: status.queue_paused == Some(true),
        }
    }

    /// The task's label for people: `#42`, or `#3f9a1c0b` for the long ids the page's own
    /// retry keys make (the full id is the row's hover text).
    pub fn label(&self) -> String {
        label(&self.id)
    }

    /// Whether the task will not change by itself any more (finished, or gone).
    pub fn is_settled(&self) -> bool {
        self.presence == Presence::Gone || self.state.is_some_and(JobState::is_finished)
    }

    /// Short name of where the task is, for styling and tests: a Node BullMQ state name,
    /// `loading` or `gone`.
    pub fn state_name(&self) -> &'static str {
        match (self.presence, self.state) {
            (Presence::Loading, _) => "loading",
            (Presence::Gone, _) | (Presence::Present, None) => "gone",
            (Presence::Present, Some(state)) => state.as_str(),
        }
    }

    /// Where the task is, in words.
    pub fn state_words(&self) -> &'static str {
        match (self.presence, self.state) {
            (Presence::Loading, _) => "Loading…",
            (Presence::Gone, _) | (Presence::Present, None) => "Removed from history",
            (Presence::Present, Some(state)) => match state {
                JobState::Waiting | JobState::Prioritized if self.queue_paused => "Held",
                JobState::Waiting | JobState::Prioritized => "Waiting",
                JobState::Active => "Running",
                JobState::Delayed => "Delayed",
                JobState::Completed => "Completed",
                JobState::Failed => "Failed",
                JobState::WaitingChildren => "Waiting for its child tasks",
                JobState::Unknown => "In an unknown state",
            },
        }
    }

    /// Ticks done and in all, for the progress bar: full once completed, empty before the first
    /// tick.
    pub fn bar(&self) -> (u64, u64) {
        let total = self
            .progress
            .as_ref()
            .map(|p| p.total)
            .or(self.seconds)
            .unwrap_or(1)
            .max(1);
        match (&self.progress, self.state) {
            (_, Some(JobState::Completed)) => (total, total),
            (Some(p), _) => (p.step.min(total), total),
            (None, _) => (0, total),
        }
    }

    /// The progress bar's value in words: "12 of 30 s, running".
    pub fn value_text(&self) -> String {
        let (step, total) = self.bar();
        let state = self.state_words().to_ascii_lowercase();
        if self.presence == Presence::Present && (self.progress.is_some() || self.seconds.is_some())
        {
            format!("{step} of {total} s, {state}")
        } else {
            state
        }
    }

    /// How many starts ended without the task finishing (a worker stopped, or lost the job).
    pub fn restarts(&self) -> u32 {
        let running = u32::from(self.state == Some(JobState::Active));
        self.attempts_started
            .saturating_sub(self.attempts_made)
            .saturating_sub(running)
    }

    /// Where the task stands right now, in a sentence (times relative to `now_ms`; a tick lasts
    /// `tick_ms`).
    pub fn situation(&self, now_ms: f64, tick_ms: u64) -> String {
        match (self.presence, self.state) {
            (Presence::Loading, _) => "Reading its status…".to_string(),
            (Presence::Gone, _) | (Presence::Present, None) => format!(
                "The queue no longer has this task. {}",
                crate::model::types::retention_in_words()
            ),
            (Presence::Present, Some(state)) => match state {
                JobState::Waiting | JobState::Prioritized if self.queue_paused => {
                    "Held: an operator has paused the queue, so no worker takes a task until it is resumed.".to_string()
                }
                JobState::Waiting | JobState::Prioritized => match self.jobs_ahead {
                    Some(0) => "Next in line for a worker.".to_string(),
                    Some(1) => "Waiting for a worker: 1 task ahead.".to_string(),
                    Some(n) if n >= MAX_COUNTED_AHEAD => {
                        format!("Waiting for a worker: more than {MAX_COUNTED_AHEAD} tasks ahead.")
                    }
                    Some(n) => format!("Waiting for a worker: {n} tasks ahead."),
                    None => "Waiting for a worker.".to_string(),
                },
                JobState::Delayed => match self.delayed_until {
                    // Due: the next worker to look moves it to the waiting list.
                    Some(at) if (at as f64) <= now_ms => format!(
                        "Ready since {} ({}): waiting for a worker to take it.",
                        crate::model::time::clock(at),
                        relative(at, now_ms)
                    ),
                    Some(at) => format!(
                        "Delayed until {} ({}).",
                        crate::model::time::clock(at),
                        relative(at, now_ms)
                    ),
                    None => "Delayed.".to_string(),
                },
                JobState::Active => {
                    let (step, total) = self.bar();
                    let left = total.saturating_sub(step).saturating_mul(tick_ms);
                    if step == 0 {
                        format!("Started; about {} to go.", duration_words(left))
                    } else {
                        format!(
                            "{step} of {total} s done; about {} left.",
                            duration_words(left)
                        )
                    }
                }
                JobState::Completed => {
                    let ran = self
                        .result
                        .as_ref()
                        .map(|r| r.elapsed_ms)
                        .or_else(|| Some(self.finished_at?.saturating_sub(self.started_at?)));
                    let waited = self
                        .finished_at
                        .zip(self.queued_at)
                        .map(|(end, start)| end.saturating_sub(start));
                    match (ran, waited) {
                        (Some(ran), Some(waited)) => format!(
                            "Done: ran for {}, finished {} after it was queued.",
                            duration_words(ran),
                            duration_words(waited)
                        ),
                        (Some(ran), None) => format!("Done: ran for {}.", duration_words(ran)),
                        _ => "Done.".to_string(),
                    }
                }
                JobState::Failed => {
                    let attempts = match self.attempts_made {
                        0 | 1 => String::new(),
                        n => format!(" after {n} attempts"),
                    };
                    match &self.failed_reason {
                        Some(reason) => format!("Failed{attempts}: {reason}"),
                        None => format!("Failed{attempts}."),
                    }
                }
                JobState::WaitingChildren => "Waiting for its child tasks.".to_string(),
                JobState::Unknown => "In a state Sentinel does not know.".to_string(),
            },
        }
    }

    /// The result's message when it is not the one Sentinel's own task writes (which names
    /// the job id in French; the page says completion in its own words instead).
    pub fn foreign_message(&self) -> Option<String> {
        let result = self.result.as_ref()?;
        let own = TaskResult::finished(&self.id, result.elapsed_ms).message;
        (result.message != own).then(|| result.message.clone())
    }

    /// A note when the task was started more than once.
    pub fn restart_note(&self) -> Option<String> {
        match self.restarts() {
            0 => None,
            1 => Some(format!(
                "Attempt {}: restarted from the beginning after a worker stopped while running it.",
                self.attempts_started
            )),
            n => Some(format!(
                "Attempt {}: restarted {n} times after workers stopped while running it.",
                self.attempts_started
            )),
        }
    }
}

pub use crate::model::text::task_label as label;

pub use crate::model::text::shorten;

#[cfg(test)]
mod tests {
    use super::*;

    fn present(state: JobState) -> TaskView {
        TaskView {
            presence: Presence::Present,
            state: Some(state),
            seconds: Some(30),
            ..TaskView::pending("7")
        }
    }

    #[test]
    fn bar_follows_progress_and_fills_on_completion() {
        let mut view = TaskView::pending("3");
        assert_eq!(view.bar(), (0, 1));
        assert_eq!(view.state_name(), "loading");
        view = present(JobState::Active);
        assert_eq!(view.bar(), (0, 30));
        view.progress = Some(TaskProgress::after_tick(12, 30));
        assert_eq!(view.bar(), (12, 30));
        assert_eq!(view.value_text(), "12 of 30 s, running");
        view.state = Some(JobState::Completed);
        assert_eq!(view.bar(), (30, 30));
        assert_eq!(TaskView::gone("x").state_name(), "gone");
        assert_eq!(TaskView::gone("x").value_text(), "removed from history");
    }

    #[test]
    fn situations_say_where_the_task_is() {
        let now = 1_000_000.0;
        let mut waiting = present(JobState::Waiting);
        waiting.jobs_ahead = Some(51);
        assert_eq!(
            waiting.situation(now, 1000),
            "Waiting for a worker: 51 tasks ahead."
        );
        waiting.jobs_ahead = Some(0);
        assert_eq!(waiting.situation(now, 1000), "Next in line for a worker.");
        waiting.jobs_ahead = Some(MAX_COUNTED_AHEAD);
        assert!(waiting.situation(now, 1000).contains("more than 10000"));

        let mut delayed = present(JobState::Delayed);
        delayed.delayed_until = Some(1_060_000);
        assert_eq!(
            delayed.situation(now, 1000),
            "Delayed until 00:17:40 UTC (in 1 min)."
        );
        delayed.delayed_until = Some(940_000);
        assert_eq!(
            delayed.situation(now, 1000),
            "Ready since 00:15:40 UTC (1 min ago): waiting for a worker to take it."
        );

        waiting.queue_paused = true;
        assert!(
            waiting
                .situation(now, 1000)
                .starts_with("Held: an operator has paused the queue")
        );

        let mut active = present(JobState::Active);
        active.progress = Some(TaskProgress::after_tick(12, 30));
        assert_eq!(
            active.situation(now, 1000),
            "12 of 30 s done; about 18.0 s left."
        );

        let mut done = present(JobState::Completed);
        done.result = Some(TaskResult::finished("7", 25_000));
        done.queued_at = Some(100_000);
        done.started_at = Some(120_000);
        done.finished_at = Some(145_000);
        assert_eq!(
            done.situation(now, 1000),
            "Done: ran for 25.0 s, finished 45.0 s after it was queued."
        );
        assert_eq!(done.foreign_message(), None);
        done.result = Some(TaskResult {
            message: "charged 12 EUR".into(),
            elapsed_ms: 3,
        });
        assert_eq!(done.foreign_message().as_deref(), Some("charged 12 EUR"));

        let mut failed = present(JobState::Failed);
        failed.failed_reason = Some("boom".into());
        failed.attempts_made = 1;
        assert_eq!(failed.situation(now, 1000), "Failed: boom");
        failed.attempts_made = 3;
        assert_eq!(failed.situation(now, 1000), "Failed after 3 attempts: boom");
        assert!(
            TaskView::gone("7")
                .situation(now, 1000)
                .contains("last 100 completed")
        );
    }

    #[test]
    fn restarts_are_told() {
        let mut view = present(JobState::Active);
        view.attempts_started = 1;
        assert_eq!(view.restart_note(), None);
        view.attempts_started = 2;
        assert_eq!(view.restarts(), 1);
        assert!(
            view.restart_note()
                .is_some_and(|n| n.starts_with("Attempt 2: restarted"))
        );
        view.state = Some(JobState::Completed);
        view.attempts_made = 1;
        assert_eq!(view.restarts(), 1);
        view.attempts_started = 1;
        assert_eq!(view.restarts(), 0);
    }

    #[test]
    fn labels_shorten_retry_key_ids() {
        assert_eq!(label("42"), "#42");
        assert_eq!(label("idem-3f9a1c0b7d2e4f5a6b7c8d9e"), "#3f9a1c0b");
    }
}
