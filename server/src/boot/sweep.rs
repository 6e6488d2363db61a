//! The search index's sweep (see `queue/index.rs`), every `SEARCH_INDEX_SWEEP_MS` in every
//! process, until shutdown.

use std::time::Duration;

use crate::service::state::AppState;

/// Sweeps every `SEARCH_INDEX_SWEEP_MS` until the process shuts down (skipped while Redis has
/// not been reached).
pub async fn run(state: AppState) {
    let mut every =
        crate::clock::Ticker::every(Duration::from_millis(state.config.search_index_sweep_ms));
    // The first sweep a period after start, not at once.
    every.tick(&state.shutdown).await;
    while every.tick(&state.shutdown).await {
        let Ok(queue) = state.queue() else { continue };
        match crate::queue::index::sweep(queue).await {
            Ok(0) => {}
            Ok(removed) => tracing::debug!(removed, "search index swept"),
            Err(error) => tracing::debug!(
                error = %crate::telemetry::error_chain(&error),
                "search index sweep stopped; trying again later"
            ),
        }
    }
}
