//! Job hashes read back from Redis, as untrusted data: any producer (Node BullMQ, another tool,
//! a person with `redis-cli`) may have written them. Nothing here can fail or panic on what it
//! reads: bytes that are not UTF-8 are replaced, numbers that do not parse are absent, JSON
//! that does not parse is passed on as text, and every field is cut to `MAX_FIELD_BYTES`.

use std::collections::HashMap;

use app::{JobState, JobStatus, JobSummary, TaskPayload};
use redis::Value as RedisValue;
use serde_json::{Value, json};

use crate::queue::cut;

/// One job hash, leniently decoded.
#[derive(Debug, Clone)]
pub struct JobRecord {
    id: String,
    fields: HashMap<String, String>,
    max_field_bytes: usize,
}

impl JobRecord {
    /// Decodes an `HGETALL` reply. `None` when the key is missing, is not a hash (a `WRONGTYPE`
    /// error), or is a hash that is not a job (no `timestamp`, which every BullMQ add writes).
    pub fn from_reply(id: &str, reply: RedisValue, max_field_bytes: usize) -> Option<Self> {
        if !matches!(reply, RedisValue::Array(_) | RedisValue::Map(_)) {
            return None;
        }
        let fields: HashMap<String, String> = hash_pairs(reply).into_iter().collect();
        if !fields.contains_key("timestamp") {
            return None;
        }
        Some(Self {
            id: id.to_string(),
            fields,
            max_field_bytes,
        })
    }

    fn get(&self, field: &str) -> Option<&str> {
        self.fields.get(field).map(String::as_str)
    }

    fn number(&self, field: &str) -> Option<u64> {
        self.get(field)?.trim().parse().ok()
    }

    /// A JSON field, parsed; text that is not JSON is passed on as a string; a field over the
    /// size limit becomes `{"truncated": true, "bytes": N}`.
    fn json(&self, field: &str) -> Option<Value> {
        let raw = self.get(field)?;
        if raw.len() > self.max_field_bytes {
            return Some(json!({"truncated": true, "bytes": raw.len()}));
        }
        Some(serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_string())))
    }

    /// A text field, cut to the size limit.
    fn text(&self, field: &str) -> Option<String> {
        let raw = self.get(field)?;
        if raw.len() > self.max_field_bytes {
            return Some(format!(
                "{}… ({} bytes)",
                cut(raw, self.max_field_bytes),
                raw.len()
            ));
        }
        Some(raw.to_string())
    }

    /// The progress, written as Node writes it (`0` until the first report).
    pub fn progress(&self) -> Value {
        match self.json("progress") {
            Some(Value::Number(n)) => match n.as_f64() {
                Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Value::from(f as i64),
                _ => Value::Number(n),
            },
            Some(value) => value,
            None => Value::from(0),
        }
    }

    /// The return value, once the job finished.
    pub fn result(&self) -> Option<Value> {
        self.number("finishedOn")?;
        match self.get("returnvalue") {
            None | Some("") => None,
            Some(_) => self.json("returnvalue"),
        }
    }

    /// Why the job failed, if it did.
    pub fn failed_reason(&self) -> Option<String> {
        self.text("failedReason").filter(|r| !r.is_empty())
    }

    /// The owner recorded in the job's data (`data.owner`), if any.
    pub fn owner(&self) -> Option<String> {
        owner_in(self.get("data")?)
    }

    /// The status as `GET /tasks/status/{id}` reports it.
    pub fn status(&self, state: JobState) -> JobStatus {
        let count = |field: &str| {
            self.number(field)
                .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
        };
        JobStatus {
            id: self.id.clone(),
            state,
            progress: self.progress(),
            result: self.result(),
            failed_reason: self.failed_reason(),
            seconds: self.requested_seconds(),
            timestamp: self.number("timestamp"),
            processed_on: self.number("processedOn"),
            finished_on: self.number("finishedOn"),
            delayed_until: None,
            attempts_started: count("ats"),
            attempts_made: count("atm"),
            jobs_ahead: None,
            queue_paused: None,
        }
    }

    /// The `seconds` of the job's data when it is a whole number (any producer's), else
    /// `None`; a huge payload is not parsed for it.
    fn requested_seconds(&self) -> Option<u64> {
        let data = self.get("data")?;
        if data.len() > 64 * 1024 {
            return None;
        }
        let value: Value = serde_json::from_str(data).ok()?;
        TaskPayload::from_job_data(&value, u64::MAX)
            .ok()
            .map(|p| p.seconds)
    }

    /// The job in full, for the admin API; `logs` and `log_count` come from the job's log
    /// list, the rest from its hash.
    pub fn detail(
        &self,
        status: &JobStatus,
        logs: Vec<String>,
        log_count: u64,
        owner: Option<String>,
    ) -> app::admin::JobDetail {
        let count = |field: &str| {
            self.number(field)
                .map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX))
        };
        let stacktrace = match self.json("stacktrace") {
            Some(Value::Array(lines)) => lines
                .into_iter()
                .map(|line| match line {
                    Value::String(text) => text,
                    other => other.to_string(),
                })
                .collect(),
            _ => Vec::new(),
        };
        app::admin::JobDetail {
            id: self.id.clone(),
            name: self.text("name").unwrap_or_default(),
            state: status.state,
            data: self.json("data").unwrap_or(Value::Null),
            opts: self.json("opts").unwrap_or(Value::Null),
            progress: self.progress(),
            logs,
            log_count,
            returnvalue: self.result(),
            failed_reason: self.failed_reason(),
            stacktrace,
            attempts_made: count("atm"),
            attempts_started: count("ats"),
            timestamp: self.number("timestamp").unwrap_or(0),
            processed_on: self.number("processedOn"),
            finished_on: self.number("finishedOn"),
            delayed_until: status.delayed_until,
            processed_by: self.text("pb"),
            owner,
            history: Vec::new(),
            history_total: 0,
            history_partial: false,
            family: app::admin::Family::default(),
        }
    }

    /// The summary as `GET /tasks/counts` lists it.
    pub fn summary(&self) -> JobSummary {
        JobSummary {
            id: self.id.clone(),
            name: self.text("name").unwrap_or_default(),
            data: self.json("data").unwrap_or(Value::Null),
            progress: self.progress(),
            timestamp: self.number("timestamp").unwrap_or(0),
            processed_on: self.number("processedOn"),
            finished_on: self.number("finishedOn"),
            attempts_made: self
                .number("atm")
                .map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX)),
            result: self.result(),
            failed_reason: self.failed_reason(),
        }
    }
}

