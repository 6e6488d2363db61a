//! Per-minute job statistics shared by every process, and each worker's heartbeat.
//!
//! A worker records each finished job here in memory (completed or failed, its wait and run
//! time in a histogram bucket); once a second one loop per process adds what it gathered to
//! `<prefix>:<queue>:stats:<minute>` (a hash of counters, kept two hours) in one pipelined
//! round trip, so the cost does not grow with the job rate, and writes the process's heartbeat
//! (`<prefix>:<queue>:workers`, a hash: worker name → host, pid, concurrency, busy slots, when
//! seen). Readers sum the hashes of the last hour: counts per minute and wait / run time
//! percentiles, read in one round trip.
//!
//! Buckets: 0–3 ms exactly, then four per power of two (each at most 25 % wide), so a
//! percentile is reported as its bucket's upper bound.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bullmq::redis_connection::RedisConnection;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use tracing::debug;

/// How long a minute's counters are kept.
const KEEP_SECS: u64 = 2 * 3600;
/// How often gathered counts are written, and the heartbeat with them.
const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// A worker not seen for this long is not listed.
pub const WORKER_GONE_AFTER_MS: u64 = 15_000;

/// The highest bucket a `u64` of ms can fall in; higher ones read from Redis are ignored.
pub const MAX_BUCKET: u32 = 4 + 61 * 4 + 3;

/// The bucket of a duration in ms.
pub fn bucket(ms: u64) -> u32 {
    if ms < 4 {
        return ms as u32;
    }
    let bits = 64 - ms.leading_zeros();
    let shift = bits - 3;
    let top = (ms >> shift) as u32;
    4 + shift * 4 + (top - 4)
}

/// The upper bound (exclusive) of a bucket, in ms.
pub fn upper_bound(index: u32) -> u64 {
    if index < 4 {
        return u64::from(index) + 1;
    }
    let shift = ((index - 4) / 4).min(61);
    let top = u128::from((index - 4) % 4 + 4);
    u64::try_from((top + 1) << shift).unwrap_or(u64::MAX)
}

/// How a job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ended {
    /// Completed.
    Completed,
    /// Failed.
    Failed,
}

/// The key of a minute's counters.
pub fn minute_key(prefix: &str, queue: &str, minute: u64) -> String {
    crate::keys::QueueKeys::new(prefix, queue).stats_minute(minute)
}

/// The key of the worker heartbeats.
pub fn workers_key(prefix: &str, queue: &str) -> String {
    crate::keys::QueueKeys::new(prefix, queue).workers()
}

pub use crate::clock::now_ms;

/// A worker's heartbeat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Heartbeat {
    /// Host name.
    pub host: String,
    /// Process id.
    pub pid: u32,
    /// Jobs it runs at once.
    pub concurrency: usize,
    /// Jobs it runs now.
    pub busy: usize,
    /// When it wrote this (ms since the epoch).
    pub seen_at: u64,
}

/// One minute's counts, gathered without allocating per job.
#[derive(Debug, Clone)]
struct Minute {
    minute: u64,
    completed: u64,
    failed: u64,
    wait: Vec<u64>,
    run: Vec<u64>,
}

impl Minute {
    fn new(minute: u64) -> Self {
        Self {
            minute,
            completed: 0,
            failed: 0,
            wait: vec![0; MAX_BUCKET as usize + 1],
            run: vec![0; MAX_BUCKET as usize + 1],
        }
    }

    /// The hash fields to add, and by how much.
    fn fields(&self) -> Vec<(String, u64)> {
        let mut fields = Vec::new();
        if self.completed > 0 {
            fields.push(("completed".to_string(), self.completed));
        }
        if self.failed > 0 {
            fields.push(("failed".to_string(), self.failed));
        }
        for (kind, counts) in [('w', &self.wait), ('r', &self.run)] {
            for (bucket, n) in counts.iter().enumerate().filter(|(_, n)| **n > 0) {
                fields.push((format!("{kind}{bucket}"), *n));
            }
        }
        fields
    }
}

/// What this process gathered since the last flush.
#[derive(Debug, Default)]
pub struct Gathered {
    minutes: Mutex<Vec<Minute>>,
}

impl Gathered {
    /// Records one finished job.
    pub fn record(&self, ended: Ended, wait_ms: u64, run_ms: u64) {
        let minute = now_ms() / 60_000;
        let mut minutes = self.minutes.lock().unwrap_or_else(|e| e.into_inner());
        if minutes.last().is_none_or(|m| m.minute != minute) {
            minutes.push(Minute::new(minute));
        }
        let Some(current) = minutes.last_mut() else {
            return;
        };
        match ended {
            Ended::Completed => current.completed += 1,
            Ended::Failed => current.failed += 1,
        }
        current.wait[bucket(wait_ms) as usize] += 1;
        current.run[bucket(run_ms) as usize] += 1;
    }

