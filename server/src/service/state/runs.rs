//! The bulk runs this process started, for their progress (see `bulk.rs` for what a run does).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::queue::control::Action;

/// Bulk runs remembered for their progress.
const KEPT_RUNS: usize = 100;

/// A bulk run's progress (the shape is shared with the dashboard).
pub type Progress = app::admin::BulkProgress;

/// One run, shared between its task and the readers of its progress.
#[derive(Debug)]
pub struct Run {
    /// Its id.
    pub id: String,
    action: Action,
    /// Jobs it covers (known as it goes, for a search or a state).
    pub total: AtomicU64,
    /// Jobs acted on.
    pub done: AtomicU64,
    /// Jobs the action did not apply to.
    pub skipped: AtomicU64,
    /// Whether it has ended.
    pub finished: AtomicBool,
    /// Why it stopped early, if it did.
    pub error: Mutex<Option<String>>,
}

impl Run {
    /// A run of `action` over `total` jobs (0 while unknown), with a fresh id.
    pub fn new(action: Action, total: u64) -> Self {
        let mut bytes = [0u8; 8];
        let _ = getrandom::fill(&mut bytes);
        Self {
            id: app::url::hex(bytes),
            action,
            total: AtomicU64::new(total),
            done: AtomicU64::new(0),
            skipped: AtomicU64::new(0),
            finished: AtomicBool::new(false),
            error: Mutex::new(None),
        }
    }

    /// Its progress now.
    pub fn progress(&self) -> Progress {
        Progress {
            bulk: self.id.clone(),
            action: self.action.as_str().to_string(),
            total: self.total.load(Ordering::Relaxed),
            done: self.done.load(Ordering::Relaxed),
            skipped: self.skipped.load(Ordering::Relaxed),
            finished: self.finished.load(Ordering::Relaxed),
            error: self.error.lock().unwrap_or_else(|e| e.into_inner()).clone(),
        }
    }
}

/// The runs this process started (the most recent [`KEPT_RUNS`]), and how many run now.
#[derive(Debug, Default)]
pub struct Runs {
    runs: Mutex<VecDeque<Arc<Run>>>,
    running: Arc<std::sync::atomic::AtomicUsize>,
}

/// A run's place among the runs under way; given back when the run ends.
pub struct Running(Arc<std::sync::atomic::AtomicUsize>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Runs {
    /// The run `id`, if this process remembers it.
    pub fn get(&self, id: &str) -> Option<Arc<Run>> {
        let runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        runs.iter().find(|r| r.id == id).cloned()
    }

    /// Takes a place for one more run, unless `max` are under way.
    pub fn take(&self, max: usize) -> Option<Running> {
        let taken = self
            .running
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < max).then_some(n + 1)
            })
            .is_ok();
        taken.then(|| Running(self.running.clone()))
    }

    /// Remembers a run (the most recent [`KEPT_RUNS`]).
    pub fn add(&self, run: Arc<Run>) {
        let mut runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        runs.push_back(run);
        while runs.len() > KEPT_RUNS {
            runs.pop_front();
        }
    }
}