/// The `owner` field of a job's raw `data` JSON, if it is a short string.
pub fn owner_in(data: &str) -> Option<String> {
    // Only the field is needed; a huge foreign payload is not parsed for it.
    if data.len() > 64 * 1024 {
        return None;
    }
    let value: Value = serde_json::from_str(data).ok()?;
    value
        .get("owner")?
        .as_str()
        .filter(|owner| owner.len() <= 256)
        .map(str::to_owned)
}

/// Whether a reply to `HGETALL` is an empty hash (the key does not exist).
pub fn is_empty(reply: &RedisValue) -> bool {
    match reply {
        RedisValue::Array(items) => items.is_empty(),
        RedisValue::Map(items) => items.is_empty(),
        RedisValue::Nil => true,
        _ => false,
    }
}

/// The field/value pairs of an `HGETALL` reply (RESP2 or RESP3), as text; anything else is
/// no pairs.
pub fn hash_pairs(reply: RedisValue) -> Vec<(String, String)> {
    match reply {
        RedisValue::Array(flat) => flat
            .chunks(2)
            .filter_map(|pair| Some((text(pair.first()?)?, text(pair.get(1)?)?)))
            .collect(),
        RedisValue::Map(pairs) => pairs
            .into_iter()
            .filter_map(|(k, v)| Some((text(&k)?, text(&v)?)))
            .collect(),
        _ => Vec::new(),
    }
}

/// A Redis value as text, invalid UTF-8 replaced.
pub fn text(value: &RedisValue) -> Option<String> {
    match value {
        RedisValue::BulkString(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
        RedisValue::SimpleString(s) => Some(s.clone()),
        RedisValue::VerbatimString { text, .. } => Some(text.clone()),
        RedisValue::Int(n) => Some(n.to_string()),
        RedisValue::Double(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(pairs: &[(&str, &[u8])]) -> RedisValue {
        RedisValue::Array(
            pairs
                .iter()
                .flat_map(|(k, v)| {
                    [
                        RedisValue::BulkString(k.as_bytes().to_vec()),
                        RedisValue::BulkString(v.to_vec()),
                    ]
                })
                .collect(),
        )
    }

    #[test]
    fn foreign_hashes_never_fail() {
        let huge = "x".repeat(10_000);
        let record = JobRecord::from_reply(
            "5",
            reply(&[
                ("timestamp", b"12"),
                ("name", b"\xff\xfeodd"),
                ("data", b"{not json"),
                ("progress", huge.as_bytes()),
                ("failedReason", huge.as_bytes()),
                ("finishedOn", b"nope"),
                ("returnvalue", b"1"),
                ("atm", b"-3"),
            ]),
            1024,
        )
        .expect("a job");
        let summary = record.summary();
        assert!(summary.name.ends_with("odd"));
        assert_eq!(summary.data, Value::String("{not json".into()));
        assert_eq!(summary.progress["truncated"], true);
        assert!(summary.failed_reason.unwrap().len() < 1100);
        assert_eq!(summary.finished_on, None);
        assert_eq!(summary.result, None, "no result before finishedOn");
        assert_eq!(summary.attempts_made, 0);
    }

    #[test]
    fn owners_are_short_strings_or_none() {
        assert_eq!(
            owner_in(r#"{"seconds":1,"owner":"token:ci"}"#).as_deref(),
            Some("token:ci")
        );
        assert_eq!(owner_in(r#"{"owner":7}"#), None);
        assert_eq!(
            owner_in(&format!(r#"{{"owner":"{}"}}"#, "o".repeat(300))),
            None
        );
        assert_eq!(
            owner_in(&format!(
                r#"{{"owner":"x","pad":"{}"}}"#,
                "p".repeat(70_000)
            )),
            None
        );
        assert_eq!(owner_in("not json"), None);
    }

    #[test]
    fn hashes_that_are_not_jobs_are_none() {
        assert!(JobRecord::from_reply("meta", reply(&[("version", b"bullmq:6")]), 1024).is_none());
        assert!(JobRecord::from_reply("x", RedisValue::Array(vec![]), 1024).is_none());
        assert!(JobRecord::from_reply("x", RedisValue::Nil, 1024).is_none());
    }
}
