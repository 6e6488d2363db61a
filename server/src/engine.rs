//! Our typed layer over the `bullmq` crate's `Queue`: enqueue a task, read a job's status, count
//! jobs. It turns the crate's values into the shared `app` types and keeps the crate's quirks
//! (`wait` for `waiting`, return values as raw JSON strings, calls that hang while Redis is down)
//! away from the rest of the server.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use app::{CountsReport, JobCounts, JobId, JobState, JobStatus, JobSummary, TaskPayload};
use bullmq::options::RedisConnectionOptions;
use bullmq::types::{KeepJobs, RemoveOnFinish};
use bullmq::{Job, JobProgress, Queue, QueueOptions};
use serde_json::Value;

use crate::config::Config;

/// Name of the jobs Sentinel adds and runs.
pub const TASK_JOB_NAME: &str = "longTask";

/// How many jobs of each state `GET /tasks/counts` lists.
pub const SUMMARY_LEN: i64 = 10;

/// Longest a single queue call may take before we report Redis as unavailable. The crate's own
/// connection timeouts are 10 s, far too long for an HTTP request.
const CALL_TIMEOUT: Duration = Duration::from_secs(3);

/// How long we give the crate to open its connections at start-up: `Queue::with_options` hangs
/// for ~40 s when Redis is down.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// What can go wrong when talking to the queue.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Redis answered with an error, or the connection failed.
    #[error("queue engine call failed")]
    Queue(#[source] bullmq::Error),
    /// Redis did not answer in time.
    #[error("queue engine call timed out after {0:?}")]
    Timeout(Duration),
}

/// Runs `call` with our deadline, mapping both failure kinds into [`EngineError`].
pub async fn bounded<T>(
    limit: Duration,
    call: impl Future<Output = Result<T, bullmq::Error>>,
) -> Result<T, EngineError> {
    match tokio::time::timeout(limit, call).await {
        Ok(result) => result.map_err(EngineError::Queue),
        Err(_) => Err(EngineError::Timeout(limit)),
    }
}

/// The crate's connection options for our settings (standalone, or a cluster's seed nodes).
pub fn connection_options(config: &Config) -> RedisConnectionOptions {
    let opts = RedisConnectionOptions::new().url(config.redis_url.clone());
    if config.redis_cluster_nodes.is_empty() {
        opts
    } else {
        opts.cluster_nodes(config.redis_cluster_nodes.iter().cloned())
    }
}

/// The task queue, as the HTTP handlers see it.
pub struct TaskQueue {
    queue: Queue,
}

impl TaskQueue {
    /// Opens the queue; fails fast (see [`CONNECT_TIMEOUT`]) when Redis is not there.
    pub async fn connect(config: &Config) -> Result<Self, EngineError> {
        let opts = QueueOptions::new()
            .connection(connection_options(config))
            .prefix(config.prefix.clone());
        let queue = bounded(CONNECT_TIMEOUT, Queue::with_options(&config.queue, opts)).await?;
        Ok(Self { queue })
    }

    /// Adds a `longTask` job with the original service's options and returns its id.
    pub async fn enqueue(&self, payload: TaskPayload) -> Result<String, EngineError> {
        let keep = || {
            RemoveOnFinish::Options(KeepJobs {
                age: Some(3600),
                count: Some(100),
                limit: None,
            })
        };
        let add = self
            .queue
            .add(TASK_JOB_NAME, payload)
            .attempts(1)
            .remove_on_complete(keep())
            .remove_on_fail(keep());
        let job = bounded(CALL_TIMEOUT, add.into_future()).await?;
        Ok(job.id().to_string())
    }

