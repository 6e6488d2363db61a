//! Sessions of people: signing in with a token (the sign-in page) and signing out. Both are
//! rate-limited per token and per client network (`SENTINEL_RATE_SIGN_IN_*`, in Redis so every
//! web process shares the budget), both are on the audit log (coalesced per principal and
//! window, see `audit.rs`), and a failed sign-in waits a second and is logged at most once a
//! minute with the count of those not logged. The cookie itself is the edge's: this returns
//! the signed value to set.

use std::time::Duration;

use ipnet::IpNet;

use super::Sentinel;
use super::audit::Done;
use crate::auth::session::{self, SESSION_SECONDS};
use crate::auth::{Credential, Principal, tokens};
use crate::error::AppError;

/// How long a failed sign-in waits before it is answered (slows guessing).
pub const FAILED_SIGN_IN_DELAY: Duration = Duration::from_secs(1);

/// Why a sign-in did not open a session.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// The server has no session key (no tokens file, or no secret).
    #[error("sign-in with a token is not set up on this server")]
    NotSetUp,
    /// The token is not in the file.
    #[error("that token is not valid")]
    Invalid,
    /// Too many sign-ins for this token or from this network.
    #[error(transparent)]
    Refused(#[from] AppError),
}

/// A session just opened: the signed cookie value, and how long it lasts.
#[derive(Debug, Clone)]
pub struct Opened {
    /// The signed value of the session cookie.
    pub value: String,
    /// Seconds it lasts.
    pub max_age: u64,
}

fn holder(entry: &tokens::TokenEntry) -> Principal {
    Principal {
        owner: format!("token:{}", entry.name).into(),
        role: entry.role,
        credential: Credential::Session,
        network: None,
        queues: entry.queues.clone(),
        home_hidden: false,
    }
}

impl Sentinel {
    /// Opens a session for `token`, asked from `network`.
    pub async fn sign_in(
        &self,
        token: &str,
        network: Option<IpNet>,
    ) -> Result<Opened, SignInError> {
        let access = self.access();
        let Some(key) = access.key() else {
            return Err(SignInError::NotSetUp);
        };
        let Some(entry) = access.tokens().find(token.trim()) else {
            // The network's budget first: a flood of guesses is refused without waiting.
            self.take_sign_in(None, network).await?;
            self.inner.throttle.warn("failed sign-in", |suppressed| {
                tracing::warn!(
                    network = ?network,
                    suppressed,
                    "failed sign-in"
                );
            });
            tokio::time::sleep(FAILED_SIGN_IN_DELAY).await;
            return Err(SignInError::Invalid);
        };
        self.take_sign_in(Some(&entry.name), network).await?;
        tracing::debug!(name = %entry.name, role = %entry.role, "signed in");
        let opened = session::Session {
            name: entry.name.clone(),
            digest_prefix: tokens::hex(&entry.digest)[..16].to_string(),
            expiry: session::now() + SESSION_SECONDS,
            id: session::random_id(),
        };
        let done = Done {
            action: "sign-in",
            target: None,
            count: None,
        };
        let _ = self
            .record(&holder(&entry), done, Ok(()), |()| "done".to_string())
            .await;
        Ok(Opened {
            value: key.sign(&opened.payload()),
            max_age: SESSION_SECONDS,
        })
    }

    /// Ends the session whose cookie value is `cookie` (if it is one of ours and not ended
    /// already): revoked here at once and in Redis for the other processes, so a copy of the
    /// cookie stops working everywhere within a second.
    pub async fn sign_out(&self, cookie: &str, network: Option<IpNet>) -> Result<(), AppError> {
        let access = self.access();
        let Some(session) = access
            .key()
            .and_then(|key| key.verify(cookie))
            .and_then(|payload| session::Session::parse(&payload))
        else {
            return Ok(());
        };
        if access.revoked.contains(&session.id) {
            return Ok(());
        }
        self.take_sign_in(Some(&session.name), network).await?;
        let revoked = access
            .revoked
            .revoke(self.queue().ok(), &session.id, session.expiry)
            .await;
        if let Some(entry) = access
            .tokens()
            .by_name(&session.name, &session.digest_prefix)
        {
            let done = Done {
                action: "sign-out",
                target: None,
                count: None,
            };
            let _ = self
                .record(&holder(&entry), done, Ok(()), |()| "done".to_string())
                .await;
        }
        if let Err(error) = revoked {
            tracing::warn!(
                name = %session.name,
                error = %crate::telemetry::error_chain(&error),
                "signed out on this process only: Redis did not take the revocation"
            );
        }
        Ok(())
    }

    /// Reads the sessions signed out on any process from Redis into this process's copy.
    pub async fn refresh_revoked(&self) -> Result<(), AppError> {
        let now = session::now();
        let read = self
            .queue()?
            .revoked_sessions(now, crate::auth::revoked::MAX_READ)
            .await?;
        self.access().revoked.replace(read, now);
        Ok(())
    }
}
