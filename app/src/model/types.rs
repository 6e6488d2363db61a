//! The task and job types of Sentinel, with exactly the camelCase JSON shapes that the original
//! NestJS service put on the wire (so existing clients and dashboards keep working).

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What a `longTask` job carries: `{"seconds": N}`, and `"owner"` when access control is on
/// (an extra field that Node BullMQ workers ignore).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskPayload {
    /// How many ticks the task runs for.
    pub seconds: u64,
    /// Who enqueued it (`token:<name>`, `user:<name>`, `anon:<id>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The longest one attempt may run, in ms (`timeoutMs`); over it the attempt fails with
    /// `timed out after N ms` and is retried when attempts remain.
    #[serde(rename = "timeoutMs", default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
}

/// The largest `timeoutMs` taken (a day).
pub const MAX_TIMEOUT_MS: u64 = 86_400_000;

impl TaskPayload {
    /// Reads a payload written by any producer (Sentinel, Node BullMQ, anything that can write
    /// to Redis) and checks it is a task we can run: `seconds` must be a whole number from 1 to
    /// `max` (a JSON number such as `5` or `5.0`, or a string of digits). Anything else is
    /// refused with a short reason that never echoes a large value, so the job fails at once
    /// instead of holding a worker slot.
    pub fn from_job_data(data: &Value, max: u64) -> Result<Self, String> {
        let expected = format!("payload field \"seconds\" must be a whole number from 1 to {max}");
        let Some(raw) = data.get("seconds") else {
            return Err("payload has no \"seconds\" field".to_string());
        };
        let seconds = match raw {
            Value::Number(n) => match (n.as_u64(), n.as_f64()) {
                (Some(whole), _) => Some(whole),
                (None, Some(f)) if f.fract() == 0.0 && f >= 1.0 && f <= max as f64 => {
                    Some(f as u64)
                }
                _ => None,
            },
            Value::String(text) => {
                let text = text.trim();
                (!text.is_empty() && text.len() <= 20 && text.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| text.parse::<u64>().ok())
                    .flatten()
            }
            _ => None,
        };
        let seconds = match seconds {
            Some(seconds) if (1..=max).contains(&seconds) => seconds,
            _ => return Err(format!("{expected}, got {}", describe(raw))),
        };
        let timeout_ms = match data.get("timeoutMs") {
            None | Some(Value::Null) => None,
            Some(value) => match value.as_u64() {
                Some(ms) if (1..=MAX_TIMEOUT_MS).contains(&ms) => Some(ms),
                _ => {
                    return Err(format!(
                        "payload field \"timeoutMs\" must be a whole number of ms from 1 to {MAX_TIMEOUT_MS}, got {}",
                        describe(value)
                    ));
                }
            },
        };
        Ok(Self {
            seconds,
            owner: None,
            timeout_ms,
        })
    }

    /// Number of ticks the task runs: `max(1, seconds)`.
    pub fn total_ticks(&self) -> u64 {
        self.seconds.max(1)
    }
}

/// A JSON value in a few words: short values as they are, long ones by kind and size.
pub fn describe(value: &Value) -> String {
    const SHORT: usize = 40;
    let text = value.to_string();
    if text.len() <= SHORT {
        return text;
    }
    let kind = match value {
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
        Value::Number(_) => "a number",
        _ => "a value",
    };
    format!("{kind} of {} bytes", text.len())
}

/// Progress reported after each tick: `{"step": i, "total": n, "info": "tick i/n"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskProgress {
    /// Ticks done so far.
    pub step: u64,
    /// Ticks in all.
    pub total: u64,
    /// Human-readable progress line.
    pub info: String,
}

impl TaskProgress {
    /// The progress after tick `step` of `total`.
    pub fn after_tick(step: u64, total: u64) -> Self {
        Self {
            step,
            total,
            info: format!("tick {step}/{total}"),
        }
    }

