//! The embedded worker: the `bullmq` crate's `Worker` running our `longTask`, wrapped so that a
//! job never runs on two workers at once.
//!
//! The crate's own lock renewal is switched off. Each job is run next to a lock keeper of ours
//! (see `lock.rs`) and a hand-back signal; whichever ends first stops the others:
//! - the task finishes: the crate moves the job to completed/failed (checking our lock token);
//! - the lock is lost or has expired by our clock: the task is stopped at once and the job is
//!   left alone (another worker owns it now, or will once the stalled check runs);
//! - shutdown outlasted its grace: the task is stopped, then the job is moved back to wait with
//!   our token, so the next worker starts it while nothing of ours still runs it.
//!
//! In the last two cases the processor returns `Error::Delayed`, which tells the crate that the
//! processor already dealt with the job's state.
//!
//! Crate defects handled here: `Worker::close(timeout)` abandons lock renewal while the job goes
//! on running (we stop and hand back our jobs before calling it); closing an idle worker waits
//! for the drain delay (we set it to 1 s); `next_event()` is an
//! unbounded channel (a task of ours drains it); after a Redis restart the worker waits
//! `run_retry_delay` (15 s by default) before fetching again (we set it short).

pub mod cancel;
pub mod lock;
pub mod processors;
pub mod progress;
pub mod stats;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bullmq::worker::WorkerEvent;
use bullmq::{Job, Worker, WorkerOptions};
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{Instrument, info, info_span, warn};

use bullmq::redis_connection::RedisConnection;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::queue::cancel::CANCELLED;
use crate::queue::cut;
use crate::queue::{CONNECT_TIMEOUT, EngineError, bounded, connection_options};
use crate::telemetry::error_chain;
use crate::worker::lock::{JobLock, LockKeeper, LockLost};
use crate::worker::stats::{Ended, Gathered, StatsTarget};
use cancel::CancelWatch;
use processors::{JobInput, Processors};
use progress::Progress;

/// How long the worker waits before fetching again after a Redis error (the crate's 15 s
/// default is what made work resume so late after a Redis restart).
const FETCH_RETRY_DELAY: Duration = Duration::from_millis(250);

/// How long an idle worker blocks waiting for a job before looking again (the crate's 5 s
/// default is also how long closing an idle worker takes).
const IDLE_WAIT: Duration = Duration::from_secs(1);

/// How long handing jobs back may take once the grace is over.
const HAND_BACK_TIMEOUT: Duration = Duration::from_secs(5);

/// What the crate's `close` may wait for its fetch loop once nothing of ours runs: the loop
/// is then parked on its blocking wait for new jobs (up to `IDLE_WAIT`), which holds no job,
/// so it is cut short rather than waited for (shutdown of an idle worker in tens of ms).
const CLOSE_IDLE_MS: u64 = 20;

/// Longest job name quoted in a failure reason.
const MAX_NAME_IN_REASON: usize = 64;

/// What a running job needs besides the job itself.
struct JobContext {
    /// What runs each job name.
    processors: Processors,
    lock_duration: Duration,
    /// Fired when shutdown starts: jobs fetched from now on are handed back unstarted.
    stop_taking: CancellationToken,
    /// Fired when the grace is over: running jobs are stopped and handed back.
    hand_back: CancellationToken,
    /// Tracks running jobs so shutdown knows when they are all done.
    running: TaskTracker,
    /// The running jobs, for cancels asked by any process.
    cancels: Arc<CancelWatch>,
    /// Where the cancel markers are, and the connection to clear them with.
    cancel_key: String,
    connection: RedisConnection,
    /// The longest an attempt may run when its job does not say (`JOB_TIMEOUT_MS`).
    default_timeout: Option<Duration>,
    /// Finished jobs' counts and times, written once a second by `stats.rs`.
    stats: Arc<Gathered>,
    /// This process's Prometheus metrics.
    metrics: Arc<Metrics>,
    /// The queue's keys.
    keys: crate::queue::keys::QueueKeys,
    /// The queue's event stream and meta hash, which every tick writes to.
    events_key: Arc<str>,
    meta_key: Arc<str>,
}

