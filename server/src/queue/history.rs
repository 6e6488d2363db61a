//! Every queue's history, kept in Redis beside Sentinel's own queue: jobs completed and failed
//! and their wait and run times, per minute (kept 25 hours), per 30 minutes (8 days) and per
//! 6 hours (91 days), for any BullMQ queue on the Redis, Sentinel's or another program's.
//!
//! The source is each queue's own events stream (`<prefix>:<name>:events`), which BullMQ's
//! scripts write for every job that is added, taken, completed or failed, whoever runs it: so
//! jobs removed on completion are counted too. A job's wait is its first `active` event's time
//! less its `added` event's, its run its `completed`/`failed` event's time less its last
//! `active` one's; where the collector did not see those (it started later), the job's hash is
//! read instead, if the job is still kept.
//!
//! Storage: one sorted set per queue and resolution (`history:<m|30m|6h>:<prefix>:<name>`), a member
//! per period, scored by the period's start: `<start>|<completed>|<failed>|<lost>|<wait
//! histogram>|<run histogram>`, each histogram `<bucket>:<count>` pairs (the buckets of
//! `stats.rs`, at most 25 % wide), so periods merge exactly and percentiles are read from the
//! sums. `lost` counts the times the stream had been trimmed past what the collector had read
//! (events lost: the period's counts are low). How far each queue's stream has been read is
//! `history:cursors` (queue → `<stream id>|<since ms>`).
//!
//! One process collects at a time (`history:lease`); each queue's write is one script that
//! checks the lease and that the cursor is still the one the collector started from, then
//! rewrites the periods it touched and moves the cursor: a period is never counted twice, and
//! a collector that lost its lease writes nothing. Everything read back is untrusted: a member
//! that does not parse is skipped, numbers are bounded.

use std::collections::BTreeMap;

use app::JobId;

use super::discovery::{FoundQueue, Groups};
use super::stream::StreamId;
use super::{EngineError, TaskQueue};

/// A resolution the history is kept at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tier {
    /// Its name in the keys.
    pub name: &'static str,
    /// A period's length (ms).
    pub step_ms: u64,
    /// How long a period is kept (ms).
    pub keep_ms: u64,
}

const HOUR_MS: u64 = 3_600_000;
const DAY_MS: u64 = 24 * HOUR_MS;

/// Per minute, kept 25 hours.
pub const MINUTE: Tier = Tier {
    name: "m",
    step_ms: 60_000,
    keep_ms: 25 * HOUR_MS,
};
/// Per 30 minutes, kept 8 days (the 7 days' chart: 336 periods).
pub const HALF_HOUR: Tier = Tier {
    name: "30m",
    step_ms: 1_800_000,
    keep_ms: 8 * DAY_MS,
};
/// Per 6 hours, kept 91 days (the 90 days' chart: 360 periods, about one per pixel).
pub const SIX_HOURS: Tier = Tier {
    name: "6h",
    step_ms: 6 * HOUR_MS,
    keep_ms: 91 * DAY_MS,
};
/// Every resolution, finest first (the write script's key order).
pub const TIERS: [Tier; 3] = [MINUTE, HALF_HOUR, SIX_HOURS];

/// Longest member read back.
const MAX_MEMBER_BYTES: usize = 8192;
/// Most periods one read returns (a day of minutes, with room).
const MAX_PERIODS: usize = 2000;
/// Largest count taken from a member (more is another program's value).
const MAX_COUNT: u64 = 1 << 48;

/// One period of a queue.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record {
    /// Jobs completed.
    pub completed: u64,
    /// Jobs failed (moved to the failed set: their last attempt).
    pub failed: u64,
    /// Times events were lost before they were read (the counts are low).
    pub lost: u64,
    /// Wait times: histogram bucket → jobs.
    pub wait: BTreeMap<u32, u64>,
    /// Run times: histogram bucket → jobs.
    pub run: BTreeMap<u32, u64>,
}

