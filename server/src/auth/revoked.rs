//! Sessions signed out before they expired. A session cookie is signed, not stored, so signing
//! out must leave a mark that every web process honours: the session's id goes into a sorted
//! set in Redis (scored by when the session would have expired), and each process keeps a copy
//! in memory, read again every [`REFRESH_EVERY`]. The process that signs a session out knows
//! at once; the others within a second. Checking a cookie costs no Redis round trip, and
//! revocations already known keep holding while Redis is away.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::Duration;

use crate::queue::{EngineError, TaskQueue};

/// How often each process reads the revoked sessions again.
pub const REFRESH_EVERY: Duration = Duration::from_secs(1);

/// Most revoked sessions read (more than anyone signs out within a session's lifetime).
pub const MAX_READ: isize = 100_000;

/// The revoked session ids this process knows, with when each would have expired (seconds
/// since the epoch).
#[derive(Debug, Default)]
pub struct RevokedSessions {
    ids: RwLock<HashMap<String, u64>>,
}

impl RevokedSessions {
    /// Whether session `id` was signed out.
    pub fn contains(&self, id: &str) -> bool {
        self.ids
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(id)
    }

    /// Signs session `id` (valid until `expiry`, seconds since the epoch) out: here at once, and
    /// in Redis for the other processes.
    pub async fn revoke(
        &self,
        queue: Option<&TaskQueue>,
        id: &str,
        expiry: u64,
    ) -> Result<(), EngineError> {
        self.ids
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.to_string(), expiry);
        match queue {
            Some(queue) => queue.revoke_session(id, expiry).await,
            None => Err(EngineError::Timeout(Duration::ZERO)),
        }
    }

    /// Replaces what this process knows with what Redis holds (keeping its own revocations
    /// that are still unexpired, in case they did not reach Redis).
    pub fn replace(&self, from_redis: Vec<(String, u64)>, now: u64) {
        let mut ids = self.ids.write().unwrap_or_else(|e| e.into_inner());
        ids.retain(|_, expiry| *expiry >= now);
        ids.extend(from_redis);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_revocations_hold_until_they_expire_even_when_redis_lost_them() {
        let revoked = RevokedSessions::default();
        revoked
            .ids
            .write()
            .unwrap()
            .extend([("mine".to_string(), 100), ("old".to_string(), 5)]);
        revoked.replace(vec![("other".to_string(), 200)], 50);
        assert!(revoked.contains("mine"));
        assert!(revoked.contains("other"));
        assert!(!revoked.contains("old"), "expired sessions are forgotten");
    }
}
