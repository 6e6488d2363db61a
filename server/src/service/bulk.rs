//! Bulk actions: one action on a list of ids or on every job of a state, run in the
//! background in chunks, with progress to poll.
//!
//! Never one round trip per job: a chunk's actions run concurrently on the multiplexed
//! connection (which pipelines them), 500 jobs a chunk, 64 in flight. Never a long block of
//! Redis: "retry every failed (or completed) job" and "promote every delayed job" use BullMQ's
//! own batch scripts (`moveJobsToWait`, `promote`), 1,000 jobs a call.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use app::JobId;
use app::types::JobState;

use super::state::runs::{Run, Running, Runs};
use crate::queue::control::{Action, act};
use crate::queue::{EngineError, TaskQueue, worklist};

/// Jobs read and acted on per chunk.
const CHUNK: usize = 500;
/// Actions in flight at once (pipelined on the connection).
const IN_FLIGHT: usize = 64;
/// Jobs per call of BullMQ's batch scripts.
const BATCH: u32 = 1000;
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

/// Everything a run needs to act: the service, the queue it acts on when that is not
/// Sentinel's own, and who started it with what (its audit entry is completed when it ends).
#[derive(Clone)]
pub struct Scope {
    /// The service.
    pub service: super::Sentinel,
    /// Another queue on the Redis (`None`: Sentinel's own).
    pub other: Option<Arc<crate::queue::TaskQueue>>,
    /// Who started it.
    pub who: crate::auth::Principal,
    /// The jobs as asked (the audit entry's target).
    pub asked: String,
}

impl Scope {
    /// The queue the run acts on.
    fn queue(&self) -> Result<&crate::queue::TaskQueue, crate::error::AppError> {
        match &self.other {
            Some(queue) => Ok(queue),
            None => self.service.queue(),
        }
    }
}

/// Starts `action` on `target` in the background in `place` (taken from `runs`); returns the
/// run to follow. When it ends, its audit entry is completed with the final counts (a second
/// entry of the same action).
pub fn start(
    runs: &Runs,
    place: Running,
    scope: Scope,
    action: Action,
    target: Target,
) -> Arc<Run> {
    let total = match &target {
        Target::Ids(ids) => ids.len() as u64,
        Target::State(_) | Target::Search(..) => 0,
    };
    let run = Arc::new(Run::new(action, total));
    runs.add(run.clone());
    let task = run.clone();
    tokio::spawn(async move {
        let result = execute(&scope, &task, action, target).await;
        // The place is free before the run says it finished: whoever sees it finished may
        // start another.
        drop(place);
        if let Err(error) = &result {
            *task.error.lock().unwrap_or_else(|e| e.into_inner()) =
                Some(format!("stopped: {}", crate::telemetry::error_chain(error)));
        }
        task.finished.store(true, Ordering::Relaxed);
        let progress = task.progress();
        let name = format!("bulk:{}", action.as_str());
        let done = super::audit::Done {
            action: &name,
            target: Some(crate::queue::cut(&scope.asked, 512)),
            count: Some(progress.done),
        };
        let outcome = result.map_err(crate::error::AppError::from);
        let _ = scope
            .service
            .record(&scope.who, done, outcome, |()| {
                format!(
                    "finished {}: {} done, {} skipped of {}",
                    progress.bulk, progress.done, progress.skipped, progress.total
                )
            })
            .await;
    });
    run
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
            let result = search_then_act(scope, queue, run, action, &search, &states).await;
            let _ = worklist::drop(queue, &run.id).await;
            result
        }
        Target::State(state) => {
            let total = state_count(queue, state).await?;
            run.total.store(total, Ordering::Relaxed);
            match (action, state) {
                // BullMQ's batch scripts: a thousand jobs a call.
                (Action::Retry, JobState::Failed | JobState::Completed) => {
                    let moved = crate::queue::control::retry_all(queue, state, BATCH);
                    batch(queue, state, run, total, moved).await
                }
                (Action::Promote, JobState::Delayed) => {
                    let moved = crate::queue::control::promote_all(queue, BATCH);
                    batch(queue, state, run, total, moved).await
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

/// Finds every job `search` matches in `states` into the run's working list, then does
/// `action` to them a chunk at a time.
async fn search_then_act(
    scope: &Scope,
    queue: &TaskQueue,
    run: &Run,
    action: Action,
    search: &app::search::Search,
    states: &[JobState],
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
            worklist::push(queue, &run.id, &ids).await?;
            found += ids.len();
            run.total.store(found as u64, Ordering::Relaxed);
        }
        match walked.next {
            Some(next) if found < MAX_SEARCH_JOBS => cursor = Some(next),
            _ => break,
        }
    }
    loop {
        let Some(ids) = worklist::pop(queue, &run.id, CHUNK).await? else {
            return Ok(());
        };
        act_on(scope, run, action, &ids).await?;
    }
}

/// Runs one of BullMQ's batch scripts (`moved`) over every job of `state`, counting its
/// progress by watching the state drain.
async fn batch(
    queue: &TaskQueue,
    state: JobState,
    run: &Run,
    total: u64,
    moved: impl std::future::Future<Output = Result<(), EngineError>>,
) -> Result<(), EngineError> {
    let watch = watch_drain(queue, state, run, total);
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
