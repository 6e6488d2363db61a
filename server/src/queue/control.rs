//! Admin actions: on one job (retry, remove, promote, cancel) and on the queue (pause, resume,
//! clean). Every change goes through the queue engine's scripts (the same Lua as Node BullMQ),
//! so each shows up on the event stream as BullMQ's own event (`waiting` after a retry or a
//! promote, `removed`, `paused`, `resumed`, `cleaned`) for every browser, Node `QueueEvents`
//! and dashboard. A running job is cancelled through a marker its worker
//! reads (see `cancel.rs`), whichever process runs it.

use app::JobId;
use app::admin::{ActionOutcome, CleanOutcome, CleanRequest, MAX_CLEAN};
use app::types::JobState;

use super::cancel::mark;
use super::{CALL_TIMEOUT, EngineError, TaskQueue, bounded};

/// An action on one job (the type the dashboard and the admin API share).
pub use app::admin::JobAction as Action;

/// Why an action was not done.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// No such job.
    #[error("job not found")]
    NotFound,
    /// The job's state does not allow it.
    #[error("{message}")]
    Conflict {
        /// The job's state.
        state: JobState,
        /// Why, for the caller.
        message: String,
    },
    /// Redis failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

fn conflict(state: JobState, message: impl Into<String>) -> ActionError {
    ActionError::Conflict {
        state,
        message: message.into(),
    }
}

/// Does `action` to job `id` (from any web process).
pub async fn act(
    queue: &TaskQueue,
    id: &JobId,
    action: Action,
) -> Result<ActionOutcome, ActionError> {
    let (found, record) = queue
        .state_and_record(id)
        .await?
        .ok_or(ActionError::NotFound)?;
    let state = found.status.state;
    // After a removal, its search index entries go too (best effort: a search that meets the
    // gone job drops them anyway).
    let forget = || async {
        let job = record.summary();
        let _ = crate::queue::index::forget(queue, id.as_str(), &job.name, &job.data).await;
    };
    let outcome = |result: &str| ActionOutcome {
        id: id.to_string(),
        action: action.as_str().to_string(),
        result: result.to_string(),
        state,
    };
    let engine = queue.engine();
    match action {
        Action::Retry => {
            if !state.is_finished() {
                return Err(conflict(
                    state,
                    format!("only a failed or completed job can be retried; this one is {state}"),
                ));
            }
            let Some(mut job) = bounded(CALL_TIMEOUT, engine.get_job(id.as_str())).await? else {
                return Err(ActionError::NotFound);
            };
            bounded(CALL_TIMEOUT, job.retry(state.as_str(), None)).await?;
            Ok(outcome("done"))
        }
        Action::Remove => {
            if state == JobState::Active {
                return Err(conflict(state, "the job is running: cancel it instead"));
            }
            remove(queue, state, id).await?;
            forget().await;
            Ok(outcome("done"))
        }
        Action::Promote => {
            if state != JobState::Delayed {
                return Err(conflict(
                    state,
                    format!("only a delayed job can be promoted; this one is {state}"),
                ));
            }
            let Some(job) = bounded(CALL_TIMEOUT, engine.get_job(id.as_str())).await? else {
                return Err(ActionError::NotFound);
            };
            bounded(CALL_TIMEOUT, job.promote()).await?;
            Ok(outcome("done"))
        }
        Action::Cancel => match state {
            JobState::Completed | JobState::Failed => Err(conflict(
                state,
                format!("the job has already finished ({state})"),
            )),
            JobState::Active if !queue.is_ours() => Err(conflict(
                state,
                "the job is running on a worker of another program, which cannot be told to stop it",
            )),
            JobState::Active => {
                request_cancel(queue, id).await?;
                Ok(outcome("requested"))
            }
            _ => {
                // Not running: take it out of the queue. If a worker took it meanwhile the
                // removal is refused (the job is locked): then stop it where it runs.
                if bounded(CALL_TIMEOUT, engine.remove(id.as_str())).await? {
                    forget().await;
                    Ok(outcome("done"))
                } else if !queue.is_ours() {
                    Err(conflict(
                        JobState::Active,
                        "a worker of another program took the job meanwhile; it cannot be told to stop it",
                    ))
                } else {
                    request_cancel(queue, id).await?;
                    Ok(outcome("requested"))
                }
            }
        },
    }
}

async fn remove(queue: &TaskQueue, state: JobState, id: &JobId) -> Result<(), ActionError> {
    if bounded(CALL_TIMEOUT, queue.engine().remove(id.as_str())).await? {
        Ok(())
    } else {
        Err(conflict(
            state,
            "the job could not be removed (a worker holds it)",
        ))
    }
}

async fn request_cancel(queue: &TaskQueue, id: &JobId) -> Result<(), EngineError> {
    let mut pipe = redis::pipe();
    mark(&mut pipe, &queue.keys().cancel(), id.as_str());
    queue.run::<()>(&pipe).await
}

