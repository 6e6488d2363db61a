//! Our typed layer over the `bullmq` crate's `Queue`: enqueue a task, read a job's status, count
//! jobs. It turns the crate's values into the shared `app` types and keeps the crate's quirks
//! (`wait` for `waiting`, return values as raw JSON strings, calls that hang while Redis is down)
//! away from the rest of the server.

use std::future::Future;
use std::time::Duration;

use app::options::{Backoff, TaskOptions};
use app::types::MAX_COUNTED_AHEAD;
use app::{CountsReport, JobCounts, JobId, JobState, JobStatus, JobSummary, TaskPayload};
use bullmq::options::JobOptions;
use bullmq::options::RedisConnectionOptions;
use bullmq::types::{KeepJobs, RemoveOnFinish};
use bullmq::{BulkJob, Queue, QueueOptions};
use serde_json::Value;

use std::sync::Arc;

pub mod adds;
pub mod alerts;
pub mod audit;
pub mod cancel;
pub mod control;
pub mod discovery;
pub mod flows;
pub mod history;
pub mod index;
pub mod inspect;
pub mod keys;
pub mod lease;
pub mod limits;
pub mod owners;
pub mod record;
pub mod schedulers;
pub mod search;
pub mod stats;
pub mod stream;
pub mod why;
pub mod worklist;
pub mod writes;

use crate::config::Config;
use crate::metrics::Metrics;
use keys::{NewJobId, QueueKeys};
use record::JobRecord;

/// Replies [`TaskQueue::membership`] adds per job.
const MEMBERSHIP_READS: usize = 6;

/// Adds to `pipe` the reads that tell the state of job `id` of the queue `keys` names
/// ([`MEMBERSHIP_READS`] replies, read by [`state_from`]).
fn membership_of(keys: &QueueKeys, pipe: &mut redis::Pipeline, id: &str) {
    for set in [
        keys.completed(),
        keys.failed(),
        keys.delayed(),
        keys.prioritized(),
        keys.waiting_children(),
    ] {
        pipe.cmd("ZSCORE").arg(set).arg(id);
    }
    pipe.cmd("LPOS").arg(keys.active()).arg(id);
}

/// A job's state from its membership of completed, failed, delayed, prioritized,
/// waiting-children and active (in that order); a job in none is waiting.
fn state_from(present: &[bool]) -> JobState {
    let member = |i: usize| present.get(i).copied().unwrap_or(false);
    if member(0) {
        JobState::Completed
    } else if member(1) {
        JobState::Failed
    } else if member(2) {
        JobState::Delayed
    } else if member(3) {
        JobState::Prioritized
    } else if member(4) {
        JobState::WaitingChildren
    } else if member(5) {
        JobState::Active
    } else {
        JobState::Waiting
    }
}

pub use app::types::TASK_JOB_NAME;
pub use owners::{OWNER_INDEX_LEN, RESERVATION_MS, Refusal, Reservation};
pub use stream::cut;

/// How many jobs of each state `GET /tasks/counts` lists.
pub const SUMMARY_LEN: i64 = 10;

/// Longest a single queue call may take before we report Redis as unavailable. The crate's own
/// connection timeouts are 10 s, far too long for an HTTP request.
pub(crate) const CALL_TIMEOUT: Duration = Duration::from_secs(3);

/// How long we give the crate to open its connections at start-up: `Queue::with_options` hangs
/// for ~40 s when Redis is down.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// What can go wrong when talking to the queue.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Redis answered with an error, or the connection failed.
    #[error("queue engine call failed")]
    Queue(#[source] bullmq::Error),
    /// Redis did not answer in time.
    #[error("queue engine call timed out after {0:?}")]
    Timeout(Duration),
}

impl EngineError {
    /// Whether Redis answered (with an error about the data, such as a key of the wrong
    /// type), rather than not answering: the connection is fine, the data is foreign.
    pub fn is_answer(&self) -> bool {
        match self {
            EngineError::Queue(bullmq::Error::Redis(error)) => {
                error.code() == Some("WRONGTYPE")
                    || error.kind() == redis::ErrorKind::UnexpectedReturnType
            }
            EngineError::Queue(bullmq::Error::Script { .. }) => true,
            _ => false,
        }
    }
}

