//! The pulse's loop: pings the queue every second (one-second limit) on the queue's
//! connection and records the outcome in the `Pulse` every event stream follows (see
//! `events/pulse.rs`), until shutdown.

use crate::events::pulse::{CHECK_EVERY, PING_LIMIT};
use crate::service::Sentinel;

/// Pings the queue every second until shutdown.
pub async fn run(sentinel: Sentinel) {
    let shutdown = sentinel.shutdown_token().clone();
    let mut every = crate::clock::Ticker::every(CHECK_EVERY);
    while every.tick(&shutdown).await {
        sentinel.beat(PING_LIMIT).await;
    }
}
