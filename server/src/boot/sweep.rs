//! The search index's sweep (see `queue/index.rs`), every `SEARCH_INDEX_SWEEP_MS` in every
//! process, until shutdown.

use std::time::Duration;

use crate::service::Sentinel;

/// Sweeps every `SEARCH_INDEX_SWEEP_MS` until the process shuts down (skipped while Redis has
/// not been reached).
pub async fn run(sentinel: Sentinel) {
    let shutdown = sentinel.shutdown_token().clone();
    let every = Duration::from_millis(sentinel.config().search_index_sweep_ms);
    let mut every = crate::clock::Ticker::every(every);
    // The first sweep a period after start, not at once.
    every.tick(&shutdown).await;
    while every.tick(&shutdown).await {
        sentinel.sweep_index().await;
    }
}
