//! Owners' jobs and quotas: the ids of each owner's recent jobs (newest last, what a
//! submitter's list is read from), and the pending sets the quota of jobs waiting or running is
//! held by (an owner's, and an anonymous client network's), with the reservations that hold a
//! place across processes, and the enqueue rate taken in the same script.
//!
//! The reservation is the only Redis call of an enqueue before the add: the pending set is
//! counted with `ZCARD`, and only a set at its limit is pruned of jobs that finished or are gone
//! (then its oldest members' jobs are read). Turning the reservation into the job (and the owner's
//! listing entry) is written behind the enqueue, batched with other enqueues' (`writes.rs`).

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
    /// pending job in each of the `pending` sets (an owner's, and an anonymous client network's),
    /// each held to `max` jobs waiting or running: counted and reserved in one script, so
    /// parallel requests and several processes cannot overshoot either together. A rate that
    /// refuses takes nothing; a pending quota that refuses reserves nothing (the rate is taken).
    /// The place is held until the reservation is settled (or for [`RESERVATION_MS`] if this
    /// process dies before). `listing` is the owner's list of recent jobs the settled job joins.
    pub async fn reserve(
        &self,
        pending: &[String],
        listing: Option<String>,
        max: u64,
        rates: &[limits::Limit],
    ) -> Result<Result<Reservation, Refusal>, EngineError> {
        let mut bytes = [0u8; 12];
        let _ = getrandom::fill(&mut bytes);
        // Never a job id: ids have no ':'.
        let member = format!("r:{}", app::url::hex(bytes));
        let mut invocation = reserve_script().prepare_invoke();
        for set in pending {
            invocation.key(set);
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
            .arg(pending.len());
        for arg in limits::arguments(rates) {
            invocation.arg(arg);
        }
        invocation.arg(PRUNE_AT_MOST);
        let (code, wait): (i64, i64) = self.run_script(&invocation).await?;
        Ok(match code {
            0 => Ok(Reservation {
                pending: pending.to_vec(),
                listing,
                member,
            }),
            n if n > 0 => Err(Refusal::Pending(n as usize - 1)),
            n => Err(Refusal::Rate(
                (-n) as usize - 1,
                Duration::from_millis(wait.max(1) as u64),
            )),
        })
    }

    /// Adds to `pipe` what turns a reservation into job `id` (it was added) or gives it back
    /// (`None`: the add failed): the place becomes the job in each pending set, and the job
    /// joins its owner's listing, kept to its last [`OWNER_INDEX_LEN`] entries.
    pub(super) fn settle_into(
        pipe: &mut redis::Pipeline,
        reservation: &Reservation,
        id: Option<&str>,
        now: u64,
    ) {
        for set in &reservation.pending {
            pipe.cmd("ZREM").arg(set).arg(&reservation.member).ignore();
            if let Some(id) = id {
                pipe.cmd("ZADD")
                    .arg(set)
                    .arg("NX")
                    .arg(now)
                    .arg(id)
                    .ignore();
            }
        }
        if let (Some(listing), Some(id)) = (&reservation.listing, id) {
            pipe.cmd("ZADD")
                .arg(listing)
                .arg("NX")
                .arg(now)
                .arg(id)
                .ignore();
            pipe.cmd("ZREMRANGEBYRANK")
                .arg(listing)
                .arg(0)
                .arg(-(OWNER_INDEX_LEN as i64) - 1)
                .ignore();
        }
    }

    /// Turns a reservation into job `id`, or gives it back, now (one round trip).
    pub async fn settle(
        &self,
        reservation: Reservation,
        id: Option<&str>,
    ) -> Result<(), EngineError> {
        let mut pipe = redis::pipe();
        Self::settle_into(&mut pipe, &reservation, id, crate::clock::now_ms());
        self.run(&pipe).await
    }
}

/// Most entries of a pending set at its limit read in one reservation to find places that
/// came free.
pub const PRUNE_AT_MOST: u64 = 1000;

/// Longest owner's listing kept: more than the most pending jobs an owner may have, plus room
/// for recent finished ones.
pub const OWNER_INDEX_LEN: usize = 1000;

/// How long a place reserved by [`TaskQueue::reserve`] holds when nobody settles it (a process
/// that died between the reservation and the add): far longer than an add may take.
pub const RESERVATION_MS: u64 = 30_000;

/// A place reserved for one job in pending sets, until it is settled.
#[derive(Debug)]
pub struct Reservation {
    pending: Vec<String>,
    listing: Option<String>,
    member: String,
}

/// Why a reservation was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Rate limit `i` (of those given) said to wait this long.
    Rate(usize, Duration),
    /// Pending set `i` (of those given) holds its most pending jobs.
    Pending(usize),
}

/// KEYS: the pending sets (job ids and reservations, scored by when added), then the rate
/// limits (see `limits.rs`). ARGV: the queue's key base (`<prefix>:<queue>:`), the most pending
/// per set, now (ms), the reservation's member, how long a reservation holds (ms), the number
/// of pending sets, each rate limit's interval and burst, then [`PRUNE_AT_MOST`].
///
/// The rates are checked first (Redis's clock) and, when they all let the request through,
/// taken. Then each pending set is counted (`ZCARD`, no job read); only a set at its limit is
/// pruned, of stale reservations and of jobs that finished or are gone among its oldest
/// [`PRUNE_AT_MOST`] entries (those most likely to have finished; the bound keeps one call
/// short however high the limit is set), and counted again. A set is so pruned once per
/// `max − pending` enqueues, not on each. The place is reserved only when every set allows. Returns `{0, 0}` when taken, `{i, 0}` for the 1-based
/// set at its limit, `{-i, wait_ms}` for the 1-based rate limit that refused.
const RESERVE_SCRIPT: &str = r#"
local base = ARGV[1]
local max = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local ttl = tonumber(ARGV[5])
local n = tonumber(ARGV[6])
local t = redis.call("TIME")
local clock = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local tats = {}
for r = 1, #KEYS - n do
  local interval = tonumber(ARGV[5 + 2 * r])
  local burst = tonumber(ARGV[6 + 2 * r])
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
-- Drops the entries of `entries` (member, score pairs) that no longer hold a place: a stale
-- reservation, a job that finished or is gone.
local function prune(key, entries)
  for j = 1, #entries, 2 do
    local member = entries[j]
    if string.sub(member, 1, 2) == "r:" then
      if tonumber(entries[j + 1]) + ttl < now then
        redis.call("ZREM", key, member)
      end
    else
      local job = redis.call("HMGET", base .. member, "timestamp", "finishedOn")
      if not job[1] or job[2] then
        redis.call("ZREM", key, member)
      end
    end
  end
end
local oldest = tonumber(ARGV[7 + 2 * (#KEYS - n)]) - 1
for i = 1, n do
  if redis.call("ZCARD", KEYS[i]) >= max then
    prune(KEYS[i], redis.call("ZRANGE", KEYS[i], 0, oldest, "WITHSCORES"))
    if redis.call("ZCARD", KEYS[i]) >= max then
      return {i, 0}
    end
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
