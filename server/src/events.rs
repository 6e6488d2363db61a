//! The event hub: one reader per process follows the queue's Redis event stream and fans each
//! event out to every SSE client through the byte-bounded [`Fanout`]; a client that falls
//! behind is dropped (it reconnects with `Last-Event-ID` and reads what it missed back from
//! Redis).
//!
//! Everything in the stream is untrusted: any producer can `XADD` to it. An event name that
//! cannot be an SSE event name is marked unsendable, every field is cut to `MAX_FIELD_BYTES`
//! and a whole event to `MAX_EVENT_BYTES`, and nothing read here can panic.
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
use tokio::sync::{OnceCell, Semaphore};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::engine::parse_json_or_string;
use crate::fanout::{Fanout, Subscriber};
use crate::record::text;
use crate::telemetry::error_chain;

/// Replay pages read from Redis at the same time, all resuming clients together: a crowd of
/// clients replaying from the start must not starve the queue's own calls.
const REPLAYS_AT_ONCE: usize = 4;
/// Deadline of one replay page.
const REPLAY_TIMEOUT: Duration = Duration::from_secs(3);
/// Longest event name sent; BullMQ's names are short words.
const MAX_NAME_LEN: usize = 64;
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
            .filter(|raw| crate::keys::is_job_id(raw).is_some())
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

/// A handle on the hub: subscribe to live events, read past ones back.
#[derive(Clone)]
pub struct EventHub {
    fanout: Fanout,
    /// The queue's connection (standalone or cluster); it opens the reader's own connection
    /// and the replay connection.
    conn: RedisConnection,
    /// A connection of its own for replays, so resuming clients never queue behind (or in
    /// front of) enqueue and status calls on the shared one. Opened on first use.
    replay_conn: Arc<OnceCell<AnyConnection>>,
    replays: Arc<Semaphore>,
    key: Arc<str>,
    limits: EventLimits,
    /// Job owners by job id, when access control is on (submitters see their own jobs'
    /// events only).
    owners: Option<Arc<OwnerCache>>,
    /// The queue's keys (the jobs' hashes, for their owners).
    keys: Arc<crate::keys::QueueKeys>,
}

/// Job owners remembered per process.
const OWNER_CACHE_LEN: usize = 100_000;

/// How far before a job's `timestamp` (the adder's clock) its own events may lie in the stream
/// (Redis's clock), when its owner was read without its `added` event at hand.
const OWNER_CLOCK_SLACK_MS: u64 = 2_000;

/// What the cache knows of one job id: who owns the job that has it, for events from `since`
/// on. Events of the id before `since` belong to an earlier job with the same id (removed, then
/// the id given again), whose owner is not known: they reach viewers only.
#[derive(Debug, Clone)]
struct KnownOwner {
    owner: Option<Arc<str>>,
    since: StreamId,
}

/// Job id → owner, learned from the jobs' data, bounded (oldest forgotten first).
#[derive(Default)]
pub struct OwnerCache {
    known: std::sync::Mutex<(
        std::collections::HashMap<String, KnownOwner>,
        std::collections::VecDeque<String>,
    )>,
}

impl OwnerCache {
    fn get(&self, id: &str) -> Option<KnownOwner> {
        self.known
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .0
            .get(id)
            .cloned()
    }

    fn put(&self, id: &str, known: KnownOwner) {
        let mut guard = self.known.lock().unwrap_or_else(|e| e.into_inner());
        let (map, order) = &mut *guard;
        if map.insert(id.to_string(), known).is_none() {
            order.push_back(id.to_string());
            while order.len() > OWNER_CACHE_LEN {
                if let Some(old) = order.pop_front() {
                    map.remove(&old);
                }
            }
        }
    }

    fn forget(&self, id: &str) {
        let mut guard = self.known.lock().unwrap_or_else(|e| e.into_inner());
        // Its place in the order stays until it comes round (a re-learned id is simply kept
        // a little less long).
        guard.0.remove(id);
    }

    /// The owner of the job event `event` is about, as far as the cache knows: `Some(owner)`
    /// when an entry covers the event, `None` when there is no entry.
    fn owner_at(&self, id: &str, event: StreamId) -> Option<Option<Arc<str>>> {
        let known = self.get(id)?;
        Some(if known.since <= event { known.owner } else { None })
    }
}

