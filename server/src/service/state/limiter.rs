//! The rate limits' settings, by kind of operation ([`Bucket`]), and the per-process
//! stand-in for sign-in while Redis is away (see `limits.rs`).

use std::num::NonZeroU32;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::{AuthSettings, RateSettings};

/// A kind of rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bucket {
    /// Sign-ins and sign-outs.
    SignIn,
    /// Job and queue actions, scheduler changes, alert acknowledgements, enqueue on behalf.
    Action,
    /// Scheduler "run now".
    RunNow,
    /// Bulk runs.
    Bulk,
}

impl Bucket {
    /// Its part of the key.
    pub fn name(self) -> &'static str {
        match self {
            Bucket::SignIn => "sign-in",
            Bucket::Action => "action",
            Bucket::RunNow => "run-now",
            Bucket::Bulk => "bulk",
        }
    }

    /// The setting that sets it (named in the 429's body).
    pub fn setting(self) -> &'static str {
        match self {
            Bucket::SignIn => "SENTINEL_RATE_SIGN_IN_PER_MINUTE",
            Bucket::Action => "SENTINEL_RATE_ACTIONS_PER_MINUTE",
            Bucket::RunNow => "SENTINEL_RATE_RUN_NOW_PER_MINUTE",
            Bucket::Bulk => "SENTINEL_RATE_BULK_PER_MINUTE",
        }
    }
}

/// The network bucket's setting.
pub const NETWORK_SETTING: &str = "SENTINEL_RATE_SIGN_IN_PER_NETWORK_PER_MINUTE";

/// The rates, and the per-process stand-in for sign-in while Redis is away.
pub struct Limiter {
    /// The settings.
    pub rates: RateSettings,
    enqueue_per_minute: u32,
    /// Sign-ins per token or network while Redis is away, in this process.
    pub offline: Option<DefaultKeyedRateLimiter<String>>,
}

impl Limiter {
    /// The limits the settings ask for.
    pub fn new(rates: &RateSettings, auth: &AuthSettings) -> Self {
        let offline = NonZeroU32::new(rates.sign_in_per_minute)
            .map(|n| RateLimiter::keyed(Quota::per_minute(n)));
        Self {
            rates: rates.clone(),
            enqueue_per_minute: auth.enqueue_rate_per_minute,
            offline,
        }
    }

    /// Requests a minute `bucket` lets through per principal (`0`: no limit).
    pub fn per_minute(&self, bucket: Bucket) -> u32 {
        match bucket {
            Bucket::SignIn => self.rates.sign_in_per_minute,
            Bucket::Action => self.rates.actions_per_minute,
            Bucket::RunNow => self.rates.run_now_per_minute,
            Bucket::Bulk => self.rates.bulk_per_minute,
        }
    }

    /// The enqueue rate per owner (`ENQUEUE_RATE_PER_MINUTE`), held in the add's own script.
    pub fn enqueue_per_minute(&self) -> u32 {
        self.enqueue_per_minute
    }
}
