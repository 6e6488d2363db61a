//! The Redis memory guard: with `noeviction` (which BullMQ needs) a full Redis refuses every
//! write, and so stops every queue of every team on it. So before Redis gets there, new jobs
//! from every path (the task API, the page, the dashboard's add and duplicate, a scheduler's
//! run-now and upsert) are refused with `503 redis_full`, while running jobs still finish,
//! actions on existing jobs still work, and the dashboard and `/readyz` say why.
//!
//! The limit is `SENTINEL_REDIS_MEMORY_SHARE` of Redis's `maxmemory`, or
//! `SENTINEL_REDIS_MEMORY_LIMIT` bytes (the lower of the two when both hold). Each process
//! reads `INFO memory` every `SENTINEL_REDIS_MEMORY_CHECK_MS` (`boot/memory.rs`), and again
//! before admitting a job whenever the last reading was above 80 % of the limit and is older
//! than a tenth of a second: a fast flood near the limit is seen at once, an idle one costs a
//! command a second.

use std::time::{Duration, Instant};

use app::admin::RedisMemory;

use super::Sentinel;
use super::state::memory::Reading;
use crate::error::AppError;

/// The share of the limit above which every admission reads the memory again.
const NEAR: f64 = 0.8;
/// How old a reading near the limit may be when a job is admitted.
const NEAR_FRESH: Duration = Duration::from_millis(100);

impl Sentinel {
    /// Refuses a new job while Redis is past the memory limit (`503 redis_full`). A reading
    /// that cannot be made (Redis away) does not refuse: the add itself will fail then.
    pub(crate) async fn admit_new_jobs(&self) -> Result<(), AppError> {
        let guard = &self.inner.memory;
        let mut last = guard.last();
        let near = last.is_some_and(|(at, reading)| {
            at.elapsed() >= NEAR_FRESH
                && guard
                    .limit(reading)
                    .is_some_and(|limit| reading.used as f64 >= limit as f64 * NEAR)
        });
        if (near || last.is_none())
            && let Ok(reading) = self.read_memory().await
        {
            last = Some((Instant::now(), reading));
        }
        let Some((_, reading)) = last else {
            return Ok(());
        };
        match guard.limit(reading) {
            Some(limit) if reading.used >= limit => {
                self.inner.throttle.warn("redis_full", |suppressed| {
                    tracing::warn!(
                        used = reading.used,
                        limit,
                        suppressed,
                        "Redis memory is past the guard's limit: new jobs are refused"
                    );
                });
                Err(AppError::RedisFull {
                    used: reading.used,
                    limit,
                })
            }
            _ => Ok(()),
        }
    }

    /// Reads Redis's memory use now and notes it (the guard's loop, and admissions near the
    /// limit).
    pub async fn read_memory(&self) -> Result<Reading, AppError> {
        let (used, max) = self.queue()?.memory().await?;
        let reading = Reading { used, max };
        self.inner.memory.record(reading);
        Ok(reading)
    }

    /// Redis's memory as last read, judged by the guard (for `/readyz` and the dashboard).
    pub fn redis_memory(&self) -> Option<RedisMemory> {
        self.inner.memory.view()
    }

    /// How often the guard's loop reads Redis's memory.
    pub fn memory_check_every(&self) -> Duration {
        Duration::from_millis(self.config().guards.redis_memory_check_ms)
    }
}
