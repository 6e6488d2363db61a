//! The lock keeper: renews a running job's lock and says when the lock can no longer be trusted.
//!
//! BullMQ's guarantee against double runs is the job lock: a job whose lock expires is moved
//! back to wait by any worker's stalled check and run again. So a worker must stop running a
//! job before its lock can expire, which the crate's worker does not do. The keeper renews the
//! lock every half lock duration and returns [`LockLost`] when Redis says the lock is not ours,
//! or when the lock is within a safety margin (a tenth of the lock duration) of expiring by our
//! own clock, including while a renewal is still in flight: an answer that has not come back
//! proves nothing.
//!
//! Our clock is conservative: a renewal's lock is counted from the moment we *sent* it (Redis
//! set it later), and the first lock from the moment the job was fetched (its `processedOn`,
//! written with this process's clock), not from when the processor started.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use bullmq::Job;
use tracing::warn;

/// Why the keeper gave up the job.
#[derive(Debug)]
pub struct LockLost {
    /// What happened, for the log.
    pub reason: String,
}

/// What a renewal can say besides success.
#[derive(Debug)]
pub enum RenewError {
    /// Redis says the lock is not ours (another worker owns the job, or it was removed).
    Refused(String),
    /// The renewal failed (connection, timeout); it may be retried while time is left.
    Failed(String),
}

/// Renews one lock once.
pub trait Renew {
    /// Extends the lock by the lock duration.
    fn renew(&self) -> impl Future<Output = Result<(), RenewError>> + Send;
}

/// The renewal of a real job's lock with the crate's `extendLock` script.
pub struct JobLock {
    job: Arc<Job>,
    token: String,
    duration_ms: u64,
}

impl JobLock {
    /// The lock of `job`, held with `token`, for `lock_duration` at a time.
    pub fn new(job: Arc<Job>, token: String, lock_duration: Duration) -> Self {
        Self {
            job,
            token,
            duration_ms: u64::try_from(lock_duration.as_millis()).unwrap_or(u64::MAX),
        }
    }
}

impl Renew for JobLock {
    async fn renew(&self) -> Result<(), RenewError> {
        match self.job.extend_lock(&self.token, self.duration_ms).await {
            Ok(()) => Ok(()),
            Err(bullmq::Error::JobLocked(message)) => Err(RenewError::Refused(message)),
            Err(error) => Err(RenewError::Failed(error.to_string())),
        }
    }
}

/// Keeps one job's lock alive.
pub struct LockKeeper<R> {
    lock: R,
    lock_duration: Duration,
    valid_until: Instant,
}

impl<R: Renew> LockKeeper<R> {
    /// A keeper for a lock taken at `taken_at` for `lock_duration`.
    pub fn new(lock: R, lock_duration: Duration, taken_at: Instant) -> Self {
        Self {
            lock,
            lock_duration,
            valid_until: taken_at + lock_duration,
        }
    }

    /// How long before the lock's expiry (by our clock) the task must have stopped.
    pub fn margin(&self) -> Duration {
        self.lock_duration / 10
    }

