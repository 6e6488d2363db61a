//! "Why isn't this job running?": every reason that holds now for one job, read in two round
//! trips (the job with its state and place, then the queue's pause flag, rate limit, global
//! concurrency, running jobs and the job's lock) and the workers seen on the queue. The deciding
//! reason comes first: a finished or running job says so; a delayed one says until when; a
//! waiting one meets, in order, a paused queue, no worker, a rate limit, the global concurrency,
//! busy workers, jobs ahead of it, and (on Sentinel's own queue) a name no processor takes.

use app::JobId;
use app::admin::{WhyReason, WhyReport};
use app::types::JobState;

use super::{EngineError, TaskQueue};

fn reason(code: &str, message: impl Into<String>) -> WhyReason {
    WhyReason {
        code: code.to_string(),
        message: message.into(),
    }
}

/// Seconds from `now` to `at`, in words.
fn from_now(at: u64, now: u64) -> String {
    if at <= now {
        "now".to_string()
    } else {
        format!("in {} s", (at - now).div_ceil(1000))
    }
}

/// The reasons for job `id`, or `None` when there is no such job.
pub async fn diagnose(
    queue: &TaskQueue,
    id: &JobId,
    processors: &[String],
) -> Result<Option<WhyReport>, EngineError> {
    let Some((found, record)) = queue.status_and_record(id).await? else {
        return Ok(None);
    };
    let status = found.status;
    let name = record.summary().name;
    let keys = queue.keys();
    let mut pipe = redis::pipe();
    pipe.ignore_errors()
        .cmd("HGET")
        .arg(keys.meta())
        .arg("paused")
        .cmd("HGET")
        .arg(keys.meta())
        .arg("concurrency")
        .cmd("PTTL")
        .arg(keys.limiter())
        .cmd("LLEN")
        .arg(keys.active())
        .cmd("PTTL")
        .arg(keys.job_lock(id));
    let replies: Vec<redis::RedisResult<redis::Value>> = queue.run(&pipe).await?;
    let int = |i: usize| match replies.get(i) {
        Some(Ok(redis::Value::Int(n))) => Some(*n),
        Some(Ok(value)) => super::record::text(value).and_then(|t| t.trim().parse::<i64>().ok()),
        _ => None,
    };
    let paused = matches!(replies.first(), Some(Ok(v)) if !matches!(v, redis::Value::Nil));
    let concurrency = int(1).filter(|n| *n > 0);
    let limited_ms = int(2).filter(|ms| *ms > 0);
    let running = int(3).unwrap_or(0).max(0);
    let lock_ms = int(4);
    let workers = super::inspect::workers(queue).await?.workers;
    let now = crate::clock::now_ms();
    let mut reasons = Vec::new();
    let state = status.state;
    match state {
        JobState::Completed | JobState::Failed => {
            let when = status
                .finished_on
                .map(|at| format!(" {} s ago", now.saturating_sub(at) / 1000))
                .unwrap_or_default();
            let how = match (&status.failed_reason, state) {
                (Some(why), JobState::Failed) => {
                    format!("failed{when}: {}", super::cut(why, 200))
                }
                _ => format!("{state}{when}"),
            };
            reasons.push(reason("finished", format!("It already ran: {how}.")));
        }
        JobState::Active => {
            let since = status
                .processed_on
                .map(|at| format!(" for {} s", now.saturating_sub(at) / 1000))
                .unwrap_or_default();
            reasons.push(reason("running", format!("It is running{since}.")));
            if lock_ms.is_none_or(|ms| ms < 0) {
                reasons.push(reason(
                    "lock-lost",
                    "Its worker no longer holds its lock (the worker stopped or stalled): the next stalled-job check moves it back to waiting, or fails it past its stall limit.",
                ));
            }
        }
        JobState::Delayed => {
            let until = status
                .delayed_until
                .map(|at| format!(" until {} ({})", at, from_now(at, now)))
                .unwrap_or_default();
            reasons.push(reason(
                "delayed",
                format!("It is delayed{until}: it waits its turn after that."),
            ));
        }
        JobState::WaitingChildren => reasons.push(reason(
            "waiting-children",
            "It waits for its child jobs to finish (a flow's parent).",
        )),
        _ => {}
    }
    let waits = !matches!(
        state,
        JobState::Completed | JobState::Failed | JobState::Active
    );
    if waits {
        if paused {
            reasons.push(reason(
                "queue-paused",
                "The queue is paused: no worker takes a job until it is resumed.",
            ));
        }
        if workers.is_empty() {
            reasons.push(reason(
                "no-worker",
                "No worker is connected to this queue: jobs wait until one starts.",
            ));
        }
        if let Some(ms) = limited_ms {
            reasons.push(reason(
                "rate-limited",
                format!(
                    "The queue is rate-limited for {} s more.",
                    (ms as u64).div_ceil(1000)
                ),
            ));
        }
        if let Some(max) = concurrency
            && running >= max
        {
            reasons.push(reason(
                "concurrency-reached",
                format!("The queue's global concurrency ({max}) is reached: {running} jobs run."),
            ));
        }
        let slots: Option<usize> = workers.iter().map(|w| w.concurrency).sum();
        let busy: usize = workers.iter().filter_map(|w| w.busy).sum();
        if let Some(slots) = slots
            && slots > 0
            && busy >= slots
        {
            reasons.push(reason(
                "workers-busy",
                format!("Every worker slot is busy ({busy} of {slots})."),
            ));
        }
        if let Some(ahead) = status.jobs_ahead.filter(|n| *n > 0) {
            let bound = if ahead >= app::types::MAX_COUNTED_AHEAD {
                "at least "
            } else {
                ""
            };
            reasons.push(reason(
                "jobs-ahead",
                format!("{bound}{ahead} jobs are ahead of it."),
            ));
        }
        if queue.is_ours() && !processors.contains(&name) {
            reasons.push(reason(
                "no-processor",
                format!(
                    "Sentinel's workers have no processor for job name {:?}: it fails when one takes it.",
                    super::cut(&name, 100)
                ),
            ));
        }
        if reasons.is_empty() {
            reasons.push(reason("next", "Nothing holds it: a worker takes it next."));
        }
    }
    Ok(Some(WhyReport {
        id: id.to_string(),
        state,
        reasons,
    }))
}
