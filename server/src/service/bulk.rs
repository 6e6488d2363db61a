//! Bulk actions: one action on a list of ids or on every job of a state, run in the
//! background in chunks, with progress to poll.
//!
//! Never one round trip per job: a chunk's actions run concurrently on the multiplexed
//! connection (which pipelines them), 500 jobs a chunk, 64 in flight. Never a long block of
//! Redis: "retry every failed (or completed) job" and "promote every delayed job" use BullMQ's
//! own batch scripts (`moveJobsToWait`, `promote`), 1,000 jobs a call.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use app::JobId;
use app::types::JobState;

use crate::queue::control::{Action, act};
use crate::queue::{EngineError, TaskQueue};

/// Jobs read and acted on per chunk.
const CHUNK: usize = 500;
/// Actions in flight at once (pipelined on the connection).
const IN_FLIGHT: usize = 64;
/// Jobs per call of BullMQ's batch scripts.
const BATCH: u32 = 1000;
/// Bulk runs remembered for their progress.
const KEPT_RUNS: usize = 100;
/// Most ids one request may list (a page of the list; larger sets go by search).
pub const MAX_IDS: usize = 100;
/// Most jobs one bulk run over a search acts on.
pub const MAX_SEARCH_JOBS: usize = 1_000_000;

/// What a bulk action covers.
#[derive(Debug, Clone)]
pub enum Target {
    /// These jobs.
    Ids(Vec<JobId>),
    /// Every job of this state (as it is when each chunk is read).
    State(JobState),
    /// Every job this search finds in these states (as found when the run starts).
    Search(app::search::Search, Vec<JobState>),
}

/// A bulk run's progress (the shape is shared with the dashboard).
pub type Progress = app::admin::BulkProgress;

/// One run, shared between its task and the readers of its progress.
#[derive(Debug)]
pub struct Run {
    id: String,
    action: Action,
    total: AtomicU64,
    done: AtomicU64,
    skipped: AtomicU64,
    finished: AtomicBool,
    error: Mutex<Option<String>>,
}

impl Run {
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
struct Running(Arc<std::sync::atomic::AtomicUsize>);

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
    fn take(&self, max: usize) -> Option<Running> {
        let taken = self
            .running
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < max).then_some(n + 1)
            })
            .is_ok();
        taken.then(|| Running(self.running.clone()))
    }

    fn add(&self, run: Arc<Run>) {
        let mut runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        runs.push_back(run);
        while runs.len() > KEPT_RUNS {
            runs.pop_front();
        }
    }
}

/// Everything a run needs to act: the server's state, and the queue it acts on when that is
/// not Sentinel's own.
#[derive(Clone)]
pub struct Scope {
    /// The server's state.
    pub state: crate::service::state::AppState,
    /// Another queue on the Redis (`None`: Sentinel's own).
    pub other: Option<Arc<crate::queue::TaskQueue>>,
}

impl Scope {
    /// The queue the run acts on.
    fn queue(&self) -> Result<&crate::queue::TaskQueue, crate::error::AppError> {
        match &self.other {
            Some(queue) => Ok(queue),
            None => self.state.queue(),
        }
    }
}

/// Starts `action` on `target` in the background; returns the run to follow, or `None` when
/// `MAX_BULK_RUNS` runs are under way in this process.
pub fn start(runs: &Runs, scope: Scope, action: Action, target: Target) -> Option<Arc<Run>> {
    let place = runs.take(scope.state.config.limits.max_bulk_runs)?;
    let mut bytes = [0u8; 8];
    let _ = getrandom::fill(&mut bytes);
    let run = Arc::new(Run {
        id: app::url::hex(bytes),
        action,
        total: AtomicU64::new(match &target {
            Target::Ids(ids) => ids.len() as u64,
            Target::State(_) | Target::Search(..) => 0,
        }),
        done: AtomicU64::new(0),
        skipped: AtomicU64::new(0),
        finished: AtomicBool::new(false),
        error: Mutex::new(None),
    });
    runs.add(run.clone());
    let task = run.clone();
    tokio::spawn(async move {
        let _place = place;
        let result = execute(&scope, &task, action, target).await;
        if let Err(error) = result {
            *task.error.lock().unwrap_or_else(|e| e.into_inner()) = Some(format!(
                "stopped: {}",
                crate::telemetry::error_chain(&error)
            ));
        }
        task.finished.store(true, Ordering::Relaxed);
    });
    Some(run)
}

async fn execute(
    scope: &Scope,
    run: &Run,
    action: Action,
    target: Target,
) -> Result<(), EngineError> {
    let Ok(queue) = scope.queue() else {
        return Err(EngineError::Timeout(Duration::ZERO));
    };
    match target {
        Target::Ids(ids) => {
            for chunk in ids.chunks(CHUNK) {
                act_on(scope, run, action, chunk).await?;
            }
            Ok(())
        }
        Target::Search(search, states) => {
            // The matches first, then the action: acting moves jobs between the lists the
            // search walks. The matches go to a working list in Redis as they are found and
            // come back a chunk at a time, so a run holds one chunk of ids in memory, not up
            // to a million.
            let list = queue.keys().bulk_run(&run.id);
            let result = search_then_act(scope, queue, run, action, &search, &states, &list).await;
            let mut drop_list = redis::cmd("DEL");
            drop_list.arg(&list);
            let _ = queue.run_cmd::<i64>(&drop_list).await;
            result
        }
        Target::State(state) => {
            let total = state_count(queue, state).await?;
            run.total.store(total, Ordering::Relaxed);
            match (action, state) {
                // BullMQ's batch scripts: a thousand jobs a call.
                (Action::Retry, JobState::Failed | JobState::Completed) => {
                    let moved = queue.engine().retry_jobs(state.as_str(), BATCH, None);
                    batch(queue, state, run, total, moved).await
                }
                (Action::Promote, JobState::Delayed) => {
                    batch(queue, state, run, total, queue.engine().promote_jobs(BATCH)).await
                }
                _ => {
                    // Chunk by chunk from the head: acted-on jobs leave the state; a chunk
                    // where nothing could be done is stepped over.
                    let mut offset = 0;
                    let mut seen = 0;
                    while seen < total {
                        let ids = state_ids(queue, state, offset, CHUNK).await?;
                        if ids.is_empty() {
                            break;
                        }
                        seen += ids.len() as u64;
                        let before = run.done.load(Ordering::Relaxed);
                        act_on(scope, run, action, &ids).await?;
                        let acted = run.done.load(Ordering::Relaxed) - before;
                        offset += ids.len() - acted as usize;
                    }
                    Ok(())
                }
            }
        }
    }
}

