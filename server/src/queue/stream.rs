//! The queue's event stream as data: stream entry ids, and entries read back from Redis made
//! into events ready to send. Everything in the stream is untrusted (any producer can `XADD`
//! to it): an event name that cannot be an SSE event name is marked unsendable, every field is
//! cut to `MAX_FIELD_BYTES` and a whole event to `MAX_EVENT_BYTES`, and nothing here can panic.
//! The event hub (`events/`) follows the stream live; the job page's history reads it here.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use redis::Value as RedisValue;
use serde_json::{Map, Value};

use super::parse_json_or_string;
use super::record::text;

/// Longest event name sent; BullMQ's names are short words.
const MAX_NAME_LEN: usize = 64;
/// Fields whose value is JSON text written by BullMQ's scripts.
const JSON_FIELDS: [&str; 2] = ["data", "returnvalue"];

/// A Redis stream entry id (`<ms>-<seq>`), ordered as Redis orders them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StreamId {
    ms: u64,
    seq: u64,
}

impl StreamId {
    /// The smallest id.
    pub const ZERO: StreamId = StreamId { ms: 0, seq: 0 };

    /// The first id of millisecond `ms`.
    pub fn at_ms(ms: u64) -> Self {
        Self { ms, seq: 0 }
    }

    /// Its time part: when Redis added the entry (ms since the epoch).
    pub fn ms(self) -> u64 {
        self.ms
    }

    /// The smallest id after this one, or `None` for the largest id there is.
    pub fn next(self) -> Option<StreamId> {
        if let Some(seq) = self.seq.checked_add(1) {
            Some(StreamId { ms: self.ms, seq })
        } else {
            self.ms.checked_add(1).map(|ms| StreamId { ms, seq: 0 })
        }
    }
}

impl FromStr for StreamId {
    type Err = ();
    /// `<ms>-<seq>` or `<ms>`, plain decimal digits only (no sign, no spaces).
    fn from_str(s: &str) -> Result<Self, ()> {
        let (ms, seq) = s.split_once('-').unwrap_or((s, "0"));
        let number = |part: &str| {
            if part.is_empty() || part.len() > 20 || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(());
            }
            part.parse::<u64>().map_err(|_| ())
        };
        Ok(Self {
            ms: number(ms)?,
            seq: number(seq)?,
        })
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

impl Ord for StreamId {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.ms, self.seq).cmp(&(other.ms, other.seq))
    }
}

impl PartialOrd for StreamId {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The size limits applied to events read from Redis.
#[derive(Debug, Clone, Copy)]
pub struct EventLimits {
    /// Largest field value forwarded.
    pub max_field_bytes: usize,
    /// Largest event (JSON) forwarded.
    pub max_event_bytes: usize,
}

impl Default for EventLimits {
    fn default() -> Self {
        Self::from(&crate::config::Limits::default())
    }
}

impl From<&crate::config::Limits> for EventLimits {
    /// The configured limits (`MAX_FIELD_BYTES`, `MAX_EVENT_BYTES`).
    fn from(limits: &crate::config::Limits) -> Self {
        Self {
            max_field_bytes: limits.max_field_bytes,
            max_event_bytes: limits.max_event_bytes,
        }
    }
}

/// One queue event, ready to be sent as an SSE event.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueEvent {
    /// The Redis stream entry id, used as the SSE `id`.
    pub id: StreamId,
    /// The BullMQ event name (`added`, `active`, `progress`, `completed`, ...), or `None` when
    /// the entry's name cannot be sent as an SSE event name (line breaks, odd characters).
    pub name: Option<String>,
    /// The job the event is about, when it is about one (a valid job id only).
    pub job_id: Option<String>,
    /// Who owns that job (from its data), when access control is on and it has an owner.
    pub owner: Option<Arc<str>>,
    /// `data` serialised once, shared by every client that sends it.
    pub json: Arc<str>,
}

