//! The audit log's coalescing loop: every few seconds, the sign-in windows that ended are
//! written as one entry each with their count (see `service/audit.rs`); on shutdown, all of
//! them.

use std::time::Duration;

use crate::service::Sentinel;

/// How often ended windows are looked for.
const EVERY: Duration = Duration::from_secs(5);

/// Writes the ended windows' counts until the process shuts down, then every open one.
pub async fn run(sentinel: Sentinel) {
    let shutdown = sentinel.shutdown_token().clone();
    let mut every = crate::clock::Ticker::every(EVERY);
    while every.tick(&shutdown).await {
        sentinel.flush_coalesced(false).await;
    }
    sentinel.flush_coalesced(true).await;
}
