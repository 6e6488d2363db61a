//! The fan-out of live events to every open stream, bounded in bytes.
//!
//! One ring of recent events is shared by all streams: an event is stored once, however many
//! clients follow. The ring keeps the events some stream has yet to take, and at most
//! `SSE_FANOUT_BYTES` of them (oldest dropped first): with nobody following, it holds nothing
//! (a new stream starts at the live end), so an idle dashboard costs no memory under load.
//! Each stream has a cursor into the ring and is dropped when it falls more than
//! `SSE_CLIENT_BUFFER_BYTES` behind, or when the events it still needs left the ring. A client
//! that stops reading entirely is never polled by hyper, so the reader checks every stream's
//! lag after each batch and fires the stream's `kill` token, which closes its connection: a
//! stalled client costs a cursor, never a copy of the events.
//!
//! tokio's `broadcast` channel is bounded by a count of events only, which is why this is not
//! one.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::queue::stream::QueueEvent;

/// A stream fell too far behind; it should end so its client reconnects and catches up from
/// Redis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lagged;

struct Slot {
    /// Byte offset of the event's start in the sequence of all events published.
    offset: u64,
    event: Arc<QueueEvent>,
}

struct Ring {
    slots: VecDeque<Slot>,
    /// Sequence number of `slots[0]`.
    first_seq: u64,
    /// Bytes of all events published so far (the offset of the next one).
    published_bytes: u64,
    /// Bytes of the events in `slots`.
    held_bytes: usize,
}

impl Ring {
    fn pop_oldest(&mut self) {
        if let Some(old) = self.slots.pop_front() {
            self.held_bytes -= old.event.size();
            self.first_seq += 1;
        }
    }
}

/// What the reader knows of one stream.
struct Follower {
    /// Byte offset up to which the stream has taken events.
    taken_offset: AtomicU64,
    /// Closes the stream's connection.
    kill: CancellationToken,
}

/// The shared ring; cheap to clone.
#[derive(Clone)]
pub struct Fanout {
    ring: Arc<Mutex<Ring>>,
    followers: Arc<Mutex<Vec<Weak<Follower>>>>,
    published: watch::Sender<u64>,
    /// Woken when a stream joins (the reader reads the stream only while someone follows).
    joined: Arc<tokio::sync::Notify>,
    max_bytes: usize,
    max_lag_bytes: u64,
}

impl Fanout {
    /// A ring holding at most `max_bytes` of events, dropping streams more than
    /// `max_lag_bytes` behind.
    pub fn new(max_bytes: usize, max_lag_bytes: usize) -> Self {
        let (published, _) = watch::channel(0);
        Self {
            ring: Arc::new(Mutex::new(Ring {
                slots: VecDeque::new(),
                first_seq: 0,
                published_bytes: 0,
                held_bytes: 0,
            })),
            followers: Arc::new(Mutex::new(Vec::new())),
            published,
            joined: Arc::new(tokio::sync::Notify::new()),
            max_bytes,
            max_lag_bytes: max_lag_bytes as u64,
        }
    }

    /// Adds a batch of events and wakes the streams, then drops streams that are too far
    /// behind.
    pub fn publish(&self, events: impl IntoIterator<Item = Arc<QueueEvent>>) {
        let next_seq = {
            let mut ring = lock(&self.ring);
            for event in events {
                let size = event.size();
                let offset = ring.published_bytes;
                ring.published_bytes += size as u64;
                ring.held_bytes += size;
                ring.slots.push_back(Slot { offset, event });
                while ring.held_bytes > self.max_bytes && ring.slots.len() > 1 {
                    ring.pop_oldest();
                }
            }
            // Events every stream has taken are needed by none (followers are registered
            // under the ring's lock, so none can be joining now).
            let needed_from = lock(&self.followers)
                .iter()
                .filter_map(Weak::upgrade)
                .map(|f| f.taken_offset.load(Ordering::Relaxed))
                .min()
                .unwrap_or(ring.published_bytes);
            while ring
                .slots
                .front()
                .is_some_and(|slot| slot.offset < needed_from)
            {
                ring.pop_oldest();
            }
            ring.first_seq + ring.slots.len() as u64
        };
        self.published.send_replace(next_seq);
        self.drop_laggards();
    }

    /// Fires the kill token of every stream too far behind, and forgets ended streams.
    fn drop_laggards(&self) {
        let (published_bytes, oldest_offset) = {
            let ring = lock(&self.ring);
            let oldest = ring
                .slots
                .front()
                .map_or(ring.published_bytes, |slot| slot.offset);
            (ring.published_bytes, oldest)
        };
        lock(&self.followers).retain(|weak| {
            let Some(follower) = weak.upgrade() else {
                return false;
            };
            let taken = follower.taken_offset.load(Ordering::Relaxed);
            let behind = published_bytes - taken.min(published_bytes) > self.max_lag_bytes
                || taken < oldest_offset;
            if behind && !follower.kill.is_cancelled() {
                tracing::info!("dropping a slow event stream client");
                follower.kill.cancel();
            }
            true
        });
    }

    /// Whether any stream follows (one that ended is no follower).
    pub fn is_followed(&self) -> bool {
        lock(&self.followers)
            .iter()
            .any(|weak| weak.strong_count() > 0)
    }

