//! A queue's job schedulers (BullMQ's repeatable jobs). They are listed from BullMQ's own keys
//! (the `repeat` set, scored by next run, and one hash per scheduler), read bounded and
//! leniently since Node writes them too; created and changed with the engine's
//! `upsertJobScheduler` and removed with its `removeJobScheduler` (the same Lua scripts as Node
//! BullMQ's), so Node reads what Sentinel writes and the other way round.
//!
//! BullMQ has no pause for a scheduler. Sentinel pauses one by keeping its definition in a hash
//! of its own (`<prefix>:<queue>:schedulers:paused`) and removing it from BullMQ, which also
//! removes its next job: no worker, Node's or ours, can run it while paused. Resuming upserts it
//! again from that definition (its next run counted from then, its iteration count from zero).

use app::admin::{Scheduler, SchedulerList};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::record::hash_pairs;
use super::{CALL_TIMEOUT, EngineError, TaskQueue, bounded};

/// Most schedulers one list holds (active and paused alike).
pub const MAX_LISTED: usize = 500;

/// A scheduler's definition, checked: what an upsert writes and a pause keeps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spec {
    /// A cron pattern, or `None` with `every`.
    pub pattern: Option<String>,
    /// A period in ms, or `None` with `pattern`.
    pub every: Option<u64>,
    /// The pattern's time zone.
    pub tz: Option<String>,
    /// The name of the jobs it makes.
    pub name: String,
    /// Their data.
    pub data: Value,
    /// Most jobs it makes.
    pub limit: Option<u64>,
}

/// When the cron `pattern` (in `tz`, UTC when `None`) next fires after `now_ms`; `Err` with the
/// engine's words when the pattern or the zone is not valid.
pub fn next_fire(pattern: &str, tz: Option<&str>, now_ms: u64) -> Result<Option<u64>, String> {
    bullmq::job_scheduler::next_cron_millis(pattern, now_ms, tz, None).map_err(|e| e.to_string())
}

/// The time between two runs of a scheduler: `every`, or the gap after `next` of its pattern.
fn period(pattern: Option<&str>, every: Option<u64>, tz: Option<&str>, next: u64) -> Option<u64> {
    match (every, pattern) {
        (Some(every), _) => Some(every),
        (None, Some(pattern)) => next_fire(pattern, tz, next)
            .ok()
            .flatten()
            .map(|after| after.saturating_sub(next)),
        (None, None) => None,
    }
}

/// A field of a scheduler's hash as a number.
fn number(fields: &[(String, String)], name: &str) -> Option<u64> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .and_then(|(_, v)| v.trim().parse().ok())
}

/// A field of a scheduler's hash as text of at most `max` bytes.
fn text(fields: &[(String, String)], name: &str, max: usize) -> Option<String> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| super::cut(v, max).to_string())
        .filter(|v| !v.is_empty())
}

/// The template data of a scheduler's hash: its JSON when it is JSON within `max` bytes, else
/// a note of what it was.
fn data(fields: &[(String, String)], max: usize) -> Value {
    match fields.iter().find(|(k, _)| k == "data") {
        None => Value::Object(Default::default()),
        Some((_, raw)) if raw.len() > max => {
            serde_json::json!({ "truncated": true, "bytes": raw.len() })
        }
        Some((_, raw)) => serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.clone())),
    }
}

/// The scheduler `id`'s definition as its hash holds it, if it has one Sentinel can redo.
fn spec_of(id: &str, fields: &[(String, String)], max: usize) -> Option<Spec> {
    let pattern = text(fields, "pattern", 1024);
    let every = number(fields, "every");
    if pattern.is_none() && every.is_none() {
        return None;
    }
    Some(Spec {
        pattern,
        every,
        tz: text(fields, "tz", 128),
        name: text(fields, "name", app::admin::MAX_SCHEDULER_ID_BYTES)
            .unwrap_or_else(|| id.to_string()),
        data: data(fields, max),
        limit: number(fields, "limit"),
    })
}

/// The first read of a list: schedulers with their next run, how many there are, how many are
/// paused, and a scan step of the paused ones.
type Head = (Vec<(String, f64)>, u64, u64, (u64, Vec<(String, String)>));

