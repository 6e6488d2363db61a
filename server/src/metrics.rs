//! `GET /metrics`: Prometheus's text format, built with the `prometheus-client` crate (the
//! Prometheus project's own Rust client). This process's counters and histograms (HTTP
//! requests by route and status with latency, Redis call latency, jobs this process's worker
//! finished by name and outcome with wait and run time), and gauges read at scrape time (jobs
//! per state from Redis, busy worker slots, open event streams).
//!
//! Who may read it is its own setting, `METRICS_ACCESS`: `viewer` (default: viewers and up
//! when access control is on, e.g. a scraper with a viewer token; anyone when it is off) or
//! `open`. The route and the request middleware are `http/metrics.rs`.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Who may read `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MetricsAccess {
    /// Anyone who can reach the port.
    Open,
    /// Viewers and up (anyone when access control is off).
    Viewer,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    name: String,
    outcome: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn seconds_histogram() -> Histogram {
    // 1 ms to ~9 h, doubling.
    Histogram::new(exponential_buckets(0.001, 2.0, 25))
}

fn fast_histogram() -> Histogram {
    // 50 µs to ~1.6 s, doubling.
    Histogram::new(exponential_buckets(0.000_05, 2.0, 16))
}

/// The process's metrics.
pub struct Metrics {
    registry: Registry,
    /// Our own job's two counters, taken once (no label allocation per job).
    task_completed: Counter,
    task_failed: Counter,
    http: HistogramFamily<HttpLabels>,
    redis: Histogram,
    jobs_ended: Family<JobLabels, Counter>,
    job_wait: Histogram,
    job_run: Histogram,
    jobs: Family<StateLabels, Gauge>,
    busy: Gauge,
    streams: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("sentinel");
        let http: HistogramFamily<HttpLabels> =
            Family::new_with_constructor(fast_histogram as fn() -> Histogram);
        let redis = fast_histogram();
        let jobs_ended = Family::<JobLabels, Counter>::default();
        let job_wait = seconds_histogram();
        let job_run = seconds_histogram();
        let jobs = Family::<StateLabels, Gauge>::default();
        let busy = Gauge::default();
        let streams = Gauge::default();
        registry.register(
            "http_request_duration_seconds",
            "HTTP requests by method, route and status, and how long they took to answer",
            http.clone(),
        );
        registry.register(
            "redis_call_duration_seconds",
            "Redis calls of the typed queue layer (each a command or a pipeline)",
            redis.clone(),
        );
        registry.register(
            "jobs_finished",
            "Jobs this process's worker finished, by job name and outcome",
            jobs_ended.clone(),
        );
        registry.register(
            "job_wait_seconds",
            "Time from a job being due to a worker of this process taking it",
            job_wait.clone(),
        );
        registry.register(
            "job_run_seconds",
            "Time one run of a job took on this process",
            job_run.clone(),
        );
        registry.register("jobs", "Jobs per state in the queue", jobs.clone());
        registry.register(
            "worker_busy_slots",
            "Jobs this process's worker runs now",
            busy.clone(),
        );
        registry.register(
            "sse_streams_open",
            "Event streams open on this process",
            streams.clone(),
        );
        let label = |outcome: &str| JobLabels {
            name: app::types::TASK_JOB_NAME.to_string(),
            outcome: outcome.to_string(),
        };
        let task_completed = jobs_ended.get_or_create_owned(&label("completed"));
        let task_failed = jobs_ended.get_or_create_owned(&label("failed"));
        Self {
            registry,
            task_completed,
            task_failed,
            http,
            redis,
            jobs_ended,
            job_wait,
            job_run,
            jobs,
            busy,
            streams,
        }
    }
}

/// Job names counted by name; any other name is counted as `other` (a foreign producer's names
/// must not grow the metrics without bound).
const NAMED_JOBS: [&str; 1] = [app::types::TASK_JOB_NAME];

impl Metrics {
    /// Records a Redis call's duration.
    pub fn redis_call(&self, took: Duration) {
        self.redis.observe(took.as_secs_f64());
    }

    /// Records a finished run of a job.
    pub fn job_finished(&self, name: &str, completed: bool, wait_ms: u64, run_ms: u64) {
        match (name == app::types::TASK_JOB_NAME, completed) {
            (true, true) => {
                self.task_completed.inc();
            }
            (true, false) => {
                self.task_failed.inc();
            }
            (false, _) => {
                let name = if NAMED_JOBS.contains(&name) {
                    name
                } else {
                    "other"
                };
                self.jobs_ended
                    .get_or_create(&JobLabels {
                        name: name.to_string(),
                        outcome: if completed { "completed" } else { "failed" }.to_string(),
                    })
                    .inc();
            }
        }
        self.job_wait.observe(wait_ms as f64 / 1000.0);
        self.job_run.observe(run_ms as f64 / 1000.0);
    }

    /// Records an answered HTTP request.
    pub fn http_request(&self, method: String, route: String, status: u16, took: Duration) {
        self.http
            .get_or_create(&HttpLabels {
                method,
                route,
                status,
            })
            .observe(took.as_secs_f64());
    }

    /// Sets the gauges read at scrape time: open streams, busy worker slots, jobs per state
    /// (`None` when Redis could not be read: the last values stay).
    pub fn set_gauges(&self, streams: usize, busy: usize, jobs: Option<&app::JobCounts>) {
        self.streams.set(streams as i64);
        self.busy.set(busy as i64);
        if let Some(counts) = jobs {
            for (state, n) in [
                ("waiting", counts.waiting),
                ("active", counts.active),
                ("delayed", counts.delayed),
                ("prioritized", counts.prioritized),
                ("completed", counts.completed),
                ("failed", counts.failed),
                ("waiting-children", counts.waiting_children),
                ("paused", counts.paused),
            ] {
                self.jobs
                    .get_or_create(&StateLabels {
                        state: state.to_string(),
                    })
                    .set(i64::try_from(n).unwrap_or(i64::MAX));
            }
        }
    }

