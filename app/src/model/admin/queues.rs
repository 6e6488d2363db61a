//! The queues on the Redis: a queue's name, its summary on the queues page, and which page of
//! them is asked for.

use serde::{Deserialize, Serialize};

/// Longest prefix or queue name a queue reference takes, in characters.
pub const MAX_QUEUE_PART_CHARS: usize = 256;

/// A queue named by its key prefix and its name: `<prefix>:<name>` in a URL (`?queue=`), split
/// at the last `:` (BullMQ refuses `:` in names; a prefix may hold one, or a hash tag).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct QueueName {
    /// Its key prefix.
    pub prefix: String,
    /// Its name.
    pub name: String,
}

impl QueueName {
    /// The queue `raw` names (`<prefix>:<name>`), or why it names none.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let (prefix, name) = raw
            .rsplit_once(':')
            .ok_or("must be <prefix>:<name>, e.g. bull:emails")?;
        let fits = |part: &str| {
            !part.is_empty()
                && part.chars().count() <= MAX_QUEUE_PART_CHARS
                && !part.chars().any(char::is_control)
        };
        if !fits(prefix) || !fits(name) {
            return Err(
                "the prefix and the name must each be 1 to 256 bytes, no control characters",
            );
        }
        Ok(Self {
            prefix: prefix.to_string(),
            name: name.to_string(),
        })
    }

    /// `<prefix>:<name>`, as [`Self::parse`] reads it.
    pub fn text(&self) -> String {
        format!("{}:{}", self.prefix, self.name)
    }
}

/// One BullMQ queue found on the Redis (`GET /admin/api/queues`).
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueSummary {
    /// Its key prefix (`bull` by default in Node BullMQ).
    pub prefix: String,
    /// Its name.
    pub name: String,
    /// Whether it is paused.
    pub paused: bool,
    /// Jobs per state, as Node BullMQ's `getJobCounts` counts them.
    pub counts: crate::model::types::JobCounts,
    /// Jobs that completed in the last 60 minutes: from the queue's history once Sentinel's
    /// collector has read its events (jobs removed on completion included), else those still
    /// kept.
    #[serde(default)]
    pub completed_last_hour: u64,
    /// Jobs that failed in the last 60 minutes (counted as `completed_last_hour` is).
    #[serde(default)]
    pub failed_last_hour: u64,
    /// When the oldest waiting job was added (ms since the epoch), if any waits.
    #[serde(default)]
    pub oldest_waiting_at: Option<u64>,
    /// BullMQ workers connected to it (named connections, as Node's `getWorkers` finds them).
    #[serde(default)]
    pub workers: u64,
}

/// Queues listed per page by default.
pub const QUEUES_PER_PAGE: u32 = 50;
/// Most queues one page lists.
pub const MAX_QUEUES_PER_PAGE: u32 = 500;
/// Longest queue filter, in characters.
pub const MAX_QUEUE_FILTER_CHARS: usize = 200;

/// Which queues a queues page shows: those whose `<prefix>:<name>` holds `filter` (any case),
/// `limit` of them from `offset`, by prefix then name; with `rescan`, the Redis is scanned for
/// queues now.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct QueueListQuery {
    /// Scan the Redis for queues now.
    #[serde(default)]
    pub rescan: bool,
    /// Part of the queues' `<prefix>:<name>`, any case; empty: every queue.
    #[serde(default)]
    pub filter: String,
    /// Queues skipped.
    #[serde(default)]
    pub offset: u32,
    /// Queues listed.
    #[serde(default = "queues_per_page")]
    pub limit: u32,
}

fn queues_per_page() -> u32 {
    QUEUES_PER_PAGE
}

impl Default for QueueListQuery {
    fn default() -> Self {
        Self {
            rescan: false,
            filter: String::new(),
            offset: 0,
            limit: QUEUES_PER_PAGE,
        }
    }
}

impl QueueListQuery {
    /// Checks the bounds: the name of the field that is out of them, and why.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if self.filter.chars().count() > MAX_QUEUE_FILTER_CHARS {
            return Err((
                "filter",
                format!("at most {MAX_QUEUE_FILTER_CHARS} characters"),
            ));
        }
        if self.filter.chars().any(char::is_control) {
            return Err(("filter", "no control characters".to_string()));
        }
        if !(1..=MAX_QUEUES_PER_PAGE).contains(&self.limit) {
            return Err(("limit", format!("from 1 to {MAX_QUEUES_PER_PAGE}")));
        }
        if self.offset > 1_000_000 {
            return Err(("offset", "at most 1000000".to_string()));
        }
        Ok(())
    }

    /// Whether queue `<prefix>:<name>` is one the filter keeps.
    pub fn keeps(&self, prefix: &str, name: &str) -> bool {
        let wanted = self.filter.trim().to_lowercase();
        wanted.is_empty() || format!("{prefix}:{name}").to_lowercase().contains(&wanted)
    }
}

