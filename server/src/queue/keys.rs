//! Every Redis key of a queue, named in one place: BullMQ's own keys (the state lists and sets,
//! the meta hash, the event stream, the counters, the schedulers, deduplication, metrics), the
//! per-job keys (the hash, its logs, its lock, a parent's dependencies), and Sentinel's own keys
//! beside them (the search index, owners' indexes, cancel markers, statistics, worker
//! heartbeats, revoked sessions, bulk runs' working lists).
//!
//! Every key is `<prefix>:<queue>:<name>` or `<prefix>:<queue>:<name>:<more>`. A job's hash is
//! `<prefix>:<queue>:<id>`, so a job id equal to one of the names here would address the
//! queue's bookkeeping instead of a job: writing a job there destroys the queue (a hash where
//! BullMQ keeps its wait list), and reading one there reads bookkeeping as a job. And since a
//! job's own keys are `<id>:logs`, `<id>:lock`, ..., an id equal to the first part of a
//! two-part name (`metrics`, `de`, `repeat`, `owner`, ...) would share keys with that family.
//! So [`RESERVED`] lists the first part of every key name that is not a job, and no id equal to
//! one of them is ever added ([`NewJobId`]) or read back as a job ([`is_job_id`]).
//!
//! Job ids cannot contain `:` ([`app::JobId`]), so a job's keys can only meet a key whose
//! first part after the queue's name equals the id: the list is complete when every key made
//! below starts with a reserved name, which the tests check for each of them.

use app::JobId;

/// The first part (after `<prefix>:<queue>:`) of every key of a queue that is not a job's:
/// BullMQ's and ours. Sorted, for the reader.
pub const RESERVED: [&str; 38] = [
    // Sentinel's own (see the functions below).
    "alerts",
    "audit",
    "bulk",
    "cancel",
    "discovery",
    "history",
    "idx",
    "owner",
    "quota",
    "rate",
    "schedulers",
    "sessions",
    "stats",
    "workers",
    // BullMQ's (Node BullMQ 5/6 and the `bullmq` crate's scripts).
    "active",
    "completed",
    "de",
    "delayed",
    "dn",
    "events",
    "failed",
    "id",
    "limiter",
    "lock",
    "logs",
    "marker",
    "meta",
    "metrics",
    "paused",
    "pc",
    "prioritized",
    "repeat",
    "stalled",
    "stalled-check",
    "wait",
    "waiting",
    "waiting-children",
    // Bull 3's, still found on old Redis databases shared with BullMQ.
    "priority",
];

/// Whether `id` is the first part of one of the queue's own keys, so names no job.
pub fn is_reserved(id: &str) -> bool {
    RESERVED.contains(&id)
}

/// `raw` as a job id if it can name a job: a valid [`JobId`] that is not a reserved name.
/// Everything read back from Redis (list members, index entries, event fields, owners'
/// indexes) goes through here before it becomes a key.
pub fn is_job_id(raw: &str) -> Option<JobId> {
    JobId::parse(raw)
        .ok()
        .filter(|id| !is_reserved(id.as_str()))
}

/// Why a custom job id cannot be added.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CustomIdError {
    /// Not a job id at all (empty, too long, `:` or control characters).
    #[error("{0}")]
    Invalid(app::JobIdError),
    /// One of the queue's own key names.
    #[error("{0:?} is the name of one of the queue's own Redis keys, not a job id")]
    Reserved(String),
    /// An integer, which BullMQ keeps for its own counter.
    #[error("must not be an integer (those are the queue's own ids)")]
    Integer,
}

/// A job id that may be given to a new job: checked against every rule above. The queue layer
/// takes only this type for a custom id, so no unchecked id reaches an add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJobId(JobId);