/// Runs `call` with our deadline, mapping both failure kinds into [`EngineError`].
pub async fn bounded<T>(
    limit: Duration,
    call: impl Future<Output = Result<T, bullmq::Error>>,
) -> Result<T, EngineError> {
    match tokio::time::timeout(limit, call).await {
        Ok(result) => result.map_err(EngineError::Queue),
        Err(_) => Err(EngineError::Timeout(limit)),
    }
}

/// The crate's connection options for our settings (standalone, or a cluster's seed nodes).
pub fn connection_options(config: &Config) -> RedisConnectionOptions {
    let opts = RedisConnectionOptions::new().url(config.redis_url.clone());
    if config.redis_cluster_nodes.is_empty() {
        opts
    } else {
        opts.cluster_nodes(config.redis_cluster_nodes.iter().cloned())
    }
}

/// The script `source`, made once and kept in `cell` (a `static` of its caller).
pub(crate) fn cached_script(
    source: &'static str,
    cell: &'static std::sync::OnceLock<redis::Script>,
) -> &'static redis::Script {
    cell.get_or_init(|| redis::Script::new(source))
}

/// The task queue, as the HTTP handlers see it; cheap to clone (one connection).
#[derive(Clone)]
pub struct TaskQueue {
    queue: Queue,
    keys: QueueKeys,
    max_field_bytes: usize,
    metrics: Arc<Metrics>,
    /// Whether Sentinel's workers run this queue's jobs (and so read its cancel markers).
    ours: bool,
    /// Whether the jobs it adds are indexed for search (`SENTINEL_SEARCH_INDEX`).
    indexing: bool,
    /// What its enqueues write behind them (Sentinel's own queue, once connected).
    writer: Option<writes::Writer>,
    /// What sends its enqueues' adds, many to a round trip (Sentinel's own queue).
    adder: Option<adds::Adder>,
}

impl TaskQueue {
    /// Opens the queue; fails fast (see [`CONNECT_TIMEOUT`]) when Redis is not there. What its
    /// enqueues write behind them is written until `stop` fires.
    pub async fn connect(
        config: &Config,
        metrics: Arc<Metrics>,
        stop: tokio_util::sync::CancellationToken,
    ) -> Result<Self, EngineError> {
        let opts = QueueOptions::new()
            .connection(connection_options(config))
            .prefix(config.prefix.clone());
        let queue = bounded(CONNECT_TIMEOUT, Queue::with_options(&config.queue, opts)).await?;
        let mut connected = Self {
            queue,
            keys: QueueKeys::new(&config.prefix, &config.queue),
            metrics,
            max_field_bytes: config.limits.max_field_bytes,
            ours: true,
            indexing: config.search_index == crate::config::Toggle::On,
            writer: None,
            adder: None,
        };
        let index = connected.indexing.then(|| connected.keys.clone());
        connected.adder = Some(adds::Adder::start(
            connected.queue.clone(),
            index,
            stop.clone(),
        ));
        connected.writer = Some(writes::Writer::start(connected.clone(), stop));
        Ok(connected)
    }

    /// Another BullMQ queue on the same Redis, on this queue's connection: `name` under
    /// `prefix`. Like every BullMQ client that opens a queue, the engine notes its library in
    /// the queue's meta hash; callers attach only queues that exist. The engine refuses a
    /// prefix that holds `:`. `ours`: whether Sentinel's workers run its jobs
    /// (`SENTINEL_QUEUES`).
    pub async fn attach(&self, prefix: &str, name: &str, ours: bool) -> Result<Self, EngineError> {
        let opts = QueueOptions::new().prefix(prefix.to_string());
        let queue = bounded(
            CALL_TIMEOUT,
            Queue::with_connection(name, self.queue.connection().clone(), opts),
        )
        .await?;
        Ok(Self {
            queue,
            keys: QueueKeys::new(prefix, name),
            max_field_bytes: self.max_field_bytes,
            metrics: self.metrics.clone(),
            ours,
            indexing: false,
            writer: None,
            adder: None,
        })
    }

    /// Whether Sentinel's workers run this queue's jobs: only then can a running job be
    /// stopped (its worker reads the cancel markers).
    pub fn is_ours(&self) -> bool {
        self.ours
    }

