//! The queue's pulse: whether this process reaches Redis right now, checked every second on
//! the queue's connection (a ping with a one-second limit). Event streams tell their pages at
//! once when it changes, and repeat it every few seconds, so a page can tell "the queue is
//! unreachable" from "the server is" and notice a stream that went silent.

use std::time::Duration;

use tokio::sync::watch;

use crate::clock::now_ms;

/// How often the queue is pinged.
pub const CHECK_EVERY: Duration = Duration::from_secs(1);
/// How long a ping may take before it counts as missed.
pub const PING_LIMIT: Duration = Duration::from_millis(1000);
/// Missed pings in a row after which the queue counts as unreachable: one slow answer on a
/// starved machine (a stall of a second under load) does not refuse every request for a
/// second, and a real outage is still known within about two seconds.
pub const MISSES_FOR_DOWN: u32 = 2;

/// Whether the queue answers, and since when (ms since the epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueLink {
    /// The last ping was answered in time.
    pub up: bool,
    /// When `up` last changed.
    pub since_ms: u64,
}

impl QueueLink {
    /// The JSON of the `status` event.
    pub fn to_json(self) -> String {
        format!(
            r#"{{"queue":"{}","since":{}}}"#,
            if self.up { "up" } else { "down" },
            self.since_ms
        )
    }
}

/// The current link, shared with every event stream.
#[derive(Debug)]
pub struct Pulse {
    link: watch::Sender<QueueLink>,
    /// Whether a ping has been answered or the queue counted down yet (before, the link is
    /// not known).
    checked: std::sync::atomic::AtomicBool,
    /// Pings missed in a row.
    misses: std::sync::atomic::AtomicU32,
}

impl Default for Pulse {
    fn default() -> Self {
        Self {
            link: watch::Sender::new(QueueLink {
                up: false,
                since_ms: now_ms(),
            }),
            checked: std::sync::atomic::AtomicBool::new(false),
            misses: std::sync::atomic::AtomicU32::new(0),
        }
    }
}

impl Pulse {
    /// Follows the link's changes.
    pub fn subscribe(&self) -> watch::Receiver<QueueLink> {
        self.link.subscribe()
    }

    /// When the last ping was not answered in time: since when the queue has been down (ms
    /// since the epoch). `None` while it answers, and before the first ping.
    pub fn down_since(&self) -> Option<u64> {
        let link = *self.link.borrow();
        (!link.up && self.checked.load(std::sync::atomic::Ordering::Relaxed))
            .then_some(link.since_ms)
    }

    /// Records a ping's outcome; a change wakes the subscribers. The queue counts as down
    /// after [`MISSES_FOR_DOWN`] missed pings in a row, and as up again at the first answer.
    pub fn record(&self, up: bool) {
        use std::sync::atomic::Ordering;
        if up {
            self.misses.store(0, Ordering::Relaxed);
        } else if self.misses.fetch_add(1, Ordering::Relaxed) + 1 < MISSES_FOR_DOWN {
            return;
        }
        let first = !self
            .checked
            .swap(true, std::sync::atomic::Ordering::Relaxed);
        if first && !up {
            tracing::warn!(
                "Redis does not answer pings: operations are refused (503) until it does"
            );
        }
        self.link.send_if_modified(|link| {
            if link.up == up {
                return false;
            }
            let now = now_ms();
            if !up {
                tracing::warn!(
                    "Redis does not answer pings: operations are refused (503) until it does"
                );
            } else if !first {
                let seconds = now.saturating_sub(link.since_ms) / 1000;
                tracing::info!(down_for_secs = seconds, "Redis answers again");
            }
            *link = QueueLink { up, since_ms: now };
            true
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_changes_wake_the_streams() {
        let pulse = Pulse::default();
        let mut link = pulse.subscribe();
        assert!(!link.borrow_and_update().up);
        pulse.record(false);
        assert!(!link.has_changed().unwrap_or(true));
        pulse.record(true);
        assert!(link.has_changed().unwrap_or(false));
        let now = *link.borrow_and_update();
        assert!(now.up);
        assert!(now.to_json().starts_with(r#"{"queue":"up","since":"#));
    }

    #[test]
    fn down_is_known_only_after_pings_missed_in_a_row() {
        let pulse = Pulse::default();
        assert_eq!(pulse.down_since(), None, "not known before the first ping");
        pulse.record(true);
        assert_eq!(pulse.down_since(), None);
        // One missed ping (a stall under load) is not an outage.
        pulse.record(false);
        assert_eq!(pulse.down_since(), None, "one miss");
        pulse.record(true);
        pulse.record(false);
        assert_eq!(pulse.down_since(), None, "misses that are not in a row");
        pulse.record(false);
        let since = pulse.down_since().expect("down after two misses in a row");
        pulse.record(false);
        assert_eq!(
            pulse.down_since(),
            Some(since),
            "still down since it was counted down"
        );
        pulse.record(true);
        assert_eq!(pulse.down_since(), None);
        // From the start: known after two misses, not before.
        let fresh = Pulse::default();
        fresh.record(false);
        assert_eq!(fresh.down_since(), None);
        fresh.record(false);
        assert!(fresh.down_since().is_some());
    }
}
