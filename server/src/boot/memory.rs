//! The memory guard's loop: reads Redis's memory every `SENTINEL_REDIS_MEMORY_CHECK_MS` (see
//! `service/memory.rs`), until shutdown; skipped while Redis has not been reached.

use crate::service::Sentinel;

/// Reads Redis's memory on a period until the process shuts down.
pub async fn run(sentinel: Sentinel) {
    let shutdown = sentinel.shutdown_token().clone();
    let mut every = crate::clock::Ticker::every(sentinel.memory_check_every());
    while every.tick(&shutdown).await {
        if sentinel.is_connected()
            && let Err(error) = sentinel.read_memory().await
        {
            tracing::debug!(error = %crate::telemetry::error_chain(&error), "Redis memory not read");
        }
    }
}