    /// Reads a progress value if it has the task's shape (Node workers may report a number).
    pub fn from_value(value: &Value) -> Option<Self> {
        serde_json::from_value(value.clone()).ok()
    }
}

/// What a finished `longTask` returns: `{"message": "Tâche <id> terminée", "elapsedMs": ms}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskResult {
    /// Completion message naming the job.
    pub message: String,
    /// Wall-clock time the task took, in milliseconds.
    pub elapsed_ms: u64,
}

impl TaskResult {
    /// The result of job `id` after `elapsed_ms`.
    pub fn finished(id: &str, elapsed_ms: u64) -> Self {
        Self {
            message: format!("Tâche {id} terminée"),
            elapsed_ms,
        }
    }

    /// Reads a return value if it has the task's shape.
    pub fn from_value(value: &Value) -> Option<Self> {
        serde_json::from_value(value.clone()).ok()
    }
}

/// A job's state, spelled as Node BullMQ spells it (`waiting`, not the Redis key suffix `wait`).
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum JobState {
    /// Queued, not yet taken by a worker.
    Waiting,
    /// A worker holds the job's lock and runs it.
    Active,
    /// Scheduled for later.
    Delayed,
    /// Queued with a priority.
    Prioritized,
    /// Finished successfully.
    Completed,
    /// Finished with an error.
    Failed,
    /// Waiting for child jobs.
    WaitingChildren,
    /// Known to Redis but in no state BullMQ names (should not happen).
    Unknown,
}

impl JobState {
    /// Every state, in the order a dashboard lists them.
    pub const ALL: [JobState; 7] = [
        JobState::Waiting,
        JobState::Active,
        JobState::Delayed,
        JobState::Prioritized,
        JobState::Completed,
        JobState::Failed,
        JobState::WaitingChildren,
    ];

    /// The Node BullMQ name of the state.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Waiting => "waiting",
            JobState::Active => "active",
            JobState::Delayed => "delayed",
            JobState::Prioritized => "prioritized",
            JobState::Completed => "completed",
            JobState::Failed => "failed",
            JobState::WaitingChildren => "waiting-children",
            JobState::Unknown => "unknown",
        }
    }

    /// The state named `name` (Node's spelling); `None` for anything else.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.as_str() == name)
    }

    /// Whether the job will not change state again by itself.
    pub fn is_finished(self) -> bool {
        matches!(self, JobState::Completed | JobState::Failed)
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `seconds` of a task when none is given: the HTTP API's default (the original service's)
/// and the page's form's first value.
pub const DEFAULT_SECONDS: u64 = 20;

/// What an idempotency key (the `Idempotency-Key` header, the page's submission key) must be,
/// in words: [`valid_key`] checks it.
pub const KEY_RULE: &str = "must be 1 to 255 printable ASCII characters without spaces";

/// Name of the jobs Sentinel adds and runs (BullMQ's job name; Node producers use it too).
pub const TASK_JOB_NAME: &str = "longTask";

/// A job id that is safe to put into a Redis key.
///
/// BullMQ ids are the queue's counter or a producer's custom id. We refuse anything that could
/// address another key (`:`), is empty, over 256 bytes, or holds control characters. The one
/// form with `:` taken is the id BullMQ itself gives the jobs of a job scheduler,
/// `repeat:<scheduler>:<ms>` (so they can be listed and acted on); no job is ever added with it
/// by Sentinel (custom ids refuse every `:`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct JobId(String);

/// Why a string is not a [`JobId`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobIdError {
    /// The id is empty.
    Empty,
    /// The id is longer than [`JobId::MAX_LEN`] bytes.
    TooLong,
    /// The id holds `:` or a control character.
    ForbiddenCharacter,
}

impl fmt::Display for JobIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JobIdError::Empty => f.write_str("job id is empty"),
            JobIdError::TooLong => write!(f, "job id is longer than {} bytes", JobId::MAX_LEN),
            JobIdError::ForbiddenCharacter => {
                f.write_str("job id contains ':' or a control character")
            }
        }
    }
}