impl QueueEvent {
    /// Builds an event from a stream entry's field/value pairs, cutting what is too large.
    pub fn from_fields(id: StreamId, fields: Vec<(String, String)>, limits: &EventLimits) -> Self {
        let mut name = None;
        let mut data = Map::new();
        let mut truncated = Vec::new();
        for (field, value) in fields {
            if field == "event" {
                name = sendable_name(&value);
                continue;
            }
            if field.len() > MAX_NAME_LEN || data.contains_key(&field) {
                continue;
            }
            let value = if value.len() > limits.max_field_bytes {
                truncated.push(Value::String(field.clone()));
                if JSON_FIELDS.contains(&field.as_str()) {
                    Value::Null
                } else {
                    Value::String(cut(&value, limits.max_field_bytes).to_string())
                }
            } else if JSON_FIELDS.contains(&field.as_str()) {
                parse_json_or_string(&value)
            } else {
                Value::String(value)
            };
            data.insert(field, value);
        }
        let job_id = data
            .get("jobId")
            .and_then(Value::as_str)
            .filter(|raw| super::keys::is_job_id(raw).is_some())
            .map(str::to_owned);
        if !truncated.is_empty() {
            data.insert("truncated".to_string(), Value::Array(truncated));
        }
        let mut json = Value::Object(data).to_string();
        if json.len() > limits.max_event_bytes {
            // Still too large (many fields): keep what lets a client reload the job's state.
            let mut small = Map::new();
            if let Some(job_id) = &job_id {
                small.insert("jobId".to_string(), Value::String(job_id.clone()));
            }
            small.insert("truncated".to_string(), Value::Bool(true));
            json = Value::Object(small).to_string();
        }
        Self {
            id,
            name,
            job_id,
            owner: None,
            json: json.into(),
        }
    }

    /// Bytes this event costs a stream (its JSON plus its name and id).
    pub fn size(&self) -> usize {
        self.json.len() + self.name.as_ref().map_or(0, String::len) + 48
    }
}

/// The name if it can be an SSE event name: 1 to 64 characters of letters, digits and
/// `_ . : -` (BullMQ's names are such words). Anything else, a line break above all, would
/// break the stream's framing.
fn sendable_name(raw: &str) -> Option<String> {
    let ok = !raw.is_empty()
        && raw.len() <= MAX_NAME_LEN
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'));
    ok.then(|| raw.to_string())
}

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
pub fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Parses an `XREAD` reply (one stream) into events.
pub fn parse_xread(reply: RedisValue, limits: &EventLimits) -> Vec<QueueEvent> {
    let streams = match reply {
        RedisValue::Array(streams) => streams,
        RedisValue::Map(pairs) => pairs
            .into_iter()
            .map(|(k, v)| RedisValue::Array(vec![k, v]))
            .collect(),
        _ => return Vec::new(),
    };
    streams
        .into_iter()
        .filter_map(|stream| match stream {
            RedisValue::Array(mut parts) if parts.len() == 2 => parts.pop(),
            _ => None,
        })
        .flat_map(|entries| parse_entries(entries, limits))
        .collect()
}

/// The entries of an `XRANGE`-shaped reply (`[[id, [field, value, ...]], ...]`): each id with
/// its field/value pairs as text. An entry of another shape is skipped.
pub fn raw_entries(reply: RedisValue) -> Vec<(StreamId, Vec<(String, String)>)> {
    let RedisValue::Array(entries) = reply else {
        return Vec::new();
    };
    entries
        .into_iter()
        .filter_map(|entry| {
            let RedisValue::Array(mut parts) = entry else {
                return None;
            };
            if parts.len() != 2 {
                return None;
            }
            let fields = parts.pop()?;
            let id: StreamId = text(&parts.pop()?)?.parse().ok()?;
            let RedisValue::Array(_) = fields else {
                return None;
            };
            Some((id, super::record::hash_pairs(fields)))
        })
        .collect()
}

/// The value of field `name` of an entry's pairs, cut to `max` bytes.
pub fn field(pairs: &[(String, String)], name: &str, max: usize) -> Option<String> {
    pairs
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| cut(value, max).to_string())
}