/// The queue's schedulers: the first [`MAX_LISTED`] by next run, then the paused ones.
pub async fn list(queue: &TaskQueue) -> Result<SchedulerList, EngineError> {
    let keys = queue.keys();
    let max = queue.max_field_bytes();
    let mut head = redis::pipe();
    head.cmd("ZRANGE")
        .arg(keys.repeat())
        .arg(0)
        .arg(MAX_LISTED as i64 - 1)
        .arg("WITHSCORES")
        .cmd("ZCARD")
        .arg(keys.repeat())
        .cmd("HLEN")
        .arg(keys.paused_schedulers())
        .cmd("HSCAN")
        .arg(keys.paused_schedulers())
        .arg(0)
        .arg("COUNT")
        .arg(MAX_LISTED);
    let (listed, active, paused, (_, paused_defs)): Head = queue.run(&head).await?;
    let mut hashes = redis::pipe();
    for (id, _) in &listed {
        hashes.cmd("HGETALL").arg(keys.scheduler(id));
    }
    let replies: Vec<redis::Value> = if listed.is_empty() {
        Vec::new()
    } else {
        queue.run(&hashes).await?
    };
    let now = crate::clock::now_ms();
    let mut schedulers: Vec<Scheduler> = Vec::new();
    for ((id, score), reply) in listed.into_iter().zip(replies) {
        let fields = hash_pairs(reply);
        if fields.is_empty() {
            continue;
        }
        let next = (score.is_finite() && score >= 0.0).then_some(score as u64);
        let pattern = text(&fields, "pattern", 1024);
        let every = number(&fields, "every");
        let tz = text(&fields, "tz", 128);
        let iterations = number(&fields, "ic").unwrap_or(0);
        let gap = next.and_then(|n| period(pattern.as_deref(), every, tz.as_deref(), n));
        let late = matches!((next, gap), (Some(next), Some(gap)) if now > next.saturating_add(gap));
        let last = match (next, every) {
            (Some(next), Some(every)) if iterations > 1 => Some(next.saturating_sub(every)),
            _ => None,
        };
        schedulers.push(Scheduler {
            name: text(&fields, "name", app::admin::MAX_SCHEDULER_ID_BYTES)
                .unwrap_or_else(|| id.clone()),
            id: super::cut(&id, app::admin::MAX_SCHEDULER_ID_BYTES).to_string(),
            pattern,
            every,
            tz,
            next,
            last,
            iterations,
            limit: number(&fields, "limit"),
            data: data(&fields, max),
            paused: false,
            late,
        });
    }
    for (id, raw) in paused_defs.into_iter().take(MAX_LISTED) {
        // Another program's oversized value there is skipped, not parsed.
        if raw.len() > max.saturating_mul(2) + 4096 {
            continue;
        }
        let Ok(spec) = serde_json::from_str::<Spec>(&raw) else {
            continue;
        };
        schedulers.push(Scheduler {
            id: super::cut(&id, app::admin::MAX_SCHEDULER_ID_BYTES).to_string(),
            name: spec.name,
            pattern: spec.pattern,
            every: spec.every,
            tz: spec.tz,
            next: None,
            last: None,
            iterations: 0,
            limit: spec.limit,
            data: spec.data,
            paused: true,
            late: false,
        });
    }
    Ok(SchedulerList {
        schedulers,
        total: active + paused,
    })
}

/// Creates scheduler `id` or changes it (the engine's `upsertJobScheduler`): its next job is
/// made (or moved) in the same script. A paused scheduler stays paused, with the new definition.
pub async fn upsert(queue: &TaskQueue, id: &str, spec: &Spec) -> Result<(), EngineError> {
    let mut cmd = redis::cmd("HEXISTS");
    cmd.arg(queue.keys().paused_schedulers()).arg(id);
    if queue.run_cmd::<bool>(&cmd).await? {
        return keep_paused(queue, id, spec).await;
    }
    let repeat = bullmq::job_scheduler::RepeatOptions {
        pattern: spec.pattern.clone(),
        every: spec.every,
        limit: spec.limit,
        tz: spec.tz.clone(),
        ..Default::default()
    };
    bounded(
        CALL_TIMEOUT,
        queue.engine().upsert_job_scheduler(
            id,
            repeat,
            Some(&spec.name),
            Some(spec.data.clone()),
            None,
        ),
    )
    .await?;
    Ok(())
}

async fn keep_paused(queue: &TaskQueue, id: &str, spec: &Spec) -> Result<(), EngineError> {
    let json = serde_json::to_string(spec).unwrap_or_default();
    let mut cmd = redis::cmd("HSET");
    cmd.arg(queue.keys().paused_schedulers()).arg(id).arg(json);
    queue.run_cmd::<()>(&cmd).await
}

/// Removes scheduler `id` (and its next job), paused or not; `false` when there is none.
pub async fn remove(queue: &TaskQueue, id: &str) -> Result<bool, EngineError> {
    let mut cmd = redis::cmd("HDEL");
    cmd.arg(queue.keys().paused_schedulers()).arg(id);
    let was_paused: u64 = queue.run_cmd(&cmd).await?;
    let removed = bounded(CALL_TIMEOUT, queue.engine().remove_job_scheduler(id)).await?;
    Ok(removed || was_paused > 0)
}