/// `GET /admin/api/queues`: a page of the BullMQ queues found, by prefix then name.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueList {
    /// The queues of this page.
    pub queues: Vec<QueueSummary>,
    /// How many queues the filter keeps, on every page.
    #[serde(default)]
    pub total: u64,
    /// How many come before this page.
    #[serde(default)]
    pub offset: u32,
    /// Sentinel's own queue (`<prefix>:<name>`): the dashboard's `/admin` without `?queue=`.
    #[serde(default)]
    pub home: String,
    /// Whether the scan saw every key (`false`: it stopped at its budget; more may exist).
    pub complete: bool,
}

/// A queue's oldest waiting job older than this needs a look (ms).
pub const OLD_WAITING_MS: u64 = 5 * 60 * 1000;
/// A queue whose failed share of the last hour's finished jobs is at least this (%) needs a
/// look, once at least [`FAILING_MIN_FINISHED`] finished.
pub const FAILING_PERCENT: u64 = 10;
/// Finished jobs in the last hour before a failure rate means anything.
pub const FAILING_MIN_FINISHED: u64 = 5;

/// Why a queue needs a look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trouble {
    /// Jobs wait and no worker is connected: nothing will run them.
    NoWorker,
    /// Its oldest waiting job has waited this long (ms), over [`OLD_WAITING_MS`].
    OldWaiting(u64),
    /// This share (%) of the last hour's finished jobs failed, at least [`FAILING_PERCENT`].
    Failing(u64),
    /// Paused: workers take no new job.
    Paused,
}

impl Trouble {
    /// Its code, for pages and tests (`no-worker`, `old-waiting`, `failing`, `paused`).
    pub fn code(self) -> &'static str {
        match self {
            Trouble::NoWorker => "no-worker",
            Trouble::OldWaiting(_) => "old-waiting",
            Trouble::Failing(_) => "failing",
            Trouble::Paused => "paused",
        }
    }

    /// In words.
    pub fn words(self) -> String {
        match self {
            Trouble::NoWorker => "jobs wait and no worker is connected".to_string(),
            Trouble::OldWaiting(ms) => format!(
                "oldest waiting for {}",
                crate::model::time::duration_words(ms)
            ),
            Trouble::Failing(percent) => format!("{percent} % failed in the last hour"),
            Trouble::Paused => "paused".to_string(),
        }
    }
}

impl QueueSummary {
    /// Jobs waiting to run (paused ones included).
    pub fn waiting(&self) -> u64 {
        self.counts.waiting + self.counts.paused
    }

    /// Why it needs a look at `now_ms`, worst first (none: it is healthy).
    pub fn troubles(&self, now_ms: u64) -> Vec<Trouble> {
        let mut found = Vec::new();
        let waiting = self.waiting() + self.counts.prioritized;
        if waiting > 0 && self.workers == 0 && !self.paused {
            found.push(Trouble::NoWorker);
        }
        if let Some(at) = self.oldest_waiting_at {
            let waited = now_ms.saturating_sub(at);
            if waited > OLD_WAITING_MS {
                found.push(Trouble::OldWaiting(waited));
            }
        }
        let finished = self.completed_last_hour + self.failed_last_hour;
        if finished >= FAILING_MIN_FINISHED {
            let percent = self.failed_last_hour * 100 / finished;
            if percent >= FAILING_PERCENT {
                found.push(Trouble::Failing(percent));
            }
        }
        if self.paused {
            found.push(Trouble::Paused);
        }
        found
    }
}

/// A column the queues page sorts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueColumn {
    /// `<prefix>:<name>`'s name.
    Name,
    /// The prefix.
    Prefix,
    /// How many troubles (then paused).
    Health,
    /// Waiting jobs.
    Waiting,
    /// Active jobs.
    Active,
    /// Delayed jobs.
    Delayed,
    /// Prioritized jobs.
    Prioritized,
    /// Jobs waiting for their children.
    WaitingChildren,
    /// Failed jobs.
    Failed,
    /// Completed jobs.
    Completed,
    /// Failed in the last hour.
    LastHourFailed,
    /// The oldest waiting job's age.
    OldestWaiting,
    /// Workers connected.
    Workers,
}

