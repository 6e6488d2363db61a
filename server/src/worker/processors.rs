//! What Sentinel's workers run, by job name: a registry of processors shared by every queue the
//! process works (`SENTINEL_QUEUES`). A BullMQ worker takes every job of its queue whatever its
//! name; a job whose name has no processor here fails at once, without retries, with a reason
//! naming the names this worker runs (what a Node processor that switches on `job.name` does).
//!
//! The built-in processor is the seed's `longTask` ([`LongTask`]). A deployment that embeds the
//! server adds its own with [`Processors::register`] and starts it with `boot::run_with`.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use app::{TaskPayload, TaskProgress, TaskResult};
use serde_json::Value;
use tracing::{debug, warn};

use super::progress::Progress;
use crate::config::Config;
use crate::queue::TASK_JOB_NAME;
use crate::telemetry::error_chain;

/// One attempt of a job, as a processor sees it.
pub struct JobInput {
    /// The job's id.
    pub id: String,
    /// The job's name (the processor's key).
    pub name: String,
    /// The job's data, as its producer wrote it (untrusted: check it).
    pub data: Value,
    /// Reports progress as BullMQ's `updateProgress` does, plus a line in the job's log.
    pub progress: Progress,
}

/// A running attempt: its result becomes the job's return value; an error fails the attempt
/// (retried while attempts remain), `bullmq::Error::Unrecoverable` fails the job at once.
pub type Attempt = Pin<Box<dyn Future<Output = Result<Value, bullmq::Error>> + Send>>;

/// Runs the jobs of one name. The worker around it keeps the job's lock, stops the attempt when
/// the lock is lost, the job is cancelled or times out, and hands it back at shutdown: a
/// processor only does the work, and is dropped (stopped) at any await point.
pub trait Processor: Send + Sync + 'static {
    /// The longest one attempt may run, read from the job's data; `None`: the deployment's
    /// `JOB_TIMEOUT_MS`, if any.
    fn timeout(&self, data: &Value) -> Option<Duration> {
        let _ = data;
        None
    }

    /// Starts one attempt.
    fn run(&self, job: JobInput) -> Attempt;
}

/// The processors by job name.
#[derive(Clone, Default)]
pub struct Processors {
    by_name: BTreeMap<String, Arc<dyn Processor>>,
}

impl Processors {
    /// The built-in set: `longTask`, with the deployment's tick and longest task.
    pub fn builtin(config: &Config) -> Self {
        Self::default().register(
            TASK_JOB_NAME,
            LongTask {
                tick: config.tick(),
                max_seconds: config.max_seconds,
            },
        )
    }

    /// Adds (or replaces) the processor for jobs named `name`.
    pub fn register(mut self, name: &str, processor: impl Processor) -> Self {
        self.by_name.insert(name.to_string(), Arc::new(processor));
        self
    }

    /// The processor for jobs named `name`.
    pub fn get(&self, name: &str) -> Option<Arc<dyn Processor>> {
        self.by_name.get(name).cloned()
    }

    /// The job names there is a processor for, sorted.
    pub fn names(&self) -> Vec<String> {
        self.by_name.keys().cloned().collect()
    }

    /// The names as a failure reason quotes them: `"longTask", "resize"`.
    pub fn quoted_names(&self) -> String {
        let names: Vec<String> = self.by_name.keys().map(|n| format!("{n:?}")).collect();
        if names.is_empty() {
            "no".to_string()
        } else {
            names.join(", ")
        }
    }
}

/// The seed's task: `seconds` ticks, one progress update (and log line) per tick, then a result
/// naming the job and how long it ran.
pub struct LongTask {
    tick: Duration,
    max_seconds: u64,
}

impl Processor for LongTask {
    fn timeout(&self, data: &Value) -> Option<Duration> {
        TaskPayload::from_job_data(data, self.max_seconds)
            .ok()
            .and_then(|payload| payload.timeout_ms)
            .map(Duration::from_millis)
    }

    fn run(&self, job: JobInput) -> Attempt {
        let tick = self.tick;
        let payload = TaskPayload::from_job_data(&job.data, self.max_seconds);
        Box::pin(async move {
            let payload = payload.map_err(bullmq::Error::Unrecoverable)?;
            run_task(payload, tick, job).await
        })
    }
}

/// The task itself: one progress update per tick, then the result.
async fn run_task(
    payload: TaskPayload,
    tick: Duration,
    job: JobInput,
) -> Result<Value, bullmq::Error> {
    let started = Instant::now();
    let total = payload.total_ticks();
    debug!(total, "task started");
    for step in 1..=total {
        if tick.is_zero() {
            // A zero-length sleep still waits for the next timer tick (~1 ms).
            tokio::task::yield_now().await;
        } else {
            tokio::time::sleep(tick).await;
        }
        let progress = TaskProgress::after_tick(step, total);
        // Failing to write (Redis briefly away) is not a reason to fail the task: the next
        // tick or the final state carries the news.
        if let Err(error) = job.progress.write(&progress, &progress.info).await {
            warn!(error = %error_chain(&error), step, "progress update failed");
        }
    }
    let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let result = TaskResult::finished(&job.id, elapsed_ms);
    debug!(elapsed_ms, "task finished");
    Ok(serde_json::to_value(result)?)
}