    /// The text of a scrape: this process's metrics, then the gauges of the first
    /// `max_queues` of `queues` (each labelled by its prefix and name; the caller puts the
    /// busiest first) and of the rest summed as one (`prefix="_other", queue="_other"`), so a
    /// Redis with thousands of queues makes a scrape of bounded size.
    pub fn encode(
        &self,
        queues: &[app::admin::QueueSummary],
        max_queues: usize,
    ) -> Result<String, std::fmt::Error> {
        use prometheus_client::encoding::text::{encode_eof, encode_registry};
        let mut text = String::new();
        encode_registry(&mut text, &self.registry)?;
        let (labelled, rest) = queues.split_at(queues.len().min(max_queues));
        let mut shown = labelled.to_vec();
        if !rest.is_empty() {
            shown.push(summed(rest));
        }
        let mut registry = queue_registry(&shown);
        let summed_queues = Gauge::<i64>::default();
        summed_queues.set(i64::try_from(rest.len()).unwrap_or(i64::MAX));
        registry.register(
            "summed",
            "Queues summed under queue=\"_other\" (past SENTINEL_METRICS_MAX_QUEUES)",
            summed_queues,
        );
        encode_registry(&mut text, &registry)?;
        encode_eof(&mut text)?;
        Ok(text)
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabels {
    prefix: String,
    queue: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueStateLabels {
    prefix: String,
    queue: String,
    state: String,
}

/// The queues past the labelled ones as one: counts, workers and what finished summed, paused
/// when any is, the oldest waiting job of all of them.
fn summed(rest: &[app::admin::QueueSummary]) -> app::admin::QueueSummary {
    let mut all = app::admin::QueueSummary {
        prefix: "_other".to_string(),
        name: "_other".to_string(),
        paused: false,
        counts: app::JobCounts::default(),
        completed_last_hour: 0,
        failed_last_hour: 0,
        oldest_waiting_at: None,
        workers: 0,
    };
    for q in rest {
        let (c, a) = (&q.counts, &mut all.counts);
        a.waiting += c.waiting;
        a.paused += c.paused;
        a.active += c.active;
        a.delayed += c.delayed;
        a.prioritized += c.prioritized;
        a.completed += c.completed;
        a.failed += c.failed;
        a.waiting_children += c.waiting_children;
        all.paused |= q.paused;
        all.workers += q.workers;
        all.completed_last_hour += q.completed_last_hour;
        all.failed_last_hour += q.failed_last_hour;
        all.oldest_waiting_at = match (all.oldest_waiting_at, q.oldest_waiting_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    all
}

/// The gauges of each queue on the Redis, made for one scrape (a queue that is gone is gone
/// from the next scrape; a caller limited to some queues gets only those).
fn queue_registry(queues: &[app::admin::QueueSummary]) -> Registry {
    let mut registry = Registry::with_prefix("sentinel_queue");
    let jobs = Family::<QueueStateLabels, Gauge>::default();
    let paused = Family::<QueueLabels, Gauge>::default();
    let workers = Family::<QueueLabels, Gauge>::default();
    let oldest = Family::<QueueLabels, Gauge>::default();
    let finished = Family::<QueueStateLabels, Gauge>::default();
    let number = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    let now = crate::clock::now_ms();
    for queue in queues {
        let labels = QueueLabels {
            prefix: queue.prefix.clone(),
            queue: queue.name.clone(),
        };
        let with_state = |state: &str| QueueStateLabels {
            prefix: queue.prefix.clone(),
            queue: queue.name.clone(),
            state: state.to_string(),
        };
        let counts = &queue.counts;
        for (state, n) in [
            ("waiting", counts.waiting + counts.paused),
            ("active", counts.active),
            ("delayed", counts.delayed),
            ("prioritized", counts.prioritized),
            ("completed", counts.completed),
            ("failed", counts.failed),
            ("waiting-children", counts.waiting_children),
        ] {
            jobs.get_or_create(&with_state(state)).set(number(n));
        }
        paused.get_or_create(&labels).set(i64::from(queue.paused));
        workers.get_or_create(&labels).set(number(queue.workers));
        if let Some(at) = queue.oldest_waiting_at {
            oldest
                .get_or_create(&labels)
                .set(number(now.saturating_sub(at) / 1000));
        }
        finished
            .get_or_create(&with_state("completed"))
            .set(number(queue.completed_last_hour));
        finished
            .get_or_create(&with_state("failed"))
            .set(number(queue.failed_last_hour));
    }
    registry.register(
        "jobs",
        "Jobs per state in each BullMQ queue on the Redis",
        jobs,
    );
    registry.register(
        "paused",
        "Whether each queue is paused (1) or not (0)",
        paused,
    );
    registry.register(
        "workers",
        "BullMQ workers connected to each queue (named connections)",
        workers,
    );
    registry.register(
        "oldest_waiting_seconds",
        "Age of each queue's oldest waiting job (absent when none waits)",
        oldest,
    );
    registry.register(
        "finished_last_hour",
        "Jobs each queue finished in the last hour, by outcome (those still kept)",
        finished,
    );
    registry
}