/// The embedded worker of a `all` or `worker` process: one crate worker per queue it works
/// (`SENTINEL_QUEUES`, or `SENTINEL_QUEUE` alone), all running the same processors.
pub struct EmbeddedWorker {
    queues: Vec<QueueWorker>,
}

impl EmbeddedWorker {
    /// Starts a worker on each of the deployment's worker queues. Fails fast when Redis is not
    /// there (the workers started so far are closed).
    pub async fn start(
        config: &Config,
        connection: RedisConnection,
        metrics: Arc<Metrics>,
        processors: Processors,
    ) -> Result<Self, EngineError> {
        let mut queues = Vec::new();
        for name in config.worker_queues() {
            let started = QueueWorker::start(
                config,
                &name,
                connection.clone(),
                metrics.clone(),
                processors.clone(),
            )
            .await;
            match started {
                Ok(worker) => queues.push(worker),
                Err(error) => {
                    for worker in &queues {
                        worker.shutdown(Duration::ZERO).await;
                    }
                    return Err(error);
                }
            }
        }
        info!(queues = ?config.worker_queues(), processors = ?processors.names(), "workers started");
        Ok(Self { queues })
    }

    /// Whether every worker is taking jobs.
    pub fn is_running(&self) -> bool {
        self.queues.iter().all(QueueWorker::is_running)
    }

    /// Number of jobs running now, on every queue.
    pub fn active_jobs(&self) -> usize {
        self.queues.iter().map(QueueWorker::active_jobs).sum()
    }

    /// Shuts every queue's worker down at once (see [`QueueWorker::shutdown`]); returns how
    /// many jobs were handed back.
    pub async fn shutdown(&self, grace: Duration) -> usize {
        futures::future::join_all(self.queues.iter().map(|worker| worker.shutdown(grace)))
            .await
            .into_iter()
            .sum()
    }
}

/// The crate's worker on one queue, with what runs next to it.
struct QueueWorker {
    worker: Arc<Worker>,
    ctx: Arc<JobContext>,
    events_done: CancellationToken,
}

impl QueueWorker {
    /// Starts the crate's worker on queue `queue` (under `SENTINEL_PREFIX`).
    async fn start(
        config: &Config,
        queue: &str,
        connection: RedisConnection,
        metrics: Arc<Metrics>,
        processors: Processors,
    ) -> Result<Self, EngineError> {
        let keys = crate::queue::keys::QueueKeys::new(&config.prefix, queue);
        let ctx = Arc::new(JobContext {
            processors,
            lock_duration: Duration::from_millis(config.lock_duration_ms),
            stop_taking: CancellationToken::new(),
            hand_back: CancellationToken::new(),
            running: TaskTracker::new(),
            cancels: Arc::new(CancelWatch::default()),
            cancel_key: keys.cancel(),
            connection,
            default_timeout: config.job_timeout_ms.map(Duration::from_millis),
            stats: Arc::new(Gathered::default()),
            metrics,
            keys: keys.clone(),
            events_key: keys.events().into(),
            meta_key: keys.meta().into(),
        });
        let opts = WorkerOptions::new()
            .connection(connection_options(config))
            .prefix(config.prefix.clone())
            .concurrency(config.worker_concurrency)
            .lock_duration(Duration::from_millis(config.lock_duration_ms))
            .stalled_interval(Duration::from_millis(config.stalled_interval_ms))
            .run_retry_delay(FETCH_RETRY_DELAY)
            .drain_delay(IDLE_WAIT)
            .skip_lock_renewal()
            // BullMQ's own per-minute completed/failed counts, as Node dashboards read them.
            .metrics(bullmq::MetricsOptions {
                max_data_points: 24 * 60,
            })
            // Recorded as each job's `processedBy`: which process ran it.
            .name(worker_name());
        let processor_ctx = ctx.clone();
        let processor = move |job: Job, _cancel: bullmq::worker::CancellationToken| {
            let ctx = processor_ctx.clone();
            let span = info_span!("job", job_id = %job.id(), name = %job.name());
            async move { process(job, ctx).await }.instrument(span)
        };
        let worker = bounded(
            CONNECT_TIMEOUT,
            Worker::with_options(queue, processor, opts),
        )
        .await?;
        let worker = Arc::new(worker);
        let events_done = CancellationToken::new();
        tokio::spawn(drain_worker_events(worker.clone(), events_done.clone()));
        // Cancels are looked for every half tick (so a job stops within one), at least every
        // 20 ms and at most every 500 ms.
        let every =
            (config.tick() / 2).clamp(Duration::from_millis(20), Duration::from_millis(500));
        let busy = {
            let ctx = ctx.clone();
            move || ctx.running.len()
        };
        tokio::spawn(crate::worker::stats::run(
            ctx.stats.clone(),
            StatsTarget {
                connection: ctx.connection.clone(),
                keys: ctx.keys.clone(),
                worker: worker_name(),
                concurrency: config.worker_concurrency,
            },
            busy,
            events_done.clone(),
        ));
        tokio::spawn(ctx.cancels.clone().run(
            ctx.connection.clone(),
            ctx.cancel_key.clone(),
            every,
            events_done.clone(),
        ));
        Ok(Self {
            worker,
            ctx,
            events_done,
        })
    }