impl Record {
    /// Adds `other` to this one.
    pub fn merge(&mut self, other: &Record) {
        self.completed = self.completed.saturating_add(other.completed);
        self.failed = self.failed.saturating_add(other.failed);
        self.lost = self.lost.saturating_add(other.lost);
        for (bucket, n) in &other.wait {
            let slot = self.wait.entry(*bucket).or_default();
            *slot = slot.saturating_add(*n);
        }
        for (bucket, n) in &other.run {
            let slot = self.run.entry(*bucket).or_default();
            *slot = slot.saturating_add(*n);
        }
    }

    /// Whether nothing happened in it.
    pub fn is_empty(&self) -> bool {
        self == &Record::default()
    }

    /// The member stored for the period starting at `start`.
    pub fn encode(&self, start: u64) -> String {
        let histogram = |h: &BTreeMap<u32, u64>| {
            h.iter()
                .map(|(b, n)| format!("{b}:{n}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        format!(
            "{start}|{}|{}|{}|{}|{}",
            self.completed,
            self.failed,
            self.lost,
            histogram(&self.wait),
            histogram(&self.run)
        )
    }

    /// A stored member: its period's start and record; `None` if it is not one of ours.
    pub fn decode(member: &str) -> Option<(u64, Record)> {
        if member.len() > MAX_MEMBER_BYTES {
            return None;
        }
        let mut parts = member.split('|');
        let number = |part: Option<&str>| -> Option<u64> {
            part?.parse::<u64>().ok().filter(|n| *n <= MAX_COUNT)
        };
        let start = parts.next()?.parse::<u64>().ok()?;
        let completed = number(parts.next())?;
        let failed = number(parts.next())?;
        let lost = number(parts.next())?;
        let histogram = |part: Option<&str>| -> Option<BTreeMap<u32, u64>> {
            let mut out = BTreeMap::new();
            for pair in part?.split(',').filter(|p| !p.is_empty()) {
                let (bucket, n) = pair.split_once(':')?;
                let bucket = bucket
                    .parse::<u32>()
                    .ok()
                    .filter(|b| *b <= super::stats::MAX_BUCKET)?;
                let n = n.parse::<u64>().ok().filter(|n| *n <= MAX_COUNT)?;
                let slot: &mut u64 = out.entry(bucket).or_default();
                *slot = slot.saturating_add(n);
            }
            Some(out)
        };
        let wait = histogram(parts.next())?;
        let run = histogram(parts.next())?;
        if parts.next().is_some() {
            return None;
        }
        Some((
            start,
            Record {
                completed,
                failed,
                lost,
                wait,
                run,
            },
        ))
    }
}

/// How far a queue's events have been read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// The last event read.
    pub last: StreamId,
    /// Since when the queue's history is complete (ms): the first event read.
    pub since: u64,
}

impl Cursor {
    /// As stored.
    pub fn to_text(self) -> String {
        format!("{}|{}", self.last, self.since)
    }

    /// A stored cursor, if it is one.
    pub fn parse(raw: &str) -> Option<Self> {
        let (last, since) = raw.split_once('|')?;
        Some(Self {
            last: last.parse().ok()?,
            since: since.parse().ok()?,
        })
    }
}

/// What an event means for the history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The job was added.
    Added,
    /// A worker took it.
    Active,
    /// It completed.
    Completed,
    /// It failed for good.
    Failed,
    /// It was removed.
    Removed,
    /// Anything else.
    Other,
}

/// One event read from a queue's stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Its stream id (its time is when it happened).
    pub id: StreamId,
    /// What happened.
    pub kind: Kind,
    /// The job it is about, if it names a valid one.
    pub job: Option<JobId>,
}

