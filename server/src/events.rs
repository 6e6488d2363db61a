//! The event hub: one reader per process follows the queue's Redis event stream and fans each
//! event out to every SSE client over a broadcast channel; a client that falls behind is
//! dropped (it reconnects with `Last-Event-ID` and reads what it missed back from Redis).
//!
//! Reading the stream is not a state change, so it is done here with plain `XREAD`/`XRANGE`
//! rather than through the crate's `QueueEvents`, which hides nothing we need and buffers in an
//! unbounded channel.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use bullmq::redis_connection::{AnyConnection, RedisConnection};
use redis::Value as RedisValue;
use serde_json::{Map, Value};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::engine::parse_json_or_string;

/// Events kept for slow receivers before they are dropped (a burst of bulk adds writes tens of
/// thousands of events a second; at ~300 bytes each this bounds the buffer to a few MiB).
const CHANNEL_CAPACITY: usize = 16_384;
/// How long one `XREAD` blocks; bounds how late the reader notices shutdown.
const BLOCK_MS: u64 = 2000;
/// Entries read per `XREAD`/`XRANGE` call.
const BATCH: usize = 500;
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
}

impl FromStr for StreamId {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        let (ms, seq) = s.split_once('-').unwrap_or((s, "0"));
        Ok(Self {
            ms: ms.parse().map_err(|_| ())?,
            seq: seq.parse().map_err(|_| ())?,
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

/// One queue event, ready to be sent as an SSE event.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueEvent {
    /// The Redis stream entry id, used as the SSE `id`.
    pub id: StreamId,
    /// The BullMQ event name (`added`, `active`, `progress`, `completed`, ...).
    pub name: String,
    /// The job the event is about, when it is about one.
    pub job_id: Option<String>,
    /// The event's fields as a JSON object (with `jobId`), JSON values parsed.
    pub data: Map<String, Value>,
    /// `data` serialised once, shared by every client that sends it.
    pub json: Arc<str>,
}

impl QueueEvent {
    /// Builds an event from a stream entry's field/value pairs.
    fn from_fields(id: StreamId, fields: Vec<(String, String)>) -> Self {
        let mut name = String::new();
        let mut data = Map::new();
        for (field, value) in fields {
            if field == "event" {
                name = value;
            } else if JSON_FIELDS.contains(&field.as_str()) {
                data.insert(field, parse_json_or_string(&value));
            } else {
                data.insert(field, Value::String(value));
            }
        }
        let job_id = data.get("jobId").and_then(Value::as_str).map(str::to_owned);
        let json = Value::Object(data.clone()).to_string().into();
        Self {
            id,
            name,
            job_id,
            data,
            json,
        }
    }
}

/// A handle on the hub: subscribe to live events, read past ones back.
#[derive(Clone)]
pub struct EventHub {
    sender: broadcast::Sender<Arc<QueueEvent>>,
    /// The queue's connection (standalone or cluster): its shared multiplexed connection serves
    /// the short `XRANGE` reads of resuming clients, and it opens the reader's own connection.
    conn: RedisConnection,
    key: Arc<str>,
}

/// What can go wrong while reading events.
#[derive(Debug, thiserror::Error)]
pub enum EventsError {
    /// Redis failed or is unreachable.
    #[error("reading the event stream failed")]
    Redis(#[from] redis::RedisError),
    /// The queue engine could not open a connection.
    #[error("opening a connection for the event stream failed")]
    Connect(#[from] bullmq::Error),
    /// Redis did not answer in time.
    #[error("reading the event stream timed out")]
    Timeout,
}

impl EventHub {
    /// Creates the hub for stream `key` on the queue's connection and starts its reader, which
    /// runs until `shutdown`.
    pub fn start(conn: RedisConnection, key: String, shutdown: CancellationToken) -> Self {
        let (sender, _) = broadcast::channel(CHANNEL_CAPACITY);
        let hub = Self {
            sender,
            conn,
            key: key.into(),
        };
        tokio::spawn(hub.clone().read_loop(shutdown));
        hub
    }

    /// A receiver of every event read from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<QueueEvent>> {
        self.sender.subscribe()
    }

    /// Up to `count` events after `after`, oldest first, read back from Redis.
    pub async fn read_after(
        &self,
        after: StreamId,
        count: usize,
    ) -> Result<Vec<QueueEvent>, EventsError> {
        let mut conn = self.conn.connection();
        let read = async {
            let reply: RedisValue = redis::cmd("XRANGE")
                .arg(&*self.key)
                .arg(format!("({after}"))
                .arg("+")
                .arg("COUNT")
                .arg(count)
                .query_async(&mut conn)
                .await?;
            Ok::<_, EventsError>(parse_entries(reply))
        };
        tokio::time::timeout(Duration::from_secs(3), read)
            .await
            .map_err(|_| EventsError::Timeout)?
    }

    /// Follows the stream and broadcasts each entry; reconnects after errors.
    async fn read_loop(self, shutdown: CancellationToken) {
        let mut last: Option<StreamId> = None;
        let mut backoff = Duration::from_millis(100);
        while !shutdown.is_cancelled() {
            let result = tokio::select! {
                result = self.follow(&mut last, &shutdown) => result,
                () = shutdown.cancelled() => break,
            };
            if let Err(error) = result {
                warn!(error = %crate::error::error_chain(&error), "event stream reader lost Redis; reconnecting");
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    () = shutdown.cancelled() => break,
                }
                backoff = (backoff * 2).min(Duration::from_secs(1));
            } else {
                backoff = Duration::from_millis(100);
            }
        }
        debug!("event stream reader stopped");
    }

    /// One connection's worth of following: returns on error.
    async fn follow(
        &self,
        last: &mut Option<StreamId>,
        shutdown: &CancellationToken,
    ) -> Result<(), EventsError> {
        // XREAD BLOCK needs a connection of its own with no response timeout: the default
        // timeout would cut every blocking read short. The crate's dedicated connection is
        // exactly that, for a standalone server or a cluster.
        let mut conn: AnyConnection =
            tokio::time::timeout(Duration::from_secs(2), self.conn.dedicated_any_connection())
                .await
                .map_err(|_| EventsError::Timeout)??;
        let newest = self.newest_id(&mut conn).await?;
        let mut cursor = match *last {
            // If Redis lost entries we had seen (restarted without persistence), its ids
            // start again lower; follow from its newest entry instead of waiting forever.
            Some(seen) if newest.is_some_and(|newest| newest >= seen) => seen,
            Some(_) | None => newest.unwrap_or(StreamId::ZERO),
        };
        info!(from = %cursor, "following the queue's event stream");
        while !shutdown.is_cancelled() {
            let mut command = redis::cmd("XREAD");
            command
                .arg("COUNT")
                .arg(BATCH)
                .arg("BLOCK")
                .arg(BLOCK_MS)
                .arg("STREAMS")
                .arg(&*self.key)
                .arg(cursor.to_string());
            let read = command.query_async::<RedisValue>(&mut conn);
            // A watchdog over the block time catches a half-open socket.
            let reply = tokio::time::timeout(Duration::from_millis(BLOCK_MS + 2000), read)
                .await
                .map_err(|_| EventsError::Timeout)??;
            for event in parse_xread(reply) {
                cursor = event.id;
                *last = Some(event.id);
                // No receivers is fine: nobody is watching.
                let _ = self.sender.send(Arc::new(event));
            }
        }
        Ok(())
    }

    async fn newest_id(&self, conn: &mut AnyConnection) -> Result<Option<StreamId>, EventsError> {
        let reply: RedisValue = redis::cmd("XREVRANGE")
            .arg(&*self.key)
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(1)
            .query_async(conn)
            .await?;
        Ok(parse_entries(reply).first().map(|event| event.id))
    }
}

/// Parses an `XREAD` reply (one stream) into events.
fn parse_xread(reply: RedisValue) -> Vec<QueueEvent> {
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
        .flat_map(parse_entries)
        .collect()
}

/// Parses an `XRANGE`-shaped reply (`[[id, [field, value, ...]], ...]`) into events.
fn parse_entries(reply: RedisValue) -> Vec<QueueEvent> {
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
            let RedisValue::Array(flat) = fields else {
                return None;
            };
            let pairs = flat
                .chunks(2)
                .filter_map(|pair| Some((text(pair.first()?)?, text(pair.get(1)?)?)))
                .collect();
            Some(QueueEvent::from_fields(id, pairs))
        })
        .collect()
}

fn text(value: &RedisValue) -> Option<String> {
    match value {
        RedisValue::BulkString(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
        RedisValue::SimpleString(s) => Some(s.clone()),
        RedisValue::Int(n) => Some(n.to_string()),
        _ => None,
    }
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
        );
        assert_eq!(event.name, "progress");
        assert_eq!(event.job_id.as_deref(), Some("7"));
        assert_eq!(event.data["data"]["step"], 1);
        assert!(!event.data.contains_key("event"));
    }
}