/// How long a run's working list is kept if the run dies before it removes it.
const WORKING_LIST_SECS: u64 = 3600;

/// Finds every job `search` matches in `states` into the working list `list`, then does
/// `action` to them a chunk at a time.
async fn search_then_act(
    scope: &Scope,
    queue: &TaskQueue,
    run: &Run,
    action: Action,
    search: &app::search::Search,
    states: &[JobState],
    list: &str,
) -> Result<(), EngineError> {
    let mut found = 0usize;
    let mut cursor = None;
    loop {
        let walked = crate::queue::search::walk(
            queue,
            search,
            states,
            cursor,
            0,
            crate::queue::search::BUDGET,
        )
        .await?;
        let ids: Vec<&str> = walked
            .picked
            .iter()
            .map(|(_, id)| id.as_str())
            .filter(|id| crate::queue::keys::is_job_id(id).is_some())
            .take(MAX_SEARCH_JOBS - found)
            .collect();
        if !ids.is_empty() {
            let mut pipe = redis::pipe();
            pipe.cmd("RPUSH").arg(list).arg(&ids).ignore();
            pipe.cmd("EXPIRE").arg(list).arg(WORKING_LIST_SECS).ignore();
            queue.run::<()>(&pipe).await?;
            found += ids.len();
            run.total.store(found as u64, Ordering::Relaxed);
        }
        match walked.next {
            Some(next) if found < MAX_SEARCH_JOBS => cursor = Some(next),
            _ => break,
        }
    }
    loop {
        let mut pop = redis::cmd("LPOP");
        pop.arg(list).arg(CHUNK);
        let chunk: Vec<Vec<u8>> = queue.run_cmd::<Option<_>>(&pop).await?.unwrap_or_default();
        if chunk.is_empty() {
            return Ok(());
        }
        let ids: Vec<JobId> = chunk
            .iter()
            .filter_map(|raw| crate::queue::keys::is_job_id(std::str::from_utf8(raw).ok()?))
            .collect();
        act_on(scope, run, action, &ids).await?;
    }
}

/// Runs one of BullMQ's batch scripts (`moved`) over every job of `state`, counting its
/// progress by watching the state drain.
async fn batch<T>(
    queue: &TaskQueue,
    state: JobState,
    run: &Run,
    total: u64,
    moved: impl std::future::Future<Output = Result<T, bullmq::Error>>,
) -> Result<(), EngineError> {
    let watch = watch_drain(queue, state, run, total);
    let moved = crate::queue::bounded(Duration::from_secs(600), moved);
    let (moved, ()) = tokio::join!(moved, watch);
    moved?;
    let left = state_count(queue, state).await?;
    run.done
        .store(total.saturating_sub(left), Ordering::Relaxed);
    Ok(())
}

/// Counts progress of a batch script by watching the state drain, until the state is empty or
/// the run finished.
async fn watch_drain(queue: &TaskQueue, state: JobState, run: &Run, total: u64) {
    for _ in 0..6000 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        match state_count(queue, state).await {
            Ok(left) => {
                run.done
                    .store(total.saturating_sub(left), Ordering::Relaxed);
                if left == 0 {
                    return;
                }
            }
            Err(_) => return,
        }
    }
}

async fn act_on(
    scope: &Scope,
    run: &Run,
    action: Action,
    ids: &[JobId],
) -> Result<(), EngineError> {
    let Ok(queue) = scope.queue() else {
        return Err(EngineError::Timeout(Duration::ZERO));
    };
    for group in ids.chunks(IN_FLIGHT) {
        let results =
            futures::future::join_all(group.iter().map(|id| act_one(queue, run, action, id))).await;
        results.into_iter().collect::<Result<(), EngineError>>()?;
    }
    Ok(())
}

async fn act_one(
    queue: &TaskQueue,
    run: &Run,
    action: Action,
    id: &JobId,
) -> Result<(), EngineError> {
    match act(queue, id, action).await {
        Ok(_) => {
            run.done.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }
        Err(crate::queue::control::ActionError::Engine(error)) => Err(error),
        Err(_) => {
            run.skipped.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }
    }
}

async fn state_count(queue: &TaskQueue, state: JobState) -> Result<u64, EngineError> {
    crate::queue::inspect::count(queue, state).await
}

async fn state_ids(
    queue: &TaskQueue,
    state: JobState,
    offset: usize,
    count: usize,
) -> Result<Vec<JobId>, EngineError> {
    crate::queue::inspect::ids(queue, state, offset as u64, count as u64).await
}
