//! The per-owner enqueue rate (`ENQUEUE_RATE_PER_MINUTE`), with the `governor` crate's
//! generic cell rate algorithm keyed by owner. It is per process: the quota that must hold
//! across web processes, jobs waiting or active per owner, is read from Redis
//! (`TaskQueue::pending_of`).

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// The limiter.
pub struct EnqueueRate {
    limiter: DefaultKeyedRateLimiter<String>,
    clock: DefaultClock,
    per_minute: u32,
}

impl EnqueueRate {
    /// `per_minute` enqueues a minute per owner, in a burst or spread out.
    pub fn new(per_minute: u32) -> Self {
        let n = NonZeroU32::new(per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
        Self {
            limiter: RateLimiter::keyed(Quota::per_minute(n)),
            clock: DefaultClock::default(),
            per_minute,
        }
    }

    /// Takes one enqueue for `owner`, or says how long to wait.
    pub fn check(&self, owner: &str) -> Result<(), Duration> {
        if self.limiter.len() > 100_000 {
            // Owners that have been idle long enough are full again: forget them.
            self.limiter.retain_recent();
        }
        self.limiter
            .check_key(&owner.to_string())
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// The configured rate.
    pub fn per_minute(&self) -> u32 {
        self.per_minute
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn each_owner_has_its_own_budget() {
        let rate = super::EnqueueRate::new(3);
        for _ in 0..3 {
            assert!(rate.check("a").is_ok());
        }
        let wait = rate.check("a").unwrap_err();
        assert!(wait.as_secs() <= 20, "{wait:?}");
        assert!(rate.check("b").is_ok());
    }
}