    fn take(&self) -> Vec<Minute> {
        let mut minutes = self.minutes.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::take(&mut *minutes)
    }

    fn put_back(&self, unsent: Vec<Minute>) {
        let mut minutes = self.minutes.lock().unwrap_or_else(|e| e.into_inner());
        let newer = std::mem::take(&mut *minutes);
        *minutes = unsent;
        minutes.extend(newer);
    }
}

/// Where the loop writes, and who this worker is.
pub struct StatsTarget {
    /// The queue's connection.
    pub connection: RedisConnection,
    /// `SENTINEL_PREFIX`.
    pub prefix: String,
    /// `SENTINEL_QUEUE`.
    pub queue: String,
    /// This worker's name (`sentinel@host:pid`).
    pub worker: String,
    /// Its concurrency.
    pub concurrency: usize,
}

/// Writes what was gathered, and the heartbeat, once a second until `stop`; then removes the
/// heartbeat.
pub async fn run(
    gathered: Arc<Gathered>,
    target: StatsTarget,
    busy: impl Fn() -> usize + Send + 'static,
    stop: CancellationToken,
) {
    let workers = workers_key(&target.prefix, &target.queue);
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "unknown".to_string());
    let mut every = tokio::time::interval(FLUSH_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let stopping = tokio::select! {
            _ = every.tick() => false,
            () = stop.cancelled() => true,
        };
        let gathered_minutes = gathered.take();
        let mut pipe = redis::pipe();
        for minute in &gathered_minutes {
            let key = minute_key(&target.prefix, &target.queue, minute.minute);
            for (field, n) in minute.fields() {
                pipe.cmd("HINCRBY").arg(&key).arg(field).arg(n).ignore();
            }
            pipe.cmd("EXPIRE").arg(&key).arg(KEEP_SECS).ignore();
        }
        if stopping {
            pipe.cmd("HDEL").arg(&workers).arg(&target.worker).ignore();
        } else {
            let beat = Heartbeat {
                host: host.clone(),
                pid: std::process::id(),
                concurrency: target.concurrency,
                busy: busy(),
                seen_at: now_ms(),
            };
            if let Ok(json) = serde_json::to_string(&beat) {
                pipe.cmd("HSET")
                    .arg(&workers)
                    .arg(&target.worker)
                    .arg(json)
                    .ignore();
            }
        }
        let mut conn = target.connection.connection();
        let sent =
            tokio::time::timeout(Duration::from_secs(2), pipe.query_async::<()>(&mut conn)).await;
        if !matches!(sent, Ok(Ok(()))) {
            debug!("could not write job statistics; kept for the next try");
            gathered.put_back(gathered_minutes);
        }
        if stopping {
            return;
        }
    }
}

/// Percentiles of a histogram of bucket counts.
pub fn percentiles(buckets: &HashMap<u32, u64>, wanted: &[f64]) -> Vec<Option<u64>> {
    let total: u64 = buckets.values().sum();
    let mut sorted: Vec<(u32, u64)> = buckets.iter().map(|(b, n)| (*b, *n)).collect();
    sorted.sort_unstable();
    wanted
        .iter()
        .map(|p| {
            if total == 0 {
                return None;
            }
            let rank = ((p * total as f64).ceil() as u64).clamp(1, total);
            let mut seen = 0;
            sorted.iter().find_map(|(b, n)| {
                seen += n;
                (seen >= rank).then(|| upper_bound(*b))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_at_most_a_quarter_wide_and_ordered() {
        let mut last = 0;
        assert_eq!(bucket(u64::MAX), MAX_BUCKET);
        assert_eq!(upper_bound(MAX_BUCKET), u64::MAX);
        for ms in [
            0u64,
            1,
            3,
            4,
            5,
            7,
            8,
            9,
            100,
            1000,
            1001,
            59_999,
            3_600_000,
            u64::MAX / 2,
        ] {
            let b = bucket(ms);
            assert!(b >= last, "{ms}");
            last = b;
            assert!(upper_bound(b) > ms, "{ms} < {}", upper_bound(b));
            if ms >= 4 {
                assert!(
                    upper_bound(b) as f64 <= ms as f64 * 1.25 + 1.0,
                    "{ms} → {}",
                    upper_bound(b)
                );
            }
        }
    }

    #[test]
    fn percentiles_from_buckets() {
        let mut buckets = HashMap::new();
        // 90 jobs around 10 ms, 10 around 1000 ms.
        buckets.insert(bucket(10), 90);
        buckets.insert(bucket(1000), 10);
        let got = percentiles(&buckets, &[0.5, 0.95, 0.99]);
        assert_eq!(got[0], Some(upper_bound(bucket(10))));
        assert_eq!(got[1], Some(upper_bound(bucket(1000))));
        assert_eq!(got[2], Some(upper_bound(bucket(1000))));
        assert_eq!(percentiles(&HashMap::new(), &[0.5]), vec![None]);
    }
}
