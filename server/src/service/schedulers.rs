//! Job schedulers of any queue, for both edges: list, create or change (cron pattern and time
//! zone checked, or a period), remove, pause and resume (see `queue/schedulers.rs` for how a
//! scheduler is paused: BullMQ has no pause), run now. Every change is on the audit log with
//! the queue and the scheduler's id.

use app::admin::{MAX_SCHEDULER_ID_BYTES, MIN_EVERY_MS, SchedulerList, SchedulerRequest};
use serde_json::Value;

use super::audit::Done;
use super::{Op, Sentinel};
use crate::auth::Principal;
use crate::error::AppError;
use crate::queue::schedulers::{self, Spec, Switch};

/// Longest period taken (a year, in ms).
const MAX_EVERY_MS: u64 = 366 * 24 * 3_600_000;
/// Longest cron pattern taken.
const MAX_PATTERN_BYTES: usize = 200;
/// Most jobs a scheduler may be limited to.
const MAX_LIMIT: u64 = 1_000_000_000;

/// The scheduler action named `name` (a route's or a form's), or a 400 naming `action`: the
/// same answer on every edge.
pub fn scheduler_action(name: &str) -> Result<app::admin::SchedulerAction, AppError> {
    app::admin::SchedulerAction::parse(name)
        .ok_or_else(|| AppError::param("action", "must be pause, resume, run or remove"))
}

/// The id of a scheduler to create or change: [`scheduler_id`]'s rules and the custom job
/// id's (no `:`, none of the queue's own key names). BullMQ names a scheduler's hash
/// `repeat:<id>` and its jobs `repeat:<id>:<ms>`, so an id holding `:` (`s1:1801389600000`)
/// would name another scheduler's job.
pub fn new_scheduler_id(raw: &str) -> Result<String, AppError> {
    let id = scheduler_id(raw)?;
    if id.contains(':') {
        return Err(AppError::param(
            "id",
            "a scheduler id holds no ':' (BullMQ names its jobs repeat:<id>:<time>)",
        ));
    }
    if crate::queue::keys::is_reserved(&id) {
        return Err(AppError::param(
            "id",
            format!(
                "{:?} is the name of one of the queue's own Redis keys",
                crate::queue::cut(&id, 40)
            ),
        ));
    }
    Ok(id)
}

