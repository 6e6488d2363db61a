//! The search index of the jobs Sentinel adds: for each term (`name:<name>`, and
//! `data:<field>:<value>` for each top-level scalar field of the data), a sorted set of job ids
//! scored by when they were added, so a search finds its first page without reading the queue.
//!
//! The keys are the queue's own (`<prefix>:<queue>:idx:…`), so they share its hash slot on a
//! cluster when the prefix carries a hash tag. The index only proposes candidates: a search
//! reads every candidate's job and checks it, so an entry that is out of date (a job removed
//! or changed by another tool) can hide nothing and invent nothing; it only costs a read.
//! Jobs added by other producers are not indexed: a search finds them by a bounded scan.
//!
//! Entries leave the index when we remove a job, when a search meets a job that is gone, and in
//! a sweep (once a minute by default, in every process) that walks each term's oldest entries, the ones
//! BullMQ's retention removes first, and stops at the first chunk where every job still exists.

use app::search::index_form;
use serde_json::Value;

use super::{EngineError, TaskQueue};

/// Longest indexed value (a longer one is found by the scan).
pub const MAX_INDEXED_VALUE_BYTES: usize = 128;
/// Longest indexed field name.
const MAX_INDEXED_FIELD_BYTES: usize = 64;
/// Most data fields indexed per job.
const MAX_INDEXED_FIELDS: usize = 16;
/// Entries checked per step of the sweep.
const SWEEP_CHUNK: isize = 500;
/// Steps per term and sweep (the rest waits for the next sweep).
const SWEEP_STEPS: usize = 40;

/// The term of a job name.
pub fn name_term(name: &str) -> Option<String> {
    (name.len() <= MAX_INDEXED_VALUE_BYTES).then(|| format!("name:{name}"))
}

/// The term of a top-level data field holding `value` (a scalar, not too long), if indexed.
pub fn data_term(field: &str, value: &str) -> Option<String> {
    let field_ok = !field.is_empty()
        && field.len() <= MAX_INDEXED_FIELD_BYTES
        && field
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '$' | '-'));
    (field_ok && !value.is_empty() && value.len() <= MAX_INDEXED_VALUE_BYTES)
        .then(|| format!("data:{field}:{}", index_form(value)))
}

/// The terms of a job with this name and data.
pub fn terms(name: &str, data: &Value) -> Vec<String> {
    let mut terms: Vec<String> = name_term(name).into_iter().collect();
    if let Value::Object(fields) = data {
        for (field, value) in fields.iter().take(MAX_INDEXED_FIELDS) {
            let text = match value {
                Value::String(text) => text.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => continue,
            };
            terms.extend(data_term(field, &text));
        }
    }
    terms
}

/// The key of a term's set.
pub fn key(queue: &TaskQueue, term: &str) -> String {
    queue.keys().index_term(term)
}

/// The set that lists every term's key (for the sweep).
pub(super) fn registry(queue: &TaskQueue) -> String {
    queue.keys().index_terms()
}

/// Takes job `id` out of each of its terms (after we removed it).
pub async fn forget(
    queue: &TaskQueue,
    id: &str,
    name: &str,
    data: &Value,
) -> Result<(), EngineError> {
    let terms = terms(name, data);
    if terms.is_empty() {
        return Ok(());
    }
    let mut pipe = redis::pipe();
    for term in &terms {
        pipe.cmd("ZREM").arg(key(queue, term)).arg(id).ignore();
    }
    queue.run(&pipe).await
}

/// Puts job `id` (added at `added_ms`) in each term of its name and data (after its data
/// changed: the old terms are taken out first by [`forget`]).
pub async fn note(
    queue: &TaskQueue,
    id: &str,
    name: &str,
    data: &Value,
    added_ms: u64,
) -> Result<(), EngineError> {
    let terms = terms(name, data);
    if terms.is_empty() {
        return Ok(());
    }
    let keys: Vec<String> = terms.iter().map(|t| key(queue, t)).collect();
    let mut pipe = redis::pipe();
    for key in &keys {
        pipe.cmd("ZADD").arg(key).arg(added_ms).arg(id).ignore();
    }
    pipe.cmd("SADD").arg(registry(queue)).arg(&keys).ignore();
    queue.run(&pipe).await
}

