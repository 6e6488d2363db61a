//! The settings that keep one principal from wearing the deployment down: rate limits per
//! principal on every state-changing request, the Redis memory guard, the audit log's
//! retention, and the bounds on discovery and `/metrics`. Each has a safe default; hitting one
//! answers a JSON error naming it.

use super::ConfigError;

/// Rate limits per principal (with access control on), in requests a minute; each is also the
/// largest burst. `0` turns one off. Sign-in, scheduler run-now and enqueue guard shared
/// resources and hold across every web process (counted in Redis); so do the others.
#[derive(Debug, Clone, clap::Args)]
pub struct RateSettings {
    /// Sign-ins (and sign-outs) per token or user, successful or not → 429.
    #[arg(
        long = "rate-sign-in-per-minute",
        env = "SENTINEL_RATE_SIGN_IN_PER_MINUTE",
        default_value_t = 10
    )]
    pub sign_in_per_minute: u32,

    /// Sign-in attempts per client network (a /24 or /64), successful or not → 429.
    #[arg(
        long = "rate-sign-in-per-network-per-minute",
        env = "SENTINEL_RATE_SIGN_IN_PER_NETWORK_PER_MINUTE",
        default_value_t = 30
    )]
    pub sign_in_per_network_per_minute: u32,

    /// Job and queue actions, scheduler changes and alert acknowledgements per principal → 429.
    #[arg(
        long = "rate-actions-per-minute",
        env = "SENTINEL_RATE_ACTIONS_PER_MINUTE",
        default_value_t = 120
    )]
    pub actions_per_minute: u32,

    /// Scheduler "run now" per principal → 429.
    #[arg(
        long = "rate-run-now-per-minute",
        env = "SENTINEL_RATE_RUN_NOW_PER_MINUTE",
        default_value_t = 10
    )]
    pub run_now_per_minute: u32,

    /// Bulk runs started per principal → 429.
    #[arg(
        long = "rate-bulk-per-minute",
        env = "SENTINEL_RATE_BULK_PER_MINUTE",
        default_value_t = 10
    )]
    pub bulk_per_minute: u32,
}

impl Default for RateSettings {
    fn default() -> Self {
        Self {
            sign_in_per_minute: 10,
            sign_in_per_network_per_minute: 30,
            actions_per_minute: 120,
            run_now_per_minute: 10,
            bulk_per_minute: 10,
        }
    }
}

/// Most requests a minute a rate may be set to.
const MAX_RATE: u32 = 1_000_000;

impl RateSettings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        for (name, value) in [
            ("SENTINEL_RATE_SIGN_IN_PER_MINUTE", self.sign_in_per_minute),
            (
                "SENTINEL_RATE_SIGN_IN_PER_NETWORK_PER_MINUTE",
                self.sign_in_per_network_per_minute,
            ),
            ("SENTINEL_RATE_ACTIONS_PER_MINUTE", self.actions_per_minute),
            ("SENTINEL_RATE_RUN_NOW_PER_MINUTE", self.run_now_per_minute),
            ("SENTINEL_RATE_BULK_PER_MINUTE", self.bulk_per_minute),
        ] {
            if value > MAX_RATE {
                return Err(ConfigError {
                    name,
                    reason: format!("must be from 0 (off) to {MAX_RATE}"),
                });
            }
        }
        Ok(())
    }
}

/// What bounds the deployment's shared resources whoever asks.
#[derive(Debug, Clone, clap::Args)]
pub struct GuardSettings {
    /// New jobs are refused (503 redis_full) once Redis's used memory passes this share of its
    /// `maxmemory`, before Redis itself refuses writes; running jobs still finish.
    #[arg(long, env = "SENTINEL_REDIS_MEMORY_SHARE", default_value_t = 0.9)]
    pub redis_memory_share: f64,

    /// The same guard in bytes, for a Redis with no `maxmemory` (or to stop earlier than the
    /// share would); unset: the share of `maxmemory` alone.
    #[arg(long, env = "SENTINEL_REDIS_MEMORY_LIMIT")]
    pub redis_memory_limit: Option<u64>,

    /// How often each process reads Redis's memory use (ms); it reads it again at once while
    /// above 80 % of the limit.
    #[arg(long, env = "SENTINEL_REDIS_MEMORY_CHECK_MS", default_value_t = 1000)]
    pub redis_memory_check_ms: u64,

    /// Entries the audit log keeps of any one principal and kind (actions apart from
    /// sign-ins): one principal's volume never pushes another's entries out.
    #[arg(long, env = "AUDIT_MAX_PER_PRINCIPAL", default_value_t = 10_000)]
    pub audit_max_per_principal: usize,

