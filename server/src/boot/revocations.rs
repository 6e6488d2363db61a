//! The loop that keeps this process's copy of the signed-out sessions (see `auth/revoked.rs`)
//! in step with Redis: read every `REFRESH_EVERY` until shutdown (skipped while Redis has not
//! been reached).

use tracing::{debug, warn};

use crate::auth::revoked::{MAX_READ, REFRESH_EVERY};
use crate::service::state::AppState;

/// Runs until the process shuts down.
pub async fn run(state: AppState) {
    let revoked = state.access.revoked.clone();
    let mut every = crate::clock::Ticker::every(REFRESH_EVERY);
    let mut failing = false;
    while every.tick(&state.shutdown).await {
        let Ok(queue) = state.queue() else { continue };
        let now = crate::auth::session::now();
        match queue.revoked_sessions(now, MAX_READ).await {
            Ok(read) => {
                failing = false;
                revoked.replace(read, now);
            }
            Err(error) if !failing => {
                failing = true;
                warn!(error = %crate::telemetry::error_chain(&error), "cannot read revoked sessions; keeping the ones known");
            }
            Err(error) => debug!(%error, "still cannot read revoked sessions"),
        }
    }
}