fn event_of(id: StreamId, pairs: &[(String, String)]) -> Event {
    let kind = match super::stream::field(pairs, "event", 32).as_deref() {
        Some("added") => Kind::Added,
        Some("active") => Kind::Active,
        Some("completed") => Kind::Completed,
        Some("failed") => Kind::Failed,
        Some("removed") => Kind::Removed,
        _ => Kind::Other,
    };
    let job = super::stream::field(pairs, "jobId", 256)
        .as_deref()
        .and_then(super::keys::is_job_id);
    Event { id, kind, job }
}

/// Each queue's events after its cursor (`None`: from the stream's start), at most `count`
/// each, in one pipelined round trip (one per queue on a Redis Cluster). A queue whose stream
/// is missing or of another type reads as no events.
pub async fn read_events(
    home: &TaskQueue,
    asks: &[(&FoundQueue, Option<StreamId>)],
    count: usize,
    cluster: bool,
) -> Result<Vec<Vec<Event>>, EngineError> {
    if asks.is_empty() {
        return Ok(Vec::new());
    }
    let mut pipes = Groups::new(cluster);
    for (queue, after) in asks {
        // XREAD answers the entries after the id given; `0-0` reads from the start.
        let after = after.unwrap_or(StreamId::ZERO);
        pipes
            .next()
            .cmd("XREAD")
            .arg("COUNT")
            .arg(count.max(1))
            .arg("STREAMS")
            .arg(queue.keys().events())
            .arg(after.to_string());
    }
    Ok(pipes
        .run(home)
        .await?
        .into_iter()
        .map(|reply| reply.map(stream_entries).unwrap_or_default())
        .collect())
}

/// The entries of a one-stream `XREAD` reply (RESP2 array or RESP3 map), as events.
fn stream_entries(reply: redis::Value) -> Vec<Event> {
    let entries = match reply {
        redis::Value::Array(mut streams) if !streams.is_empty() => match streams.swap_remove(0) {
            redis::Value::Array(mut parts) if parts.len() == 2 => parts.pop(),
            _ => None,
        },
        redis::Value::Map(mut pairs) if !pairs.is_empty() => Some(pairs.swap_remove(0).1),
        _ => None,
    };
    entries
        .map(|entries| {
            super::stream::raw_entries(entries)
                .into_iter()
                .map(|(id, pairs)| event_of(id, &pairs))
                .collect()
        })
        .unwrap_or_default()
}

/// Each queue's oldest event still in its stream (how far it has been trimmed).
pub async fn first_ids(
    home: &TaskQueue,
    queues: &[&FoundQueue],
    cluster: bool,
) -> Result<Vec<Option<StreamId>>, EngineError> {
    if queues.is_empty() {
        return Ok(Vec::new());
    }
    let mut pipes = Groups::new(cluster);
    for queue in queues {
        pipes
            .next()
            .cmd("XRANGE")
            .arg(queue.keys().events())
            .arg("-")
            .arg("+")
            .arg("COUNT")
            .arg(1);
    }
    Ok(pipes
        .run(home)
        .await?
        .into_iter()
        .map(|reply| {
            reply
                .ok()
                .and_then(|r| super::stream::raw_entries(r).into_iter().next())
                .map(|(id, _)| id)
        })
        .collect())
}

/// A kept job's times: added (`timestamp`), first taken (`processedOn`), finished
/// (`finishedOn`), each if present and a number.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobTimes {
    /// When it was added (ms).
    pub added: Option<u64>,
    /// When a worker took it (ms).
    pub taken: Option<u64>,
    /// When it finished (ms).
    pub finished: Option<u64>,
}

/// The times of jobs still kept, in one pipelined round trip (one per job on a Redis Cluster).
pub async fn job_times(
    home: &TaskQueue,
    asks: &[(&FoundQueue, &JobId)],
    cluster: bool,
) -> Result<Vec<JobTimes>, EngineError> {
    if asks.is_empty() {
        return Ok(Vec::new());
    }
    let mut pipes = Groups::new(cluster);
    for (queue, id) in asks {
        pipes
            .next()
            .cmd("HMGET")
            .arg(queue.keys().job(id))
            .arg("timestamp")
            .arg("processedOn")
            .arg("finishedOn");
    }
    Ok(pipes
        .run(home)
        .await?
        .into_iter()
        .map(|reply| {
            let Ok(redis::Value::Array(values)) = reply else {
                return JobTimes::default();
            };
            let at = |i: usize| {
                values
                    .get(i)
                    .and_then(super::record::text)
                    .and_then(|t| t.parse::<u64>().ok())
            };
            JobTimes {
                added: at(0),
                taken: at(1),
                finished: at(2),
            }
        })
        .collect())
}

