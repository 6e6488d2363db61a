//! The audit log's storage: a Redis stream beside the queue (`<prefix>:<queue>:audit`), capped at
//! about `AUDIT_MAX_ENTRIES` entries (oldest trimmed first), at `AUDIT_MAX_PER_PRINCIPAL` per
//! principal and kind (a list of each principal's entry ids says which are its own, so its
//! volume removes only its own oldest), and at `AUDIT_MAX_AGE_DAYS`; one entry per
//! state-changing action:
//! who (owner, role, how signed in), what (action, target, count), and the outcome. Its stream
//! id says when. Entries are read back newest first, and, like everything read from Redis, not
//! trusted: fields are cut to a bounded length and an entry that is not ours is skipped.

use app::admin::{AuditEntry, AuditQuery};

use super::stream::StreamId;
use super::{EngineError, TaskQueue};

/// Longest field kept of an entry read back.
const MAX_FIELD: usize = 512;
/// Entries examined at most by one read (a filter that matches little stops there).
pub const READ_BUDGET: usize = 10_000;
/// Entries read per round trip.
const PAGE: usize = 500;

/// One action to record.
#[derive(Debug, Clone)]
pub struct AuditRecord<'a> {
    /// The owner (`token:ci`, `user:alice`, `local`).
    pub who: &'a str,
    /// The role it acted with.
    pub role: &'a str,
    /// How it proved who it is (`bearer`, `session`, `proxy`, `anonymous`, `open`).
    pub via: &'a str,
    /// What it did (`retry`, `pause`, `clean`, `bulk:remove`, `sign-in`, ...).
    pub action: &'a str,
    /// What it did it to (a job id, a state, a search), if anything.
    pub target: Option<&'a str>,
    /// How many jobs it covered, when it is known.
    pub count: Option<u64>,
    /// `done`, `requested`, `started`, or why it was refused or failed.
    pub outcome: &'a str,
}

/// How much of the log one entry may push out, and for how long entries are kept.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    /// Entries the whole log keeps (about; the oldest are trimmed first).
    pub max_entries: usize,
    /// Entries kept of one principal and category: past it, that principal's own oldest
    /// entry of the category is removed, never another's.
    pub max_per_principal: usize,
    /// How long an entry is kept at most.
    pub max_age_ms: u64,
}

/// KEYS: the log, the principal's list of its entries' ids (of this category). ARGV: the
/// log's length, the principal's, the oldest entry id kept (ms), the list's life (s), then the
/// entry's fields and values. Adds the entry; removes the principal's own entries past its
/// cap (at most a thousand a call) and every entry past the age; returns the entry's id.
const APPEND_SCRIPT: &str = r#"
local fields = {}
for i = 5, #ARGV do
  fields[#fields + 1] = ARGV[i]
end
local id = redis.call("XADD", KEYS[1], "MAXLEN", "~", ARGV[1], "*", unpack(fields))
redis.call("LPUSH", KEYS[2], id)
local cap = tonumber(ARGV[2])
local over = redis.call("LRANGE", KEYS[2], cap, cap + 999)
if #over > 0 then
  redis.call("XDEL", KEYS[1], unpack(over))
  redis.call("LTRIM", KEYS[2], 0, cap - 1)
end
redis.call("EXPIRE", KEYS[2], ARGV[4])
redis.call("XTRIM", KEYS[1], "MINID", ARGV[3])
return id
"#;

fn append_script() -> &'static redis::Script {
    static SCRIPT: std::sync::OnceLock<redis::Script> = std::sync::OnceLock::new();
    SCRIPT.get_or_init(|| redis::Script::new(APPEND_SCRIPT))
}

/// Appends one entry, kept as `retention` says: `digest` names the principal (a digest of
/// its owner) and `category` the kind of entry it is capped apart in (`access` for sign-ins
/// and sign-outs, `actions` for everything else).
pub async fn append(
    queue: &TaskQueue,
    record: &AuditRecord<'_>,
    digest: &str,
    category: &str,
    retention: Retention,
) -> Result<(), EngineError> {
    let mut invocation = append_script().prepare_invoke();
    invocation
        .key(queue.keys().audit())
        .key(queue.keys().audit_by(category, digest))
        .arg(retention.max_entries)
        .arg(retention.max_per_principal.max(1))
        .arg(crate::clock::now_ms().saturating_sub(retention.max_age_ms))
        .arg((retention.max_age_ms / 1000).max(1))
        .arg("who")
        .arg(record.who)
        .arg("role")
        .arg(record.role)
        .arg("via")
        .arg(record.via)
        .arg("action")
        .arg(record.action)
        .arg("outcome")
        .arg(record.outcome);
    if let Some(target) = record.target {
        invocation.arg("target").arg(target);
    }
    if let Some(count) = record.count {
        invocation.arg("count").arg(count);
    }
    queue
        .run_script::<redis::Value>(&invocation)
        .await
        .map(|_| ())
}

