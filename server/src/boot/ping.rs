//! The pulse's loop: pings the queue every second (one-second limit) on the queue's
//! connection and records the outcome in the `Pulse` every event stream follows (see
//! `events/pulse.rs`), until shutdown.

use crate::events::pulse::{CHECK_EVERY, PING_LIMIT};
use crate::service::state::AppState;

/// Pings the queue every second until shutdown.
pub async fn run(state: AppState) {
    let mut every = tokio::time::interval(CHECK_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            () = state.shutdown.cancelled() => return,
        }
        let up = match state.services() {
            Some(services) => services.queue.ping(PING_LIMIT).await,
            None => false,
        };
        state.pulse.record(up);
    }
}
