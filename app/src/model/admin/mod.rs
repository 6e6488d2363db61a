//! The shapes of the admin API (`/admin/api`): pages of jobs, one job in full, the outcome of
//! an action. Shared so that the dashboard speaks exactly what the server sends.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::types::{JobState, JobSummary};

mod across;
mod alerts;
mod audit;
mod flows;
mod history;
mod queues;
mod schedulers;

pub use across::*;
pub use alerts::*;
pub use audit::*;
pub use flows::*;
pub use history::*;
pub use queues::*;
pub use schedulers::*;

/// Most jobs one page lists.
pub const MAX_PAGE_SIZE: usize = 100;

/// One page of a job list.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobPage {
    /// Jobs in the listed states (or found by the search) in all.
    pub total: u64,
    /// The page number, from 0.
    pub page: u64,
    /// The page size asked for.
    pub size: u64,
    /// The jobs of this page.
    pub jobs: Vec<ListedJob>,
    /// Whether `total` counts every match. A search that meets more jobs than one request
    /// examines counts what it has examined so far; `next` goes on from there.
    #[serde(default = "yes")]
    pub complete: bool,
    /// For a search with more to find: pass it as `cursor` for the jobs after this page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// Entries of this page that could not be read as jobs (a key of another type, or a hash
    /// that is no job, listed where jobs are): left out, and counted here.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub skipped: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Redis's memory, as the memory guard judges it.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RedisMemory {
    /// `used_memory`, bytes.
    pub used: u64,
    /// `maxmemory`, bytes (0: none).
    pub max: u64,
    /// Past this many bytes new jobs are refused (none: no limit applies).
    pub limit: Option<u64>,
    /// Whether Redis is past the limit now: new jobs are refused (`503 redis_full`).
    pub full: bool,
}

fn yes() -> bool {
    true
}

/// A job in a list: its state and its summary.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListedJob {
    /// The state it was listed under.
    pub state: JobState,
    /// The job.
    #[serde(flatten)]
    pub job: JobSummary,
}

/// One job in full.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobDetail {
    /// The job id.
    pub id: String,
    /// The job name.
    pub name: String,
    /// Where the job is.
    pub state: JobState,
    /// The payload as stored.
    pub data: Value,
    /// The job's options as BullMQ stores them (`attempts`, `delay`, `backoff`, ...).
    pub opts: Value,
    /// Last reported progress.
    pub progress: Value,
    /// The job's log lines, oldest first (the last [`JobDetail::logs`] of `log_count`).
    pub logs: Vec<String>,
    /// How many log lines the job has.
    pub log_count: u64,
    /// The parsed return value, once completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub returnvalue: Option<Value>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_reason: Option<String>,
    /// The stack traces of its failed attempts, as the worker recorded them.
    pub stacktrace: Vec<String>,
    /// Attempts that ended.
    pub attempts_made: u32,
    /// Times a worker took it.
    pub attempts_started: u32,
    /// When it was added (ms since the epoch).
    pub timestamp: u64,
    /// When a worker last took it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processed_on: Option<u64>,
    /// When it finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_on: Option<u64>,
    /// While delayed: when it becomes due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delayed_until: Option<u64>,
    /// Which worker ran it last (BullMQ's `processedBy`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processed_by: Option<String>,
    /// Who enqueued it, when access control recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The job's events from the queue's event stream (BullMQ's `added`, `active`, `progress`,
    /// `completed`, `failed`, ...), oldest first: the last [`JobDetail::history`] of
    /// `history_total` found since the job was created.
    #[serde(default)]
    pub history: Vec<JobEvent>,
    /// How many of the job's events were found.
    #[serde(default)]
    pub history_total: u64,
    /// Whether earlier events may be missing: the stream was trimmed past the job's creation,
    /// or the read stopped at its budget of stream entries.
    #[serde(default)]
    pub history_partial: bool,
    /// Its parent and children, when it is part of a flow.
    #[serde(default, skip_serializing_if = "Family::is_empty")]
    pub family: Family,
}

/// One event of a job, from the queue's event stream.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobEvent {
    /// When (ms since the epoch, from the stream entry's id).
    pub at: u64,
    /// BullMQ's event name.
    pub event: String,
    /// What it carried, in short: a progress value, a failed reason, a delay's due time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// An action on one job (and of a bulk run): typed on both sides of the dashboard's server
/// functions and in the admin API, spelled as the routes spell it (`retry`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobAction {
    /// Run a failed or completed job again.
    Retry,
    /// Delete a job that is not running.
    Remove,
    /// Make a delayed job due now.
    Promote,
    /// Take a job out of the queue, or stop it where it runs.
    Cancel,
}

impl JobAction {
    /// The action named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "retry" => Some(JobAction::Retry),
            "remove" => Some(JobAction::Remove),
            "promote" => Some(JobAction::Promote),
            "cancel" => Some(JobAction::Cancel),
            _ => None,
        }
    }

    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobAction::Retry => "retry",
            JobAction::Remove => "remove",
            JobAction::Promote => "promote",
            JobAction::Cancel => "cancel",
        }
    }
}

