//! The alert rules' shared storage, beside Sentinel's own queue: which process evaluates the
//! rules (`<prefix>:<queue>:alerts:lease`, a key with an expiry naming its holder), each rule's
//! state (`alerts:state`, a hash: rule name → the state as JSON) and the deliveries' record
//! (`alerts:log`, a stream capped at about [`LOG_MAX_ENTRIES`]).
//!
//! Several processes run the rules; one holds the lease and evaluates, and every write of a
//! rule's state checks the lease in the same script, so a process whose lease ran out while it
//! was evaluating cannot write, and therefore cannot send: a firing is sent once.
//! What is read back is not trusted: a state that does not parse is a rule at rest, fields are
//! cut to a bounded length.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::record::text;
use super::{EngineError, TaskQueue};

/// Deliveries kept in the log (oldest trimmed first).
pub const LOG_MAX_ENTRIES: usize = 1000;
/// Longest field kept of a log entry or a state read back.
const MAX_FIELD: usize = 1024;
/// Longest state value read back.
const MAX_STATE_BYTES: usize = 4096;

/// One rule's state, as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleState {
    /// Since when (ms) the condition has held without firing yet (0: it does not hold).
    #[serde(default)]
    pub pending: u64,
    /// When (ms) it fired, while it fires (0: at rest).
    #[serde(default)]
    pub firing: u64,
    /// When (ms) the last message was sent for this firing.
    #[serde(default)]
    pub sent: u64,
    /// Since when (ms) the condition has not held while firing (0: it holds).
    #[serde(default)]
    pub clear: u64,
    /// When (ms) it last resolved.
    #[serde(default)]
    pub resolved: u64,
    /// What the condition saw last, in words.
    #[serde(default)]
    pub detail: String,
    /// The job the condition saw last (a stuck or stalled job), for a link.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub job: String,
}

/// KEYS: the lease, the state hash. ARGV: this process's id, the rule, the state (JSON).
/// Writes the rule's state only while this process holds the lease; 1 when written.
const WRITE_SCRIPT: &str = r#"
if redis.call("GET", KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call("HSET", KEYS[2], ARGV[2], ARGV[3])
return 1
"#;

/// Takes or renews the evaluator's lease for `me`; whether `me` holds it now.
pub async fn hold_lease(queue: &TaskQueue, me: &str, lease_ms: u64) -> Result<bool, EngineError> {
    super::lease::hold(queue, queue.keys().alerts_lease(), me, lease_ms).await
}

/// Gives the lease up if `me` holds it (at shutdown: another process takes over at once).
pub async fn release_lease(queue: &TaskQueue, me: &str) -> Result<(), EngineError> {
    super::lease::release(queue, queue.keys().alerts_lease(), me).await
}

/// Every rule's stored state; one that does not parse reads as at rest.
pub async fn states(queue: &TaskQueue) -> Result<HashMap<String, RuleState>, EngineError> {
    let mut cmd = redis::cmd("HGETALL");
    cmd.arg(queue.keys().alerts_state());
    let reply: redis::Value = queue.run_cmd(&cmd).await?;
    Ok(super::record::hash_pairs(reply)
        .into_iter()
        .filter(|(name, _)| name.len() <= MAX_FIELD)
        .map(|(name, value)| {
            let state = if value.len() > MAX_STATE_BYTES {
                RuleState::default()
            } else {
                serde_json::from_str::<RuleState>(&value)
                    .map(|mut s| {
                        s.detail = super::cut(&s.detail, MAX_FIELD).to_string();
                        s.job = super::keys::is_job_id(&s.job)
                            .map(|id| id.as_str().to_string())
                            .unwrap_or_default();
                        s
                    })
                    .unwrap_or_default()
            };
            (name, state)
        })
        .collect())
}

/// Writes `rule`'s state if `me` still holds the lease; whether it was written.
pub async fn write_state(
    queue: &TaskQueue,
    me: &str,
    rule: &str,
    state: &RuleState,
) -> Result<bool, EngineError> {
    static CELL: std::sync::OnceLock<redis::Script> = std::sync::OnceLock::new();
    let json = serde_json::to_string(state).unwrap_or_default();
    let mut invocation = super::cached_script(WRITE_SCRIPT, &CELL).prepare_invoke();
    invocation
        .key(queue.keys().alerts_lease())
        .key(queue.keys().alerts_state())
        .arg(me)
        .arg(rule)
        .arg(json);
    let written: i64 = queue.run_script(&invocation).await?;
    Ok(written == 1)
}

/// Forgets the states of rules no longer in the file (only by the lease's holder).
pub async fn forget_states(
    queue: &TaskQueue,
    me: &str,
    rules: &[String],
) -> Result<(), EngineError> {
    static CELL: std::sync::OnceLock<redis::Script> = std::sync::OnceLock::new();
    const FORGET: &str = r#"
if redis.call("GET", KEYS[1]) ~= ARGV[1] then
  return 0
end
for i = 2, #ARGV do
  redis.call("HDEL", KEYS[2], ARGV[i])
end
return 1
"#;
    if rules.is_empty() {
        return Ok(());
    }
    let mut invocation = super::cached_script(FORGET, &CELL).prepare_invoke();
    invocation
        .key(queue.keys().alerts_lease())
        .key(queue.keys().alerts_state())
        .arg(me);
    for rule in rules {
        invocation.arg(rule);
    }
    queue.run_script::<i64>(&invocation).await.map(|_| ())
}

/// An acknowledgement of one firing (`alerts:acks`, rule name → this as JSON).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    /// Who acknowledged it.
    #[serde(default)]
    pub by: String,
    /// When (ms).
    #[serde(default)]
    pub at: u64,
    /// Until when reminders are silenced (ms; 0: until the rule resolves).
    #[serde(default)]
    pub until: u64,
    /// The firing it applies to (its start, ms): a later firing is not acknowledged.
    #[serde(default)]
    pub firing: u64,
}

