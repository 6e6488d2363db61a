//! A lease: a key with an expiry naming the one process that does a job for every process
//! (evaluating the alert rules, collecting the history). The holder renews it on each round;
//! when it stops renewing (it died, or Redis was away), another process takes it after the
//! expiry. Every write the job makes checks the lease in the same script.

use super::{EngineError, TaskQueue};

/// KEYS: the lease. ARGV: this process's id, the lease's length (ms).
/// Renews the lease when this process holds it, takes it when nobody does; 1 when held.
const HOLD: &str = r#"
local holder = redis.call("GET", KEYS[1])
if holder == ARGV[1] then
  redis.call("PEXPIRE", KEYS[1], ARGV[2])
  return 1
end
if not holder then
  redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2])
  return 1
end
return 0
"#;

/// KEYS: the lease. ARGV: this process's id. Deletes the lease when this process holds it.
const RELEASE: &str = r#"
if redis.call("GET", KEYS[1]) == ARGV[1] then
  redis.call("DEL", KEYS[1])
end
return 1
"#;

/// Takes or renews the lease `key` for `me` (for `ms`); whether `me` holds it now.
pub async fn hold(queue: &TaskQueue, key: String, me: &str, ms: u64) -> Result<bool, EngineError> {
    static CELL: std::sync::OnceLock<redis::Script> = std::sync::OnceLock::new();
    let mut invocation = super::cached_script(HOLD, &CELL).prepare_invoke();
    invocation.key(key).arg(me).arg(ms.max(1));
    let held: i64 = queue.run_script(&invocation).await?;
    Ok(held == 1)
}

/// Gives the lease `key` up if `me` holds it (at shutdown: another process takes over at once).
pub async fn release(queue: &TaskQueue, key: String, me: &str) -> Result<(), EngineError> {
    static CELL: std::sync::OnceLock<redis::Script> = std::sync::OnceLock::new();
    let mut invocation = super::cached_script(RELEASE, &CELL).prepare_invoke();
    invocation.key(key).arg(me);
    queue.run_script::<i64>(&invocation).await.map(|_| ())
}
