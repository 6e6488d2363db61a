//! A search across queues (`GET /admin/api/search`): the jobs it found, each with its queue,
//! and how many it found in each queue it searched.

use serde::{Deserialize, Serialize};

use super::ListedJob;

/// What a search across queues asks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AcrossQuery {
    /// `q=`: the search, in the jobs listing's language.
    pub q: String,
    /// `cursor=`: where it goes on (the `next` of the previous answer).
    #[serde(default)]
    pub cursor: Option<String>,
    /// `size=`: jobs per page.
    pub size: u64,
    /// `queue=`: the queue in view (`<prefix>:<name>`), searched first.
    #[serde(default)]
    pub queue: Option<String>,
    /// `scope=view`: only Sentinel's own queue and the queue in view; every queue the caller
    /// may see otherwise.
    #[serde(default)]
    pub only_in_view: bool,
}

/// A job found by a search across queues.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FoundJob {
    /// Its queue, `<prefix>:<name>`.
    pub queue: String,
    /// The job and the state it was found in.
    #[serde(flatten)]
    pub listed: ListedJob,
}

/// How many jobs a search across queues found in one queue.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueMatches {
    /// The queue, `<prefix>:<name>`.
    pub queue: String,
    /// Matches counted in it (all of them when `complete`).
    pub matches: u64,
    /// Whether every job of the queue was examined.
    pub complete: bool,
}

/// A page of a search across queues.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AcrossPage {
    /// The jobs of this page, queue by queue.
    pub jobs: Vec<FoundJob>,
    /// The queues this request searched, in order, with their matches (those with none too).
    pub queues: Vec<QueueMatches>,
    /// Queues the search covers in all (the caller's grant, or the ones in view).
    pub of: u64,
    /// Whether every job of every queue it covers has been examined (by this request and
    /// the ones before it on the same cursor).
    pub complete: bool,
    /// Pass it as `cursor` for the jobs after this page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}
