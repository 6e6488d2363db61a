//! Sign-ins (and sign-outs) counted per principal while their window is open: the audit log
//! writes the first of a window at once and the rest as one entry with their count (see
//! `audit.rs`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::auth::Principal;

/// The actions coalesced per principal and window.
pub const COALESCED: [&str; 2] = ["sign-in", "sign-out"];

/// Principals whose windows are held at most (past it every pending count is written).
const MAX_WINDOWS: usize = 10_000;

/// Sign-ins (and sign-outs) counted while their window is open, by owner and action.
#[derive(Default)]
pub struct Coalescer {
    windows: Mutex<HashMap<(String, &'static str), Window>>,
}

struct Window {
    opened: Instant,
    first_at: u64,
    more: u64,
    principal: Principal,
}

/// A window whose count is due to be written.
pub struct Due {
    /// Who.
    pub principal: Principal,
    /// What.
    pub action: &'static str,
    /// When the window's first was written (ms).
    pub first_at: u64,
    /// How many more fell in the window.
    pub more: u64,
}

impl Coalescer {
    /// Whether this `action` by `who` opens a window (write it now) or falls in an open one
    /// (counted, written when the window ends). What a new window closes is returned too.
    pub fn note(
        &self,
        who: &Principal,
        action: &'static str,
        window: Duration,
    ) -> (bool, Option<Due>) {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let key = (who.owner.to_string(), action);
        if let Some(open) = windows.get_mut(&key)
            && open.opened.elapsed() < window
        {
            open.more += 1;
            return (false, None);
        }
        if windows.len() >= MAX_WINDOWS {
            windows.clear();
        }
        let closed = windows.insert(
            key,
            Window {
                opened: Instant::now(),
                first_at: crate::clock::now_ms(),
                more: 0,
                principal: who.clone(),
            },
        );
        (true, closed.and_then(|w| due(w, action)))
    }

    /// Takes every window that has ended (all of them with `all`), with what is left to write.
    pub fn take_ended(&self, window: Duration, all: bool) -> Vec<Due> {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let ended: Vec<(String, &'static str)> = windows
            .iter()
            .filter(|(_, w)| all || w.opened.elapsed() >= window)
            .map(|(key, _)| key.clone())
            .collect();
        ended
            .into_iter()
            .filter_map(|key| {
                let action = key.1;
                windows.remove(&key).and_then(|w| due(w, action))
            })
            .collect()
    }
}

fn due(window: Window, action: &'static str) -> Option<Due> {
    (window.more > 0).then_some(Due {
        principal: window.principal,
        action,
        first_at: window.first_at,
        more: window.more,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn someone(owner: &str) -> Principal {
        Principal {
            owner: owner.into(),
            ..Principal::open()
        }
    }

    #[test]
    fn sign_ins_of_one_principal_in_a_window_are_one_entry_and_a_count() {
        let coalescer = Coalescer::default();
        let window = Duration::from_secs(60);
        let alice = someone("token:alice");
        assert!(coalescer.note(&alice, "sign-in", window).0);
        for _ in 0..999 {
            assert!(!coalescer.note(&alice, "sign-in", window).0);
        }
        // Another principal, or another action, has its own window.
        assert!(coalescer.note(&someone("token:bob"), "sign-in", window).0);
        assert!(coalescer.note(&alice, "sign-out", window).0);
        assert!(coalescer.take_ended(window, false).is_empty(), "still open");
        let due = coalescer.take_ended(window, true);
        let alice_due: Vec<&Due> = due
            .iter()
            .filter(|d| &*d.principal.owner == "token:alice")
            .collect();
        assert_eq!(
            alice_due.len(),
            1,
            "only the window with more than its first"
        );
        assert_eq!((alice_due[0].action, alice_due[0].more), ("sign-in", 999));
        // A window that ended gives way to a new one, and hands over its count.
        let short = Duration::ZERO;
        assert!(coalescer.note(&alice, "sign-in", short).0);
        coalescer.note(&alice, "sign-in", Duration::from_secs(60));
        let (opened, closed) = coalescer.note(&alice, "sign-in", short);
        assert!(opened);
        assert_eq!(closed.map(|d| d.more), Some(1));
    }
}