impl NewJobId {
    /// Checks `raw` as the id of a new job.
    pub fn parse(raw: &str) -> Result<Self, CustomIdError> {
        // No `:` at all: the one form `JobId` takes with one is BullMQ's for its schedulers'
        // jobs, which lives among the schedulers' keys.
        if raw.contains(':') {
            return Err(CustomIdError::Invalid(app::JobIdError::ForbiddenCharacter));
        }
        let id = JobId::parse(raw).map_err(CustomIdError::Invalid)?;
        if is_reserved(raw) {
            return Err(CustomIdError::Reserved(raw.to_string()));
        }
        if app::options::is_integer_like(raw) {
            return Err(CustomIdError::Integer);
        }
        Ok(Self(id))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

/// The Redis type a key of the queue must have, for the readiness check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    /// A list.
    List,
    /// A sorted set.
    SortedSet,
    /// A set.
    Set,
    /// A hash.
    Hash,
    /// A stream.
    Stream,
    /// A string.
    String,
}

impl KeyType {
    /// The name `TYPE` answers for it.
    pub fn redis_name(self) -> &'static str {
        match self {
            KeyType::List => "list",
            KeyType::SortedSet => "zset",
            KeyType::Set => "set",
            KeyType::Hash => "hash",
            KeyType::Stream => "stream",
            KeyType::String => "string",
        }
    }
}

/// The keys of one queue.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct QueueKeys {
    prefix: String,
    queue: String,
    /// `<prefix>:<queue>:`
    base: String,
}

impl QueueKeys {
    /// The keys of queue `queue` under `prefix`.
    pub fn new(prefix: &str, queue: &str) -> Self {
        Self {
            prefix: prefix.to_string(),
            queue: queue.to_string(),
            base: format!("{prefix}:{queue}:"),
        }
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The queue's name.
    pub fn queue(&self) -> &str {
        &self.queue
    }

    /// `<prefix>:<queue>:`, what every key of the queue starts with.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn named(&self, name: &str) -> String {
        debug_assert!(is_reserved(name.split(':').next().unwrap_or(name)));
        format!("{}{name}", self.base)
    }

    // BullMQ's keys.

    /// The waiting list.
    pub fn wait(&self) -> String {
        self.named("wait")
    }
    /// The older paused list (BullMQ before 5 kept a paused queue's jobs there).
    pub fn paused(&self) -> String {
        self.named("paused")
    }
    /// The running jobs.
    pub fn active(&self) -> String {
        self.named("active")
    }
    /// Delayed jobs, scored by due time.
    pub fn delayed(&self) -> String {
        self.named("delayed")
    }
    /// Prioritized jobs.
    pub fn prioritized(&self) -> String {
        self.named("prioritized")
    }
    /// Completed jobs, scored by finish time.
    pub fn completed(&self) -> String {
        self.named("completed")
    }
    /// Failed jobs, scored by finish time.
    pub fn failed(&self) -> String {
        self.named("failed")
    }
    /// Parents waiting for their children.
    pub fn waiting_children(&self) -> String {
        self.named("waiting-children")
    }
    /// The queue's settings (paused, concurrency, event stream length, version).
    pub fn meta(&self) -> String {
        self.named("meta")
    }
    /// The queue's event stream.
    pub fn events(&self) -> String {
        self.named("events")
    }
    /// The marker workers block on.
    pub fn marker(&self) -> String {
        self.named("marker")
    }
    /// The job id counter.
    pub fn id(&self) -> String {
        self.named("id")
    }
    /// The priority counter.
    pub fn pc(&self) -> String {
        self.named("pc")
    }
    /// Jobs the stalled check looks at.
    pub fn stalled(&self) -> String {
        self.named("stalled")
    }
    /// When the stalled check last ran.
    pub fn stalled_check(&self) -> String {
        self.named("stalled-check")
    }
    /// The rate limiter.
    pub fn limiter(&self) -> String {
        self.named("limiter")
    }
    /// The job schedulers (repeatable jobs), scored by next run.
    pub fn repeat(&self) -> String {
        self.named("repeat")
    }
    /// Schedulers Sentinel paused: their definitions by id (BullMQ has no pause; see
    /// `schedulers.rs`).
    pub fn paused_schedulers(&self) -> String {
        self.named("schedulers:paused")
    }
    /// One job scheduler's hash.
    pub fn scheduler(&self, id: &str) -> String {
        self.named(&format!("repeat:{id}"))
    }
    /// BullMQ's per-minute counts of completed (`completed`) or failed (`failed`) jobs.
    pub fn bullmq_metrics(&self, which: &str) -> String {
        self.named(&format!("metrics:{which}"))
    }

    // A job's keys.