    /// Adds a `longTask` job with the original service's options and returns its id. With a
    /// `job_id` (see [`idempotent_job_id`]), a second add returns the existing job, as
    /// BullMQ does for custom ids. The id is a [`NewJobId`]: checked against the queue's own
    /// key names, so no add can write over the queue's bookkeeping. A quota's `reservation`
    /// becomes the job behind the add (or is given back when the add fails).
    pub async fn enqueue(
        &self,
        payload: TaskPayload,
        job_id: Option<NewJobId>,
        options: &TaskOptions,
        reservation: Option<Reservation>,
    ) -> Result<String, EngineError> {
        let keep = || {
            RemoveOnFinish::Options(KeepJobs {
                age: Some(app::types::KEEP_FINISHED_SECS),
                count: Some(app::types::KEEP_FINISHED_JOBS as usize),
                limit: None,
            })
        };
        let mut opts = JobOptions {
            attempts: Some(options.attempts.unwrap_or(1)),
            keep_logs: Some(KEEP_LOG_LINES),
            remove_on_complete: Some(keep()),
            remove_on_fail: Some(keep()),
            ..JobOptions::default()
        };
        opts.delay = options.delay_ms.filter(|d| *d > 0);
        opts.priority = options.priority.filter(|p| *p > 0);
        opts.backoff = options.backoff.map(|backoff| match backoff {
            Backoff::Fixed(ms) => bullmq::types::BackoffStrategy::Fixed(ms),
            Backoff::Exponential(ms) => bullmq::types::BackoffStrategy::Exponential(ms),
        });
        opts.job_id = job_id.map(|id| id.as_str().to_string());
        let add = BulkJob::with_options(TASK_JOB_NAME, payload, opts);
        // Many enqueues' adds go to Redis in one pipeline (`adds.rs`).
        let added = match &self.adder {
            Some(adder) => adder.add(add).await,
            None => adds::add_one(&self.queue, add).await,
        };
        let job = match added {
            Ok(job) => job,
            Err(error) => {
                // The place is given back at once (or lapses by itself if Redis is away).
                if let Some(reservation) = reservation {
                    let _ = self.settle(reservation, None).await;
                }
                return Err(error);
            }
        };
        let id = job.id().to_string();
        // The add is done (its index entries ride with the next adds, `adds.rs`); its quota's
        // settling is written behind it (`writes.rs`): a reservation nobody settles lapses by
        // itself.
        if let Some(reservation) = reservation {
            match &self.writer {
                Some(writer) => writer.send(id.clone(), reservation).await,
                None => self.settle(reservation, Some(&id)).await?,
            }
        }
        Ok(id)
    }

    /// The status of job `id`, or `None` when there is no such job (never added, removed by
    /// the retention policy, or an id that names one of the queue's own keys).
    ///
    /// One atomic read (`MULTI`): the job hash and its membership of each state's set. We do not
    /// use the crate's `get_job_state`: its Lua script (`getState`) copies the whole wait list
    /// per call, so with a backlog of 20,000 jobs each status request cost Redis ~2 ms of CPU.
    /// Every move between states is one atomic script, so a job that exists and is in none of
    /// the other sets is in `wait` (or the legacy `paused` list): both are `waiting`. The hash
    /// is decoded leniently ([`JobRecord`]): other producers write there too.
    pub async fn status(&self, id: &JobId) -> Result<Option<OwnedStatus>, EngineError> {
        Ok(self.status_and_record(id).await?.map(|(status, _)| status))
    }

    /// The status of job `id` and its hash as read for it (one read, for callers that need
    /// more of the job than its status).
    pub(crate) async fn status_and_record(
        &self,
        id: &JobId,
    ) -> Result<Option<(OwnedStatus, JobRecord)>, EngineError> {
        let Some((mut found, record)) = self.state_and_record(id).await? else {
            return Ok(None);
        };
        let state = found.status.state;
        if matches!(state, JobState::Waiting | JobState::Prioritized) {
            let (ahead, paused) = self.jobs_ahead(id.as_str(), state).await?;
            found.status.jobs_ahead = ahead;
            found.status.queue_paused = paused.then_some(true);
        }
        Ok(Some((found, record)))
    }