/// Takes ids of jobs that are gone out of the set `key` (found by a search or the sweep).
pub async fn drop_gone<K, I>(queue: &TaskQueue, key: K, ids: &[I]) -> Result<(), EngineError>
where
    K: redis::ToRedisArgs,
    I: redis::ToRedisArgs,
{
    if ids.is_empty() {
        return Ok(());
    }
    let mut cmd = redis::cmd("ZREM");
    cmd.arg(key).arg(ids);
    queue.run_cmd::<i64>(&cmd).await.map(|_| ())
}

/// One sweep over every term: returns how many entries it took out. Anything else may write
/// these keys: a registry line naming a key that is not a sorted set is stepped over, a member
/// that is not text is taken out as no job's id; only Redis not answering stops the sweep.
pub async fn sweep(queue: &TaskQueue) -> Result<u64, EngineError> {
    let registry = registry(queue);
    let mut removed = 0;
    let mut cursor: u64 = 0;
    loop {
        let mut scan = redis::cmd("SSCAN");
        scan.arg(&registry).arg(cursor).arg("COUNT").arg(100);
        let (next, keys): (u64, Vec<Vec<u8>>) = queue.run_cmd(&scan).await?;
        for term_key in keys {
            match sweep_term(queue, &registry, &term_key).await {
                Ok(n) => removed += n,
                Err(EngineError::Timeout(limit)) => return Err(EngineError::Timeout(limit)),
                Err(error) => tracing::debug!(
                    key = %String::from_utf8_lossy(&term_key),
                    error = %crate::telemetry::error_chain(&error),
                    "search index entry skipped by the sweep"
                ),
            }
        }
        if next == 0 {
            return Ok(removed);
        }
        cursor = next;
    }
}

/// Sweeps one term's oldest entries.
async fn sweep_term(
    queue: &TaskQueue,
    registry: &str,
    term_key: &[u8],
) -> Result<u64, EngineError> {
    let keys = queue.keys();
    let mut removed = 0;
    let mut alive: isize = 0;
    for _ in 0..SWEEP_STEPS {
        let mut range = redis::cmd("ZRANGE");
        range.arg(term_key).arg(alive).arg(alive + SWEEP_CHUNK - 1);
        let members: Vec<Vec<u8>> = queue.run_cmd(&range).await?;
        if members.is_empty() {
            break;
        }
        // A member that can name no job is taken out without a read.
        let ids: Vec<Option<app::JobId>> = members
            .iter()
            .map(|m| {
                std::str::from_utf8(m)
                    .ok()
                    .and_then(crate::queue::keys::is_job_id)
            })
            .collect();
        let mut pipe = redis::pipe();
        for id in ids.iter().flatten() {
            pipe.cmd("EXISTS").arg(keys.job(id));
        }
        let mut exists = queue.run::<Vec<bool>>(&pipe).await?.into_iter();
        let gone: Vec<&[u8]> = members
            .iter()
            .zip(&ids)
            .filter(|(_, id)| id.is_none() || !exists.next().unwrap_or(true))
            .map(|(member, _)| member.as_slice())
            .collect();
        alive += (members.len() - gone.len()) as isize;
        removed += gone.len() as u64;
        drop_gone(queue, term_key, &gone).await?;
        if gone.is_empty() || (members.len() as isize) < SWEEP_CHUNK {
            break;
        }
    }
    let card: u64 = queue.run_cmd(redis::cmd("ZCARD").arg(term_key)).await?;
    if card == 0 {
        // The set is gone with its last entry; so is its line in the registry.
        let mut srem = redis::cmd("SREM");
        srem.arg(registry).arg(term_key);
        queue.run_cmd::<i64>(&srem).await?;
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn terms_cover_name_and_scalar_fields() {
        let data = json!({"seconds": 5, "owner": "user:ann", "nested": {"a": 1}, "list": [1], "ok": true, "long": "x".repeat(200)});
        let mut got = terms("longTask", &data);
        got.sort();
        assert_eq!(
            got,
            vec![
                "data:ok:true".to_string(),
                "data:owner:user:ann".to_string(),
                "data:seconds:5".to_string(),
                "name:longTask".to_string(),
            ]
        );
        assert_eq!(
            data_term("seconds", "5.0").as_deref(),
            Some("data:seconds:5")
        );
        assert_eq!(data_term("a:b", "1"), None);
    }
}
