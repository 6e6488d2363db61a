//! The lock keeper: renews a running job's lock and says when the lock can no longer be trusted.
//!
//! BullMQ's guarantee against double runs is the job lock: a job whose lock expires is moved
//! back to wait by any worker's stalled check and run again. So a worker must stop running a
//! job the moment its lock is gone, which the crate's worker does not do. The keeper renews the
//! lock every half lock duration and returns [`LockLost`] when Redis says the lock is not ours,
//! or when renewals have failed for so long that the lock has expired by our own clock.

use std::time::{Duration, Instant};

use bullmq::Job;
use tracing::warn;

/// Why the keeper gave up the job.
#[derive(Debug)]
pub struct LockLost {
    /// What happened, for the log.
    pub reason: String,
}

/// Keeps one job's lock alive.
pub struct LockKeeper {
    job: Job,
    token: String,
    lock_duration: Duration,
}

impl LockKeeper {
    /// A keeper for `job`, locked with `token` for `lock_duration` at a time.
    pub fn new(job: Job, token: String, lock_duration: Duration) -> Self {
        Self {
            job,
            token,
            lock_duration,
        }
    }

    /// Renews the lock until it is lost; never returns while the lock is held.
    pub async fn keep(self) -> LockLost {
        let renew_every = self.lock_duration / 2;
        // After a failed renewal, retry sooner so a short Redis blip costs nothing.
        let retry_every = (self.lock_duration / 10).max(Duration::from_millis(50));
        // The lock was set when the job was fetched, just before we were called.
        let mut valid_until = Instant::now() + self.lock_duration;
        let mut wait = renew_every;
        let duration_ms = u64::try_from(self.lock_duration.as_millis()).unwrap_or(u64::MAX);
        loop {
            tokio::time::sleep(wait).await;
            // A renewal must come back while the old lock is still valid to count.
            let budget = valid_until.saturating_duration_since(Instant::now());
            let attempt = Instant::now();
            match tokio::time::timeout(budget, self.job.extend_lock(&self.token, duration_ms)).await
            {
                Ok(Ok(())) => {
                    valid_until = attempt + self.lock_duration;
                    wait = renew_every;
                }
                Ok(Err(bullmq::Error::JobLocked(message))) => {
                    return LockLost {
                        reason: format!("Redis refused the renewal: {message}"),
                    };
                }
                Ok(Err(error)) => {
                    warn!(%error, "lock renewal failed, retrying");
                    wait = retry_every;
                }
                Err(_) => {}
            }
            // Keep a margin so we stop before anyone else can start the job.
            let margin = self.lock_duration / 10;
            if Instant::now() + margin >= valid_until {
                return LockLost {
                    reason: format!(
                        "no renewal succeeded within the lock duration ({duration_ms} ms)"
                    ),
                };
            }
        }
    }
}
