//! What one check of a rule does to its state: pure, so every case is unit-tested. A rule fires
//! once when its condition has held for the rule's `hold`, sends a reminder at most every
//! `repeat` while it holds, and sends "resolved" once when the condition has been away for
//! `clear` (a condition that flickers does not resolve and fire again).

use crate::queue::alerts::RuleState;

use super::rules::Rule;

/// What to send after a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// Nothing.
    Nothing,
    /// "firing": the condition started.
    Firing,
    /// A reminder: it still holds.
    Repeat,
    /// "resolved": it ended.
    Resolved,
}

impl Notice {
    /// The word in messages and the delivery log.
    pub fn word(self) -> &'static str {
        match self {
            Notice::Nothing => "nothing",
            Notice::Firing => "firing",
            Notice::Repeat => "repeat",
            Notice::Resolved => "resolved",
        }
    }
}

/// The state after a check at `now` (ms) that found the condition holding or not, and what to
/// send. The state is unchanged (and nothing is sent) when nothing moved.
pub fn step(
    rule: &Rule,
    before: &RuleState,
    holds: bool,
    now: u64,
    detail: &str,
) -> (RuleState, Notice) {
    let ms = |d: std::time::Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    let mut state = before.clone();
    state.detail = detail.to_string();
    let send = if holds {
        state.clear = 0;
        if state.firing == 0 {
            if state.pending == 0 {
                state.pending = now;
            }
            if now.saturating_sub(state.pending) >= ms(rule.hold) {
                state.firing = now;
                state.sent = now;
                state.pending = 0;
                Notice::Firing
            } else {
                Notice::Nothing
            }
        } else if rule
            .repeat
            .is_some_and(|every| now.saturating_sub(state.sent) >= ms(every))
        {
            state.sent = now;
            Notice::Repeat
        } else {
            Notice::Nothing
        }
    } else {
        state.pending = 0;
        if state.firing == 0 {
            Notice::Nothing
        } else {
            if state.clear == 0 {
                state.clear = now;
            }
            if now.saturating_sub(state.clear) >= ms(rule.clear) {
                state.firing = 0;
                state.clear = 0;
                state.resolved = now;
                Notice::Resolved
            } else {
                Notice::Nothing
            }
        }
    };
    (state, send)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::service::alerts::rules::{Condition, Rule};

    fn rule(hold: u64, repeat: Option<u64>, clear: u64) -> Rule {
        Rule {
            name: "r".into(),
            when: "redis".into(),
            condition: Condition::Redis,
            queue: None,
            hold: Duration::from_millis(hold),
            repeat: repeat.map(Duration::from_millis),
            clear: Duration::from_millis(clear),
            targets: Vec::new(),
            window: Duration::from_secs(60),
        }
    }

    /// Runs checks every 100 ms over `timeline` (whether it holds at each), returning what was sent and when.
    fn run(rule: &Rule, timeline: &[bool]) -> Vec<(u64, Notice)> {
        let mut state = RuleState::default();
        let mut sent = Vec::new();
        for (i, holds) in timeline.iter().enumerate() {
            let now = 1_000 + 100 * i as u64;
            let (next, send) = step(rule, &state, *holds, now, "");
            if send != Notice::Nothing {
                sent.push((now, send));
            }
            state = next;
        }
        sent
    }

    #[test]
    fn fires_once_repeats_every_period_and_resolves_once() {
        let r = rule(0, Some(1_000), 300);
        let mut timeline = vec![false; 3];
        timeline.extend(vec![true; 25]);
        timeline.extend(vec![false; 10]);
        let sent = run(&r, &timeline);
        assert_eq!(
            sent,
            vec![
                (1_300, Notice::Firing),
                (2_300, Notice::Repeat),
                (3_300, Notice::Repeat),
                (4_100, Notice::Resolved),
            ]
        );
    }

    #[test]
    fn a_hold_delays_firing_and_a_short_blip_does_nothing() {
        let r = rule(500, None, 300);
        // Holds 3 checks (300 ms < 500 ms), then away, then holds long.
        let mut timeline = vec![true; 3];
        timeline.extend(vec![false; 2]);
        timeline.extend(vec![true; 10]);
        let sent = run(&r, &timeline);
        assert_eq!(sent, vec![(1_000 + 100 * 10, Notice::Firing)]);
    }

    #[test]
    fn a_flicker_while_firing_does_not_resolve_and_fire_again() {
        let r = rule(0, None, 300);
        let timeline = [
            true, true, false, false, true, false, true, true, false, false, false, false,
        ];
        let sent = run(&r, &timeline);
        assert_eq!(
            sent,
            vec![
                (1_000, Notice::Firing),
                (1_000 + 100 * 11, Notice::Resolved)
            ]
        );
    }

    #[test]
    fn no_repeat_when_repeat_is_off() {
        let r = rule(0, None, 0);
        let sent = run(&r, &[true; 100]);
        assert_eq!(sent, vec![(1_000, Notice::Firing)]);
    }
}