    /// As [`Self::status_and_record`] without counting the jobs ahead of a waiting one (one
    /// round trip, for actions).
    pub(crate) async fn state_and_record(
        &self,
        id: &JobId,
    ) -> Result<Option<(OwnedStatus, JobRecord)>, EngineError> {
        if keys::is_reserved(id.as_str()) {
            return Ok(None);
        }
        let mut pipe = redis::pipe();
        pipe.atomic().cmd("HGETALL").arg(self.keys.job(id));
        let id = id.as_str();
        self.membership(&mut pipe, id);
        let mut replies = self.run::<Vec<redis::Value>>(&pipe).await?.into_iter();
        let Some(record) = replies
            .next()
            .and_then(|hash| JobRecord::from_reply(id, hash, self.max_field_bytes))
        else {
            return Ok(None);
        };
        let replies: Vec<redis::Value> = replies.collect();
        let present: Vec<bool> = replies
            .iter()
            .map(|reply| !matches!(reply, redis::Value::Nil | redis::Value::ServerError(_)))
            .collect();
        let state = state_from(&present);
        let mut status = record.status(state);
        if state == JobState::Delayed {
            // The delayed set's score is the due time in ms, shifted left 12 bits (BullMQ
            // keeps a counter in the low bits).
            status.delayed_until = replies
                .get(2)
                .and_then(record::text)
                .and_then(|score| score.parse::<f64>().ok())
                .filter(|score| score.is_finite() && *score >= 0.0)
                .map(|score| (score / 4096.0) as u64);
        }
        let owner = record.owner();
        Ok(Some((OwnedStatus { status, owner }, record)))
    }

    /// Adds to `pipe` the reads that tell job `id`'s state ([`MEMBERSHIP_READS`] replies,
    /// read by [`state_from`]).
    fn membership(&self, pipe: &mut redis::Pipeline, id: &str) {
        membership_of(&self.keys, pipe, id);
    }

