//! The adds of Sentinel's own queue, many to a round trip: an enqueue hands its job to this
//! process's adder and waits for its id; the adder sends every job it holds in one pipeline
//! (the engine's `add_pipelined`: each job its own run of the same add script) as soon as the
//! previous pipeline is answered. At rest a job goes at once; under load one write to Redis
//! carries the adds of every enqueue waiting at that moment, where each add used to be a write
//! and a read of its own on both sides (the server spent more CPU per enqueue than Redis,
//! mostly in those socket calls).
//!
//! The added jobs' search index entries ride with the next pipeline (one `ZADD` per term for
//! all of them, the registry of terms told of a term at most once a minute per process), or go
//! by themselves at once when no add is waiting: under load they cost no round trip of their
//! own. They are not waited for: a search finds a job not yet indexed by its scan, and a job
//! whose entries were lost (Redis gone at that moment) the same way.
//!
//! Nothing changes for a job: the same script, options and id; each job's own error (a script
//! refusal, a job too large) comes back to its own enqueue. A batch that Redis does not answer
//! within [`CALL_TIMEOUT`] fails every job in it with a timeout, as a single add would (such a
//! job may still have been added, as with any add whose answer was lost). On shutdown the adder
//! sends what it holds before it stops; an enqueue that finds it stopped adds its job itself.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bullmq::{BulkJob, Job, Queue};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::index;
use super::keys::QueueKeys;
use super::{CALL_TIMEOUT, EngineError};

/// Adds held at most before an enqueue waits for room (a Redis that does not answer).
const CAPACITY: usize = 4096;
/// Adds sent in one pipeline at most.
const BATCH: usize = 256;
/// How often a process tells the registry of terms of a term it writes: the sweep takes a term
/// out of the registry when its set empties, and the next entry puts it back within this time.
const REGISTER_EVERY: Duration = Duration::from_secs(60);
/// Terms remembered as registered at most (beyond it the memory starts again).
const REGISTERED_AT_MOST: usize = 10_000;

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
    /// Starts the adder of `queue`'s jobs until `stop` fires (then it adds what it holds);
    /// with `index`, the queue's keys, it writes their search index entries.
    pub fn start(queue: Queue, index: Option<QueueKeys>, stop: CancellationToken) -> Self {
        let (tx, rx) = mpsc::channel(CAPACITY);
        let entries = index.map(Entries::new);
        tokio::spawn(run(queue.clone(), rx, entries, stop));
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

async fn run(
    queue: Queue,
    mut rx: mpsc::Receiver<Held>,
    mut entries: Option<Entries>,
    stop: CancellationToken,
) {
    let mut held = Vec::with_capacity(BATCH);
    loop {
        if rx.is_empty() {
            // No add for the index entries to ride with: they go by themselves.
            let alone = entries.as_mut().map(Entries::take).unwrap_or_default();
            if !alone.is_empty() {
                add_all(&queue, Vec::new(), alone).await;
            }
        }
        let got = tokio::select! {
            got = rx.recv_many(&mut held, BATCH) => got,
            () = stop.cancelled() => {
                rx.close();
                while rx.recv_many(&mut held, BATCH).await > 0 {
                    send(&queue, &mut held, entries.as_mut()).await;
                }
                let last = entries.as_mut().map(Entries::take).unwrap_or_default();
                if !last.is_empty() {
                    add_all(&queue, Vec::new(), last).await;
                }
                return;
            }
        };
        if got == 0 {
            return;
        }
        send(&queue, &mut held, entries.as_mut()).await;
    }
}

/// Adds `held`'s jobs in one pipeline (with the index entries waiting) and answers each
/// enqueue; notes the added jobs' index entries.
async fn send(queue: &Queue, held: &mut Vec<Held>, mut entries: Option<&mut Entries>) {
    let (jobs, waiting): (Vec<BulkJob>, Vec<_>) =
        held.drain(..).map(|Held { job, done }| (job, done)).unzip();
    let riding = entries
        .as_deref_mut()
        .map(Entries::take)
        .unwrap_or_default();
    let results = add_all(queue, jobs, riding).await;
    for (done, result) in waiting.into_iter().zip(results) {
        if let (Some(entries), Ok(job)) = (entries.as_deref_mut(), &result) {
            entries.note(job);
        }
        let _ = done.send(result);
    }
}

/// The search index entries of added jobs, until they are sent.
struct Entries {
    keys: QueueKeys,
    /// Each term's key with its entries (added ms, id), in the order the jobs came.
    terms: Vec<(String, Vec<(u64, String)>)>,
    /// The terms this process told the registry of, and when.
    registered: HashMap<String, Instant>,
}

impl Entries {
    fn new(keys: QueueKeys) -> Self {
        Self {
            keys,
            terms: Vec::new(),
            registered: HashMap::new(),
        }
    }

    /// Notes `job`'s entries.
    fn note(&mut self, job: &Job) {
        for term in index::terms(job.name(), job.data()) {
            let key = self.keys.index_term(&term);
            let entry = (job.timestamp(), job.id().to_string());
            match self.terms.iter_mut().find(|(k, _)| *k == key) {
                Some((_, entries)) => entries.push(entry),
                None => self.terms.push((key, vec![entry])),
            }
        }
    }

    /// The commands that write the noted entries (one `ZADD` per term, and the registry told
    /// of the terms it was not told of lately); forgets them.
    fn take(&mut self) -> Vec<redis::Cmd> {
        if self.terms.is_empty() {
            return Vec::new();
        }
        let now = Instant::now();
        let mut cmds = Vec::with_capacity(self.terms.len() + 1);
        let mut due = Vec::new();
        for (key, entries) in self.terms.drain(..) {
            let mut zadd = redis::cmd("ZADD");
            zadd.arg(&key);
            for (score, id) in &entries {
                zadd.arg(*score).arg(id);
            }
            cmds.push(zadd);
            let fresh = self
                .registered
                .get(&key)
                .is_some_and(|at| now.duration_since(*at) < REGISTER_EVERY);
            if !fresh {
                due.push(key);
            }
        }
        if !due.is_empty() {
            if self.registered.len() + due.len() > REGISTERED_AT_MOST {
                self.registered.clear();
            }
            let mut sadd = redis::cmd("SADD");
            sadd.arg(self.keys.index_terms()).arg(&due);
            cmds.push(sadd);
            self.registered
                .extend(due.into_iter().map(|key| (key, now)));
        }
        cmds
    }
}

/// Adds `jobs` in one pipeline within [`CALL_TIMEOUT`], `also` sent first in it: one result per
/// job, in order.
async fn add_all(
    queue: &Queue,
    jobs: Vec<BulkJob>,
    also: Vec<redis::Cmd>,
) -> Vec<Result<Job, EngineError>> {
    let count = jobs.len();
    match tokio::time::timeout(CALL_TIMEOUT, queue.add_pipelined(jobs, also)).await {
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
    add_all(queue, vec![job], Vec::new())
        .await
        .pop()
        .unwrap_or_else(|| {
            Err(EngineError::Queue(bullmq::Error::InvalidConfig(
                "no answer for the add".into(),
            )))
        })
}
