//! Rate limits held in Redis, so that every web process takes from the same budget: the
//! generic cell rate algorithm (GCRA, as `governor` and redis-cell use it) in one script. Each
//! limit is one string key holding the theoretical arrival time (TAT, ms) of the next request;
//! a request is let through when `now ≥ TAT − (burst − 1) × interval`, and moves the TAT one
//! interval on. The clock is Redis's (`TIME`), so processes whose clocks differ agree.
//!
//! No crate does this against our Redis client: `governor` is in-process only, and redis-cell
//! is a Redis module most deployments do not load.

use std::time::Duration;

use super::{EngineError, TaskQueue};

/// One limit: its key, and how many requests a minute it lets through (all at once, or spread
/// out).
#[derive(Debug, Clone)]
pub struct Limit {
    /// Its key (see `keys.rs`: `rate:<bucket>:<digest>`).
    pub key: String,
    /// Requests a minute; also the largest burst.
    pub per_minute: u32,
}

/// KEYS: one key per limit. ARGV: per key, its interval (ms) and its burst. Takes one request
/// from every limit, or from none: returns `{0, 0}` when taken, else `{i, wait_ms}` with `i`
/// the 1-based first limit that refused and how long until it would let one through.
pub(super) const RATE_SCRIPT: &str = r#"
local t = redis.call("TIME")
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local next = {}
for i = 1, #KEYS do
  local interval = tonumber(ARGV[2 * i - 1])
  local burst = tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call("GET", KEYS[i]) or "0") or 0
  if tat < now then
    tat = now
  end
  local allowed_at = tat - (burst - 1) * interval
  if now < allowed_at then
    return {i, allowed_at - now}
  end
  next[i] = tat + interval
end
for i = 1, #KEYS do
  redis.call("SET", KEYS[i], next[i], "PX", next[i] - now + 1000)
end
return {0, 0}
"#;

fn rate_script() -> &'static redis::Script {
    static SCRIPT: std::sync::OnceLock<redis::Script> = std::sync::OnceLock::new();
    SCRIPT.get_or_init(|| redis::Script::new(RATE_SCRIPT))
}

/// Adds `limits` to a script invocation: their keys, and their arguments from `first_arg` on.
pub(super) fn arguments(limits: &[Limit]) -> Vec<u64> {
    limits
        .iter()
        .flat_map(|limit| {
            let per_minute = u64::from(limit.per_minute.max(1));
            [60_000_u64.div_ceil(per_minute), per_minute]
        })
        .collect()
}

/// Takes one request from each of `limits` (all or none). `Ok(Err((i, wait)))`: limit `i`
/// refused; try again after `wait`.
pub async fn take(
    queue: &TaskQueue,
    limits: &[Limit],
) -> Result<Result<(), (usize, Duration)>, EngineError> {
    if limits.is_empty() {
        return Ok(Ok(()));
    }
    let mut invocation = rate_script().prepare_invoke();
    for limit in limits {
        invocation.key(&limit.key);
    }
    for arg in arguments(limits) {
        invocation.arg(arg);
    }
    let (refused, wait): (i64, i64) = queue.run_script(&invocation).await?;
    Ok(match usize::try_from(refused) {
        Ok(0) | Err(_) => Ok(()),
        Ok(i) => Err((i - 1, Duration::from_millis(wait.max(1) as u64))),
    })
}