/// Every queue's cursor, by queue (`<prefix>:<name>`): the value as stored (what a write must
/// find to move it) and the cursor, if it parses (else that queue is read again from its
/// stream's start, and its write replaces the value).
pub async fn cursors(
    home: &TaskQueue,
) -> Result<std::collections::HashMap<String, (String, Option<Cursor>)>, EngineError> {
    let mut cmd = redis::cmd("HGETALL");
    cmd.arg(home.keys().history_cursors());
    let reply: redis::Value = match home.run_cmd(&cmd).await {
        Ok(reply) => reply,
        Err(error) if error.is_answer() => return Ok(Default::default()),
        Err(other) => return Err(other),
    };
    Ok(super::record::hash_pairs(reply)
        .into_iter()
        .filter(|(queue, _)| queue.len() <= 600)
        .map(|(queue, raw)| {
            let cursor = (raw.len() <= 100).then(|| Cursor::parse(&raw)).flatten();
            (queue, (raw, cursor))
        })
        .collect())
}

/// One queue's cursor, if it has one.
pub async fn cursor(home: &TaskQueue, queue: &str) -> Result<Option<Cursor>, EngineError> {
    let mut cmd = redis::cmd("HGET");
    cmd.arg(home.keys().history_cursors()).arg(queue);
    let reply: redis::Value = match home.run_cmd(&cmd).await {
        Ok(reply) => reply,
        Err(error) if error.is_answer() => return Ok(None),
        Err(other) => return Err(other),
    };
    Ok(super::record::text(&reply)
        .filter(|raw| raw.len() <= 100)
        .and_then(|raw| Cursor::parse(&raw)))
}

/// The stored records of these periods (queue, resolution, start), in one pipelined round trip.
pub async fn records(
    home: &TaskQueue,
    asks: &[(&str, Tier, u64)],
) -> Result<Vec<Option<Record>>, EngineError> {
    if asks.is_empty() {
        return Ok(Vec::new());
    }
    let mut pipe = redis::pipe();
    pipe.ignore_errors();
    for (queue, tier, start) in asks {
        pipe.cmd("ZRANGEBYSCORE")
            .arg(home.keys().history(tier.name, queue))
            .arg(*start)
            .arg(*start)
            .arg("LIMIT")
            .arg(0)
            .arg(1);
    }
    let replies: Vec<redis::RedisResult<redis::Value>> = home.run(&pipe).await?;
    Ok(replies
        .into_iter()
        .zip(asks)
        .map(|(reply, (_, _, start))| {
            let Ok(redis::Value::Array(members)) = reply else {
                return None;
            };
            members
                .first()
                .and_then(super::record::text)
                .and_then(|m| Record::decode(&m))
                .filter(|(at, _)| at == start)
                .map(|(_, record)| record)
        })
        .collect())
}

/// A queue's periods at `tier` from `from` (ms) on, oldest first (at most [`MAX_PERIODS`]).
pub async fn range(
    home: &TaskQueue,
    queue: &str,
    tier: Tier,
    from: u64,
) -> Result<Vec<(u64, Record)>, EngineError> {
    let mut cmd = redis::cmd("ZRANGEBYSCORE");
    cmd.arg(home.keys().history(tier.name, queue))
        .arg(from)
        .arg("+inf")
        .arg("LIMIT")
        .arg(0)
        .arg(MAX_PERIODS);
    let reply: redis::Value = match home.run_cmd(&cmd).await {
        Ok(reply) => reply,
        Err(error) if error.is_answer() => return Ok(Vec::new()),
        Err(other) => return Err(other),
    };
    let redis::Value::Array(members) = reply else {
        return Ok(Vec::new());
    };
    Ok(members
        .iter()
        .filter_map(super::record::text)
        .filter_map(|m| Record::decode(&m))
        .filter(|(at, _)| *at >= from && at % tier.step_ms == 0)
        .collect())
}

