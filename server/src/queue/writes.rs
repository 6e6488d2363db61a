//! What an enqueue writes after its add: its search index entries and the settling of its quota
//! reservation (the job joins its owner's listing). An enqueue hands them to this process's
//! writer; one that settles a reservation waits until they are written, so a submitter who
//! lists their jobs right after the answer sees the new one; index entries alone are not
//! waited for (a search finds a job not yet indexed by its scan). The writer sends what it
//! holds in one pipeline as soon as the previous one is answered, so under load one pipeline
//! carries the writes of many enqueues (Redis answers one round trip for all of them, not
//! several per enqueue): one `ZADD` per term for all of them, and the registry of terms
//! (for the sweep) told of a term at most once a minute per process.
//!
//! Nothing is lost that matters: an index entry only speeds a search up (a job left out is still
//! found by the scan for other producers' jobs), and a reservation nobody settles lapses by
//! itself ([`super::RESERVATION_MS`]). On shutdown the writer sends what it holds first.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::owners::Reservation;
use super::{TaskQueue, index};

/// Writes held at most before an enqueue waits for room (a Redis that does not answer).
const CAPACITY: usize = 8192;
/// Writes sent in one pipeline at most.
const BATCH: usize = 512;
/// How often a process tells the registry of terms of a term it writes: the sweep takes a term
/// out of the registry when its set empties, and the next entry puts it back within this time.
const REGISTER_EVERY: Duration = Duration::from_secs(60);
/// Terms remembered as registered at most (beyond it the memory starts again).
const REGISTERED_AT_MOST: usize = 10_000;

/// One enqueue's writes.
#[derive(Debug)]
pub struct Behind {
    /// The job's id.
    pub id: String,
    /// When it was added (ms).
    pub added_ms: u64,
    /// Its search index terms' keys.
    pub index_keys: Vec<String>,
    /// The reservation its owner's quota held, when access control is on.
    pub reservation: Option<Reservation>,
}

/// Writes waiting in the writer, with who waits for them.
#[derive(Debug)]
struct Held {
    writes: Behind,
    done: Option<tokio::sync::oneshot::Sender<()>>,
}

/// The sending side; cheap to clone.
#[derive(Clone, Debug)]
pub struct Writer {
    tx: mpsc::Sender<Held>,
}

impl Writer {
    /// Starts the writer of `queue`'s writes until `stop` fires (then it sends what it holds).
    pub fn start(queue: TaskQueue, stop: CancellationToken) -> Self {
        let (tx, rx) = mpsc::channel(CAPACITY);
        tokio::spawn(run(queue, rx, stop));
        Self { tx }
    }

    /// Hands one enqueue's writes over; when they settle a reservation, waits until they were
    /// sent (written, or given up on after a retry: each write is only a speed-up or lapses by
    /// itself).
    pub async fn send(&self, writes: Behind) {
        if writes.reservation.is_none() {
            let held = Held { writes, done: None };
            if self.tx.send(held).await.is_err() {
                tracing::debug!("the writer has stopped; the scan finds the job");
            }
            return;
        }
        let (done, written) = tokio::sync::oneshot::channel();
        let held = Held {
            writes,
            done: Some(done),
        };
        if self.tx.send(held).await.is_err() {
            tracing::debug!("the writer has stopped; a reservation lapses by itself");
            return;
        }
        let _ = written.await;
    }
}

async fn run(queue: TaskQueue, mut rx: mpsc::Receiver<Held>, stop: CancellationToken) {
    let mut held = Vec::with_capacity(BATCH);
    let mut registered = Registered::default();
    loop {
        let got = tokio::select! {
            got = rx.recv_many(&mut held, BATCH) => got,
            () = stop.cancelled() => {
                rx.close();
                while rx.recv_many(&mut held, BATCH).await > 0 {
                    flush(&queue, &mut held, &mut registered).await;
                }
                return;
            }
        };
        if got == 0 {
            return;
        }
        flush(&queue, &mut held, &mut registered).await;
    }
}

/// The terms this process told the registry of, and when.
#[derive(Default)]
struct Registered(HashMap<String, Instant>);

impl Registered {
    /// Whether `key` is to be told to the registry now (and notes that it is).
    fn due(&mut self, key: &str, now: Instant) -> bool {
        if let Some(at) = self.0.get(key)
            && now.duration_since(*at) < REGISTER_EVERY
        {
            return false;
        }
        if self.0.len() >= REGISTERED_AT_MOST {
            self.0.clear();
        }
        self.0.insert(key.to_string(), now);
        true
    }
}

/// Sends `held` in one pipeline; on failure, once more after a short wait, then gives up
/// (each write is only a speed-up or lapses by itself).
async fn flush(queue: &TaskQueue, held: &mut Vec<Held>, registered: &mut Registered) {
    let now = crate::clock::now_ms();
    let mut pipe = redis::pipe();
    // Each term's entries in one ZADD, in the order the jobs came.
    let mut terms: Vec<(&str, Vec<(u64, &str)>)> = Vec::new();
    for Held { writes, .. } in held.iter() {
        for key in &writes.index_keys {
            let entry = (writes.added_ms, writes.id.as_str());
            match terms.iter_mut().find(|(k, _)| *k == key.as_str()) {
                Some((_, entries)) => entries.push(entry),
                None => terms.push((key.as_str(), vec![entry])),
            }
        }
        if let Some(reservation) = &writes.reservation {
            TaskQueue::settle_into(&mut pipe, reservation, Some(&writes.id), now);
        }
    }
    let at = Instant::now();
    let mut registry = Vec::new();
    for (key, entries) in &terms {
        let zadd = pipe.cmd("ZADD").arg(*key);
        for (score, id) in entries {
            zadd.arg(*score).arg(*id);
        }
        zadd.ignore();
        if registered.due(key, at) {
            registry.push(*key);
        }
    }
    if !registry.is_empty() {
        pipe.cmd("SADD")
            .arg(index::registry(queue))
            .arg(&registry)
            .ignore();
    }
    if !pipe.is_empty() {
        let mut sent = queue.run::<()>(&pipe).await;
        if sent.is_err() {
            tokio::time::sleep(Duration::from_millis(200)).await;
            sent = queue.run::<()>(&pipe).await;
        }
        if let Err(error) = sent {
            tracing::warn!(
                writes = held.len(),
                error = %crate::telemetry::error_chain(&error),
                "index entries and quota settlements not written (the scan finds the jobs; reservations lapse by themselves)"
            );
        }
    }
    for done in held.drain(..).filter_map(|held| held.done) {
        let _ = done.send(());
    }
}