/// Scheduler `id`'s definition from BullMQ's hash, if it exists.
async fn current(queue: &TaskQueue, id: &str) -> Result<Option<Spec>, EngineError> {
    let mut cmd = redis::cmd("HGETALL");
    cmd.arg(queue.keys().scheduler(id));
    let fields = hash_pairs(queue.run_cmd(&cmd).await?);
    Ok(spec_of(id, &fields, queue.max_field_bytes()))
}

/// What a pause or a resume found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Switch {
    /// Done.
    Done,
    /// It already was so.
    Already,
    /// No such scheduler.
    Missing,
}

/// Pauses scheduler `id`: its definition kept in Sentinel's hash, then the scheduler and its
/// next job removed from BullMQ.
pub async fn pause(queue: &TaskQueue, id: &str) -> Result<Switch, EngineError> {
    let Some(spec) = current(queue, id).await? else {
        let mut cmd = redis::cmd("HEXISTS");
        cmd.arg(queue.keys().paused_schedulers()).arg(id);
        return Ok(if queue.run_cmd::<bool>(&cmd).await? {
            Switch::Already
        } else {
            Switch::Missing
        });
    };
    keep_paused(queue, id, &spec).await?;
    bounded(CALL_TIMEOUT, queue.engine().remove_job_scheduler(id)).await?;
    Ok(Switch::Done)
}

/// Resumes scheduler `id` from its kept definition.
pub async fn resume(queue: &TaskQueue, id: &str) -> Result<Switch, EngineError> {
    let mut cmd = redis::cmd("HGET");
    cmd.arg(queue.keys().paused_schedulers()).arg(id);
    let kept: Option<String> = queue.run_cmd(&cmd).await?;
    let Some(spec) = kept.and_then(|raw| serde_json::from_str::<Spec>(&raw).ok()) else {
        return Ok(if current(queue, id).await?.is_some() {
            Switch::Already
        } else {
            Switch::Missing
        });
    };
    let mut forget = redis::cmd("HDEL");
    forget.arg(queue.keys().paused_schedulers()).arg(id);
    queue.run_cmd::<()>(&forget).await?;
    upsert(queue, id, &spec).await?;
    Ok(Switch::Done)
}

/// Adds one job now from scheduler `id`'s template (its name and data), leaving its schedule as
/// it is; the new job's id, or `None` when there is no such scheduler.
pub async fn run_now(queue: &TaskQueue, id: &str) -> Result<Option<String>, EngineError> {
    let spec = match current(queue, id).await? {
        Some(spec) => Some(spec),
        None => {
            let mut cmd = redis::cmd("HGET");
            cmd.arg(queue.keys().paused_schedulers()).arg(id);
            let kept: Option<String> = queue.run_cmd(&cmd).await?;
            kept.and_then(|raw| serde_json::from_str::<Spec>(&raw).ok())
        }
    };
    let Some(spec) = spec else {
        return Ok(None);
    };
    let job = bounded(
        CALL_TIMEOUT,
        queue.engine().add(&spec.name, spec.data).into_future(),
    )
    .await?;
    Ok(Some(job.id().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cron_period_is_the_gap_after_the_next_run() {
        // Every five minutes: the period after any run is five minutes.
        let next = 1_700_000_100_000;
        assert_eq!(
            period(Some("0 */5 * * * *"), None, None, next),
            Some(300_000)
        );
        assert_eq!(period(None, Some(60_000), None, next), Some(60_000));
        assert!(next_fire("not a pattern", None, next).is_err());
        assert!(next_fire("* * * * *", Some("Mars/Olympus"), next).is_err());
        assert!(
            next_fire("* * * * *", Some("Europe/Paris"), next)
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn hostile_hashes_read_as_schedulers_with_bounded_fields() {
        let fields = vec![
            ("pattern".to_string(), "p".repeat(5000)),
            ("name".to_string(), "n".repeat(5000)),
            ("data".to_string(), "x".repeat(100)),
            ("limit".to_string(), "lots".to_string()),
        ];
        let spec = spec_of("s", &fields, 50).expect("a pattern");
        assert_eq!(spec.pattern.unwrap().len(), 1024);
        assert_eq!(spec.name.len(), app::admin::MAX_SCHEDULER_ID_BYTES);
        assert_eq!(spec.data["truncated"], true);
        assert_eq!(spec.limit, None);
        assert!(spec_of("s", &[("name".into(), "n".into())], 50).is_none());
    }
}