impl std::error::Error for JobIdError {}

impl JobId {
    /// Longest id we accept, in bytes.
    pub const MAX_LEN: usize = 256;

    /// Validates `raw` as a job id.
    pub fn parse(raw: &str) -> Result<Self, JobIdError> {
        if raw.is_empty() {
            return Err(JobIdError::Empty);
        }
        if raw.len() > Self::MAX_LEN {
            return Err(JobIdError::TooLong);
        }
        if raw.chars().any(char::is_control) {
            return Err(JobIdError::ForbiddenCharacter);
        }
        if raw.contains(':') && !Self::is_scheduled(raw) {
            return Err(JobIdError::ForbiddenCharacter);
        }
        Ok(Self(raw.to_string()))
    }

    /// Whether `raw` is the id BullMQ gives a job scheduler's job: `repeat:<scheduler>:<ms>`,
    /// the scheduler's id not empty, the time 1 to 20 digits.
    pub fn is_scheduled(raw: &str) -> bool {
        let Some(rest) = raw.strip_prefix("repeat:") else {
            return false;
        };
        let Some((scheduler, ms)) = rest.rsplit_once(':') else {
            return false;
        };
        !scheduler.is_empty()
            && (1..=20).contains(&ms.len())
            && ms.bytes().all(|b| b.is_ascii_digit())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for JobId {
    type Error = JobIdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        JobId::parse(&value)
    }
}

impl From<JobId> for String {
    fn from(id: JobId) -> Self {
        id.0
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a `seconds` value was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecondsError {
    /// Not a plain decimal integer (`abc`, `2.5`, `1e9`, `-3`, empty).
    NotAnInteger(String),
    /// An integer outside `1..=max`.
    OutOfRange {
        /// The value given.
        value: String,
        /// The largest value accepted.
        max: u64,
    },
}

impl fmt::Display for SecondsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecondsError::NotAnInteger(raw) if raw.is_empty() => {
                f.write_str("seconds must be a whole number, got an empty value")
            }
            SecondsError::NotAnInteger(raw) => {
                write!(f, "seconds must be a whole number, got {raw:?}")
            }
            SecondsError::OutOfRange { value, max } => {
                write!(f, "seconds must be between 1 and {max}, got {value}")
            }
        }
    }
}

impl std::error::Error for SecondsError {}

/// Parses a `seconds` value given as text: a plain decimal integer in `1..=max`.
pub fn parse_seconds(raw: &str, max: u64) -> Result<u64, SecondsError> {
    let trimmed = raw.trim();
    let digits = trimmed.strip_prefix('+').unwrap_or(trimmed);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        if let Some(rest) = trimmed.strip_prefix('-')
            && !rest.is_empty()
            && rest.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(SecondsError::OutOfRange {
                value: trimmed.to_string(),
                max,
            });
        }
        return Err(SecondsError::NotAnInteger(raw.to_string()));
    }
    let out_of_range = || SecondsError::OutOfRange {
        value: digits.to_string(),
        max,
    };
    let value: u64 = digits.parse().map_err(|_| out_of_range())?;
    if value == 0 || value > max {
        return Err(out_of_range());
    }
    Ok(value)
}

/// Longest idempotency key taken.
pub const MAX_IDEMPOTENCY_KEY: usize = 255;

/// Whether `key` is a usable idempotency key: printable ASCII without spaces, 1 to
/// [`MAX_IDEMPOTENCY_KEY`] characters.
pub fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= MAX_IDEMPOTENCY_KEY
        && key.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

/// Answer to `POST /tasks/enqueue`.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnqueueResponse {
    /// The new job's id.
    pub id: String,
}