/// Pauses (`true`) or resumes the queue: workers of every process stop or start taking jobs.
/// Replaces the data of job `id` with `data` (JSON text), as BullMQ's `updateData` does, in
/// one script that first checks, atomically with the write, that the job is neither running
/// (a worker holds the old data) nor completed (its result came from the old data). The
/// job as it was comes back (its name and data, for the search index).
pub async fn update_data(
    queue: &TaskQueue,
    id: &JobId,
    data: &str,
) -> Result<(ActionOutcome, app::JobSummary), ActionError> {
    static CELL: std::sync::OnceLock<redis::Script> = std::sync::OnceLock::new();
    const UPDATE: &str = r#"
if redis.call("EXISTS", KEYS[1]) == 0 then
  return -1
end
if redis.call("LPOS", KEYS[2], ARGV[1]) then
  return -2
end
if redis.call("ZSCORE", KEYS[3], ARGV[1]) then
  return -3
end
redis.call("HSET", KEYS[1], "data", ARGV[2])
return 1
"#;
    let (found, record) = queue
        .state_and_record(id)
        .await?
        .ok_or(ActionError::NotFound)?;
    let before = record.summary();
    let keys = queue.keys();
    let mut invocation = super::cached_script(UPDATE, &CELL).prepare_invoke();
    invocation
        .key(keys.job(id))
        .key(keys.active())
        .key(keys.completed())
        .arg(id.as_str())
        .arg(data);
    let done: i64 = queue.run_script(&invocation).await?;
    let refused = |state: JobState| {
        conflict(
            state,
            format!(
                "only a job that is not running and not completed can have its data changed; this one is {state}"
            ),
        )
    };
    match done {
        1 => Ok((
            ActionOutcome {
                id: id.to_string(),
                action: "edit-data".to_string(),
                result: "changed".to_string(),
                state: found.status.state,
            },
            before,
        )),
        -1 => Err(ActionError::NotFound),
        -2 => Err(refused(JobState::Active)),
        _ => Err(refused(JobState::Completed)),
    }
}

/// Adds a job named `name` with `data` and `options` (attempts, delay, priority, backoff) to
/// another program's queue, as its own producers would (BullMQ's defaults otherwise: no
/// retention of ours is imposed on their queue); the new job's id.
pub async fn add_copy(
    queue: &TaskQueue,
    name: &str,
    data: serde_json::Value,
    options: &app::options::TaskOptions,
) -> Result<String, EngineError> {
    let mut add = queue
        .engine()
        .add(name, data)
        .attempts(options.attempts.unwrap_or(1));
    if let Some(delay) = options.delay_ms.filter(|d| *d > 0) {
        add = add.delay(std::time::Duration::from_millis(delay));
    }
    if let Some(priority) = options.priority.filter(|p| *p > 0) {
        add = add.priority(priority);
    }
    if let Some(backoff) = options.backoff {
        add = add.backoff(match backoff {
            app::options::Backoff::Fixed(ms) => bullmq::types::BackoffStrategy::Fixed(ms),
            app::options::Backoff::Exponential(ms) => {
                bullmq::types::BackoffStrategy::Exponential(ms)
            }
        });
    }
    let job = bounded(CALL_TIMEOUT, add.into_future()).await?;
    Ok(job.id().to_string())
}

pub async fn pause(queue: &TaskQueue, paused: bool) -> Result<(), EngineError> {
    if paused {
        bounded(CALL_TIMEOUT, queue.engine().pause()).await
    } else {
        bounded(CALL_TIMEOUT, queue.engine().resume()).await
    }
}

/// How long one of BullMQ's batch scripts may run over a whole state (they move a thousand
/// jobs a call, in a loop of calls).
const BATCH_DEADLINE: std::time::Duration = std::time::Duration::from_secs(600);

/// Moves every job of `state` (failed or completed) back to wait with BullMQ's own batch
/// script (`moveJobsToWait`), `batch` jobs a call.
pub async fn retry_all(queue: &TaskQueue, state: JobState, batch: u32) -> Result<(), EngineError> {
    bounded(
        BATCH_DEADLINE,
        queue.engine().retry_jobs(state.as_str(), batch, None),
    )
    .await
    .map(|_| ())
}

/// Promotes every delayed job with BullMQ's own batch script (`promote`), `batch` a call.
pub async fn promote_all(queue: &TaskQueue, batch: u32) -> Result<(), EngineError> {
    bounded(BATCH_DEADLINE, queue.engine().promote_jobs(batch))
        .await
        .map(|_| ())
}

/// Removes finished jobs older than the request says, or counts them on a dry run.
pub async fn clean(queue: &TaskQueue, request: &CleanRequest) -> Result<CleanOutcome, EngineError> {
    let limit = request.limit.unwrap_or(MAX_CLEAN).min(MAX_CLEAN);
    let state = request.state.state();
    let key = match state {
        JobState::Failed => queue.keys().failed(),
        _ => queue.keys().completed(),
    };
    let count = if request.dry_run {
        let now = crate::clock::now_ms();
        let mut cmd = redis::cmd("ZCOUNT");
        cmd.arg(&key)
            .arg("-inf")
            .arg(now.saturating_sub(request.older_than_ms));
        let matching: u64 = queue.run_cmd(&cmd).await?;
        matching.min(u64::from(limit))
    } else {
        let removed = bounded(
            CALL_TIMEOUT,
            queue
                .engine()
                .clean(request.older_than_ms, limit, state.as_str()),
        )
        .await?;
        removed.len() as u64
    };
    Ok(CleanOutcome {
        state: request.state,
        count,
        dry_run: request.dry_run,
    })
}