    /// Whether the worker is taking jobs.
    fn is_running(&self) -> bool {
        self.worker.is_running() && !self.ctx.stop_taking.is_cancelled()
    }

    /// Number of jobs running now.
    fn active_jobs(&self) -> usize {
        self.ctx.running.len()
    }

    /// Stops taking jobs, lets running ones finish within `grace`, hands back what is left,
    /// then closes the crate's worker. Returns how many jobs were handed back.
    async fn shutdown(&self, grace: Duration) -> usize {
        self.ctx.stop_taking.cancel();
        self.worker.pause();
        self.ctx.running.close();
        let mut handed_back = 0;
        if !crate::clock::within(grace, self.ctx.running.wait()).await {
            handed_back = self.ctx.running.len();
            info!(
                jobs = handed_back,
                "shutdown grace over, handing running jobs back"
            );
            self.ctx.hand_back.cancel();
            if !crate::clock::within(HAND_BACK_TIMEOUT, self.ctx.running.wait()).await {
                warn!("jobs still being handed back; their locks will expire");
            }
        }
        // Nothing of ours runs any more; the crate may still be writing the last jobs' final
        // state (it does so after our processor returns): wait for that, then close.
        let written = async {
            while self.worker.active_count().await > 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        };
        if tokio::time::timeout(HAND_BACK_TIMEOUT, written)
            .await
            .is_err()
        {
            warn!("the queue worker still had jobs to finish writing");
        }
        if let Err(error) = self.worker.close(CLOSE_IDLE_MS).await {
            warn!(%error, "closing the queue worker failed");
        }
        self.events_done.cancel();
        handed_back
    }
}

/// This process's worker name, `sentinel@<host>:<pid>` (a container's host name is its id).
pub fn worker_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "unknown".to_string());
    format!("sentinel@{host}:{}", std::process::id())
}

/// The processor the crate calls for each job; records how each run ended in the statistics
/// (a run handed back or that lost its lock ends elsewhere and is not counted here).
async fn process(job: Job, ctx: Arc<JobContext>) -> Result<Value, bullmq::Error> {
    let started = Instant::now();
    let waited = job.processed_on().map_or(0, |taken| {
        taken.saturating_sub(job.timestamp().saturating_add(job.delay()))
    });
    let name = job.name().to_string();
    let result = run_job(job, ctx.clone(), started).await;
    let ran = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    match &result {
        Ok(_) => {
            ctx.stats.record(Ended::Completed, waited, ran);
            ctx.metrics.job_finished(&name, true, waited, ran);
        }
        Err(bullmq::Error::Delayed) => {}
        Err(_) => {
            ctx.stats.record(Ended::Failed, waited, ran);
            ctx.metrics.job_finished(&name, false, waited, ran);
        }
    }
    result
}