    /// A job's hash.
    pub fn job(&self, id: &JobId) -> String {
        format!("{}{}", self.base, id.as_str())
    }
    /// The hash and log list of a job the engine handed to our worker, by its id as BullMQ
    /// wrote it (not parsed: such an id is BullMQ's own, e.g. a scheduler's `repeat:<id>:<ms>`).
    pub fn running_job(&self, id: &str) -> (String, String) {
        (
            format!("{}{id}", self.base),
            format!("{}{id}:logs", self.base),
        )
    }
    /// A job's log lines.
    pub fn job_logs(&self, id: &JobId) -> String {
        format!("{}{}:logs", self.base, id.as_str())
    }
    /// A job's lock.
    pub fn job_lock(&self, id: &JobId) -> String {
        format!("{}{}:lock", self.base, id.as_str())
    }

    // Sentinel's own keys.

    /// A search index term's set of job ids (see `index.rs`).
    pub fn index_term(&self, term: &str) -> String {
        self.named(&format!("idx:{term}"))
    }
    /// The set of every search index term's key, for the sweep.
    pub fn index_terms(&self) -> String {
        self.named("idx:terms")
    }
    /// An owner's index of job ids, newest last.
    pub fn owner(&self, owner: &str) -> String {
        self.named(&format!("owner:{owner}"))
    }
    /// An anonymous client network's pending set (its quota of jobs waiting or running).
    pub fn quota_network(&self, network: &str) -> String {
        self.named(&format!("quota:net:{network}"))
    }
    /// An owner's pending set (its quota of jobs waiting or running).
    pub fn quota_owner(&self, owner: &str) -> String {
        self.named(&format!("quota:own:{owner}"))
    }
    /// Cancel markers: job ids scored by when the cancel was asked.
    pub fn cancel(&self) -> String {
        self.named("cancel")
    }
    /// One minute's job statistics.
    pub fn stats_minute(&self, minute: u64) -> String {
        self.named(&format!("stats:{minute}"))
    }
    /// Worker heartbeats.
    pub fn workers(&self) -> String {
        self.named("workers")
    }
    /// Revoked browser sessions, scored by when they would have expired.
    pub fn revoked_sessions(&self) -> String {
        self.named("sessions:revoked")
    }
    /// The audit log: a stream of every state-changing action.
    pub fn audit(&self) -> String {
        self.named("audit")
    }
    /// Which process checks the alert rules (a key with an expiry naming its holder).
    pub fn alerts_lease(&self) -> String {
        self.named("alerts:lease")
    }
    /// The alert rules' states (rule name → state).
    pub fn alerts_state(&self) -> String {
        self.named("alerts:state")
    }
    /// The alerts' delivery attempts.
    pub fn alerts_log(&self) -> String {
        self.named("alerts:log")
    }
    /// Acknowledged firings (rule name → who, when, until when).
    pub fn alerts_acks(&self) -> String {
        self.named("alerts:acks")
    }
    /// A bulk run's working list of job ids.
    pub fn bulk_run(&self, run: &str) -> String {
        self.named(&format!("bulk:{run}"))
    }
    /// One principal's rate limit of one kind (`bucket`), by a digest of the principal: the
    /// theoretical arrival time of its next request (see `limits.rs`).
    pub fn rate(&self, bucket: &str, digest: &str) -> String {
        self.named(&format!("rate:{bucket}:{digest}"))
    }
    /// The ids of one principal's audit entries of one category (`actions`, `access`), newest
    /// first: what lets the log cap each principal apart (see `audit.rs`).
    pub fn audit_by(&self, category: &str, digest: &str) -> String {
        self.named(&format!("audit:by:{category}:{digest}"))
    }
    /// Which process scans the Redis for queues (a key with an expiry naming its holder),
    /// and the last scan's result and time, shared by every process.
    pub fn discovery(&self, part: &str) -> String {
        self.named(&format!("discovery:{part}"))
    }
    /// A queue's history (see `history.rs`): one sorted set per resolution.
    pub fn history(&self, resolution: &str, queue: &str) -> String {
        self.named(&format!("history:{resolution}:{queue}"))
    }
    /// How far the history collector has read each queue's events (a hash: queue → cursor).
    pub fn history_cursors(&self) -> String {
        self.named("history:cursors")
    }
    /// Which process collects the history (a key with an expiry naming its holder).
    pub fn history_lease(&self) -> String {
        self.named("history:lease")
    }

