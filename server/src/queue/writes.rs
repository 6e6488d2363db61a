//! The settling of an enqueue's quota reservation after its add (the job joins its owner's
//! listing). An enqueue hands it to this process's writer and waits until it is written, so a
//! submitter who lists their jobs right after the answer sees the new one. The writer sends
//! what it holds in one pipeline as soon as the previous one is answered, so under load one
//! pipeline carries the settlements of many enqueues (Redis answers one round trip for all of
//! them, not one per enqueue).
//!
//! Nothing is lost that matters: a reservation nobody settles lapses by itself
//! ([`super::RESERVATION_MS`]). On shutdown the writer sends what it holds first.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::TaskQueue;
use super::owners::Reservation;

/// Settlements held at most before an enqueue waits for room (a Redis that does not answer).
const CAPACITY: usize = 8192;
/// Settlements sent in one pipeline at most.
const BATCH: usize = 512;

/// One enqueue's settlement, with who waits for it.
#[derive(Debug)]
struct Held {
    /// The job's id.
    id: String,
    /// The reservation its owner's quota held.
    reservation: Reservation,
    done: tokio::sync::oneshot::Sender<()>,
}

/// The sending side; cheap to clone.
#[derive(Clone, Debug)]
pub struct Writer {
    tx: mpsc::Sender<Held>,
}

impl Writer {
    /// Starts the writer of `queue`'s settlements until `stop` fires (then it sends what it
    /// holds).
    pub fn start(queue: TaskQueue, stop: CancellationToken) -> Self {
        let (tx, rx) = mpsc::channel(CAPACITY);
        tokio::spawn(run(queue, rx, stop));
        Self { tx }
    }

    /// Hands job `id`'s `reservation` over and waits until it was sent (written, or given up
    /// on after a retry: it lapses by itself).
    pub async fn send(&self, id: String, reservation: Reservation) {
        let (done, written) = tokio::sync::oneshot::channel();
        let held = Held {
            id,
            reservation,
            done,
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

/// Sends `held` in one pipeline; on failure, once more after a short wait, then gives up (a
/// reservation lapses by itself).
async fn flush(queue: &TaskQueue, held: &mut Vec<Held>) {
    let now = crate::clock::now_ms();
    let mut pipe = redis::pipe();
    for Held {
        id, reservation, ..
    } in held.iter()
    {
        TaskQueue::settle_into(&mut pipe, reservation, Some(id), now);
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
                "quota settlements not written (the reservations lapse by themselves)"
            );
        }
    }
    for Held { done, .. } in held.drain(..) {
        let _ = done.send(());
    }
}