/// An action on a queue as a whole: typed on both sides of the dashboard's server functions
/// and in the admin API (`POST /admin/api/queue/{pause,resume}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QueueAction {
    /// Workers of every process stop taking jobs.
    Pause,
    /// They take jobs again.
    Resume,
}

impl QueueAction {
    /// The action named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "pause" => Some(Self::Pause),
            "resume" => Some(Self::Resume),
            _ => None,
        }
    }

    /// Its name (the audit log's action).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pause => "pause",
            Self::Resume => "resume",
        }
    }
}

/// An action on one job scheduler: typed on both sides of the dashboard's server functions
/// and in the admin API (`POST /admin/api/schedulers/{id}/{action}`; remove is also `DELETE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SchedulerAction {
    /// Stop it making jobs (BullMQ has none: Sentinel keeps its definition aside).
    Pause,
    /// Let a paused one make jobs again.
    Resume,
    /// One job now from its template; the schedule is unchanged.
    Run,
    /// Remove it and its next job.
    Remove,
}

impl SchedulerAction {
    /// The action named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "pause" => Some(Self::Pause),
            "resume" => Some(Self::Resume),
            "run" => Some(Self::Run),
            "remove" => Some(Self::Remove),
            _ => None,
        }
    }

    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pause => "pause",
            Self::Resume => "resume",
            Self::Run => "run",
            Self::Remove => "remove",
        }
    }
}

/// What an action on one job did.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionOutcome {
    /// The job id.
    pub id: String,
    /// The action.
    pub action: String,
    /// What happened: `done`, or `requested` for a cancel of a running job (its worker stops
    /// it within a tick).
    pub result: String,
    /// The job's state before the action.
    pub state: JobState,
}

/// The states a clean takes.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FinishedState {
    /// Completed jobs.
    Completed,
    /// Failed jobs.
    Failed,
}

impl FinishedState {
    /// As a job state.
    pub fn state(self) -> JobState {
        match self {
            FinishedState::Completed => JobState::Completed,
            FinishedState::Failed => JobState::Failed,
        }
    }
}

/// `POST /admin/api/queue/clean`.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CleanRequest {
    /// `completed` or `failed`.
    pub state: FinishedState,
    /// Only jobs that finished at least this long ago, in ms (default 0, at most ten years).
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(minimum = 0, maximum = 315_360_000_000u64))]
    pub older_than_ms: u64,
    /// At most this many jobs (default and most: 10,000 per call).
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(minimum = 1, maximum = 10_000))]
    pub limit: Option<u32>,
    /// Only count what would be removed.
    #[serde(default)]
    pub dry_run: bool,
}

/// Most jobs one clean removes.
pub const MAX_CLEAN: u32 = 10_000;

/// The longest `olderThanMs` taken: ten years.
pub const MAX_CLEAN_AGE_MS: u64 = 315_360_000_000;

impl CleanRequest {
    /// Reads a clean request from JSON, naming the field at fault.
    pub fn from_json(
        value: &serde_json::Value,
    ) -> Result<Self, crate::model::options::OptionError> {
        use crate::model::options::{OptionError, whole};
        // JSON numbers only (a whole one, `5` or `5.0`).
        let number = |value: &Value| value.is_number().then(|| whole(value)).flatten();
        let refuse = |field: &'static str, message: &str| OptionError {
            field,
            message: message.to_string(),
        };
        let fields = value
            .as_object()
            .ok_or_else(|| refuse("body", "must be a JSON object"))?;
        let state = match fields.get("state").and_then(Value::as_str) {
            Some("completed") => FinishedState::Completed,
            Some("failed") => FinishedState::Failed,
            _ => return Err(refuse("state", "must be \"completed\" or \"failed\"")),
        };
        let older_than_ms = match fields.get("olderThanMs") {
            None => 0,
            Some(value) => number(value)
                .filter(|ms| *ms <= MAX_CLEAN_AGE_MS)
                .ok_or_else(|| {
                    refuse(
                        "olderThanMs",
                        "must be a whole number of ms up to ten years",
                    )
                })?,
        };
        let limit = match fields.get("limit") {
            None | Some(Value::Null) => None,
            Some(value) => Some(
                number(value)
                    .filter(|n| (1..=u64::from(MAX_CLEAN)).contains(n))
                    .ok_or_else(|| refuse("limit", "must be a whole number from 1 to 10000"))?
                    as u32,
            ),
        };
        let dry_run = match fields.get("dryRun") {
            None => false,
            Some(Value::Bool(dry)) => *dry,
            Some(_) => return Err(refuse("dryRun", "must be true or false")),
        };
        Ok(Self {
            state,
            older_than_ms,
            limit,
            dry_run,
        })
    }
}

