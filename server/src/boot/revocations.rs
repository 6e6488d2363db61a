//! The loop that keeps this process's copy of the signed-out sessions (see `auth/revoked.rs`)
//! in step with Redis: read every `REFRESH_EVERY` until shutdown (skipped while Redis has not
//! been reached).

use tracing::{debug, warn};

use crate::auth::revoked::REFRESH_EVERY;
use crate::service::Sentinel;

/// Runs until the process shuts down.
pub async fn run(sentinel: Sentinel) {
    let shutdown = sentinel.shutdown_token().clone();
    let mut every = crate::clock::Ticker::every(REFRESH_EVERY);
    let mut failing = false;
    while every.tick(&shutdown).await {
        if !sentinel.is_connected() {
            continue;
        }
        match sentinel.refresh_revoked().await {
            Ok(()) => failing = false,
            Err(error) if !failing => {
                failing = true;
                warn!(error = %crate::telemetry::error_chain(&error), "cannot read revoked sessions; keeping the ones known");
            }
            Err(error) => debug!(%error, "still cannot read revoked sessions"),
        }
    }
}