/// The entries `query` asks for, newest first, at most `query.limit`, examining at most
/// [`READ_BUDGET`] entries; with the id to go on from (`before`) when there may be more.
pub async fn read(
    queue: &TaskQueue,
    query: &AuditQuery,
    limit: usize,
) -> Result<(Vec<AuditEntry>, Option<String>), EngineError> {
    let key = queue.keys().audit();
    let mut upper = match query.before.as_deref().map(str::parse::<StreamId>) {
        // Nothing is older than the first id there can be.
        Some(Ok(StreamId::ZERO)) => return Ok((Vec::new(), None)),
        Some(Ok(before)) => format!("({before}"),
        Some(Err(())) => return Ok((Vec::new(), None)),
        None => "+".to_string(),
    };
    let lower = query.since.map_or("-".to_string(), |ms| format!("{ms}-0"));
    let mut found = Vec::new();
    let mut examined = 0;
    loop {
        let mut cmd = redis::cmd("XREVRANGE");
        cmd.arg(&key).arg(&upper).arg(&lower).arg("COUNT").arg(PAGE);
        let reply: redis::Value = queue.run_cmd(&cmd).await?;
        let entries = entries(reply);
        examined += entries.len();
        let full = entries.len() == PAGE;
        let Some(last) = entries.last().map(|e| e.id.clone()) else {
            return Ok((found, None));
        };
        for entry in entries {
            if entry.at > query.until.unwrap_or(u64::MAX) || !matches(query, &entry) {
                continue;
            }
            found.push(entry);
            if found.len() == limit {
                let next = found.last().map(|e| e.id.clone());
                return Ok((found, next));
            }
        }
        if !full {
            return Ok((found, None));
        }
        if examined >= READ_BUDGET {
            return Ok((found, Some(last)));
        }
        upper = format!("({last}");
    }
}

/// Whether `entry` is one `query` asks for. An action filter also takes the action's bulk
/// form and its kinds: `retry` finds `bulk:retry`, `scheduler` finds `scheduler:run`.
fn matches(query: &AuditQuery, entry: &AuditEntry) -> bool {
    query.who.as_deref().is_none_or(|who| entry.who == who)
        && query
            .action
            .as_deref()
            .is_none_or(|action| action_matches(action, &entry.action))
}

fn action_matches(asked: &str, action: &str) -> bool {
    action == asked
        || action.strip_prefix("bulk:") == Some(asked)
        || action
            .strip_prefix(asked)
            .is_some_and(|rest| rest.starts_with(':'))
}

/// The entries of an `XRANGE`-shaped reply; entries that are not ours are skipped.
fn entries(reply: redis::Value) -> Vec<AuditEntry> {
    super::stream::raw_entries(reply)
        .into_iter()
        .filter_map(|(id, pairs)| {
            let field = |name: &str| super::stream::field(&pairs, name, MAX_FIELD);
            Some(AuditEntry {
                id: id.to_string(),
                at: id.ms(),
                who: field("who")?,
                role: field("role").unwrap_or_default(),
                via: field("via").unwrap_or_default(),
                action: field("action")?,
                target: field("target"),
                count: field("count").and_then(|n| n.parse().ok()),
                outcome: field("outcome").unwrap_or_default(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_action_filter_takes_its_bulk_form_and_its_kinds() {
        let cases = [
            ("retry", "retry", true),
            ("retry", "bulk:retry", true),
            ("scheduler", "scheduler:run", true),
            ("bulk", "bulk:remove", true),
            ("retry", "retry-later", false),
            ("re", "retry", false),
            ("bulk:retry", "retry", false),
            ("sign-in", "sign-in", true),
        ];
        for (asked, action, want) in cases {
            assert_eq!(
                super::action_matches(asked, action),
                want,
                "{asked} ~ {action}"
            );
        }
    }
}