    /// The state of each of these jobs, which exist (one round trip; see [`Self::status`] for
    /// why a job in no other set is waiting).
    pub(crate) async fn states_of(&self, ids: &[&str]) -> Result<Vec<JobState>, EngineError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        pipe.ignore_errors();
        for id in ids {
            self.membership(&mut pipe, id);
        }
        let replies = self.run::<Vec<redis::Value>>(&pipe).await?;
        let present: Vec<bool> = replies
            .iter()
            .map(|reply| !matches!(reply, redis::Value::Nil | redis::Value::ServerError(_)))
            .collect();
        Ok(present.chunks(MEMBERSHIP_READS).map(state_from).collect())
    }

    /// How many jobs a worker takes before job `id`, which is waiting (or prioritized):
    /// workers take the waiting list from its tail, then prioritized jobs by priority. The
    /// list is scanned from the tail at most [`MAX_COUNTED_AHEAD`] entries deep; beyond that
    /// the answer is that bound ("at least"). `None` when the job is in neither (it moved on
    /// meanwhile, or the queue is paused and holds it elsewhere). Read in the same round trip:
    /// whether the queue is paused (its `meta` hash has `paused`, as BullMQ's `pause` writes).
    async fn jobs_ahead(
        &self,
        id: &str,
        state: JobState,
    ) -> Result<(Option<u64>, bool), EngineError> {
        let keys = &self.keys;
        let mut pipe = redis::pipe();
        pipe.ignore_errors();
        pipe.cmd("LLEN").arg(keys.wait());
        match state {
            JobState::Prioritized => {
                pipe.cmd("ZRANK").arg(keys.prioritized()).arg(id);
            }
            _ => {
                pipe.cmd("LPOS")
                    .arg(keys.wait())
                    .arg(id)
                    .arg("RANK")
                    .arg(-1)
                    .arg("MAXLEN")
                    .arg(MAX_COUNTED_AHEAD);
            }
        }
        pipe.cmd("HEXISTS").arg(keys.meta()).arg("paused");
        let replies = self.run::<Vec<redis::Value>>(&pipe).await?;
        let paused = matches!(replies.get(2), Some(redis::Value::Int(1)));
        let number = |i: usize| match replies.get(i) {
            Some(redis::Value::Int(n)) => u64::try_from(*n).ok(),
            _ => None,
        };
        let waiting = number(0).unwrap_or(0);
        let ahead = match (state, number(1)) {
            (JobState::Prioritized, Some(rank)) => Some((waiting + rank).min(MAX_COUNTED_AHEAD)),
            (JobState::Prioritized, None) => None,
            (_, Some(index)) => Some(waiting.saturating_sub(index + 1).min(MAX_COUNTED_AHEAD)),
            // Not within the scanned tail of a list longer than the bound: at least the bound.
            (_, None) if waiting > MAX_COUNTED_AHEAD => Some(MAX_COUNTED_AHEAD),
            (_, None) => None,
        };
        Ok((ahead, paused))
    }

    /// Records session `id` (valid until `expiry`, seconds since the epoch) as signed out, and
    /// forgets sessions that have expired anyway.
    pub async fn revoke_session(&self, id: &str, expiry: u64) -> Result<(), EngineError> {
        let key = self.keys.revoked_sessions();
        let mut pipe = redis::pipe();
        pipe.cmd("ZADD").arg(&key).arg(expiry).arg(id).ignore();
        pipe.cmd("ZREMRANGEBYSCORE")
            .arg(&key)
            .arg("-inf")
            .arg(format!("({}", crate::clock::now_ms() / 1000))
            .ignore();
        self.run(&pipe).await
    }

    /// The sessions signed out that have not expired yet (at most `limit`), with their expiry.
    pub async fn revoked_sessions(
        &self,
        now: u64,
        limit: isize,
    ) -> Result<Vec<(String, u64)>, EngineError> {
        let mut cmd = redis::cmd("ZRANGE");
        cmd.arg(self.keys.revoked_sessions())
            .arg(now)
            .arg("+inf")
            .arg("BYSCORE")
            .arg("LIMIT")
            .arg(0)
            .arg(limit)
            .arg("WITHSCORES");
        let pairs: Vec<(Vec<u8>, f64)> = self.run_cmd(&cmd).await?;
        Ok(pairs
            .into_iter()
            .filter_map(|(id, expiry)| {
                let id = String::from_utf8(id).ok().filter(|id| id.len() <= 64)?;
                (expiry.is_finite() && expiry >= 0.0).then_some((id, expiry as u64))
            })
            .collect())
    }

    /// The first of the queue's keys whose Redis type is not the one BullMQ (or Sentinel)
    /// relies on, with the type found: such a key breaks every script that touches it.
    pub async fn mistyped_key(
        &self,
    ) -> Result<Option<(String, String, keys::KeyType)>, EngineError> {
        let typed = self.keys.typed();
        let mut pipe = redis::pipe();
        for (key, _) in &typed {
            pipe.cmd("TYPE").arg(key);
        }
        let found: Vec<String> = self.run(&pipe).await?;
        Ok(typed
            .into_iter()
            .zip(found)
            .find(|((_, want), got)| got != "none" && got != want.redis_name())
            .map(|((key, want), got)| (key, got, want)))
    }

    /// Number of jobs per state.
    pub async fn counts(&self) -> Result<JobCounts, EngineError> {
        let counts = bounded(CALL_TIMEOUT, self.queue.get_job_counts()).await?;
        Ok(JobCounts {
            waiting: counts.waiting,
            active: counts.active,
            delayed: counts.delayed,
            prioritized: counts.prioritized,
            completed: counts.completed,
            failed: counts.failed,
            waiting_children: counts.waiting_children,
            paused: counts.paused,
        })
    }

    /// Counts per state and the first [`SUMMARY_LEN`] jobs of the main states: waiting and
    /// active newest first (as the lists hold them), delayed soonest first, completed and
    /// failed most recent first.
    pub async fn counts_report(&self) -> Result<CountsReport, EngineError> {
        let keys = &self.keys;
        let end = SUMMARY_LEN - 1;
        let mut pipe = redis::pipe();
        pipe.cmd("LRANGE").arg(keys.wait()).arg(0).arg(end);
        pipe.cmd("LRANGE").arg(keys.active()).arg(0).arg(end);
        pipe.cmd("ZRANGE").arg(keys.delayed()).arg(0).arg(end);
        pipe.cmd("ZREVRANGE").arg(keys.completed()).arg(0).arg(end);
        pipe.cmd("ZREVRANGE").arg(keys.failed()).arg(0).arg(end);
        let (counts, lists) =
            tokio::try_join!(self.counts(), self.run::<Vec<redis::Value>>(&pipe))?;
        let lists: Vec<Vec<String>> = lists.into_iter().map(id_list).collect();
        let all: Vec<&String> = lists.iter().flatten().collect();
        let mut records = self.records(&all).await?.into_iter();
        let mut take = |ids: &Vec<String>| -> Vec<JobSummary> {
            ids.iter()
                .filter_map(|_| records.next().flatten())
                .map(|record| record.summary())
                .collect()
        };
        let waiting = lists.first().map(&mut take).unwrap_or_default();
        let active = lists.get(1).map(&mut take).unwrap_or_default();
        let delayed = lists.get(2).map(&mut take).unwrap_or_default();
        let completed = lists.get(3).map(&mut take).unwrap_or_default();
        let failed = lists.get(4).map(&mut take).unwrap_or_default();
        Ok(CountsReport {
            counts,
            waiting,
            active,
            delayed,
            completed,
            failed,
        })
    }

    /// The job hashes of `ids`, in order (`None` where there is no such job), in one round
    /// trip.
    pub(crate) async fn records(
        &self,
        ids: &[&String],
    ) -> Result<Vec<Option<JobRecord>>, EngineError> {
        Ok(self.records_counted(ids).await?.0)
    }

    /// As [`Self::records`], with how many entries were foreign: an id that can name no job,
    /// a key of another type than a hash, or a hash that is no job. Each is left out on its
    /// own (a page of jobs still answers with the rest); a job that is simply gone is not
    /// counted.
    pub(crate) async fn records_counted(
        &self,
        ids: &[&String],
    ) -> Result<(Vec<Option<JobRecord>>, u64), EngineError> {
        if ids.is_empty() {
            return Ok((Vec::new(), 0));
        }
        // An id that can name no job (read back from a list anyone may write) is not read.
        let valid: Vec<Option<JobId>> = ids.iter().map(|id| keys::is_job_id(id)).collect();
        let mut pipe = redis::pipe();
        pipe.ignore_errors();
        for id in valid.iter().flatten() {
            pipe.cmd("HGETALL").arg(self.keys.job(id));
        }
        let mut replies = self
            .run::<Vec<redis::RedisResult<redis::Value>>>(&pipe)
            .await?
            .into_iter();
        let mut skipped = 0;
        let records = valid
            .iter()
            .map(|id| {
                let Some(id) = id.as_ref() else {
                    skipped += 1;
                    return None;
                };
                match replies.next()? {
                    Ok(reply) => {
                        let empty = record::is_empty(&reply);
                        let record =
                            JobRecord::from_reply(id.as_str(), reply, self.max_field_bytes);
                        if record.is_none() && !empty {
                            skipped += 1;
                        }
                        record
                    }
                    Err(_) => {
                        skipped += 1;
                        None
                    }
                }
            })
            .collect();
        Ok((records, skipped))
    }

    /// Redis's `maxmemory-policy`; BullMQ needs `noeviction` (an evicted job is a lost job).
    pub async fn eviction_policy(&self) -> Result<String, EngineError> {
        let mut cmd = redis::cmd("CONFIG");
        cmd.arg("GET").arg("maxmemory-policy");
        let reply = self.run_cmd::<redis::Value>(&cmd).await?;
        let values: Vec<String> = match reply {
            redis::Value::Array(items) => items.iter().filter_map(record::text).collect(),
            redis::Value::Map(pairs) => pairs
                .iter()
                .flat_map(|(k, v)| [record::text(k), record::text(v)])
                .flatten()
                .collect(),
            _ => Vec::new(),
        };
        Ok(values.get(1).cloned().unwrap_or_default())
    }

    /// Redis's `used_memory` and `maxmemory` (bytes; `0`: no maxmemory), from `INFO memory`.
    pub async fn memory(&self) -> Result<(u64, u64), EngineError> {
        let mut cmd = redis::cmd("INFO");
        cmd.arg("memory");
        let text: String = match self.run_cmd::<redis::Value>(&cmd).await? {
            redis::Value::BulkString(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            redis::Value::VerbatimString { text, .. } => text,
            redis::Value::SimpleString(text) => text,
            // A cluster answers per node: the largest figure is the one that fills first.
            redis::Value::Map(nodes) => nodes
                .into_iter()
                .filter_map(|(_, v)| record::text(&v))
                .collect::<Vec<_>>()
                .join("\n"),
            _ => String::new(),
        };
        Ok(parse_memory(&text))
    }

    /// Runs `pipe` on the queue's shared connection within our deadline.
    pub(crate) async fn run<T: redis::FromRedisValue>(
        &self,
        pipe: &redis::Pipeline,
    ) -> Result<T, EngineError> {
        let mut conn = self.queue.connection().connection();
        self.timed(pipe.query_async::<T>(&mut conn)).await
    }

    /// Runs one prepared script on the queue's shared connection within our deadline.
    pub(crate) async fn run_script<T: redis::FromRedisValue>(
        &self,
        invocation: &redis::ScriptInvocation<'_>,
    ) -> Result<T, EngineError> {
        let mut conn = self.queue.connection().connection();
        self.timed(invocation.invoke_async(&mut conn)).await
    }

    /// Runs one command on the queue's shared connection within our deadline.
    pub(crate) async fn run_cmd<T: redis::FromRedisValue>(
        &self,
        cmd: &redis::Cmd,
    ) -> Result<T, EngineError> {
        let mut conn = self.queue.connection().connection();
        self.timed(cmd.query_async::<T>(&mut conn)).await
    }

    /// One Redis call within our deadline, its duration recorded for `/metrics`.
    async fn timed<T>(
        &self,
        call: impl Future<Output = Result<T, redis::RedisError>>,
    ) -> Result<T, EngineError> {
        let started = std::time::Instant::now();
        let result = bounded(CALL_TIMEOUT, async {
            call.await.map_err(bullmq::Error::from)
        })
        .await;
        self.metrics.redis_call(started.elapsed());
        result
    }

    /// The crate's queue, for the admin layer's actions (which go through the crate's
    /// scripts, never raw writes).
    pub(crate) fn engine(&self) -> &Queue {
        &self.queue
    }

    /// The most bytes of one field read back (`MAX_FIELD_BYTES`).
    pub fn max_field_bytes(&self) -> usize {
        self.max_field_bytes
    }

    /// The names of the queue's keys.
    pub fn keys(&self) -> &QueueKeys {
        &self.keys
    }

    /// The queue's Redis connection (shared, multiplexed; standalone or cluster).
    pub fn connection(&self) -> &bullmq::redis_connection::RedisConnection {
        self.queue.connection()
    }

    /// Whether Redis answers a PING within `limit`.
    pub async fn ping(&self, limit: Duration) -> bool {
        bounded(limit, self.queue.connection().ping()).await.is_ok()
    }

    /// Closes the queue's connection.
    pub async fn close(&self) {
        self.queue.close().await;
    }
}