/// What each queue (`<prefix>:<name>`) completed and failed in the last 60 minutes (the
/// current one included), as its history says; `None` for a queue the collector has not read
/// yet. Two pipelined round trips' worth of commands, in one.
pub async fn last_hour(
    home: &TaskQueue,
    queues: &[String],
    now_ms: u64,
) -> Result<Vec<Option<(u64, u64)>>, EngineError> {
    if queues.is_empty() {
        return Ok(Vec::new());
    }
    let from = (now_ms - now_ms % MINUTE.step_ms).saturating_sub(59 * MINUTE.step_ms);
    let mut pipe = redis::pipe();
    pipe.ignore_errors();
    pipe.cmd("HMGET").arg(home.keys().history_cursors());
    for queue in queues {
        pipe.arg(queue);
    }
    for queue in queues {
        pipe.cmd("ZRANGEBYSCORE")
            .arg(home.keys().history(MINUTE.name, queue))
            .arg(from)
            .arg("+inf")
            .arg("LIMIT")
            .arg(0)
            .arg(120);
    }
    let mut replies: Vec<redis::RedisResult<redis::Value>> = home.run(&pipe).await?;
    if replies.len() != queues.len() + 1 {
        return Ok(vec![None; queues.len()]);
    }
    let periods = replies.split_off(1);
    let cursors = match replies.pop() {
        Some(Ok(redis::Value::Array(values))) => values,
        _ => return Ok(vec![None; queues.len()]),
    };
    Ok(periods
        .into_iter()
        .enumerate()
        .map(|(i, reply)| {
            let read = cursors
                .get(i)
                .and_then(super::record::text)
                .and_then(|raw| Cursor::parse(&raw))
                .is_some();
            if !read {
                return None;
            }
            let Ok(redis::Value::Array(members)) = reply else {
                return Some((0, 0));
            };
            Some(
                members
                    .iter()
                    .filter_map(super::record::text)
                    .filter_map(|m| Record::decode(&m))
                    .filter(|(at, _)| *at >= from)
                    .fold((0, 0), |(c, f), (_, r)| (c + r.completed, f + r.failed)),
            )
        })
        .collect())
}

/// KEYS: the lease, the cursors, then one sorted set per resolution (as [`TIERS`]).
/// ARGV: this process's id, the queue, its cursor as read (empty: none), its new cursor, now
/// (ms), each resolution's keep (ms), whether to drop old periods (`1`), then (resolution
/// 1-based, start, member) triples. Writes only while this process holds the lease (else 0)
/// and the cursor is the one read (else -1); then each period given replaces the stored one,
/// periods past their keep are dropped when asked, and the cursor moves: 1.
const WRITE: &str = r#"
if redis.call("GET", KEYS[1]) ~= ARGV[1] then
  return 0
end
local held = redis.call("HGET", KEYS[2], ARGV[2])
if (held or "") ~= ARGV[3] then
  return -1
end
for i = 10, #ARGV, 3 do
  local key = KEYS[2 + tonumber(ARGV[i])]
  redis.call("ZREMRANGEBYSCORE", key, ARGV[i + 1], ARGV[i + 1])
  redis.call("ZADD", key, ARGV[i + 1], ARGV[i + 2])
end
if ARGV[9] == "1" then
  local now = tonumber(ARGV[5])
  for t = 1, 3 do
    redis.call("ZREMRANGEBYSCORE", KEYS[2 + t], "-inf", "(" .. tostring(now - tonumber(ARGV[5 + t])))
  end
