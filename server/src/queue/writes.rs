//! What an enqueue writes after its add: its search index entries and the settling of its quota
//! reservation (the job joins its owner's listing). An enqueue hands them to this process's
//! writer and waits until they are written, so a submitter who lists their jobs right after
//! the answer sees the new one; the writer sends what it holds in one pipeline as soon as the
//! previous one is answered, so under load one pipeline carries the writes of many enqueues
//! (Redis answers one round trip for all of them, not several per enqueue).
//!
//! Nothing is lost that matters: an index entry only speeds a search up (a job left out is still
//! found by the scan for other producers' jobs), and a reservation nobody settles lapses by
//! itself ([`super::RESERVATION_MS`]). On shutdown the writer sends what it holds first.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::owners::Reservation;
use super::{TaskQueue, index};

/// Writes held at most before an enqueue waits for room (a Redis that does not answer).
const CAPACITY: usize = 8192;
/// Writes sent in one pipeline at most.
const BATCH: usize = 512;

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
    done: tokio::sync::oneshot::Sender<()>,
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

    /// Hands one enqueue's writes over and waits until they were sent (written, or given up on
    /// after a retry: each write is only a speed-up or lapses by itself).
    pub async fn send(&self, writes: Behind) {
        let (done, written) = tokio::sync::oneshot::channel();
        if self.tx.send(Held { writes, done }).await.is_err() {
            tracing::debug!("the writer has stopped; a reservation lapses by itself");
            return;
        }
        let _ = written.await;
    }
}

async fn run(queue: TaskQueue, mut rx: mpsc::Receiver<Held>, stop: CancellationToken) {
    let mut held = Vec::with_capacity(BATCH);
    loop {
        let got = tokio::select! {
            got = rx.recv_many(&mut held, BATCH) => got,
            () = stop.cancelled() => {
                rx.close();
                while rx.recv_many(&mut held, BATCH).await > 0 {
                    flush(&queue, &mut held).await;
                }
                return;
            }
        };
        if got == 0 {
            return;
        }
        flush(&queue, &mut held).await;
    }
}

/// Sends `held` in one pipeline; on failure, once more after a short wait, then gives up
/// (each write is only a speed-up or lapses by itself).
async fn flush(queue: &TaskQueue, held: &mut Vec<Held>) {
    let now = crate::clock::now_ms();
    let mut pipe = redis::pipe();
    let mut registry = Vec::new();
    for Held { writes, .. } in held.iter() {
        for key in &writes.index_keys {
            pipe.cmd("ZADD")
                .arg(key)
                .arg(writes.added_ms)
                .arg(&writes.id)
                .ignore();
            registry.push(key.as_str());
        }
        if let Some(reservation) = &writes.reservation {
            TaskQueue::settle_into(&mut pipe, reservation, Some(&writes.id), now);
        }
    }
    if !registry.is_empty() {
        registry.sort_unstable();
        registry.dedup();
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
    for Held { done, .. } in held.drain(..) {
        let _ = done.send(());
    }
}