/// Log lines kept per job (each tick writes one, as Node's `job.log` does).
pub const KEEP_LOG_LINES: u32 = 1000;

/// A job's status and its owner (from its data), when it has one.
#[derive(Debug, Clone)]
pub struct OwnedStatus {
    /// The status.
    pub status: JobStatus,
    /// Who added it, if recorded.
    pub owner: Option<String>,
}

/// The largest `used_memory` and `maxmemory` an `INFO memory` answer names (one node, or
/// several joined).
fn parse_memory(text: &str) -> (u64, u64) {
    let mut used = 0;
    let mut max = 0;
    for line in text.lines() {
        let Some((name, value)) = line.trim().split_once(':') else {
            continue;
        };
        let Ok(value) = value.trim().parse::<u64>() else {
            continue;
        };
        match name {
            "used_memory" => used = used.max(value),
            "maxmemory" => max = max.max(value),
            _ => {}
        }
    }
    (used, max)
}

/// Parses `raw` as JSON, falling back to the text itself.
pub fn parse_json_or_string(raw: &str) -> Value {
    serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_string()))
}

/// The ids in a list reply (`LRANGE`, `ZRANGE`), ids that can name no job dropped.
fn id_list(reply: redis::Value) -> Vec<String> {
    match reply {
        redis::Value::Array(items) => items
            .iter()
            .filter_map(record::text)
            .filter(|id| keys::is_job_id(id).is_some())
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn memory_figures_are_read_from_info_leniently() {
        let info = "# Memory\r\nused_memory:1048576\r\nused_memory_human:1.00M\r\nmaxmemory:0\r\n";
        assert_eq!(super::parse_memory(info), (1_048_576, 0));
        let two_nodes = "used_memory:10\nmaxmemory:100\nused_memory:30\nmaxmemory:100\n";
        assert_eq!(super::parse_memory(two_nodes), (30, 100));
        assert_eq!(super::parse_memory("garbage\nused_memory:x\n"), (0, 0));
    }
}
