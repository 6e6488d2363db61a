//! The pulse's loop: pings the queue every second (one-second limit) on the queue's
//! connection and records the outcome in the `Pulse` every event stream follows (see
//! `events/pulse.rs`), until shutdown.

use crate::events::pulse::{CHECK_EVERY, PING_LIMIT};
use crate::service::state::AppState;

/// Pings the queue every second until shutdown.
pub async fn run(state: AppState) {
    let mut every = crate::clock::Ticker::every(CHECK_EVERY);
    while every.tick(&state.shutdown).await {
        let up = match state.services() {
            Some(services) => services.queue.ping(PING_LIMIT).await,
            None => false,
        };
        state.pulse.record(up);
    }
}