/// One run of a job.
async fn run_job(job: Job, ctx: Arc<JobContext>, started: Instant) -> Result<Value, bullmq::Error> {
    // One job shared by the lock keeper and the hand-back, rather than a copy each (a job
    // carries its data and options).
    let job = Arc::new(job);
    let _running = ctx.running.token();
    let Some(token) = job.token().map(str::to_owned) else {
        return Err(bullmq::Error::Unrecoverable(
            "job was handed to the processor without a lock token".to_string(),
        ));
    };
    if ctx.stop_taking.is_cancelled() {
        hand_back(&job, &token).await;
        return Err(bullmq::Error::Delayed);
    }
    // A BullMQ worker takes every job of its queue, whatever its name; like a Node processor
    // that switches on the name, we fail the ones we have no processor for, at once.
    let Some(processor) = ctx.processors.get(job.name()) else {
        return Err(bullmq::Error::Unrecoverable(format!(
            "no processor for job name {:?} (this worker runs {} jobs)",
            cut(job.name(), MAX_NAME_IN_REASON),
            ctx.processors.quoted_names()
        )));
    };
    let keeper = LockKeeper::new(
        JobLock::new(Arc::clone(&job), token.clone(), ctx.lock_duration),
        ctx.lock_duration,
        lock_taken_at(&job, started),
    );
    let watched = ctx.cancels.watch(job.id());
    let timeout = processor.timeout(job.data()).or(ctx.default_timeout);
    let timed_out = async {
        match timeout {
            Some(limit) => tokio::time::sleep(limit).await,
            None => std::future::pending().await,
        }
    };
    let input = JobInput {
        id: job.id().to_string(),
        name: job.name().to_string(),
        data: job.data().clone(),
        progress: Progress::new(
            ctx.connection.clone(),
            &ctx.keys,
            ctx.events_key.clone(),
            ctx.meta_key.clone(),
            job.id(),
        ),
    };
    let outcome = tokio::select! {
        result = processor.run(input) => match result {
            Ok(value) => Outcome::Completed(value),
            Err(error) => Outcome::Failed(error),
        },
        LockLost { reason } = keeper.keep() => Outcome::LockLost(reason),
        () = ctx.hand_back.cancelled() => Outcome::HandedBack,
        () = watched.token.cancelled() => Outcome::Cancelled,
        () = timed_out => Outcome::TimedOut(timeout.unwrap_or_default()),
    };
    drop(watched);
    match outcome {
        Outcome::Completed(value) => Ok(value),
        Outcome::Failed(error) => Err(error),
        Outcome::LockLost(reason) => {
            warn!(%reason, "lost the job's lock: stopped the task and left the job to its new owner");
            Err(bullmq::Error::Delayed)
        }
        Outcome::HandedBack => {
            hand_back(&job, &token).await;
            Err(bullmq::Error::Delayed)
        }
        Outcome::Cancelled => {
            info!("cancelled: stopped the task");
            crate::queue::cancel::clear(&ctx.connection, &ctx.cancel_key, job.id()).await;
            Err(bullmq::Error::Unrecoverable(CANCELLED.to_string()))
        }
        Outcome::TimedOut(limit) => {
            let ms = limit.as_millis();
            info!(timeout_ms = %ms, "timed out: stopped the task");
            // An ordinary failure: retried while attempts remain.
            Err(bullmq::Error::ProcessingError(format!(
                "timed out after {ms} ms"
            )))
        }
    }
}