end
redis.call("HSET", KEYS[2], ARGV[2], ARGV[4])
return 1
"#;

/// One queue's write: its cursor as read, its new one, and the periods it touched.
pub struct Write {
    /// `<prefix>:<name>`.
    pub queue: String,
    /// The cursor as stored when read (empty: none).
    pub was: String,
    /// The cursor after these events.
    pub now: Cursor,
    /// (resolution, start, the period's whole record).
    pub periods: Vec<(Tier, u64, Record)>,
    /// Whether to drop the periods past their keep too.
    pub trim: bool,
}

/// What became of a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// Stored.
    Done,
    /// This process does not hold the lease (nothing was written).
    NoLease,
    /// Another collector moved the cursor (nothing was written).
    Moved,
}

/// Stores the writes, each atomically, in one pipelined round trip.
pub async fn write(
    home: &TaskQueue,
    me: &str,
    writes: &[Write],
    now_ms: u64,
) -> Result<Vec<Written>, EngineError> {
    if writes.is_empty() {
        return Ok(Vec::new());
    }
    let keys = home.keys();
    let mut pipe = redis::pipe();
    for write in writes {
        let cmd = pipe
            .cmd("EVAL")
            .arg(WRITE)
            .arg(2 + TIERS.len())
            .arg(keys.history_lease())
            .arg(keys.history_cursors());
        for tier in TIERS {
            cmd.arg(keys.history(tier.name, &write.queue));
        }
        cmd.arg(me)
            .arg(&write.queue)
            .arg(&write.was)
            .arg(write.now.to_text())
            .arg(now_ms);
        for tier in TIERS {
            cmd.arg(tier.keep_ms);
        }
        cmd.arg(if write.trim { "1" } else { "0" });
        for (tier, start, record) in &write.periods {
            let index = TIERS.iter().position(|t| t == tier).unwrap_or(0) + 1;
            cmd.arg(index).arg(*start).arg(record.encode(*start));
        }
    }
    let replies: Vec<i64> = home.run(&pipe).await?;
    Ok(replies
        .into_iter()
        .map(|r| match r {
            1 => Written::Done,
            0 => Written::NoLease,
            _ => Written::Moved,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_merge() {
        let mut a = Record {
            completed: 3,
            failed: 1,
            lost: 0,
            wait: BTreeMap::from([(4, 2), (9, 1)]),
            run: BTreeMap::from([(20, 3)]),
        };
        let member = a.encode(1_700_000_040_000);
        assert_eq!(member, "1700000040000|3|1|0|4:2,9:1|20:3");
        assert_eq!(
            Record::decode(&member),
            Some((1_700_000_040_000, a.clone()))
        );
        let b = Record {
            completed: 1,
            failed: 0,
            lost: 1,
            wait: BTreeMap::from([(4, 1)]),
            run: BTreeMap::new(),
        };
        a.merge(&b);
        assert_eq!((a.completed, a.failed, a.lost), (4, 1, 1));
        assert_eq!(a.wait, BTreeMap::from([(4, 3), (9, 1)]));
        assert_eq!(Record::decode("0|0|0|0||"), Some((0, Record::default())));
    }

    #[test]
    fn foreign_members_are_skipped() {
        for bad in [
            "",
            "x|1|1|0||",
            "1|1|1|0|",
            "1|1|1|0|||",
            "1|-1|0|0||",
            "1|1|1|0|9999:1|",
            "1|1|1|0|a:b|",
            "1|281474976710657|0|0||",
        ] {
            assert_eq!(Record::decode(bad), None, "{bad}");
        }
        assert_eq!(Record::decode(&"1|".repeat(5000)), None);
        assert_eq!(
            Cursor::parse("12-3|5").map(Cursor::to_text).as_deref(),
            Some("12-3|5")
        );
        assert_eq!(Cursor::parse("12-3"), None);
        assert_eq!(Cursor::parse("x|5"), None);
    }
}