    /// Days an audit entry is kept at most.
    #[arg(long, env = "AUDIT_MAX_AGE_DAYS", default_value_t = 90)]
    pub audit_max_age_days: u64,

    /// Seconds sign-ins of one principal are coalesced into one audit entry with a count.
    #[arg(long, env = "AUDIT_SIGN_IN_WINDOW_SECS", default_value_t = 60)]
    pub audit_sign_in_window_secs: u64,

    /// Least time between two scans of the Redis for queues, across every process (asking for
    /// a rescan sooner gets the last scan).
    #[arg(
        long,
        env = "SENTINEL_DISCOVERY_MIN_INTERVAL_MS",
        default_value_t = 10_000
    )]
    pub discovery_min_interval_ms: u64,

    /// Keys one scan for queues looks at, at most (about one `SCAN` step per 1,000): on a Redis
    /// holding more keys, the queues found are the ones met so far and the queues page says
    /// the list may be partial. Raise it where there are millions of jobs and queues are
    /// missing.
    #[arg(long, env = "SENTINEL_DISCOVERY_SCAN_KEYS", default_value_t = 200_000)]
    pub discovery_scan_keys: usize,

    /// How often the history collector reads every queue's events (ms); one process collects
    /// at a time. `0` turns the history off (the charts then have no data).
    #[arg(long, env = "SENTINEL_HISTORY_EVERY_MS", default_value_t = 5000)]
    pub history_every_ms: u64,

    /// Queues `/metrics` labels one by one (the busiest first); the rest are summed under
    /// `queue="_other"`.
    #[arg(long, env = "SENTINEL_METRICS_MAX_QUEUES", default_value_t = 50)]
    pub metrics_max_queues: usize,
}

impl Default for GuardSettings {
    fn default() -> Self {
        Self {
            redis_memory_share: 0.9,
            redis_memory_limit: None,
            redis_memory_check_ms: 1000,
            audit_max_per_principal: 10_000,
            audit_max_age_days: 90,
            audit_sign_in_window_secs: 60,
            discovery_min_interval_ms: 10_000,
            discovery_scan_keys: 200_000,
            history_every_ms: 5000,
            metrics_max_queues: 50,
        }
    }
}

impl GuardSettings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let fail = |name, reason: &str| {
            Err(ConfigError {
                name,
                reason: reason.to_string(),
            })
        };
        if !(self.redis_memory_share > 0.0 && self.redis_memory_share <= 1.0) {
            return fail(
                "SENTINEL_REDIS_MEMORY_SHARE",
                "must be above 0 and at most 1 (e.g. 0.9)",
            );
        }
        if self.redis_memory_limit == Some(0) {
            return fail("SENTINEL_REDIS_MEMORY_LIMIT", "must be at least 1 byte");
        }
        if !(100..=60_000).contains(&self.redis_memory_check_ms) {
            return fail(
                "SENTINEL_REDIS_MEMORY_CHECK_MS",
                "must be from 100 to 60000",
            );
        }
        if self.audit_max_per_principal == 0 {
            return fail("AUDIT_MAX_PER_PRINCIPAL", "must be at least 1");
        }
        if !(1..=36_500).contains(&self.audit_max_age_days) {
            return fail("AUDIT_MAX_AGE_DAYS", "must be from 1 to 36500");
        }
        if !(1..=86_400).contains(&self.audit_sign_in_window_secs) {
            return fail("AUDIT_SIGN_IN_WINDOW_SECS", "must be from 1 to 86400");
        }
        if !(1_000..=3_600_000).contains(&self.discovery_min_interval_ms) {
            return fail(
                "SENTINEL_DISCOVERY_MIN_INTERVAL_MS",
                "must be from 1000 to 3600000",
            );
        }
        if !(1_000..=100_000_000).contains(&self.discovery_scan_keys) {
            return fail(
                "SENTINEL_DISCOVERY_SCAN_KEYS",
                "must be from 1000 to 100000000",
            );
        }
        if self.history_every_ms != 0 && !(100..=600_000).contains(&self.history_every_ms) {
            return fail(
                "SENTINEL_HISTORY_EVERY_MS",
                "must be 0 (off) or from 100 to 600000",
            );
        }
        if !(1..=10_000).contains(&self.metrics_max_queues) {
            return fail("SENTINEL_METRICS_MAX_QUEUES", "must be from 1 to 10000");
        }
        Ok(())
    }
}