/// What a clean removed, or would remove.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CleanOutcome {
    /// The state cleaned.
    pub state: FinishedState,
    /// Jobs removed (or, on a dry run, that would be).
    pub count: u64,
    /// Whether this was a dry run.
    pub dry_run: bool,
}

/// A worker on the queue.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkerInfo {
    /// The worker's name (Sentinel: `sentinel@host:pid`; BullMQ: its connection name).
    pub name: String,
    /// `sentinel` (with a heartbeat) or `bullmq` (any other BullMQ worker, seen by its
    /// connection).
    pub kind: String,
    /// Host name, or the connection's address for other workers.
    pub host: Option<String>,
    /// Process id (Sentinel workers).
    pub pid: Option<u32>,
    /// Jobs it runs at once (Sentinel workers).
    pub concurrency: Option<usize>,
    /// Jobs it runs now (Sentinel workers).
    pub busy: Option<usize>,
    /// When it was last seen (ms since the epoch).
    pub seen_at: Option<u64>,
    /// How long its connection has been open, in seconds (BullMQ workers).
    pub connected_secs: Option<u64>,
}

/// `GET /admin/api/workers`.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerList {
    /// Every live worker.
    pub workers: Vec<WorkerInfo>,
}

/// Percentiles of a duration, in ms (bucket upper bounds, at most 25 % high).
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Percentiles {
    /// Median (absent: no job).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p50: Option<u64>,
    /// 95th percentile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p95: Option<u64>,
    /// 99th percentile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99: Option<u64>,
}

/// One minute of the queue.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MinuteStats {
    /// The minute's start (ms since the epoch).
    pub at: u64,
    /// Jobs completed in it.
    pub completed: u64,
    /// Jobs failed in it.
    pub failed: u64,
    /// Time from due to taken by a worker.
    pub wait_ms: Percentiles,
    /// Time a run took.
    pub run_ms: Percentiles,
}

/// `GET /admin/api/metrics`: the last hour, oldest minute first.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricsReport {
    /// One entry per minute.
    pub minutes: Vec<MinuteStats>,
    /// The whole window.
    pub total: MinuteStats,
}

/// What the dashboard's overview shows, read once per server process per second and shared by
/// every open dashboard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Overview {
    /// Jobs per state.
    pub counts: crate::model::types::JobCounts,
    /// Whether the queue is paused (workers take no new job).
    pub paused: bool,
    /// The live workers.
    pub workers: Vec<WorkerInfo>,
    /// The last hour, a minute each, oldest first.
    pub minutes: Vec<MinuteStats>,
    /// When it was read (ms since the epoch).
    pub at: u64,
    /// Redis's memory as last read, when known: past the guard's limit, new jobs are refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<RedisMemory>,
}

/// What the person looking at the dashboard may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AdminAccess {
    /// Nothing: not signed in, or a submitter.
    None,
    /// Read.
    Viewer,
    /// Read and act (operators and admins).
    Operator,
}

/// A request for a page of jobs: the parameters of `GET /admin/api/jobs`, as text.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct JobQuery {
    /// `state=`: states, comma-separated.
    pub state: Option<String>,
    /// `q=`: a search.
    pub q: Option<String>,
    /// `cursor=`: where a search goes on.
    pub cursor: Option<String>,
    /// `page=`.
    pub page: u64,
    /// `size=`.
    pub size: u64,
    /// `queue=`: which queue (`<prefix>:<name>`); Sentinel's own when absent.
    #[serde(default)]
    pub queue: Option<String>,
}

/// A bulk run's progress (`POST /admin/api/jobs/bulk`, `GET /admin/api/bulk/{bulk}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkProgress {
    /// The run's id.
    pub bulk: String,
    /// The action.
    pub action: String,
    /// Jobs it covers (for a state: as counted when it started; for a search: as found so far).
    pub total: u64,
    /// Jobs done.
    pub done: u64,
    /// Jobs skipped (gone, or in a state the action does not take).
    pub skipped: u64,
    /// Whether it has ended.
    pub finished: bool,
    /// Why it stopped early, if it did (the queue became unreachable).
    pub error: Option<String>,
}

/// One reason a job is not running (or what it is doing instead).
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WhyReason {
    /// A stable code: `finished`, `running`, `lock-lost`, `delayed`, `waiting-children`,
    /// `queue-paused`, `no-worker`, `rate-limited`, `concurrency-reached`, `workers-busy`,
    /// `jobs-ahead`, `no-processor`, `next`.
    pub code: String,
    /// What it means, for people.
    pub message: String,
}

/// `GET /admin/api/jobs/{id}/why`: why a job is not running, each reason that holds now, the
/// one that decides first.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WhyReport {
    /// The job.
    pub id: String,
    /// Its state now.
    pub state: JobState,
    /// The reasons, the deciding one first.
    pub reasons: Vec<WhyReason>,
}