    /// The queue-level keys whose type BullMQ (or we) rely on, with that type: a key of another
    /// type breaks every script that touches it, so readiness reports it.
    pub fn typed(&self) -> Vec<(String, KeyType)> {
        use KeyType::*;
        vec![
            (self.wait(), List),
            (self.paused(), List),
            (self.active(), List),
            (self.delayed(), SortedSet),
            (self.prioritized(), SortedSet),
            (self.completed(), SortedSet),
            (self.failed(), SortedSet),
            (self.waiting_children(), SortedSet),
            (self.meta(), Hash),
            (self.events(), Stream),
            (self.marker(), SortedSet),
            (self.id(), String),
            (self.pc(), String),
            (self.stalled(), Set),
            (self.stalled_check(), String),
            (self.repeat(), SortedSet),
            (self.cancel(), SortedSet),
            (self.workers(), Hash),
            (self.index_terms(), Set),
            (self.revoked_sessions(), SortedSet),
            (self.audit(), Stream),
            (self.paused_schedulers(), Hash),
            (self.alerts_state(), Hash),
            (self.alerts_log(), Stream),
            (self.alerts_lease(), String),
            (self.alerts_acks(), Hash),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(raw: &str) -> JobId {
        JobId::parse(raw).unwrap()
    }

    /// Every key that is not a job's starts with a reserved name: the list is complete.
    #[test]
    fn every_key_that_is_no_job_starts_with_a_reserved_name() {
        let keys = QueueKeys::new("pre", "q");
        let mut made: Vec<String> = keys.typed().into_iter().map(|(k, _)| k).collect();
        made.extend([
            keys.scheduler("nightly"),
            keys.bullmq_metrics("completed"),
            keys.bullmq_metrics("failed"),
            keys.index_term("name:x"),
            keys.owner("token:ci"),
            keys.quota_network("10.0.0.1/32"),
            keys.quota_owner("token:ci"),
            keys.stats_minute(29_000_000),
            keys.bulk_run("ab12"),
            keys.rate("action", "00ff"),
            keys.audit_by("access", "00ff"),
            keys.discovery("lease"),
            keys.history("m", "bull:payments"),
            keys.history_cursors(),
            keys.history_lease(),
        ]);
        for key in made {
            let rest = key.strip_prefix("pre:q:").expect("under the queue's base");
            let first = rest.split(':').next().unwrap();
            assert!(is_reserved(first), "{key}: {first:?} is not in RESERVED");
            assert!(is_job_id(first).is_none(), "{first} must not read as a job");
        }
        let mut sorted = RESERVED.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), RESERVED.len(), "no name twice");
    }

    #[test]
    fn a_job_s_keys_are_under_its_id() {
        let keys = QueueKeys::new("pre", "q");
        assert_eq!(keys.job(&id("7")), "pre:q:7");
        assert_eq!(keys.job_logs(&id("7")), "pre:q:7:logs");
        assert_eq!(keys.job_lock(&id("a b")), "pre:q:a b:lock");
    }

    #[test]
    fn new_ids_refuse_key_names_integers_and_bad_text() {
        for name in RESERVED {
            assert_eq!(
                NewJobId::parse(name),
                Err(CustomIdError::Reserved(name.to_string())),
                "{name}"
            );
        }
        for integer in ["0", "42", "-5", "-0", "NaN"] {
            assert_eq!(
                NewJobId::parse(integer),
                Err(CustomIdError::Integer),
                "{integer}"
            );
        }
        assert!(matches!(
            NewJobId::parse(""),
            Err(CustomIdError::Invalid(_))
        ));
        assert!(matches!(
            NewJobId::parse("a:b"),
            Err(CustomIdError::Invalid(_))
        ));
        assert!(matches!(
            NewJobId::parse(&"x".repeat(257)),
            Err(CustomIdError::Invalid(_))
        ));
        // Near misses are ordinary ids: key names are case-sensitive, and whole words only.
        for fine in ["Wait", "waits", "order-17", "1e3", "wait ", "Infinity"] {
            assert_eq!(NewJobId::parse(fine).unwrap().as_str(), fine);
        }
        assert_eq!(is_job_id("meta"), None);
        assert_eq!(is_job_id("12").unwrap().as_str(), "12");
    }
}