/// How one run of a job ended.
enum Outcome {
    /// The task finished.
    Completed(Value),
    /// The task failed.
    Failed(bullmq::Error),
    /// Our lock is gone: another worker owns the job now.
    LockLost(String),
    /// Shutdown outlasted its grace.
    HandedBack,
    /// Cancelled by a request to any process.
    Cancelled,
    /// Ran longer than its timeout.
    TimedOut(Duration),
}

/// When the job's lock was taken: when it was fetched (`processedOn`, written with this
/// process's clock), which is before the processor was called.
fn lock_taken_at(job: &Job, called_at: Instant) -> tokio::time::Instant {
    let now_ms = crate::clock::now_ms();
    let age = job.processed_on().map_or(Duration::ZERO, |fetched| {
        Duration::from_millis(now_ms.saturating_sub(fetched))
    });
    let called_at = tokio::time::Instant::from_std(called_at);
    called_at.checked_sub(age).unwrap_or(called_at)
}

/// Moves a job we hold back to wait so another worker can start it.
async fn hand_back(job: &Job, token: &str) {
    match bounded(HAND_BACK_TIMEOUT, job.move_to_wait(Some(token))).await {
        Ok(_) => info!("job handed back to the queue"),
        Err(error) => warn!(
            error = %error_chain(&error),
            "could not hand the job back; it returns to the queue when its lock expires"
        ),
    }
}

/// Reads the crate worker's event channel so it cannot grow without bound; errors are logged.
async fn drain_worker_events(worker: Arc<Worker>, done: CancellationToken) {
    loop {
        let event = tokio::select! {
            event = worker.next_event() => event,
            () = done.cancelled() => return,
        };
        match event {
            None => return,
            Some(WorkerEvent::Error(message)) => warn!(%message, "queue worker error"),
            Some(WorkerEvent::Stalled { job_id }) => {
                info!(%job_id, "stalled job moved back to the queue")
            }
            Some(WorkerEvent::Failed { job_id, error }) => info!(%job_id, %error, "job failed"),
            Some(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use bullmq::JobOptions;
    use bullmq::types::RemoveOnFinish;

    /// Our patch reads BullMQ's retention policies in one pass instead of serde's untagged
    /// buffering; it must accept and refuse exactly the same values.
    #[test]
    fn retention_policies_from_any_producer_read_as_before() {
        let read =
            |json: &str| serde_json::from_str::<RemoveOnFinish>(json).map(|p| format!("{p:?}"));
        assert_eq!(read("true").unwrap(), "Bool(true)");
        assert_eq!(read("false").unwrap(), "Bool(false)");
        assert_eq!(read("0").unwrap(), "Count(0)");
        assert_eq!(read("100").unwrap(), "Count(100)");
        let options = |age: &str, count: &str, limit: &str| {
            format!("Options(KeepJobs {{ age: {age}, count: {count}, limit: {limit} }})")
        };
        assert_eq!(
            read(r#"{"age":3600,"count":100}"#).unwrap(),
            options("Some(3600)", "Some(100)", "None")
        );
        assert_eq!(
            read(r#"{"count":5,"somethingNew":[1]}"#).unwrap(),
            options("None", "Some(5)", "None")
        );
        assert_eq!(read("{}").unwrap(), options("None", "None", "None"));
        assert_eq!(
            read("[3600, 100, 7]").unwrap(),
            options("Some(3600)", "Some(100)", "Some(7)")
        );
        for refused in [
            "-1",
            "1.5",
            "\"5\"",
            "null",
            r#"{"age":"old"}"#,
            "18446744073709551616",
        ] {
            assert!(read(refused).is_err(), "{refused} was accepted");
        }

        // As part of a job's options, as Node writes them.
        let opts: JobOptions = serde_json::from_str(
            r#"{"attempts":3,"removeOnComplete":true,"removeOnFail":{"count":5},"delay":0}"#,
        )
        .unwrap();
        assert_eq!(format!("{:?}", opts.remove_on_complete), "Some(Bool(true))");
        assert_eq!(
            format!("{:?}", opts.remove_on_fail),
            format!("Some({})", options("None", "Some(5)", "None"))
        );
    }
}