    /// Renews the lock until it is lost; never returns while the lock is safely held.
    pub async fn keep(self) -> LockLost {
        let renew_every = self.lock_duration / 2;
        // After a failed renewal, retry sooner so a short Redis blip costs nothing.
        let retry_every = (self.lock_duration / 10).max(Duration::from_millis(50));
        let margin = self.margin();
        let duration_ms = self.lock_duration.as_millis();
        let mut valid_until = self.valid_until;
        let mut next_renewal = valid_until
            .checked_sub(self.lock_duration - renew_every)
            .unwrap_or_else(Instant::now);
        loop {
            let stop_at = valid_until.checked_sub(margin).unwrap_or_else(Instant::now);
            if next_renewal >= stop_at {
                tokio::time::sleep_until(stop_at).await;
                return LockLost {
                    reason: format!(
                        "no renewal succeeded in time to keep the lock ({duration_ms} ms)"
                    ),
                };
            }
            tokio::time::sleep_until(next_renewal).await;
            let attempt = Instant::now();
            match tokio::time::timeout_at(stop_at, self.lock.renew()).await {
                Ok(Ok(())) => {
                    valid_until = attempt + self.lock_duration;
                    next_renewal = attempt + renew_every;
                }
                Ok(Err(RenewError::Refused(message))) => {
                    return LockLost {
                        reason: format!("Redis refused the renewal: {message}"),
                    };
                }
                Ok(Err(RenewError::Failed(error))) => {
                    warn!(%error, "lock renewal failed, retrying");
                    next_renewal = Instant::now() + retry_every;
                }
                Err(_) => {
                    return LockLost {
                        reason: format!(
                            "a renewal was still unanswered when the lock ({duration_ms} ms) came within its margin of expiring"
                        ),
                    };
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A renewal that answers after `delay` with the `answers[i]`-th outcome (`true` = ok).
    struct Scripted {
        delay: Duration,
        answers: Vec<bool>,
        calls: Arc<AtomicUsize>,
    }

    impl Renew for Scripted {
        async fn renew(&self) -> Result<(), RenewError> {
            let n = self.calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(self.delay).await;
            if self.answers.get(n).copied().unwrap_or(true) {
                Ok(())
            } else {
                Err(RenewError::Failed("connection refused".into()))
            }
        }
    }

    fn keeper(
        delay: Duration,
        answers: Vec<bool>,
        taken_ago: Duration,
    ) -> (LockKeeper<Scripted>, Arc<AtomicUsize>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let lock = Scripted {
            delay,
            answers,
            calls: calls.clone(),
        };
        let taken_at = Instant::now() - taken_ago;
        (
            LockKeeper::new(lock, Duration::from_secs(10), taken_at),
            calls,
        )
    }

    #[tokio::test(start_paused = true)]
    async fn a_healthy_lock_is_kept() {
        let (keeper, calls) = keeper(Duration::from_millis(5), vec![], Duration::ZERO);
        let outcome = tokio::time::timeout(Duration::from_secs(60), keeper.keep()).await;
        assert!(outcome.is_err(), "the keeper gave up a healthy lock");
        assert!(calls.load(Ordering::SeqCst) >= 11, "renewed every 5 s");
    }

    #[tokio::test(start_paused = true)]
    async fn a_renewal_in_flight_still_stops_the_task_with_the_margin() {
        // The first renewal (at 5 s) never answers: the task must stop at 9 s (10 s lock,
        // 1 s margin), not at 10 s and not later.
        let started = Instant::now();
        let (keeper, _) = keeper(Duration::from_secs(3600), vec![], Duration::ZERO);
        let lost = keeper.keep().await;
        let stopped_after = started.elapsed();
        assert_eq!(stopped_after, Duration::from_secs(9), "{}", lost.reason);
        assert!(lost.reason.contains("unanswered"), "{}", lost.reason);
    }

    #[tokio::test(start_paused = true)]
    async fn failed_renewals_stop_the_task_before_expiry() {
        let started = Instant::now();
        let (keeper, calls) = keeper(Duration::from_millis(1), vec![false; 1000], Duration::ZERO);
        let lost = keeper.keep().await;
        assert!(
            started.elapsed() <= Duration::from_secs(9),
            "{:?}",
            started.elapsed()
        );
        assert!(calls.load(Ordering::SeqCst) > 3, "retried");
        assert!(lost.reason.contains("no renewal"), "{}", lost.reason);
    }

    #[tokio::test(start_paused = true)]
    async fn the_first_lock_counts_from_when_the_job_was_fetched() {
        // Fetched 8 s ago with a 10 s lock: the first renewal is overdue, and nothing may run
        // past 9 s after the fetch.
        let started = Instant::now();
        let (keeper, _) = keeper(Duration::from_secs(3600), vec![], Duration::from_secs(8));
        keeper.keep().await;
        assert_eq!(started.elapsed(), Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn a_blip_shorter_than_the_margin_costs_nothing() {
        let (keeper, calls) = keeper(
            Duration::from_millis(1),
            vec![true, false, false, true],
            Duration::ZERO,
        );
        let outcome = tokio::time::timeout(Duration::from_secs(30), keeper.keep()).await;
        assert!(outcome.is_err(), "kept through the blip");
        assert!(calls.load(Ordering::SeqCst) >= 5);
    }
}
