//! Cancelling a running job from any process.
//!
//! A cancel is a marker in Redis, not a message: `<prefix>:<queue>:cancel` is a sorted set of
//! job ids (scored by when the cancel was asked), in the queue's hash slot. Each worker process
//! runs one [`CancelWatch`] loop that, while it runs jobs, asks Redis every half tick which of
//! its jobs are marked (one `ZMSCORE` for all of them) and stops those. A worker that was away
//! (connection cut, restarting) finds the marker when it is back, which pub/sub alone would
//! lose. The processor fails a stopped job as unrecoverable with the reason `cancelled`, so it
//! is never retried, then removes the marker; markers left behind (the job finished first) are
//! dropped after an hour.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bullmq::redis_connection::RedisConnection;
use tokio_util::sync::CancellationToken;
use tracing::debug;

/// The jobs this process runs, each with the token that stops it.
#[derive(Debug, Default)]
pub struct CancelWatch {
    running: Mutex<HashMap<String, CancellationToken>>,
}

/// A job's place in the watch; leaving it (drop) stops watching the job.
pub struct Watched {
    watch: Arc<CancelWatch>,
    id: String,
    /// Fired when the job is cancelled.
    pub token: CancellationToken,
}

impl Drop for Watched {
    fn drop(&mut self) {
        let mut running = self.watch.running.lock().unwrap_or_else(|e| e.into_inner());
        running.remove(&self.id);
    }
}

impl CancelWatch {
    /// Starts watching job `id`.
    pub fn watch(self: &Arc<Self>, id: &str) -> Watched {
        let token = CancellationToken::new();
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        running.insert(id.to_string(), token.clone());
        Watched {
            watch: self.clone(),
            id: id.to_string(),
            token,
        }
    }

    fn ids(&self) -> Vec<String> {
        let running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        running.keys().cloned().collect()
    }

    fn fire(&self, id: &str) {
        let running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(token) = running.get(id) {
            token.cancel();
        }
    }

    /// Asks Redis every `every` which running jobs are marked, until `stop`.
    pub async fn run(
        self: Arc<Self>,
        connection: RedisConnection,
        key: String,
        every: Duration,
        stop: CancellationToken,
    ) {
        let mut ticks = crate::clock::Ticker::every(every);
        while ticks.tick(&stop).await {
            let ids = self.ids();
            if ids.is_empty() {
                continue;
            }
            let mut command = redis::cmd("ZMSCORE");
            command.arg(&key).arg(&ids);
            let mut conn = connection.connection();
            let limit = every.max(Duration::from_secs(1));
            let scores: Vec<Option<f64>> =
                match tokio::time::timeout(limit, command.query_async(&mut conn)).await {
                    Ok(Ok(scores)) => scores,
                    // Redis away: the markers wait for us.
                    Ok(Err(error)) => {
                        debug!(%error, "could not read cancel markers");
                        continue;
                    }
                    Err(_) => continue,
                };
            for (id, score) in ids.iter().zip(scores) {
                if score.is_some() {
                    self.fire(id);
                }
            }
        }
    }
}
