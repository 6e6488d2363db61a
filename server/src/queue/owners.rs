//! Owners' indexes: the ids of each owner's jobs (newest last), what a submitter's list and
//! its pending quota are read from, with the reservations that hold the quota across
//! processes, and the enqueue rate taken in the same script.

use std::time::Duration;

use super::{EngineError, TaskQueue, id_list, limits};

impl TaskQueue {
    /// The ids of `owner`'s most recent jobs, newest first (at most `limit`).
    pub async fn owned_ids(&self, owner: &str, limit: usize) -> Result<Vec<String>, EngineError> {
        let mut cmd = redis::cmd("ZREVRANGE");
        cmd.arg(self.keys.owner(owner))
            .arg(0)
            .arg(limit.saturating_sub(1));
        Ok(id_list(self.run_cmd(&cmd).await?))
    }

    /// Takes one enqueue from each rate limit of `rates` and reserves a place for one more
    /// pending job in each of these indexes (an owner's, and an anonymous client network's),
    /// each held to `max` jobs waiting or running: counted and reserved in one script, so
    /// parallel requests and several processes cannot overshoot either together. A rate that
    /// refuses takes nothing; a pending quota that refuses reserves nothing (the rate is
    /// taken). The place is held until [`Self::settle`] (or for [`RESERVATION_MS`] if this
    /// process dies before it). Ids of jobs that finished or are gone leave the indexes as
    /// they are counted.
    pub async fn reserve(
        &self,
        indexes: &[String],
        max: u64,
        rates: &[limits::Limit],
    ) -> Result<Result<Reservation, Refusal>, EngineError> {
        let mut bytes = [0u8; 12];
        let _ = getrandom::fill(&mut bytes);
        // Never a job id: ids have no ':'.
        let member = format!("r:{}", app::url::hex(bytes));
        let mut invocation = reserve_script().prepare_invoke();
        for index in indexes {
            invocation.key(index);
        }
        for rate in rates {
            invocation.key(&rate.key);
        }
        invocation
            .arg(self.keys.base())
            .arg(max)
            .arg(crate::clock::now_ms())
            .arg(&member)
            .arg(RESERVATION_MS)
            .arg(OWNER_INDEX_LEN)
            .arg(indexes.len());
        for arg in limits::arguments(rates) {
            invocation.arg(arg);
        }
        let mut conn = self.queue.connection().connection();
        let (code, wait): (i64, i64) = self.timed(invocation.invoke_async(&mut conn)).await?;
        Ok(match code {
            0 => Ok(Reservation {
                indexes: indexes.to_vec(),
                member,
            }),
            n if n > 0 => Err(Refusal::Pending(n as usize - 1)),
            n => Err(Refusal::Rate(
                (-n) as usize - 1,
                Duration::from_millis(wait.max(1) as u64),
            )),
        })
    }

    /// Turns a reservation into job `id` (it was added) or gives it back (`None`: the add
    /// failed), keeping each index to its last [`OWNER_INDEX_LEN`] entries.
    pub async fn settle(
        &self,
        reservation: Reservation,
        id: Option<&str>,
    ) -> Result<(), EngineError> {
        let now = crate::clock::now_ms();
        let mut pipe = redis::pipe();
        for index in &reservation.indexes {
            pipe.cmd("ZREM")
                .arg(index)
                .arg(&reservation.member)
                .ignore();
            if let Some(id) = id {
                pipe.cmd("ZADD")
                    .arg(index)
                    .arg("NX")
                    .arg(now)
                    .arg(id)
                    .ignore();
                pipe.cmd("ZREMRANGEBYRANK")
                    .arg(index)
                    .arg(0)
                    .arg(-(OWNER_INDEX_LEN as i64) - 1)
                    .ignore();
            }
        }
        self.run(&pipe).await
    }
}

/// Longest owner index kept: more than the most pending jobs an owner may have, plus room for
/// recent finished ones (they leave it as they are found).
pub const OWNER_INDEX_LEN: usize = 1000;

/// How long a place reserved by [`TaskQueue::reserve`] holds when nobody settles it (a process
/// that died between the reservation and the add): far longer than an add may take.
pub const RESERVATION_MS: u64 = 30_000;

/// A place reserved for one job in owners' indexes, until [`TaskQueue::settle`].
#[derive(Debug)]
pub struct Reservation {
    indexes: Vec<String>,
    member: String,
}

/// Why a reservation was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Rate limit `i` (of those given) said to wait this long.
    Rate(usize, Duration),
    /// Index `i` (of those given) holds its most pending jobs.
    Pending(usize),
}

/// KEYS: the indexes (sorted sets of job ids and reservations, scored by when added), then
/// the rate limits (see `limits.rs`). ARGV: the queue's key base (`<prefix>:<queue>:`), the
/// most pending per index, now (ms), the reservation's member, how long a reservation holds
/// (ms), the longest index kept, the number of indexes, then each rate limit's interval and
/// burst. The rates are checked first (Redis's clock) and, when they all let the request
/// through, taken; then each index's jobs that exist and have not finished plus its live
/// reservations are counted (finished or gone jobs and stale reservations are dropped on the
/// way), and the place is reserved only when every index allows.
/// Returns `{0, 0}` when taken, `{i, 0}` for the 1-based index at its limit, `{-i, wait_ms}`
/// for the 1-based rate limit that refused.
const RESERVE_SCRIPT: &str = r#"
local base = ARGV[1]
local max = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local ttl = tonumber(ARGV[5])
local keep = tonumber(ARGV[6])
local n = tonumber(ARGV[7])
local t = redis.call("TIME")
local clock = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local tats = {}
for r = 1, #KEYS - n do
  local interval = tonumber(ARGV[6 + 2 * r])
  local burst = tonumber(ARGV[7 + 2 * r])
  local tat = tonumber(redis.call("GET", KEYS[n + r]) or "0") or 0
  if tat < clock then
    tat = clock
  end
  local allowed_at = tat - (burst - 1) * interval
  if clock < allowed_at then
    return {-r, allowed_at - clock}
  end
  tats[r] = tat + interval
end
-- A request the rates let through counts against them even when the pending quota refuses
-- it: a flood of refused requests is still a flood.
for r = 1, #KEYS - n do
  redis.call("SET", KEYS[n + r], tats[r], "PX", tats[r] - clock + 1000)
end
for i = 1, n do
  local entries = redis.call("ZREVRANGE", KEYS[i], 0, keep + max, "WITHSCORES")
  local pending = 0
  for j = 1, #entries, 2 do
    local member = entries[j]
    if string.sub(member, 1, 2) == "r:" then
      if tonumber(entries[j + 1]) + ttl < now then
        redis.call("ZREM", KEYS[i], member)
      else
        pending = pending + 1
      end
    else
      local job = redis.call("HMGET", base .. member, "timestamp", "finishedOn")
      if job[1] and not job[2] then
        pending = pending + 1
      else
        redis.call("ZREM", KEYS[i], member)
      end
    end
  end
  if pending >= max then
    return {i, 0}
  end
end
for i = 1, n do
  redis.call("ZADD", KEYS[i], now, ARGV[4])
end
return {0, 0}
"#;

fn reserve_script() -> &'static redis::Script {
    static SCRIPT: std::sync::OnceLock<redis::Script> = std::sync::OnceLock::new();
    SCRIPT.get_or_init(|| redis::Script::new(RESERVE_SCRIPT))
}
