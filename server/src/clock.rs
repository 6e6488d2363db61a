//! Time: the wall clock in the unit BullMQ keeps its times in (ms since the epoch), and the
//! timers every background loop of the server is built on: a [`Ticker`] for the loops that run
//! every period until shutdown (pulse, heartbeat and statistics, search index sweep, revoked
//! sessions, cancel markers), a [`Backoff`] for the ones that retry after a failure (the event
//! stream reader), and [`within`] for a wait bounded by a grace (worker shutdown). They are
//! tested here under paused time, so the loops' timing is tested without waiting for it.

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// Now, in ms since the epoch (0 before 1970, `u64::MAX` in the very far future).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A tick every `period`, the first one at once; a tick that could not be taken on time (the
/// loop's work outlasted the period) is taken as soon as possible and the next ones are
/// counted from it (never a burst of catch-up ticks).
#[derive(Debug)]
pub struct Ticker {
    interval: tokio::time::Interval,
}

impl Ticker {
    /// Ticks every `period`.
    pub fn every(period: Duration) -> Self {
        let mut interval = tokio::time::interval(period);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Self { interval }
    }

    /// Waits for the next tick: `true`, or `false` as soon as `stop` fires.
    pub async fn tick(&mut self, stop: &CancellationToken) -> bool {
        tokio::select! {
            _ = self.interval.tick() => !stop.is_cancelled(),
            () = stop.cancelled() => false,
        }
    }
}

/// Delays between retries: doubling from `first` up to `max`, back to `first` after a success.
#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    /// Starts at `first`, never above `max`.
    pub fn new(first: Duration, max: Duration) -> Self {
        Self {
            first,
            max,
            next: first,
        }
    }

    /// The delay before the next retry (and doubles the one after it).
    pub fn delay(&mut self) -> Duration {
        let now = self.next;
        self.next = (self.next * 2).min(self.max);
        now
    }

    /// A success: the next failure waits `first` again.
    pub fn reset(&mut self) {
        self.next = self.first;
    }

    /// Sleeps the next delay: `true`, or `false` as soon as `stop` fires.
    pub async fn sleep(&mut self, stop: &CancellationToken) -> bool {
        let delay = self.delay();
        tokio::select! {
            () = tokio::time::sleep(delay) => true,
            () = stop.cancelled() => false,
        }
    }
}

/// Runs `work` for at most `grace`: `true` if it finished in time.
pub async fn within(grace: Duration, work: impl Future<Output = ()>) -> bool {
    tokio::time::timeout(grace, work).await.is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::Instant;

    #[tokio::test(start_paused = true)]
    async fn a_ticker_ticks_each_period_and_stops_at_once_on_shutdown() {
        let stop = CancellationToken::new();
        let mut ticker = Ticker::every(Duration::from_secs(1));
        let started = Instant::now();
        let mut at = Vec::new();
        for _ in 0..4 {
            assert!(ticker.tick(&stop).await);
            at.push(started.elapsed().as_millis());
        }
        assert_eq!(
            at,
            [0, 1000, 2000, 3000],
            "the first tick at once, then every period"
        );
        // Work that outlasts the period: the next tick comes as soon as possible, then every
        // period from there (no burst).
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert!(ticker.tick(&stop).await);
        assert_eq!(started.elapsed().as_millis(), 5500);
        assert!(ticker.tick(&stop).await);
        assert_eq!(started.elapsed().as_millis(), 6500);
        // Shutdown: the loop ends without waiting for the period.
        let stopped = Instant::now();
        let cancel = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            cancel.cancel();
        });
        assert!(!ticker.tick(&stop).await);
        assert_eq!(stopped.elapsed().as_millis(), 100);
        assert!(!ticker.tick(&stop).await, "and stays stopped");
    }

    #[tokio::test(start_paused = true)]
    async fn backoff_doubles_to_its_cap_resets_and_yields_to_shutdown() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        let delays: Vec<u128> = (0..6).map(|_| backoff.delay().as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1000, 1000]);
        backoff.reset();
        let stop = CancellationToken::new();
        let started = Instant::now();
        assert!(backoff.sleep(&stop).await);
        assert!(backoff.sleep(&stop).await);
        assert_eq!(started.elapsed().as_millis(), 300);
        stop.cancel();
        let before = Instant::now();
        assert!(!backoff.sleep(&stop).await);
        assert_eq!(before.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn a_grace_bounds_the_wait_and_ends_with_the_work() {
        let started = Instant::now();
        assert!(
            within(
                Duration::from_secs(10),
                tokio::time::sleep(Duration::from_secs(3))
            )
            .await
        );
        assert_eq!(started.elapsed().as_secs(), 3, "ends with the work");
        let started = Instant::now();
        assert!(
            !within(
                Duration::from_secs(10),
                tokio::time::sleep(Duration::from_secs(30))
            )
            .await
        );
        assert_eq!(started.elapsed().as_secs(), 10, "no longer than the grace");
    }
}