impl QueueColumn {
    /// Sorts `queues` by this column (ties by prefix then name), as `now_ms` sees them.
    pub fn sort(self, queues: &mut [QueueSummary], ascending: bool, now_ms: u64) {
        queues.sort_by(|a, b| {
            let by = match self {
                QueueColumn::Name => a.name.cmp(&b.name),
                QueueColumn::Prefix => a.prefix.cmp(&b.prefix),
                QueueColumn::Health => a.troubles(now_ms).len().cmp(&b.troubles(now_ms).len()),
                QueueColumn::Waiting => a.waiting().cmp(&b.waiting()),
                QueueColumn::Active => a.counts.active.cmp(&b.counts.active),
                QueueColumn::Delayed => a.counts.delayed.cmp(&b.counts.delayed),
                QueueColumn::Prioritized => a.counts.prioritized.cmp(&b.counts.prioritized),
                QueueColumn::WaitingChildren => {
                    a.counts.waiting_children.cmp(&b.counts.waiting_children)
                }
                QueueColumn::Failed => a.counts.failed.cmp(&b.counts.failed),
                QueueColumn::Completed => a.counts.completed.cmp(&b.counts.completed),
                QueueColumn::LastHourFailed => a.failed_last_hour.cmp(&b.failed_last_hour),
                // Older first when descending: no waiting job counts as youngest.
                QueueColumn::OldestWaiting => {
                    let age = |q: &QueueSummary| {
                        q.oldest_waiting_at
                            .map_or(0, |at| now_ms.saturating_sub(at))
                    };
                    age(a).cmp(&age(b))
                }
                QueueColumn::Workers => a.workers.cmp(&b.workers),
            };
            let by = if ascending { by } else { by.reverse() };
            by.then_with(|| a.prefix.cmp(&b.prefix))
                .then_with(|| a.name.cmp(&b.name))
        });
    }
}

#[cfg(test)]
mod trouble_tests {
    use super::*;

    fn queue(name: &str) -> QueueSummary {
        QueueSummary {
            prefix: "bull".into(),
            name: name.into(),
            paused: false,
            counts: Default::default(),
            completed_last_hour: 0,
            failed_last_hour: 0,
            oldest_waiting_at: None,
            workers: 1,
        }
    }

    #[test]
    fn each_trouble_is_found_and_a_healthy_queue_has_none() {
        let now = 10_000_000;
        assert!(queue("fine").troubles(now).is_empty());
        let mut stuck = queue("stuck");
        stuck.counts.waiting = 3;
        stuck.workers = 0;
        stuck.oldest_waiting_at = Some(now - 7 * 60 * 1000);
        assert_eq!(
            stuck.troubles(now),
            vec![Trouble::NoWorker, Trouble::OldWaiting(7 * 60 * 1000)]
        );
        assert_eq!(stuck.troubles(now)[1].words(), "oldest waiting for 7 min");
        let mut failing = queue("payments");
        failing.completed_last_hour = 91;
        failing.failed_last_hour = 44;
        assert_eq!(failing.troubles(now), vec![Trouble::Failing(32)]);
        // Too few finished to mean anything.
        failing.completed_last_hour = 2;
        failing.failed_last_hour = 2;
        assert!(failing.troubles(now).is_empty());
        // Paused: waiting without a worker is what pausing means, not a second trouble.
        let mut paused = queue("held");
        paused.paused = true;
        paused.workers = 0;
        paused.counts.paused = 4;
        assert_eq!(paused.troubles(now), vec![Trouble::Paused]);
    }

    #[test]
    fn every_column_sorts_both_ways_with_ties_by_name() {
        let now = 10_000_000;
        let mut a = queue("a");
        a.counts.failed = 5;
        let mut b = queue("b");
        b.counts.failed = 9;
        let mut c = queue("c");
        c.counts.failed = 5;
        c.oldest_waiting_at = Some(now - 1000);
        let mut list = vec![c.clone(), a.clone(), b.clone()];
        QueueColumn::Failed.sort(&mut list, false, now);
        let names: Vec<&str> = list.iter().map(|q| q.name.as_str()).collect();
        assert_eq!(names, ["b", "a", "c"]);
        QueueColumn::Failed.sort(&mut list, true, now);
        let names: Vec<&str> = list.iter().map(|q| q.name.as_str()).collect();
        assert_eq!(names, ["a", "c", "b"]);
        QueueColumn::OldestWaiting.sort(&mut list, false, now);
        assert_eq!(list[0].name, "c");
    }
}