/// Sets the owner of each event of a batch (oldest first) from `cache`, and from `fresh` (the
/// owners and creation times read from Redis just now for the ids the cache had no answer for,
/// and for every id with an `added` event in the batch; `None` when the read failed).
///
/// A job id can be given again after its job is removed, to a job of another owner: so an
/// `added` event always starts a new entry from its own stream id (with the owner read just now
/// if it is the batch's last `added` for the id, else unknown), a `removed` event ends the
/// entry, and an entry read without an `added` event at hand covers events from shortly before
/// the job's creation only. Events an entry does not cover have no owner: viewers see them,
/// submitters do not.
fn assign_owners(
    cache: &OwnerCache,
    events: &mut [QueueEvent],
    fresh: Option<&std::collections::HashMap<String, (Option<Arc<str>>, Option<u64>)>>,
) {
    let mut last_added: std::collections::HashMap<String, StreamId> =
        std::collections::HashMap::new();
    for event in events.iter() {
        if let (Some(id), Some("added")) = (&event.job_id, event.name.as_deref()) {
            last_added.insert(id.clone(), event.id);
        }
    }
    for event in events.iter_mut() {
        let Some(id) = event.job_id.clone() else {
            continue;
        };
        let name = event.name.as_deref();
        let read = fresh.and_then(|fresh| fresh.get(&id));
        if name == Some("added") {
            match read {
                Some((owner, _)) if last_added.get(&id) == Some(&event.id) => cache.put(
                    &id,
                    KnownOwner {
                        owner: owner.clone(),
                        since: event.id,
                    },
                ),
                // An earlier job under the same id, added and gone within this batch.
                Some(_) => cache.put(
                    &id,
                    KnownOwner {
                        owner: None,
                        since: event.id,
                    },
                ),
                // Read again at the next event.
                None => cache.forget(&id),
            }
        }
        event.owner = match cache.owner_at(&id, event.id) {
            Some(owner) => owner,
            None => match read {
                Some((owner, created)) => {
                    let since = created.map_or(StreamId::ZERO, |ms| StreamId {
                        ms: ms.saturating_sub(OWNER_CLOCK_SLACK_MS),
                        seq: 0,
                    });
                    cache.put(
                        &id,
                        KnownOwner {
                            owner: owner.clone(),
                            since,
                        },
                    );
                    cache.owner_at(&id, event.id).flatten()
                }
                None => None,
            },
        };
        if name == Some("removed") {
            cache.forget(&id);
        }
    }
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

/// Where a resuming client stands against what Redis still holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResumePoint {
    /// Every entry after the client's id is still in the stream.
    Contiguous,
    /// Entries after the client's id were trimmed away (or the id is from another stream's
    /// life): the client must reload its state.
    Gap,
}

impl EventHub {
    /// Creates the hub for stream `key` on the queue's connection and starts its reader, which
    /// runs until `shutdown`.
    pub fn start(
        conn: RedisConnection,
        keys: crate::keys::QueueKeys,
        limits: &crate::config::Limits,
        with_owners: bool,
        shutdown: CancellationToken,
    ) -> Self {
        let owners = with_owners.then(|| Arc::new(OwnerCache::default()));
        let key = keys.events();
        let hub = Self {
            keys: Arc::new(keys),
            fanout: Fanout::new(limits.sse_fanout_bytes, limits.sse_client_buffer_bytes),
            conn,
            replay_conn: Arc::new(OnceCell::new()),
            replays: Arc::new(Semaphore::new(REPLAYS_AT_ONCE)),
            key: key.into(),
            limits: EventLimits::from(limits),
            owners,
        };
        tokio::spawn(hub.clone().read_loop(shutdown));
        hub
    }

    /// A cursor on every event read from now on; `kill` fires when the stream falls too far
    /// behind.
    pub fn subscribe(&self, kill: CancellationToken) -> Subscriber {
        self.fanout.subscribe(kill)
    }

    async fn replay_connection(&self) -> Result<AnyConnection, EventsError> {
        let conn = tokio::time::timeout(
            REPLAY_TIMEOUT,
            self.replay_conn
                .get_or_try_init(|| self.conn.dedicated_any_connection()),
        )
        .await
        .map_err(|_| EventsError::Timeout)??;
        Ok(conn.clone())
    }