/// Answer to `GET /tasks/status/:id`.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobStatus {
    /// The job id.
    pub id: String,
    /// Where the job is now.
    pub state: JobState,
    /// Last reported progress: `0` until the first tick, then a [`TaskProgress`] object
    /// (jobs run by other workers may report any JSON value).
    pub progress: Value,
    /// The return value, parsed, once completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    /// Why the job failed, once failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_reason: Option<String>,
    /// The `seconds` the job was asked to run, when its payload has a readable one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<u64>,
    /// When the job was added (ms since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<u64>,
    /// When a worker last took it (ms since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processed_on: Option<u64>,
    /// When it finished (ms since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_on: Option<u64>,
    /// While delayed: when it becomes due (ms since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delayed_until: Option<u64>,
    /// How many times a worker took it (a restart after a worker stopped counts again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts_started: Option<u32>,
    /// How many attempts ended (completed or failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts_made: Option<u32>,
    /// While waiting: how many jobs a worker takes before this one (counted up to
    /// [`MAX_COUNTED_AHEAD`]; that value means "at least").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jobs_ahead: Option<u64>,
    /// While waiting: `true` when an operator has paused the queue (no worker takes the job
    /// until it is resumed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_paused: Option<bool>,
}

/// The most jobs ahead that a status counts (counting is a scan of the waiting list).
pub const MAX_COUNTED_AHEAD: u64 = 10_000;

/// How many finished jobs of each kind (completed, failed) the queue keeps.
pub const KEEP_FINISHED_JOBS: u64 = 100;

/// The longest a finished job is kept, in seconds.
pub const KEEP_FINISHED_SECS: u64 = 3600;

/// The queue's retention, in words for people.
pub fn retention_in_words() -> String {
    format!(
        "Sentinel keeps the last {KEEP_FINISHED_JOBS} completed and the last {KEEP_FINISHED_JOBS} failed tasks, each for at most {}.",
        crate::model::time::duration_words(KEEP_FINISHED_SECS * 1000)
    )
}

impl JobStatus {
    /// A status with the state only (no progress, outcome or times).
    pub fn bare(id: &str, state: JobState) -> Self {
        Self {
            id: id.to_string(),
            state,
            progress: Value::from(0),
            result: None,
            failed_reason: None,
            seconds: None,
            timestamp: None,
            processed_on: None,
            finished_on: None,
            delayed_until: None,
            attempts_started: None,
            attempts_made: None,
            jobs_ahead: None,
            queue_paused: None,
        }
    }

    /// The progress, if it has the task's shape.
    pub fn task_progress(&self) -> Option<TaskProgress> {
        TaskProgress::from_value(&self.progress)
    }

    /// The result, if it has the task's shape.
    pub fn task_result(&self) -> Option<TaskResult> {
        self.result.as_ref().and_then(TaskResult::from_value)
    }
}

/// One job as listed by `GET /tasks/counts`.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobSummary {
    /// The job id.
    pub id: String,
    /// The job name (`longTask` for Sentinel's jobs).
    pub name: String,
    /// The payload as stored.
    pub data: Value,
    /// Last reported progress.
    pub progress: Value,
    /// When the job was added (ms since the epoch).
    pub timestamp: u64,
    /// When a worker took it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processed_on: Option<u64>,
    /// When it finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_on: Option<u64>,
    /// How many attempts have ended.
    pub attempts_made: u32,
    /// The parsed return value, once completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    /// Why it failed, once failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_reason: Option<String>,
}

/// Number of jobs per state, keyed as Node's `getJobCounts()` keys them.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobCounts {
    /// Jobs in `waiting`.
    pub waiting: u64,
    /// Jobs in `active`.
    pub active: u64,
    /// Jobs in `delayed`.
    pub delayed: u64,
    /// Jobs in `prioritized`.
    pub prioritized: u64,
    /// Jobs in `completed` (bounded by the retention policy).
    pub completed: u64,
    /// Jobs in `failed` (bounded by the retention policy).
    pub failed: u64,
    /// Jobs in `waiting-children`.
    #[serde(rename = "waiting-children")]
    pub waiting_children: u64,
    /// Jobs held while the queue is paused.
    pub paused: u64,
}

