//! Rate limits per principal on every state-changing operation ([`Bucket`]: the policy table
//! in `policy.rs` says which operation takes from which). They are counted in Redis
//! (`queue/limits.rs`), so adding web processes does not multiply them. With access control off
//! there are no principals to tell apart (everyone is the same `local` admin) and nothing is
//! limited. Sign-in also holds per client network, and while Redis is away it is held per
//! process (`governor`), so a Redis outage does not open the door to guessing.

use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use ipnet::IpNet;
use sha2::Digest;

use super::Sentinel;
use super::state::limiter::{Bucket, NETWORK_SETTING};
use crate::auth::{Credential, Principal};
use crate::error::AppError;
use crate::queue::limits::{self as store, Limit};

/// A digest of `who`, for a key: any owner text of any length makes a short, valid key part.
pub fn digest(who: &str) -> String {
    let digest = sha2::Sha256::digest(who.as_bytes());
    app::url::hex(digest[..10].iter().copied())
}

/// The refusal for a limit that said "wait".
fn refused(setting: &'static str, per_minute: u32, wait: Duration) -> AppError {
    AppError::RateLimited {
        limit: setting,
        per_minute,
        retry_after: wait.as_secs_f64().ceil().max(1.0) as u64,
    }
}

impl Sentinel {
    /// Takes one request of `bucket` for `who`, or refuses with `429` naming the setting.
    /// Nothing is limited with access control off, nor for Sentinel itself.
    pub(super) async fn take(&self, bucket: Bucket, who: &Principal) -> Result<(), AppError> {
        if matches!(who.credential, Credential::Open | Credential::System) {
            return Ok(());
        }
        let per_minute = self.inner.limits.per_minute(bucket);
        if per_minute == 0 {
            return Ok(());
        }
        let queue = self.queue()?;
        let limit = Limit {
            key: queue.keys().rate(bucket.name(), &digest(&who.owner)),
            per_minute,
        };
        match store::take(queue, &[limit]).await? {
            Ok(()) => Ok(()),
            Err((_, wait)) => {
                self.note_refusal(bucket.setting(), &who.owner);
                Err(refused(bucket.setting(), per_minute, wait))
            }
        }
    }

    /// Takes one sign-in attempt for the token or user `name` (when known: a wrong token names
    /// nobody) and for the client `network`. Counted in Redis across processes; while Redis is
    /// away, in this process.
    pub(super) async fn take_sign_in(
        &self,
        name: Option<&str>,
        network: Option<IpNet>,
    ) -> Result<(), AppError> {
        let limits = &self.inner.limits;
        let mut asked: Vec<(&'static str, u32, String)> = Vec::new();
        if let Some(name) = name
            && limits.rates.sign_in_per_minute > 0
        {
            asked.push((
                Bucket::SignIn.setting(),
                limits.rates.sign_in_per_minute,
                format!("name:{name}"),
            ));
        }
        if let Some(network) = network
            && limits.rates.sign_in_per_network_per_minute > 0
        {
            asked.push((
                NETWORK_SETTING,
                limits.rates.sign_in_per_network_per_minute,
                format!("net:{network}"),
            ));
        }
        if asked.is_empty() {
            return Ok(());
        }
        let Ok(queue) = self.queue() else {
            return self.take_sign_in_offline(&asked);
        };
        let keyed: Vec<Limit> = asked
            .iter()
            .map(|(_, per_minute, who)| Limit {
                key: queue.keys().rate(Bucket::SignIn.name(), &digest(who)),
                per_minute: *per_minute,
            })
            .collect();
        match store::take(queue, &keyed).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err((i, wait))) => {
                let (setting, per_minute, who) = &asked[i];
                self.note_refusal(setting, who);
                Err(refused(setting, *per_minute, wait))
            }
            // Redis is away (the sign-in itself needs only the tokens file).
            Err(_) => self.take_sign_in_offline(&asked),
        }
    }

    fn take_sign_in_offline(&self, asked: &[(&'static str, u32, String)]) -> Result<(), AppError> {
        let Some(offline) = &self.inner.limits.offline else {
            return Ok(());
        };
        if offline.len() > 100_000 {
            offline.retain_recent();
        }
        for (setting, per_minute, who) in asked {
            if let Err(not_until) = offline.check_key(who) {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                return Err(refused(setting, *per_minute, wait));
            }
        }
        Ok(())
    }

    /// A refusal for rate is logged at most once a minute per setting, with how many were
    /// suppressed meanwhile (a flood must not flood the log too).
    fn note_refusal(&self, setting: &'static str, who: &str) {
        self.inner.throttle.warn(setting, |suppressed| {
            tracing::warn!(
                limit = setting,
                who = %crate::queue::cut(who, 80),
                suppressed,
                "rate limit reached"
            );
        });
    }
}