    /// Up to `count` events after `after`, oldest first, read back from Redis.
    pub async fn read_after(
        &self,
        after: StreamId,
        count: usize,
    ) -> Result<Vec<QueueEvent>, EventsError> {
        let Some(start) = after.next() else {
            return Ok(Vec::new());
        };
        let _permit = self
            .replays
            .acquire()
            .await
            .map_err(|_| EventsError::Timeout)?;
        let mut conn = self.replay_connection().await?;
        let read = async {
            let reply: RedisValue = redis::cmd("XRANGE")
                .arg(&*self.key)
                .arg(start.to_string())
                .arg("+")
                .arg("COUNT")
                .arg(count)
                .query_async(&mut conn)
                .await?;
            Ok::<_, EventsError>(parse_entries(reply, &self.limits))
        };
        let mut events = tokio::time::timeout(REPLAY_TIMEOUT, read)
            .await
            .map_err(|_| EventsError::Timeout)??;
        self.annotate(&mut events).await;
        Ok(events)
    }

    /// Sets each event's owner (when access control is on): from the cache, else from the
    /// jobs' data in one pipelined read for the whole batch (see [`assign_owners`]). A failed
    /// read leaves owners unknown (those events reach only viewers) and is not remembered.
    async fn annotate(&self, events: &mut [QueueEvent]) {
        let Some(cache) = &self.owners else {
            return;
        };
        let mut unknown: Vec<app::JobId> = Vec::new();
        for event in events.iter() {
            let Some(id) = &event.job_id else { continue };
            let needs_read = event.name.as_deref() == Some("added") || cache.get(id).is_none();
            if needs_read && !unknown.iter().any(|known| known.as_str() == id) {
                unknown.extend(crate::keys::is_job_id(id));
            }
        }
        if unknown.is_empty() {
            assign_owners(cache, events, Some(&std::collections::HashMap::new()));
            return;
        }
        let mut pipe = redis::pipe();
        for id in &unknown {
            pipe.cmd("HMGET")
                .arg(self.keys.job(id))
                .arg("data")
                .arg("timestamp");
        }
        let mut conn = self.conn.connection();
        let read = pipe.query_async::<Vec<(Option<Vec<u8>>, Option<Vec<u8>>)>>(&mut conn);
        let fresh = match tokio::time::timeout(REPLAY_TIMEOUT, read).await {
            Ok(Ok(rows)) => Some(
                unknown
                    .into_iter()
                    .zip(rows)
                    .map(|(id, (data, timestamp))| {
                        let owner = data
                            .and_then(|raw| {
                                crate::record::owner_in(&String::from_utf8_lossy(&raw))
                            })
                            .map(Arc::<str>::from);
                        let created = timestamp.and_then(|raw| {
                            std::str::from_utf8(&raw).ok()?.trim().parse::<u64>().ok()
                        });
                        (id.as_str().to_string(), (owner, created))
                    })
                    .collect(),
            ),
            _ => None,
        };
        assign_owners(cache, events, fresh.as_ref());
    }

    /// Whether the stream still holds everything after `after`: the entry right after it
    /// must not have been trimmed, and `after` must not be newer than the newest entry.
    pub async fn resume_point(&self, after: StreamId) -> Result<ResumePoint, EventsError> {
        let mut conn = self.replay_connection().await?;
        let read = async {
            let mut pipe = redis::pipe();
            pipe.cmd("XRANGE")
                .arg(&*self.key)
                .arg("-")
                .arg("+")
                .arg("COUNT")
                .arg(1)
                .cmd("XREVRANGE")
                .arg(&*self.key)
                .arg("+")
                .arg("-")
                .arg("COUNT")
                .arg(1);
            let (oldest, newest): (RedisValue, RedisValue) = pipe.query_async(&mut conn).await?;
            Ok::<_, EventsError>((
                parse_entries(oldest, &self.limits).first().map(|e| e.id),
                parse_entries(newest, &self.limits).first().map(|e| e.id),
            ))
        };
        let (oldest, newest) = tokio::time::timeout(REPLAY_TIMEOUT, read)
            .await
            .map_err(|_| EventsError::Timeout)??;
        Ok(match (oldest, newest) {
            // An empty stream: anything the client saw is gone (unless it saw nothing).
            (None, _) | (_, None) if after == StreamId::ZERO => ResumePoint::Contiguous,
            (None, _) | (_, None) => ResumePoint::Gap,
            (Some(oldest), Some(newest)) => {
                // The client's next entry is `oldest` at best: an older id means entries
                // between them were trimmed. An id past the newest is from another life of
                // the stream (Redis lost it, or a made-up id).
                let trimmed =
                    after.next().is_none_or(|next| next < oldest) && after != StreamId::ZERO;
                if trimmed || after > newest {
                    ResumePoint::Gap
                } else {
                    ResumePoint::Contiguous
                }
            }
        })
    }