impl Ack {
    /// Whether it silences the firing that started at `firing`, at `now`.
    pub fn holds(&self, firing: u64, now: u64) -> bool {
        firing > 0 && self.firing == firing && (self.until == 0 || now < self.until)
    }
}

/// Every acknowledgement stored; one that does not parse (or names no person) is none.
pub async fn acks(queue: &TaskQueue) -> Result<HashMap<String, Ack>, EngineError> {
    let mut cmd = redis::cmd("HGETALL");
    cmd.arg(queue.keys().alerts_acks());
    let reply: redis::Value = queue.run_cmd(&cmd).await?;
    Ok(super::record::hash_pairs(reply)
        .into_iter()
        .filter(|(name, value)| name.len() <= MAX_FIELD && value.len() <= MAX_STATE_BYTES)
        .filter_map(|(name, value)| {
            let mut ack = serde_json::from_str::<Ack>(&value).ok()?;
            ack.by = super::cut(&ack.by, 300).to_string();
            (!ack.by.is_empty()).then_some((name, ack))
        })
        .collect())
}

/// Stores an acknowledgement of `rule`'s firing.
pub async fn write_ack(queue: &TaskQueue, rule: &str, ack: &Ack) -> Result<(), EngineError> {
    let mut cmd = redis::cmd("HSET");
    cmd.arg(queue.keys().alerts_acks())
        .arg(rule)
        .arg(serde_json::to_string(ack).unwrap_or_default());
    queue.run_cmd::<i64>(&cmd).await.map(|_| ())
}

/// Forgets `rule`'s acknowledgement (it resolved).
pub async fn forget_ack(queue: &TaskQueue, rule: &str) -> Result<(), EngineError> {
    let mut cmd = redis::cmd("HDEL");
    cmd.arg(queue.keys().alerts_acks()).arg(rule);
    queue.run_cmd::<i64>(&cmd).await.map(|_| ())
}

/// One delivery attempt, as logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The stream entry's id.
    pub id: String,
    /// When (ms).
    pub at: u64,
    /// The rule.
    pub rule: String,
    /// `firing`, `repeat` or `resolved`.
    pub kind: String,
    /// The target's name.
    pub target: String,
    /// Which attempt (1 is the first).
    pub attempt: u32,
    /// `sent`, or why it failed.
    pub outcome: String,
}

/// Logs one delivery attempt.
pub async fn log_delivery(
    queue: &TaskQueue,
    rule: &str,
    kind: &str,
    target: &str,
    attempt: u32,
    outcome: &str,
) -> Result<(), EngineError> {
    let mut cmd = redis::cmd("XADD");
    cmd.arg(queue.keys().alerts_log())
        .arg("MAXLEN")
        .arg("~")
        .arg(LOG_MAX_ENTRIES)
        .arg("*")
        .arg("rule")
        .arg(rule)
        .arg("kind")
        .arg(kind)
        .arg("target")
        .arg(target)
        .arg("attempt")
        .arg(attempt)
        .arg("outcome")
        .arg(super::cut(outcome, MAX_FIELD));
    queue.run_cmd::<redis::Value>(&cmd).await.map(|_| ())
}