    /// The status of job `id`, or `None` when there is no such job (never added, or removed by
    /// the retention policy).
    ///
    /// One atomic read (`MULTI`): the job hash and its membership of each state's set. We do not
    /// use the crate's `get_job_state`: its Lua script (`getState`) copies the whole wait list
    /// per call, so with a backlog of 20,000 jobs each status request cost Redis ~2 ms of CPU.
    /// Every move between states is one atomic script, so a job that exists and is in none of
    /// the other sets is in `wait` (or the legacy `paused` list): both are `waiting`.
    pub async fn status(&self, id: &JobId) -> Result<Option<JobStatus>, EngineError> {
        let keys = self.queue.keys();
        let id = id.as_str();
        let mut pipe = redis::pipe();
        pipe.atomic().cmd("HGETALL").arg(keys.job_key(id));
        for set in [
            keys.completed(),
            keys.failed(),
            keys.delayed(),
            keys.prioritized(),
            keys.waiting_children(),
        ] {
            pipe.cmd("ZSCORE").arg(set).arg(id);
        }
        pipe.cmd("LPOS").arg(keys.active()).arg(id);
        let mut conn = self.queue.connection().connection();
        type Reply = (
            HashMap<String, String>,
            Option<f64>,
            Option<f64>,
            Option<f64>,
            Option<f64>,
            Option<f64>,
            Option<i64>,
        );
        let read = async {
            pipe.query_async::<Reply>(&mut conn)
                .await
                .map_err(bullmq::Error::from)
        };
        let (fields, completed, failed, delayed, prioritized, waiting_children, active) =
            bounded(CALL_TIMEOUT, read).await?;
        if fields.is_empty() {
            return Ok(None);
        }
        let job = Job::from_redis_hash(id, &fields).map_err(EngineError::Queue)?;
        let state = if completed.is_some() {
            JobState::Completed
        } else if failed.is_some() {
            JobState::Failed
        } else if delayed.is_some() {
            JobState::Delayed
        } else if prioritized.is_some() {
            JobState::Prioritized
        } else if waiting_children.is_some() {
            JobState::WaitingChildren
        } else if active.is_some() {
            JobState::Active
        } else {
            JobState::Waiting
        };
        Ok(Some(JobStatus {
            id: job.id().to_string(),
            state,
            progress: progress_value(&job),
            result: return_value(&job),
            failed_reason: failed_reason(&job),
        }))
    }

    /// Number of jobs per state.
    pub async fn counts(&self) -> Result<JobCounts, EngineError> {
        let counts = bounded(CALL_TIMEOUT, self.queue.get_job_counts()).await?;
        Ok(JobCounts {
            waiting: counts.waiting,
            active: counts.active,
            delayed: counts.delayed,
            prioritized: counts.prioritized,
            completed: counts.completed,
            failed: counts.failed,
            waiting_children: counts.waiting_children,
            paused: counts.paused,
        })
    }

    /// Counts per state and the first [`SUMMARY_LEN`] jobs of the main states.
    pub async fn counts_report(&self) -> Result<CountsReport, EngineError> {
        let q = &self.queue;
        let end = SUMMARY_LEN - 1;
        let (counts, waiting, active, delayed, completed, failed) = tokio::try_join!(
            self.counts(),
            bounded(CALL_TIMEOUT, q.get_waiting(0, end)),
            bounded(CALL_TIMEOUT, q.get_active(0, end)),
            bounded(CALL_TIMEOUT, q.get_delayed(0, end)),
            bounded(CALL_TIMEOUT, q.get_completed(0, end)),
            bounded(CALL_TIMEOUT, q.get_failed(0, end)),
        )?;
        let summaries = |jobs: Vec<Job>| jobs.iter().map(summary).collect::<Vec<_>>();
        Ok(CountsReport {
            counts,
            waiting: summaries(waiting),
            active: summaries(active),
            delayed: summaries(delayed),
            completed: summaries(completed),
            failed: summaries(failed),
        })
    }

    /// The queue's Redis connection (shared, multiplexed; standalone or cluster).
    pub fn connection(&self) -> &bullmq::redis_connection::RedisConnection {
        self.queue.connection()
    }

    /// Whether Redis answers a PING within `limit`.
    pub async fn ping(&self, limit: Duration) -> bool {
        bounded(limit, self.queue.connection().ping()).await.is_ok()
    }

    /// Closes the queue's connection.
    pub async fn close(&self) {
        self.queue.close().await;
    }
}

/// The progress as JSON; a whole number is written as an integer, as Node writes it (`0`, not
/// `0.0`).
fn progress_value(job: &Job) -> Value {
    match job.progress() {
        JobProgress::Number(n) if n.fract() == 0.0 && n.abs() < 9.0e15 => Value::from(*n as i64),
        JobProgress::Number(n) => Value::from(*n),
        JobProgress::Object(value) => value.clone(),
    }
}

/// The return value parsed from the raw JSON string the crate hands back; a value that is not
/// JSON (a producer wrote plain text) is passed on as a string.
fn return_value(job: &Job) -> Option<Value> {
    let raw = job.returnvalue();
    if raw.is_empty() || job.finished_on().is_none() {
        return None;
    }
    Some(parse_json_or_string(raw))
}

/// Parses `raw` as JSON, falling back to the text itself.
pub fn parse_json_or_string(raw: &str) -> Value {
    serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_string()))
}

fn failed_reason(job: &Job) -> Option<String> {
    let reason = job.failed_reason();
    (!reason.is_empty()).then(|| reason.to_string())
}

fn summary(job: &Job) -> JobSummary {
    JobSummary {
        id: job.id().to_string(),
        name: job.name().to_string(),
        data: job.data().clone(),
        progress: progress_value(job),
        timestamp: job.timestamp(),
        processed_on: job.processed_on(),
        finished_on: job.finished_on(),
        attempts_made: job.attempts_made(),
        result: return_value(job),
        failed_reason: failed_reason(job),
    }
}