/// A scheduler id from a path: 1 to 200 bytes, no control characters (an existing scheduler
/// of another program may hold `:`; a new one may not, see [`new_scheduler_id`]).
pub fn scheduler_id(raw: &str) -> Result<String, AppError> {
    if raw.is_empty()
        || raw.chars().count() > MAX_SCHEDULER_ID_BYTES
        || raw.chars().any(char::is_control)
    {
        return Err(AppError::param(
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
        (Some(_), Some(_)) => {
            return Err(AppError::param(
                "every",
                "give a pattern or every, not both",
            ));
        }
        (None, None) => {
            return Err(AppError::param(
                "pattern",
                "give a cron pattern (e.g. 0 */5 * * * *) or every (a period in ms)",
            ));
        }
        (None, Some(every)) => {
            if !(MIN_EVERY_MS..=MAX_EVERY_MS).contains(&every) {
                return Err(AppError::param(
                    "every",
                    format!("must be from {MIN_EVERY_MS} ms to a year ({MAX_EVERY_MS} ms)"),
                ));
            }
            if tz.is_some() {
                return Err(AppError::param(
                    "tz",
                    "a time zone goes with a pattern, not with every",
                ));
            }
        }
        (Some(pattern), None) => {
            if pattern.len() > MAX_PATTERN_BYTES || pattern.chars().any(char::is_control) {
                return Err(AppError::param(
                    "pattern",
                    format!("at most {MAX_PATTERN_BYTES} characters, no control characters"),
                ));
            }
            let now = crate::clock::now_ms();
            if let Some(tz) = tz {
                schedulers::next_fire("* * * * *", Some(tz), now).map_err(|_| {
                    AppError::param(
                        "tz",
                        "must be an IANA time zone such as Europe/Paris or UTC",
                    )
                })?;
            }
            match schedulers::next_fire(pattern, tz, now) {
                Ok(Some(_)) => {}
                Ok(None) => return Err(AppError::param("pattern", "this pattern never fires")),
                // In plain words: the parser's own message names its internals.
                Err(_) => {
                    return Err(AppError::param(
                        "pattern",
                        "not a cron pattern: give 5 fields (minute hour day month weekday), or 6 with seconds first, such as 0 */5 * * * * (every 5 minutes)",
                    ));
                }
            }
        }
    }
    let name = match request.name.as_deref().map(str::trim) {
        None | Some("") => id.to_string(),
        Some(name) if name.len() > MAX_SCHEDULER_ID_BYTES || name.chars().any(char::is_control) => {
            return Err(AppError::param(
                "name",
                format!("1 to {MAX_SCHEDULER_ID_BYTES} bytes without control characters"),
            ));
        }
        Some(name) => name.to_string(),
    };
    let data = match &request.data {
        None => Value::Object(Default::default()),
        Some(Value::Object(fields)) => Value::Object(fields.clone()),
        Some(_) => return Err(AppError::param("data", "must be a JSON object")),
    };
    if serde_json::to_string(&data).map_or(0, |t| t.len()) > max_data {
        return Err(AppError::param(
            "data",
            format!("at most {max_data} bytes of JSON (MAX_FIELD_BYTES)"),
        ));
    }
    if let Some(limit) = request.limit
        && !(1..=MAX_LIMIT).contains(&limit)
    {
        return Err(AppError::param(
            "limit",
            format!("must be from 1 to {MAX_LIMIT}"),
        ));
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

impl Sentinel {
    /// The schedulers of a queue.
    pub async fn schedulers(
        &self,
        who: &Principal,
        queue: Option<&str>,
    ) -> Result<SchedulerList, AppError> {
        let target = self.open(who, Op::ListSchedulers, queue).await?;
        Ok(schedulers::list(&target).await?)
    }

    /// The audit log's target for scheduler `id` of the queue asked for.
    fn scheduler_named(&self, queue: Option<&str>, id: &str) -> String {
        let queue = self.queue_name(queue).map(|q| q.text()).unwrap_or_default();
        format!(
            "{} {}",
            crate::queue::cut(&queue, 300),
            crate::queue::cut(id, 200)
        )
    }

    /// Creates or changes scheduler `id` (its next job is a new job: refused while Redis is
    /// past the memory guard's limit).
    pub async fn upsert_scheduler(
        &self,
        who: &Principal,
        queue: Option<&str>,
        id: &str,
        request: &SchedulerRequest,
    ) -> Result<(), AppError> {
        let result = async {
            self.allow(who, Op::UpsertScheduler).await?;
            let id = new_scheduler_id(id)?;
            let spec = spec_of(&id, request, self.config().limits.max_field_bytes)?;
            let target = self.target(who, queue).await?;
            self.admit_new_jobs().await?;
            schedulers::upsert(&target, &id, &spec).await?;
            self.forget_reads().await;
            Ok(())
        }
        .await;
        let on = self.scheduler_named(queue, id);
        let done = Done {
            action: "scheduler:upsert",
            target: Some(&on),
            count: None,
        };
        self.record(who, done, result, |()| "done".to_string())
            .await
    }

    /// Removes scheduler `id` (404 when there is none).
    pub async fn remove_scheduler(
        &self,
        who: &Principal,
        queue: Option<&str>,
        id: &str,
    ) -> Result<(), AppError> {
        let result = async {
            self.allow(who, Op::RemoveScheduler).await?;
            let id = scheduler_id(id)?;
            let target = self.target(who, queue).await?;
            let removed = schedulers::remove(&target, &id).await?;
            self.forget_reads().await;
            if removed {
                Ok(())
            } else {
                Err(AppError::NoScheduler { id })
            }
        }
        .await;
        let on = self.scheduler_named(queue, id);
        let done = Done {
            action: "scheduler:remove",
            target: Some(&on),
            count: None,
        };
        self.record(who, done, result, |()| "done".to_string())
            .await
    }

    /// Pauses (`true`) or resumes scheduler `id`; whether it changed.
    pub async fn switch_scheduler(
        &self,
        who: &Principal,
        queue: Option<&str>,
        id: &str,
        paused: bool,
    ) -> Result<bool, AppError> {
        let result = async {
            self.allow(who, Op::SwitchScheduler).await?;
            let id = scheduler_id(id)?;
            let target = self.target(who, queue).await?;
            let done = if paused {
                schedulers::pause(&target, &id).await?
            } else {
                schedulers::resume(&target, &id).await?
            };
            self.forget_reads().await;
            match done {
                Switch::Done => Ok(true),
                Switch::Already => Ok(false),
                Switch::Missing => Err(AppError::NoScheduler { id }),
            }
        }
        .await;
        let on = self.scheduler_named(queue, id);
        let done = Done {
            action: if paused {
                "scheduler:pause"
            } else {
                "scheduler:resume"
            },
            target: Some(&on),
            count: None,
        };
        self.record(who, done, result, |changed| {
            if *changed { "done" } else { "already so" }.to_string()
        })
        .await
    }

    /// Adds one job now from scheduler `id`'s template; the job's id. Its own rate limit
    /// (`SENTINEL_RATE_RUN_NOW_PER_MINUTE`) and the memory guard hold: run-now adds jobs to a
    /// queue anyone may have limited.
    pub async fn run_scheduler(
        &self,
        who: &Principal,
        queue: Option<&str>,
        id: &str,
    ) -> Result<String, AppError> {
        let result = async {
            self.allow(who, Op::RunScheduler).await?;
            let id = scheduler_id(id)?;
            let target = self.target(who, queue).await?;
            self.admit_new_jobs().await?;
            let job = schedulers::run_now(&target, &id).await?;
            self.forget_reads().await;
            job.ok_or(AppError::NoScheduler { id })
        }
        .await;
        let on = self.scheduler_named(queue, id);
        let done = Done {
            action: "scheduler:run",
            target: Some(&on),
            count: Some(1),
        };
        self.record(who, done, result, |job| format!("job {job}"))
            .await
    }

    /// One of the typed scheduler actions (the dashboard's buttons, the REST route's
    /// `{action}`); what was done, in words.
    pub async fn scheduler_action(
        &self,
        who: &Principal,
        queue: Option<&str>,
        id: &str,
        action: app::admin::SchedulerAction,
    ) -> Result<String, AppError> {
        use app::admin::SchedulerAction as A;
        match action {
            A::Pause | A::Resume => {
                let paused = action == A::Pause;
                let changed = self.switch_scheduler(who, queue, id, paused).await?;
                let word = if paused { "paused" } else { "resumed" };
                Ok(if changed {
                    format!("{id}: {word}")
                } else {
                    format!("{id}: already {word}")
                })
            }
            A::Run => {
                let job = self.run_scheduler(who, queue, id).await?;
                Ok(format!("{id}: job {job} added"))
            }
            A::Remove => {
                self.remove_scheduler(who, queue, id).await?;
                Ok(format!("{id}: removed"))
            }
        }
    }
}
