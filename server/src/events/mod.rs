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

use std::sync::Arc;
use std::time::Duration;

use bullmq::redis_connection::{AnyConnection, RedisConnection};
use redis::Value as RedisValue;
use tokio::sync::{OnceCell, Semaphore};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::queue::stream::{EventLimits, QueueEvent, StreamId, parse_entries, parse_xread};
use crate::telemetry::error_chain;
use fanout::{Fanout, Subscriber};

pub mod fanout;
pub mod pulse;
pub mod slots;

/// Replay pages read from Redis at the same time, all resuming clients together: a crowd of
/// clients replaying from the start must not starve the queue's own calls.
const REPLAYS_AT_ONCE: usize = 4;
/// Deadline of one replay page.
const REPLAY_TIMEOUT: Duration = Duration::from_secs(3);
/// How long one `XREAD` blocks; bounds how late the reader notices shutdown.
const BLOCK_MS: u64 = 2000;
/// Longest the reader waits for a connection or a read that does not block (beyond a blocking
/// read's own block time: a watchdog for half-open sockets).
const READ_TIMEOUT: Duration = Duration::from_secs(2);
/// How often the reader notes the stream's newest entry while nobody follows.
const IDLE_POLL: Duration = Duration::from_millis(100);
/// Entries read per `XREAD`/`XRANGE` call.
const BATCH: usize = 500;

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
    keys: Arc<crate::queue::keys::QueueKeys>,
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
        Some(if known.since <= event {
            known.owner
        } else {
            None
        })
    }
}

/// Owners and creation times (ms) read from Redis just now, by job id.
type FreshOwners = std::collections::HashMap<String, (Option<Arc<str>>, Option<u64>)>;

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
fn assign_owners(cache: &OwnerCache, events: &mut [QueueEvent], fresh: Option<&FreshOwners>) {
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
                    let since = created.map_or(StreamId::ZERO, |ms| {
                        StreamId::at_ms(ms.saturating_sub(OWNER_CLOCK_SLACK_MS))
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
        keys: crate::queue::keys::QueueKeys,
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
                unknown.extend(crate::queue::keys::is_job_id(id));
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
                                crate::queue::record::owner_in(&String::from_utf8_lossy(&raw))
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
        let mut backoff =
            crate::clock::Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        while !shutdown.is_cancelled() {
            let result = tokio::select! {
                result = self.follow(&mut last, &shutdown) => result,
                () = shutdown.cancelled() => break,
            };
            if let Err(error) = result {
                warn!(error = %error_chain(&error), "event stream reader lost Redis; reconnecting");
                if !backoff.sleep(&shutdown).await {
                    break;
                }
            } else {
                backoff.reset();
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
            tokio::time::timeout(READ_TIMEOUT, self.conn.dedicated_any_connection())
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
            if !self.fanout.is_followed() {
                // Nobody follows: every event read would be thrown away (under an enqueue
                // load, most of this process's work). The cursor moves to the newest entry
                // instead, one short read per IDLE_POLL, and reading starts from there when a
                // stream joins: a stream sees every event from before it joined on.
                let joined = self.fanout.joined();
                let newest = tokio::time::timeout(READ_TIMEOUT, self.newest_id(&mut conn))
                    .await
                    .map_err(|_| EventsError::Timeout)??;
                // A stream that joined during that read needs the events after the old cursor.
                if !self.fanout.is_followed() {
                    cursor = newest.unwrap_or(StreamId::ZERO);
                    *last = Some(cursor);
                    tokio::select! {
                        () = joined => {}
                        () = tokio::time::sleep(IDLE_POLL) => {}
                        () = shutdown.cancelled() => break,
                    }
                }
                continue;
            }
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
            let reply = tokio::time::timeout(Duration::from_millis(BLOCK_MS) + READ_TIMEOUT, read)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::stream::EventLimits;

    fn job_event(id: &str, name: &str, job: &str) -> QueueEvent {
        QueueEvent::from_fields(
            id.parse().unwrap(),
            vec![("event".into(), name.into()), ("jobId".into(), job.into())],
            &EventLimits::default(),
        )
    }

    type Fresh = FreshOwners;

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
}
