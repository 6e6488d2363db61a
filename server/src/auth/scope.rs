//! Which queues a principal may see. A role can be limited to queues: `operator@billing-*` in
//! `SENTINEL_USER_ROLES` (`alice=operator@billing-*`) or in the tokens file's role field.
//! Patterns are separated by `|` and are globs (`*` any run of characters, `?` one, `[a-c]` a
//! class; the `globset` crate). A pattern without `:` matches the queue's name under any
//! prefix; one with `:` matches `<prefix>:<name>`. A limited
//! principal sees no other queue anywhere: the queues list, every admin call, the dashboard.

use std::str::FromStr;
use std::sync::Arc;

use super::Role;

/// Most patterns one grant lists.
const MAX_PATTERNS: usize = 32;
/// Longest pattern taken.
const MAX_PATTERN_BYTES: usize = 200;

/// The queues a principal may see.
#[derive(Debug, Clone, Default)]
pub enum QueueScope {
    /// Every queue (a role with no `@`).
    #[default]
    All,
    /// Only the queues one of these patterns matches: (whether it names the prefix too, the
    /// compiled pattern).
    Only(Arc<[(bool, globset::GlobMatcher)]>),
}

impl PartialEq for QueueScope {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (QueueScope::All, QueueScope::All) => true,
            (QueueScope::Only(a), QueueScope::Only(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .zip(b.iter())
                        .all(|((pa, ga), (pb, gb))| pa == pb && ga.glob() == gb.glob())
            }
            _ => false,
        }
    }
}

impl Eq for QueueScope {}

impl QueueScope {
    /// Whether queue `name` under `prefix` is in scope.
    pub fn allows(&self, prefix: &str, name: &str) -> bool {
        match self {
            QueueScope::All => true,
            QueueScope::Only(patterns) => patterns.iter().any(|(with_prefix, pattern)| {
                if *with_prefix {
                    pattern.is_match(format!("{prefix}:{name}"))
                } else {
                    pattern.is_match(name)
                }
            }),
        }
    }

    /// Whether every queue is in scope.
    pub fn is_all(&self) -> bool {
        matches!(self, QueueScope::All)
    }
}

/// A role and the queues it holds on: `operator`, or `operator@billing-*|payments`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// What it may do.
    pub role: Role,
    /// Where.
    pub queues: QueueScope,
}

impl FromStr for Grant {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, String> {
        let (role, patterns) = match raw.split_once('@') {
            None => (raw, None),
            Some((role, patterns)) => (role, Some(patterns)),
        };
        let role: Role = role.trim().parse()?;
        let Some(patterns) = patterns else {
            return Ok(Self {
                role,
                queues: QueueScope::All,
            });
        };
        let patterns: Vec<String> = patterns
            .split('|')
            .map(str::trim)
            .map(str::to_string)
            .collect();
        if patterns.is_empty()
            || patterns.len() > MAX_PATTERNS
            || patterns.iter().any(|p| {
                p.is_empty()
                    || p.len() > MAX_PATTERN_BYTES
                    || p.chars().any(|c| c.is_control() || c.is_whitespace())
            })
        {
            return Err(format!(
                "after '@' give 1 to {MAX_PATTERNS} queue patterns separated by '|' (e.g. billing-*|payments), each 1 to {MAX_PATTERN_BYTES} characters without spaces"
            ));
        }
        let compiled = patterns
            .iter()
            .map(|p| {
                globset::Glob::new(p)
                    .map(|glob| (p.contains(':'), glob.compile_matcher()))
                    .map_err(|e| format!("queue pattern {p:?}: {e}"))
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Self {
            role,
            queues: QueueScope::Only(compiled.into()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_name_a_role_and_the_queues_it_holds_on() {
        let grant: Grant = "operator@billing-*|svc:payments".parse().unwrap();
        assert_eq!(grant.role, Role::Operator);
        assert!(grant.queues.allows("bull", "billing-eu"));
        assert!(grant.queues.allows("other", "billing-"));
        assert!(!grant.queues.allows("bull", "emails"));
        assert!(!grant.queues.allows("bull", "xbilling-eu"));
        assert!(grant.queues.allows("svc", "payments"));
        assert!(
            !grant.queues.allows("bull", "payments"),
            "the prefix is part of it"
        );
        let all: Grant = "viewer".parse().unwrap();
        assert!(all.queues.is_all() && all.queues.allows("any", "queue"));
        for bad in [
            "operator@",
            "operator@a||b",
            "operator@a b",
            "boss@x",
            "admin@\u{1}",
            "viewer@[a",
        ] {
            assert!(bad.parse::<Grant>().is_err(), "{bad:?}");
        }
    }
}
