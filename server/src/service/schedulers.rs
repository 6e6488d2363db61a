//! Job schedulers of any queue, for both edges: list, create or change (cron pattern and time
//! zone checked, or a period), remove, pause and resume (see `queue/schedulers.rs` for how a
//! scheduler is paused: BullMQ has no pause), run now. Every change is on the audit log with
//! the queue and the scheduler's id.

use app::admin::{MAX_SCHEDULER_ID_BYTES, MIN_EVERY_MS, SchedulerList, SchedulerRequest};
use serde_json::Value;

use super::admin::{forget_reads, param};
use super::audit::{Done, record};
use super::queues::target;
use super::state::AppState;
use crate::auth::Principal;
use crate::error::AppError;
use crate::queue::schedulers::{self, Spec, Switch};

/// Longest period taken (a year, in ms).
const MAX_EVERY_MS: u64 = 366 * 24 * 3_600_000;
/// Longest cron pattern taken.
const MAX_PATTERN_BYTES: usize = 200;
/// Most jobs a scheduler may be limited to.
const MAX_LIMIT: u64 = 1_000_000_000;

/// A scheduler id from a path: 1 to 200 bytes, no control characters.
pub fn scheduler_id(raw: &str) -> Result<String, AppError> {
    if raw.is_empty()
        || raw.chars().count() > MAX_SCHEDULER_ID_BYTES
        || raw.chars().any(char::is_control)
    {
        return Err(param(
            "id",
            format!(
                "a scheduler id is 1 to {MAX_SCHEDULER_ID_BYTES} bytes without control characters"
            ),
        ));
    }
    Ok(raw.to_string())
}

/// The definition `request` asks for scheduler `id`, checked; data at most `max_data` bytes.
pub fn spec_of(id: &str, request: &SchedulerRequest, max_data: usize) -> Result<Spec, AppError> {
    let pattern = request
        .pattern
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty());
    let tz = request
        .tz
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty());
    match (pattern, request.every) {
        (Some(_), Some(_)) => return Err(param("every", "give a pattern or every, not both")),
        (None, None) => {
            return Err(param(
                "pattern",
                "give a cron pattern (e.g. 0 */5 * * * *) or every (a period in ms)",
            ));
        }
        (None, Some(every)) => {
            if !(MIN_EVERY_MS..=MAX_EVERY_MS).contains(&every) {
                return Err(param(
                    "every",
                    format!("must be from {MIN_EVERY_MS} ms to a year ({MAX_EVERY_MS} ms)"),
                ));
            }
            if tz.is_some() {
                return Err(param(
                    "tz",
                    "a time zone goes with a pattern, not with every",
                ));
            }
        }
        (Some(pattern), None) => {
            if pattern.len() > MAX_PATTERN_BYTES || pattern.chars().any(char::is_control) {
                return Err(param(
                    "pattern",
                    format!("at most {MAX_PATTERN_BYTES} characters, no control characters"),
                ));
            }
            let now = crate::clock::now_ms();
            if let Some(tz) = tz {
                schedulers::next_fire("* * * * *", Some(tz), now).map_err(|_| {
                    param(
                        "tz",
                        "must be an IANA time zone such as Europe/Paris or UTC",
                    )
                })?;
            }
            match schedulers::next_fire(pattern, tz, now) {
                Ok(Some(_)) => {}
                Ok(None) => return Err(param("pattern", "this pattern never fires")),
                Err(reason) => {
                    return Err(param(
                        "pattern",
                        format!(
                            "not a cron pattern (minute hour day month weekday, seconds optional first): {}",
                            crate::queue::cut(&reason, 200)
                        ),
                    ));
                }
            }
        }
    }
    let name = match request.name.as_deref().map(str::trim) {
        None | Some("") => id.to_string(),
        Some(name) if name.len() > MAX_SCHEDULER_ID_BYTES || name.chars().any(char::is_control) => {
            return Err(param(
                "name",
                format!("1 to {MAX_SCHEDULER_ID_BYTES} bytes without control characters"),
            ));
        }
        Some(name) => name.to_string(),
    };
    let data = match &request.data {
        None => Value::Object(Default::default()),
        Some(Value::Object(fields)) => Value::Object(fields.clone()),
        Some(_) => return Err(param("data", "must be a JSON object")),
    };
    if serde_json::to_string(&data).map_or(0, |t| t.len()) > max_data {
        return Err(param(
            "data",
            format!("at most {max_data} bytes of JSON (MAX_FIELD_BYTES)"),
        ));
    }
    if let Some(limit) = request.limit
        && !(1..=MAX_LIMIT).contains(&limit)
    {
        return Err(param("limit", format!("must be from 1 to {MAX_LIMIT}")));
    }
    Ok(Spec {
        pattern: pattern.map(str::to_string),
        every: request.every,
        tz: tz.map(str::to_string),
        name,
        data,
        limit: request.limit,
    })
}

