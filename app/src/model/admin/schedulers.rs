//! A queue's job schedulers, and what creates or changes one.

use serde::{Deserialize, Serialize};

use serde_json::Value;

/// A job scheduler of a queue (BullMQ's repeatable jobs: `upsertJobScheduler`), as
/// `GET /admin/api/schedulers` lists it.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Scheduler {
    /// Its id (BullMQ's scheduler key).
    pub id: String,
    /// The name of the jobs it makes.
    pub name: String,
    /// Its cron pattern (seconds optional), when it has one.
    pub pattern: Option<String>,
    /// Its period in ms, when it repeats every so often.
    pub every: Option<u64>,
    /// The time zone its pattern is read in (IANA), when set.
    pub tz: Option<String>,
    /// When its next job is due (ms since the epoch); none while paused.
    pub next: Option<u64>,
    /// When its last job was due (ms since the epoch), when it can be told (schedulers with
    /// `every` that ran at least once).
    pub last: Option<u64>,
    /// Jobs it has made so far.
    pub iterations: u64,
    /// Most jobs it makes, when limited.
    pub limit: Option<u64>,
    /// The data of the jobs it makes (cut when over the field limit).
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub data: Value,
    /// Paused by Sentinel (see `POST /admin/api/schedulers/{id}/pause`).
    pub paused: bool,
    /// Its next job is late by more than its period (no worker takes it, or the queue is
    /// paused).
    pub late: bool,
}

/// `GET /admin/api/schedulers`: a queue's job schedulers, by next run.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SchedulerList {
    /// The schedulers (at most 500; paused ones after the others).
    pub schedulers: Vec<Scheduler>,
    /// How many the queue has, paused ones included.
    pub total: u64,
}

/// Longest scheduler id or job name taken.
pub const MAX_SCHEDULER_ID_BYTES: usize = 200;
/// Shortest `every` taken (ms).
pub const MIN_EVERY_MS: u64 = 1_000;

/// What `PUT /admin/api/schedulers/{id}` sets: a cron `pattern` (with `tz`) or `every`, and the
/// jobs it makes.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SchedulerRequest {
    /// A cron pattern (`0 */5 * * * *`, seconds optional); or give `every`.
    #[serde(default)]
    pub pattern: Option<String>,
    /// A period in ms (at least 1,000); or give `pattern`.
    #[serde(default)]
    pub every: Option<u64>,
    /// The IANA time zone the pattern is read in (`Europe/Paris`); UTC when absent.
    #[serde(default)]
    pub tz: Option<String>,
    /// The name of the jobs it makes (the scheduler's id when absent).
    #[serde(default)]
    pub name: Option<String>,
    /// Their data (a JSON object; `{}` when absent).
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<Object>))]
    pub data: Option<Value>,
    /// Most jobs it makes.
    #[serde(default)]
    pub limit: Option<u64>,
}
