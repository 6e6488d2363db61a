//! The audit log's storage: a Redis stream beside the queue (`<prefix>:<queue>:audit`), capped at
//! about `AUDIT_MAX_ENTRIES` entries (oldest trimmed first), one entry per state-changing action:
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

/// Appends one entry, trimming the stream to about `max_len` entries.
pub async fn append(
    queue: &TaskQueue,
    record: &AuditRecord<'_>,
    max_len: usize,
) -> Result<(), EngineError> {
    let mut cmd = redis::cmd("XADD");
    cmd.arg(queue.keys().audit())
        .arg("MAXLEN")
        .arg("~")
        .arg(max_len)
        .arg("*")
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
        cmd.arg("target").arg(target);
    }
    if let Some(count) = record.count {
        cmd.arg("count").arg(count);
    }
    queue.run_cmd::<redis::Value>(&cmd).await.map(|_| ())
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

fn matches(query: &AuditQuery, entry: &AuditEntry) -> bool {
    query.who.as_deref().is_none_or(|who| entry.who == who)
        && query
            .action
            .as_deref()
            .is_none_or(|action| entry.action == action)
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