/// Parses an `XRANGE`-shaped reply (`[[id, [field, value, ...]], ...]`) into events.
pub fn parse_entries(reply: RedisValue, limits: &EventLimits) -> Vec<QueueEvent> {
    raw_entries(reply)
        .into_iter()
        .map(|(id, pairs)| QueueEvent::from_fields(id, pairs, limits))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_ids_order_like_redis() {
        let a: StreamId = "1700000000000-5".parse().unwrap();
        let b: StreamId = "1700000000000-10".parse().unwrap();
        let c: StreamId = "1700000000001-0".parse().unwrap();
        assert!(a < b && b < c);
        assert_eq!(a.to_string(), "1700000000000-5");
        assert_eq!("42".parse::<StreamId>().unwrap().to_string(), "42-0");
        assert!("x-1".parse::<StreamId>().is_err());
        for bad in [
            "",
            "-",
            "1-",
            "-1",
            "+1-0",
            " 1-0",
            "1-0 ",
            "1-2-3",
            "99999999999999999999999-0",
        ] {
            assert!(bad.parse::<StreamId>().is_err(), "{bad:?}");
        }
        let max: StreamId = "18446744073709551615-18446744073709551615".parse().unwrap();
        assert_eq!(max.next(), None);
        assert_eq!(a.next().unwrap().to_string(), "1700000000000-6");
    }

    #[test]
    fn foreign_names_and_huge_fields_are_made_safe() {
        let limits = EventLimits {
            max_field_bytes: 256,
            max_event_bytes: 1024,
        };
        for bad in ["bad\nname", "bad\rname", "", "with space", &"x".repeat(65)] {
            let event = QueueEvent::from_fields(
                "1-0".parse().unwrap(),
                vec![
                    ("event".into(), bad.to_string()),
                    ("jobId".into(), "7".into()),
                ],
                &limits,
            );
            assert_eq!(event.name, None, "{bad:?}");
        }
        let huge = "é".repeat(1000);
        let event = QueueEvent::from_fields(
            "1-0".parse().unwrap(),
            vec![
                ("event".into(), "failed".into()),
                ("jobId".into(), "7".into()),
                ("failedReason".into(), huge.clone()),
                ("returnvalue".into(), format!("\"{huge}\"")),
            ],
            &limits,
        );
        assert!(event.json.len() <= 1024, "{}", event.json.len());
        let data: Value = serde_json::from_str(&event.json).unwrap();
        assert_eq!(data["jobId"], "7");
        assert!(data["failedReason"].as_str().unwrap().len() <= 256);
        assert_eq!(data["returnvalue"], Value::Null);
        assert_eq!(
            data["truncated"],
            serde_json::json!(["failedReason", "returnvalue"])
        );
        // Too many fields: reduced to the job id.
        let many: Vec<(String, String)> = (0..50)
            .map(|i| (format!("f{i}"), "y".repeat(200)))
            .chain([("jobId".to_string(), "9".to_string())])
            .collect();
        let event = QueueEvent::from_fields("1-0".parse().unwrap(), many, &limits);
        assert_eq!(&*event.json, r#"{"jobId":"9","truncated":true}"#);
        // An invalid job id is not taken as one.
        let event = QueueEvent::from_fields(
            "1-0".parse().unwrap(),
            vec![("jobId".into(), "a:b".into())],
            &limits,
        );
        assert_eq!(event.job_id, None);
    }

    #[test]
    fn event_fields_become_json() {
        let event = QueueEvent::from_fields(
            "1-0".parse().unwrap(),
            vec![
                ("event".into(), "progress".into()),
                ("jobId".into(), "7".into()),
                (
                    "data".into(),
                    r#"{"step":1,"total":2,"info":"tick 1/2"}"#.into(),
                ),
            ],
            &EventLimits::default(),
        );
        assert_eq!(event.name.as_deref(), Some("progress"));
        assert_eq!(event.job_id.as_deref(), Some("7"));
        let data: Value = serde_json::from_str(&event.json).unwrap();
        assert_eq!(data["data"]["step"], 1);
        assert!(data.get("event").is_none());
    }
}