    /// Resolves when a stream joins after this call.
    pub fn joined(&self) -> impl std::future::Future<Output = ()> + '_ {
        self.joined.notified()
    }

    /// A cursor at the live end: it sees every event published from now on. `kill` is fired
    /// when the stream falls too far behind.
    pub fn subscribe(&self, kill: CancellationToken) -> Subscriber {
        // Registered under the ring's lock: a publish trims the ring to what its followers
        // need, and this one needs everything from here on.
        let ring = lock(&self.ring);
        let seq = ring.first_seq + ring.slots.len() as u64;
        let follower = Arc::new(Follower {
            taken_offset: AtomicU64::new(ring.published_bytes),
            kill,
        });
        lock(&self.followers).push(Arc::downgrade(&follower));
        drop(ring);
        self.joined.notify_waiters();
        Subscriber {
            fanout: self.clone(),
            next_seq: seq,
            follower,
            published: self.published.subscribe(),
        }
    }
}

/// One stream's cursor.
pub struct Subscriber {
    fanout: Fanout,
    next_seq: u64,
    follower: Arc<Follower>,
    published: watch::Receiver<u64>,
}

impl Subscriber {
    /// Waits for events after the cursor and moves them into `out` (at most `max` at a time).
    /// `Err(Lagged)` when the events this stream needs are gone or it is too far behind.
    pub async fn next_batch(
        &mut self,
        out: &mut Vec<Arc<QueueEvent>>,
        max: usize,
    ) -> Result<(), Lagged> {
        loop {
            if self.follower.kill.is_cancelled() {
                return Err(Lagged);
            }
            {
                let ring = lock(&self.fanout.ring);
                if self.next_seq < ring.first_seq {
                    return Err(Lagged);
                }
                let start = (self.next_seq - ring.first_seq) as usize;
                if start < ring.slots.len() {
                    let end = (start + max).min(ring.slots.len());
                    out.extend(ring.slots.range(start..end).map(|slot| slot.event.clone()));
                    self.next_seq += (end - start) as u64;
                    let taken = ring
                        .slots
                        .get(end)
                        .map_or(ring.published_bytes, |slot| slot.offset);
                    self.follower.taken_offset.store(taken, Ordering::Relaxed);
                    return Ok(());
                }
            }
            // Nothing new: wait for the next publish (a closed sender means shutdown).
            tokio::select! {
                changed = self.published.changed() => {
                    if changed.is_err() {
                        return Err(Lagged);
                    }
                }
                () = self.follower.kill.cancelled() => return Err(Lagged),
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock leaves consistent data here (every update is a push or
    // a pop), so a poisoned lock is still usable.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::stream::{EventLimits, QueueEvent};

    fn event(n: u64, payload: usize) -> Arc<QueueEvent> {
        Arc::new(QueueEvent::from_fields(
            format!("{n}-0").parse().unwrap(),
            vec![
                ("event".into(), "progress".into()),
                ("jobId".into(), n.to_string()),
                ("data".into(), format!("\"{}\"", "x".repeat(payload))),
            ],
            &EventLimits::default(),
        ))
    }

    #[tokio::test]
    async fn a_reader_gets_every_event_in_order() {
        let fanout = Fanout::new(1 << 20, 1 << 20);
        let mut sub = fanout.subscribe(CancellationToken::new());
        fanout.publish((1..=5).map(|n| event(n, 10)));
        let mut got = Vec::new();
        sub.next_batch(&mut got, 3).await.unwrap();
        sub.next_batch(&mut got, 3).await.unwrap();
        let ids: Vec<String> = got.iter().map(|e| e.id.to_string()).collect();
        assert_eq!(ids, ["1-0", "2-0", "3-0", "4-0", "5-0"]);
    }

    #[tokio::test]
    async fn the_ring_is_bounded_in_bytes_and_a_stalled_stream_is_killed() {
        let one = event(0, 1000).size();
        let fanout = Fanout::new(10 * one, 4 * one);
        let kill = CancellationToken::new();
        let mut stalled = fanout.subscribe(kill.clone());
        let mut reader = fanout.subscribe(CancellationToken::new());
        let mut got = Vec::new();
        for n in 1..=30 {
            fanout.publish([event(n, 1000)]);
            reader.next_batch(&mut got, 100).await.unwrap();
        }
        assert_eq!(got.len(), 30, "the reading stream got everything");
        let held = lock(&fanout.ring).held_bytes;
        assert!(held <= 10 * one, "ring holds {held} bytes");
        assert!(kill.is_cancelled(), "the stalled stream was told to close");
        assert_eq!(stalled.next_batch(&mut got, 10).await, Err(Lagged));
    }

    #[tokio::test]
    async fn the_ring_holds_only_what_a_stream_has_yet_to_take() {
        let fanout = Fanout::new(1 << 20, 1 << 20);
        // Nobody follows: nothing is kept.
        fanout.publish((1..=100).map(|n| event(n, 100)));
        assert_eq!(lock(&fanout.ring).slots.len(), 0);
        // A stream that has taken 3 of 5 keeps the 2 it has yet to take; a new stream starts
        // at the live end and still gets what comes next.
        let mut slow = fanout.subscribe(CancellationToken::new());
        fanout.publish((101..=105).map(|n| event(n, 100)));
        let mut got = Vec::new();
        slow.next_batch(&mut got, 3).await.unwrap();
        fanout.publish([]);
        assert_eq!(lock(&fanout.ring).slots.len(), 2);
        let mut late = fanout.subscribe(CancellationToken::new());
        fanout.publish([event(106, 100)]);
        let mut late_got = Vec::new();
        late.next_batch(&mut late_got, 10).await.unwrap();
        assert_eq!(late_got.len(), 1);
        slow.next_batch(&mut got, 10).await.unwrap();
        let ids: Vec<String> = got.iter().map(|e| e.id.to_string()).collect();
        assert_eq!(ids, ["101-0", "102-0", "103-0", "104-0", "105-0", "106-0"]);
        // Both have taken everything: the ring empties at the next publish.
        fanout.publish([]);
        assert_eq!(lock(&fanout.ring).slots.len(), 0);
    }
}