/// Answer to `GET /tasks/counts`: counts plus the first jobs of each state.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CountsReport {
    /// Number of jobs per state.
    pub counts: JobCounts,
    /// First waiting jobs.
    pub waiting: Vec<JobSummary>,
    /// First active jobs.
    pub active: Vec<JobSummary>,
    /// First delayed jobs.
    pub delayed: Vec<JobSummary>,
    /// Most recent completed jobs.
    pub completed: Vec<JobSummary>,
    /// Most recent failed jobs.
    pub failed: Vec<JobSummary>,
}

#[cfg(test)]
mod tests {
    #[test]
    fn job_ids_take_no_colon_but_a_scheduler_s_job_id() {
        for fine in [
            "42",
            "order-17",
            "repeat:nightly:1700000000000",
            "repeat:a:b:1",
        ] {
            assert!(super::JobId::parse(fine).is_ok(), "{fine}");
        }
        for refused in [
            "a:b",
            "repeat:nightly",
            "repeat::1",
            "repeat:x:",
            "repeat:x:1e3",
            "repeat:x:123456789012345678901",
            "meta:1",
            "x\u{1}",
        ] {
            assert!(super::JobId::parse(refused).is_err(), "{refused}");
        }
    }

    #[test]
    fn the_key_rule_says_the_limit_valid_key_holds() {
        assert!(super::KEY_RULE.contains(&super::MAX_IDEMPOTENCY_KEY.to_string()));
        assert!(super::valid_key(&"k".repeat(super::MAX_IDEMPOTENCY_KEY)));
        assert!(!super::valid_key(
            &"k".repeat(super::MAX_IDEMPOTENCY_KEY + 1)
        ));
        assert!(!super::valid_key("a b") && !super::valid_key(""));
    }

    use super::*;
    use serde_json::json;

    #[test]
    fn seconds_table() {
        let max = 3600;
        let cases: &[(&str, Option<u64>)] = &[
            ("1", Some(1)),
            ("20", Some(20)),
            ("3600", Some(3600)),
            ("+5", Some(5)),
            (" 7 ", Some(7)),
            ("0", None),
            ("3601", None),
            ("-1", None),
            ("abc", None),
            ("1e9", None),
            ("2.5", None),
            ("", None),
            ("99999999999999999999999", None),
        ];
        for (raw, want) in cases {
            assert_eq!(parse_seconds(raw, max).ok(), *want, "input {raw:?}");
        }
    }

    #[test]
    fn seconds_errors_say_what_was_wrong() {
        let err = parse_seconds("0", 10).unwrap_err();
        assert_eq!(err.to_string(), "seconds must be between 1 and 10, got 0");
        let err = parse_seconds("abc", 10).unwrap_err();
        assert_eq!(
            err.to_string(),
            "seconds must be a whole number, got \"abc\""
        );
    }

    #[test]
    fn job_id_rules() {
        assert!(JobId::parse("42").is_ok());
        assert!(JobId::parse("custom-id_1").is_ok());
        assert_eq!(JobId::parse(""), Err(JobIdError::Empty));
        assert_eq!(JobId::parse("a:b"), Err(JobIdError::ForbiddenCharacter));
        assert_eq!(JobId::parse("a\nb"), Err(JobIdError::ForbiddenCharacter));
        assert_eq!(JobId::parse(&"x".repeat(257)), Err(JobIdError::TooLong));
        assert!(JobId::parse(&"x".repeat(256)).is_ok());
    }

