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
    /// Jobs that completed in the last hour (those still kept).
    #[serde(default)]
    pub completed_last_hour: u64,
    /// Jobs that failed in the last hour (those still kept).
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
