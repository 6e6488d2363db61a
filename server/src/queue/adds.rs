//! The adds of Sentinel's own queue, many to a round trip: an enqueue hands its job to this
//! process's adder and waits for its id; the adder sends every job it holds in one pipeline
//! (the engine's `add_pipelined`: each job its own run of the same add script) as soon as the
//! previous pipeline is answered. At rest a job goes at once; under load one write to Redis
//! carries the adds of every enqueue waiting at that moment, where each add used to be a write
//! and a read of its own on both sides (the server spent more CPU per enqueue than Redis,
//! mostly in those socket calls).
//!
//! Nothing changes for a job: the same script, options and id; each job's own error (a script
//! refusal, a job too large) comes back to its own enqueue. A batch that Redis does not answer
//! within [`CALL_TIMEOUT`] fails every job in it with a timeout, as a single add would (such a
//! job may still have been added, as with any add whose answer was lost). On shutdown the adder
//! sends what it holds before it stops; an enqueue that finds it stopped adds its job itself.

use bullmq::{BulkJob, Job, Queue};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::{CALL_TIMEOUT, EngineError};

/// Adds held at most before an enqueue waits for room (a Redis that does not answer).
const CAPACITY: usize = 4096;
/// Adds sent in one pipeline at most.
const BATCH: usize = 256;

/// One enqueue's job, with who waits for its id.
struct Held {
    job: BulkJob,
    done: oneshot::Sender<Result<Job, EngineError>>,
}

/// The sending side; cheap to clone.
#[derive(Clone)]
pub struct Adder {
    tx: mpsc::Sender<Held>,
    queue: Queue,
}

impl Adder {
    /// Starts the adder of `queue`'s jobs until `stop` fires (then it adds what it holds).
    pub fn start(queue: Queue, stop: CancellationToken) -> Self {
        let (tx, rx) = mpsc::channel(CAPACITY);
        tokio::spawn(run(queue.clone(), rx, stop));
        Self { tx, queue }
    }

    /// Adds `job` with the next pipeline and returns it with its id.
    pub async fn add(&self, job: BulkJob) -> Result<Job, EngineError> {
        let (done, added) = oneshot::channel();
        match self.tx.send(Held { job, done }).await {
            Ok(()) => added.await.unwrap_or_else(|_| {
                Err(EngineError::Queue(bullmq::Error::InvalidConfig(
                    "the adder stopped before it answered".into(),
                )))
            }),
            // Shut down: this enqueue adds its job itself.
            Err(mpsc::error::SendError(Held { job, .. })) => add_one(&self.queue, job).await,
        }
    }
}

async fn run(queue: Queue, mut rx: mpsc::Receiver<Held>, stop: CancellationToken) {
    let mut held = Vec::with_capacity(BATCH);
    loop {
        let got = tokio::select! {
            got = rx.recv_many(&mut held, BATCH) => got,
            () = stop.cancelled() => {
                rx.close();
                while rx.recv_many(&mut held, BATCH).await > 0 {
                    send(&queue, &mut held).await;
                }
                return;
            }
        };
        if got == 0 {
            return;
        }
        send(&queue, &mut held).await;
    }
}

/// Adds `held`'s jobs in one pipeline and answers each enqueue.
async fn send(queue: &Queue, held: &mut Vec<Held>) {
    let (jobs, waiting): (Vec<BulkJob>, Vec<_>) =
        held.drain(..).map(|Held { job, done }| (job, done)).unzip();
    let results = add_all(queue, jobs).await;
    for (done, result) in waiting.into_iter().zip(results) {
        let _ = done.send(result);
    }
}

/// Adds `jobs` in one pipeline within [`CALL_TIMEOUT`]: one result per job, in order.
async fn add_all(queue: &Queue, jobs: Vec<BulkJob>) -> Vec<Result<Job, EngineError>> {
    let count = jobs.len();
    match tokio::time::timeout(CALL_TIMEOUT, queue.add_pipelined(jobs)).await {
        Ok(results) => results
            .into_iter()
            .map(|result| result.map_err(EngineError::Queue))
            .collect(),
        Err(_) => (0..count)
            .map(|_| Err(EngineError::Timeout(CALL_TIMEOUT)))
            .collect(),
    }
}

/// Adds one job without an adder (a queue Sentinel does not add to under load).
pub async fn add_one(queue: &Queue, job: BulkJob) -> Result<Job, EngineError> {
    add_all(queue, vec![job]).await.pop().unwrap_or_else(|| {
        Err(EngineError::Queue(bullmq::Error::InvalidConfig(
            "no answer for the add".into(),
        )))
    })
}