    /// Follows the stream and publishes each batch; reconnects after errors.
    async fn read_loop(self, shutdown: CancellationToken) {
        let mut last: Option<StreamId> = None;
        let mut backoff = Duration::from_millis(100);
        while !shutdown.is_cancelled() {
            let result = tokio::select! {
                result = self.follow(&mut last, &shutdown) => result,
                () = shutdown.cancelled() => break,
            };
            if let Err(error) = result {
                warn!(error = %error_chain(&error), "event stream reader lost Redis; reconnecting");
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
            let mut events = parse_xread(reply, &self.limits);
            self.annotate(&mut events).await;
            if let Some(newest) = events.last() {
                cursor = newest.id;
                *last = Some(newest.id);
                self.fanout.publish(events.into_iter().map(Arc::new));
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
        Ok(parse_entries(reply, &self.limits)
            .first()
            .map(|event| event.id))
    }
}

/// Parses an `XREAD` reply (one stream) into events.
fn parse_xread(reply: RedisValue, limits: &EventLimits) -> Vec<QueueEvent> {
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

/// Parses an `XRANGE`-shaped reply (`[[id, [field, value, ...]], ...]`) into events.
pub(crate) fn parse_entries(reply: RedisValue, limits: &EventLimits) -> Vec<QueueEvent> {
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
            Some(QueueEvent::from_fields(id, pairs, limits))
        })
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

    fn job_event(id: &str, name: &str, job: &str) -> QueueEvent {
        QueueEvent::from_fields(
            id.parse().unwrap(),
            vec![("event".into(), name.into()), ("jobId".into(), job.into())],
            &EventLimits::default(),
        )
    }

    type Fresh = std::collections::HashMap<String, (Option<Arc<str>>, Option<u64>)>;

    fn fresh(owner: &str, created: u64) -> Fresh {
        Fresh::from([(
            "shared-1".to_string(),
            (Some(Arc::from(owner)), Some(created)),
        )])
    }

    fn owners(events: &[QueueEvent]) -> Vec<Option<&str>> {
        events.iter().map(|e| e.owner.as_deref()).collect()
    }

    /// Bob's job `shared-1` is removed and the id given to Alice's job: none of Alice's events
    /// is ever Bob's, live or replayed, in one batch or across batches.
    #[test]
    fn a_reused_id_never_takes_the_removed_job_s_owner() {
        let cache = OwnerCache::default();
        let mut batch = vec![
            job_event("1000-0", "added", "shared-1"),
            job_event("1001-0", "completed", "shared-1"),
        ];
        assign_owners(&cache, &mut batch, Some(&fresh("bob", 1000)));
        assert_eq!(owners(&batch), [Some("bob"), Some("bob")]);

        // Removed and added again within one batch: the read gives the new owner, the events
        // before the new `added` stay Bob's (from the cache).
        let mut batch = vec![
            job_event("2000-0", "completed", "shared-1"),
            job_event("2001-0", "removed", "shared-1"),
            job_event("2002-0", "added", "shared-1"),
            job_event("2003-0", "completed", "shared-1"),
        ];
        assign_owners(&cache, &mut batch, Some(&fresh("alice", 2002)));
        assert_eq!(
            owners(&batch),
            [Some("bob"), Some("bob"), Some("alice"), Some("alice")]
        );
        // A client replaying Bob's old events now: they have no owner, never Alice.
        let mut replay = vec![job_event("1001-0", "completed", "shared-1")];
        assign_owners(&cache, &mut replay, Some(&Fresh::new()));
        assert_eq!(owners(&replay), [None]);

        // Removed by retention (no `removed` event), then reused in a later batch.
        let mut batch = vec![job_event("3000-0", "added", "shared-1")];
        assign_owners(&cache, &mut batch, Some(&fresh("carol", 3000)));
        assert_eq!(owners(&batch), [Some("carol")]);

        // A process that never saw the `added`: the job's creation time bounds the owner.
        let other = OwnerCache::default();
        let mut batch = vec![
            job_event("1700000000000-0", "completed", "shared-1"),
            job_event("1700000100500-0", "progress", "shared-1"),
        ];
        assign_owners(&other, &mut batch, Some(&fresh("carol", 1_700_000_100_000)));
        assert_eq!(owners(&batch), [None, Some("carol")]);

        // The owner could not be read: unknown, and read again next time.
        let again = OwnerCache::default();
        let mut batch = vec![job_event("4000-0", "added", "shared-1")];
        assign_owners(&again, &mut batch, None);
        assert_eq!(owners(&batch), [None]);
        assert!(again.get("shared-1").is_none());
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
