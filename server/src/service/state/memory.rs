//! Redis's memory as the guard last read it, and the limit it is judged by (see `memory.rs`).

use std::sync::Mutex;
use std::time::Instant;

use app::admin::RedisMemory;

use crate::config::GuardSettings;

/// The last reading, and the settings it is judged by.
pub struct MemoryGuard {
    share: f64,
    absolute: Option<u64>,
    last: Mutex<Option<(Instant, Reading)>>,
}

/// What one `INFO memory` said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reading {
    /// `used_memory`, bytes.
    pub used: u64,
    /// `maxmemory`, bytes (`0`: none).
    pub max: u64,
}

impl MemoryGuard {
    /// The guard the settings ask for.
    pub fn new(settings: &GuardSettings) -> Self {
        Self {
            share: settings.redis_memory_share,
            absolute: settings.redis_memory_limit,
            last: Mutex::new(None),
        }
    }

    /// The limit a reading is held to, if any: the share of `maxmemory`, the absolute limit,
    /// or the lower of both.
    pub fn limit(&self, reading: Reading) -> Option<u64> {
        let from_share = (reading.max > 0).then_some((reading.max as f64 * self.share) as u64);
        match (from_share, self.absolute) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Notes a reading.
    pub fn record(&self, reading: Reading) {
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), reading));
    }

    /// The last reading and when it was made.
    pub fn last(&self) -> Option<(Instant, Reading)> {
        *self.last.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// What the dashboard and `/readyz` show.
    pub fn view(&self) -> Option<RedisMemory> {
        let (_, reading) = self.last()?;
        let limit = self.limit(reading);
        Some(RedisMemory {
            used: reading.used,
            max: reading.max,
            limit,
            full: limit.is_some_and(|limit| reading.used >= limit),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(share: f64, absolute: Option<u64>) -> MemoryGuard {
        MemoryGuard::new(&GuardSettings {
            redis_memory_share: share,
            redis_memory_limit: absolute,
            ..GuardSettings::default()
        })
    }

    #[test]
    fn the_limit_is_the_share_of_maxmemory_or_the_absolute_one_whichever_is_lower() {
        let r = |used, max| Reading { used, max };
        assert_eq!(guard(0.9, None).limit(r(0, 1000)), Some(900));
        assert_eq!(
            guard(0.9, None).limit(r(0, 0)),
            None,
            "no maxmemory, no limit"
        );
        assert_eq!(guard(0.9, Some(500)).limit(r(0, 0)), Some(500));
        assert_eq!(guard(0.9, Some(500)).limit(r(0, 1000)), Some(500));
        assert_eq!(guard(0.5, Some(800)).limit(r(0, 1000)), Some(500));
        let g = guard(0.9, None);
        g.record(r(950, 1000));
        assert_eq!(
            g.view(),
            Some(RedisMemory {
                used: 950,
                max: 1000,
                limit: Some(900),
                full: true
            })
        );
    }
}
