//! A job's place in a flow (BullMQ's `FlowProducer`): its parent and its children, each in any
//! queue, with their states; and the children that keep the parent from ever finishing.

use serde::{Deserialize, Serialize};

use crate::model::types::JobState;

/// Most children a job page lists (per kind); the counts say how many there are.
pub const MAX_LISTED_CHILDREN: usize = 200;

/// One job of a flow, in any queue.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowJob {
    /// Its queue, `<prefix>:<name>`.
    pub queue: String,
    /// Its id.
    pub id: String,
    /// Its state (`unknown` when the job is gone).
    pub state: JobState,
    /// Its name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_reason: Option<String>,
}

/// Where a child stands for its parent.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Dependency {
    /// The parent waits for it.
    Pending,
    /// It completed; the parent has its result.
    Processed,
    /// It failed and the parent goes on without it (`ignoreDependencyOnFailure` or
    /// `continueParentOnFailure`).
    Ignored,
    /// It failed and failed its parent (`failParentOnFailure`).
    Unsuccessful,
}

/// A child of a job.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowChild {
    /// The child.
    #[serde(flatten)]
    pub job: FlowJob,
    /// Where it stands for the parent.
    pub dependency: Dependency,
}

/// A job's parent and children.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Family {
    /// Its parent, when it is a flow's child (in a queue the caller may see).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<FlowJob>,
    /// Its children the caller may see, pending first (at most [`MAX_LISTED_CHILDREN`] of each
    /// kind).
    #[serde(default)]
    pub children: Vec<FlowChild>,
    /// Children in all, of every kind.
    #[serde(default)]
    pub children_total: u64,
    /// Children (or a parent) in queues the caller may not see: counted, not shown.
    #[serde(default)]
    pub hidden: u64,
    /// Children that failed while the parent still waits for them: it never finishes unless
    /// they are retried (BullMQ leaves a child that failed without `failParentOnFailure`,
    /// `ignoreDependencyOnFailure`, `continueParentOnFailure` or `removeDependencyOnFailure`
    /// among the parent's dependencies).
    #[serde(default)]
    pub blocked_by: Vec<FlowJob>,
}

impl Family {
    /// Whether the job is in no flow.
    pub fn is_empty(&self) -> bool {
        self.parent.is_none() && self.children_total == 0 && self.hidden == 0
    }
}
