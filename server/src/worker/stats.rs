//! The writer of the per-minute job statistics and the worker's heartbeat (their format and
//! readers are `queue/stats.rs`): a worker records each finished job here in memory, and once a
//! second one loop per process adds what it gathered to the minute's hash in one pipelined
//! round trip, so the cost does not grow with the job rate, and writes the heartbeat.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bullmq::redis_connection::RedisConnection;
use tokio_util::sync::CancellationToken;
use tracing::debug;

use crate::clock::now_ms;
use crate::queue::keys::QueueKeys;
use crate::queue::stats::{Heartbeat, MAX_BUCKET, bucket};

/// How long a minute's counters are kept.
const KEEP_SECS: u64 = 2 * 3600;
/// How often gathered counts are written, and the heartbeat with them.
const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// How a job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ended {
    /// Completed.
    Completed,
    /// Failed.
    Failed,
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
    /// The queue's keys.
    pub keys: QueueKeys,
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
    let workers = target.keys.workers();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "unknown".to_string());
    let mut every = crate::clock::Ticker::every(FLUSH_EVERY);
    loop {
        let stopping = !every.tick(&stop).await;
        let gathered_minutes = gathered.take();
        let mut pipe = redis::pipe();
        for minute in &gathered_minutes {
            let key = target.keys.stats_minute(minute.minute);
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