/// The schedulers of the queue asked for.
pub async fn list(
    state: &AppState,
    principal: &Principal,
    queue: Option<&str>,
) -> Result<SchedulerList, AppError> {
    let target = target(state, principal, queue).await?;
    Ok(schedulers::list(&target).await?)
}

/// The audit log's target for scheduler `id` of the queue asked for.
fn named(state: &AppState, queue: Option<&str>, id: &str) -> String {
    let queue = super::queues::name_of(state, queue)
        .map(|q| q.text())
        .unwrap_or_default();
    format!("{} {}", crate::queue::cut(&queue, 300), id)
}

/// Creates or changes scheduler `id`.
pub async fn upsert(
    state: &AppState,
    principal: &Principal,
    queue: Option<&str>,
    id: &str,
    request: &SchedulerRequest,
) -> Result<(), AppError> {
    let result = async {
        let spec = spec_of(id, request, state.config.limits.max_field_bytes)?;
        let target = target(state, principal, queue).await?;
        schedulers::upsert(&target, id, &spec).await?;
        forget_reads(state).await;
        Ok(())
    }
    .await;
    let on = named(state, queue, id);
    let done = Done {
        action: "scheduler:upsert",
        target: Some(&on),
        count: None,
    };
    record(state, principal, done, result, |()| "done".to_string()).await
}

/// Removes scheduler `id` (404 when there is none).
pub async fn remove(
    state: &AppState,
    principal: &Principal,
    queue: Option<&str>,
    id: &str,
) -> Result<(), AppError> {
    let result = async {
        let target = target(state, principal, queue).await?;
        let removed = schedulers::remove(&target, id).await?;
        forget_reads(state).await;
        if removed {
            Ok(())
        } else {
            Err(AppError::NoScheduler { id: id.to_string() })
        }
    }
    .await;
    let on = named(state, queue, id);
    let done = Done {
        action: "scheduler:remove",
        target: Some(&on),
        count: None,
    };
    record(state, principal, done, result, |()| "done".to_string()).await
}

/// Pauses (`true`) or resumes scheduler `id`; whether it changed.
pub async fn switch(
    state: &AppState,
    principal: &Principal,
    queue: Option<&str>,
    id: &str,
    paused: bool,
) -> Result<bool, AppError> {
    let result = async {
        let target = target(state, principal, queue).await?;
        let done = if paused {
            schedulers::pause(&target, id).await?
        } else {
            schedulers::resume(&target, id).await?
        };
        forget_reads(state).await;
        match done {
            Switch::Done => Ok(true),
            Switch::Already => Ok(false),
            Switch::Missing => Err(AppError::NoScheduler { id: id.to_string() }),
        }
    }
    .await;
    let on = named(state, queue, id);
    let done = Done {
        action: if paused {
            "scheduler:pause"
        } else {
            "scheduler:resume"
        },
        target: Some(&on),
        count: None,
    };
    record(state, principal, done, result, |changed| {
        if *changed { "done" } else { "already so" }.to_string()
    })
    .await
}

/// Adds one job now from scheduler `id`'s template; the job's id.
pub async fn run_now(
    state: &AppState,
    principal: &Principal,
    queue: Option<&str>,
    id: &str,
) -> Result<String, AppError> {
    let result = async {
        let target = target(state, principal, queue).await?;
        let job = schedulers::run_now(&target, id).await?;
        forget_reads(state).await;
        job.ok_or(AppError::NoScheduler { id: id.to_string() })
    }
    .await;
    let on = named(state, queue, id);
    let done = Done {
        action: "scheduler:run",
        target: Some(&on),
        count: Some(1),
    };
    record(state, principal, done, result, |job| format!("job {job}")).await
}
