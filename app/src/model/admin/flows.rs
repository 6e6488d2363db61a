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

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Nodes a flow tree shows per page.
pub const TREE_PAGE_NODES: usize = 1000;

/// One node of a flow tree: a job, how deep it is and where it stands for its parent.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TreeNode {
    /// The job.
    #[serde(flatten)]
    pub job: FlowJob,
    /// 0 for the tree's root, 1 for its children, and so on.
    pub depth: u32,
    /// Where it stands for its parent (none for the root).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dependency: Option<Dependency>,
    /// Its children in all, of every kind (absent: none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub children_total: u64,
    /// Of those, the ones walked (the rest: past a bound, or in queues the caller may not see).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub children_walked: u64,
    /// Whether it failed while its parent still waits for it (the parent never finishes;
    /// absent: no).
    #[serde(default, skip_serializing_if = "is_false")]
    pub blocks_parent: bool,
    /// Whether it is the job the tree was opened from (absent: no).
    #[serde(default, skip_serializing_if = "is_false")]
    pub focus: bool,
}

/// A flow's tree around a job: from its topmost parent the caller may see down every level,
/// depth first (each node's children in key order), [`TREE_PAGE_NODES`] a page.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowTree {
    /// This page's nodes, depth first.
    pub nodes: Vec<TreeNode>,
    /// The page (0 first).
    pub page: u32,
    /// Nodes walked in all (every page's).
    pub total: u64,
    /// Whether every node of the flow was walked (else the walk stopped at its bounds: too
    /// many nodes, levels or children of one node).
    pub complete: bool,
    /// Jobs in queues the caller may not see (counted, not shown; nor what is under them).
    pub hidden: u64,
    /// Whether the topmost parent shown has a parent of its own the caller may not see.
    #[serde(default)]
    pub above_hidden: bool,
}

impl FlowTree {
    /// Pages in all.
    pub fn pages(&self) -> u32 {
        (self.total as usize).div_ceil(TREE_PAGE_NODES).max(1) as u32
    }
}