/// The last `limit` delivery attempts, newest first.
pub async fn deliveries(queue: &TaskQueue, limit: usize) -> Result<Vec<Delivery>, EngineError> {
    let mut cmd = redis::cmd("XREVRANGE");
    cmd.arg(queue.keys().alerts_log())
        .arg("+")
        .arg("-")
        .arg("COUNT")
        .arg(limit.clamp(1, LOG_MAX_ENTRIES));
    let reply: redis::Value = queue.run_cmd(&cmd).await?;
    Ok(super::stream::raw_entries(reply)
        .into_iter()
        .filter_map(|(id, pairs)| {
            let field = |name: &str| super::stream::field(&pairs, name, MAX_FIELD);
            Some(Delivery {
                id: id.to_string(),
                at: id.ms(),
                rule: field("rule")?,
                kind: field("kind")?,
                target: field("target")?,
                attempt: field("attempt")?.parse().ok()?,
                outcome: field("outcome")?,
            })
        })
        .collect())
}

/// Jobs of the queue that finished since `since_ms`: (completed, failed). Finished jobs are
/// scored by when they finished.
pub async fn finished_since(queue: &TaskQueue, since_ms: u64) -> Result<(u64, u64), EngineError> {
    let keys = queue.keys();
    let mut pipe = redis::pipe();
    pipe.cmd("ZCOUNT")
        .arg(keys.completed())
        .arg(since_ms)
        .arg("+inf");
    pipe.cmd("ZCOUNT")
        .arg(keys.failed())
        .arg(since_ms)
        .arg("+inf");
    let (completed, failed): (u64, u64) = queue.run(&pipe).await?;
    Ok((completed, failed))
}

/// Active jobs looked at, at most, for the longest-running one.
const ACTIVE_LOOKED_AT: isize = 200;

/// The active job that started longest ago (of the first 200) and when it started (ms).
pub async fn longest_active(queue: &TaskQueue) -> Result<Option<(String, u64)>, EngineError> {
    let mut cmd = redis::cmd("LRANGE");
    cmd.arg(queue.keys().active())
        .arg(0)
        .arg(ACTIVE_LOOKED_AT - 1);
    let reply: redis::Value = queue.run_cmd(&cmd).await?;
    let redis::Value::Array(items) = reply else {
        return Ok(None);
    };
    let ids: Vec<app::JobId> = items
        .iter()
        .filter_map(text)
        .filter_map(|id| app::JobId::parse(&id).ok())
        .collect();
    if ids.is_empty() {
        return Ok(None);
    }
    let mut pipe = redis::pipe();
    for id in &ids {
        pipe.cmd("HGET")
            .arg(queue.keys().job(id))
            .arg("processedOn");
    }
    let started: Vec<redis::Value> = queue.run(&pipe).await?;
    Ok(ids
        .iter()
        .zip(started)
        .filter_map(|(id, at)| {
            let at = text(&at)?.parse::<u64>().ok()?;
            Some((id.as_str().to_string(), at))
        })
        .min_by_key(|(_, at)| *at))
}

/// The newest `stalled` event of the queue since `since_ms` (of its last 1,000 events): the
/// job's id and when.
pub async fn last_stalled(
    queue: &TaskQueue,
    since_ms: u64,
) -> Result<Option<(String, u64)>, EngineError> {
    let mut cmd = redis::cmd("XREVRANGE");
    cmd.arg(queue.keys().events())
        .arg("+")
        .arg(format!("{since_ms}-0"))
        .arg("COUNT")
        .arg(1000);
    let reply: redis::Value = queue.run_cmd(&cmd).await?;
    // Read as the event stream's readers read it: the job id only when it is a valid one.
    let events = super::stream::parse_entries(reply, &super::stream::EventLimits::default());
    Ok(events
        .into_iter()
        .find(|event| event.name.as_deref() == Some("stalled"))
        .map(|event| (event.job_id.unwrap_or_default(), event.id.ms())))
}