    #[test]
    fn wire_shapes_are_camel_case() {
        let result = TaskResult::finished("7", 1234);
        assert_eq!(
            serde_json::to_value(&result).unwrap(),
            json!({"message": "Tâche 7 terminée", "elapsedMs": 1234})
        );
        assert_eq!(
            serde_json::to_value(TaskProgress::after_tick(2, 5)).unwrap(),
            json!({"step": 2, "total": 5, "info": "tick 2/5"})
        );
        assert_eq!(
            serde_json::to_value(JobState::WaitingChildren).unwrap(),
            json!("waiting-children")
        );
        assert_eq!(
            serde_json::to_value(JobState::Waiting).unwrap(),
            json!("waiting")
        );
        let status = JobStatus {
            id: "1".into(),
            state: JobState::Failed,
            progress: json!(0),
            result: None,
            failed_reason: Some("boom".into()),
            ..JobStatus::bare("1", JobState::Failed)
        };
        assert_eq!(
            serde_json::to_value(&status).unwrap(),
            json!({"id": "1", "state": "failed", "progress": 0, "failedReason": "boom"})
        );
    }

    #[test]
    fn payload_from_any_producer() {
        let cases = [
            (json!({"seconds": 3}), Some(3)),
            (json!({"seconds": 3.0}), Some(3)),
            (json!({"seconds": "5"}), Some(5)),
            (json!({"seconds": 3600}), Some(3600)),
        ];
        for (data, want) in cases {
            let got = TaskPayload::from_job_data(&data, 3600).map(|p| p.total_ticks());
            assert_eq!(got.ok(), want, "payload {data}");
        }
        let timed = TaskPayload::from_job_data(&json!({"seconds": 3, "timeoutMs": 1500}), 3600);
        assert_eq!(timed.map(|p| p.timeout_ms), Ok(Some(1500)));
        let huge = "9".repeat(1 << 20);
        for bad in [
            json!({}),
            json!({"seconds": "x"}),
            json!({"seconds": null}),
            json!({"seconds": 2.7}),
            json!({"seconds": 0}),
            json!({"seconds": -4}),
            json!({"seconds": 1e300}),
            json!({"seconds": 3601}),
            json!({"seconds": huge}),
            json!({"seconds": [1, 2]}),
            json!({"seconds": 3, "timeoutMs": 0}),
            json!({"seconds": 3, "timeoutMs": "soon"}),
            json!({"seconds": 3, "timeoutMs": 86_400_001u64}),
        ] {
            let reason = TaskPayload::from_job_data(&bad, 3600).expect_err("refused");
            assert!(reason.len() <= 200, "{reason}");
        }
        assert_eq!(
            TaskPayload::from_job_data(&json!({"seconds": huge}), 3600).unwrap_err(),
            "payload field \"seconds\" must be a whole number from 1 to 3600, got a string of 1048578 bytes"
        );
    }
}

/// Answer of the enqueue server function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EnqueueOutcome {
    /// The task was queued with this id.
    Enqueued {
        /// The new job's id.
        id: String,
    },
    /// The value was refused; the message says why. Sending it again would be refused again.
    Rejected {
        /// What was wrong, for the user.
        message: String,
    },
    /// The queue did not answer: the task may or may not exist. Sending the same key again
    /// is safe and tells which (the key names one job).
    Unconfirmed {
        /// What happened, for the user.
        message: String,
    },
}

/// Settings the page needs from the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageSettings {
    /// Largest `seconds` accepted.
    pub max_seconds: u64,
    /// Whether access control is on (then the task list follows the identity).
    pub auth: bool,
    /// Who the page is for (`token:ci`, `anon:…`), when access control is on.
    pub who: Option<String>,
    /// Their role.
    pub role: Option<String>,
    /// Whether they may see the whole queue's counts.
    pub can_see_counts: bool,
    /// How long one tick (one "second" of a task) lasts, in ms.
    pub tick_ms: u64,
    /// A fresh idempotency key for the form (used when it is posted without JavaScript).
    pub form_key: String,
}

impl PageSettings {
    /// What the page assumes when the server could not tell it: the default limit and tick, no
    /// access control shown, no counts, no form key (a no-JavaScript post then gets a fresh one).
    pub fn fallback() -> Self {
        Self {
            max_seconds: 3600,
            auth: false,
            who: None,
            role: None,
            can_see_counts: false,
            tick_ms: 1000,
            form_key: String::new(),
        }
    }
}
