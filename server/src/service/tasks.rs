//! The people's side: a task's status, the caller's own tasks, the queue's counts, and the
//! event stream to follow them. A submitter (or a principal whose grant leaves out Sentinel's
//! own queue) sees only its own jobs: another owner's job is answered exactly as a job that
//! does not exist.

use std::sync::Arc;
use std::time::Duration;

use app::types::JobState;
use app::{JobCounts, JobId, JobStatus};

use super::audit::Done;
use super::{Op, Sentinel};
use crate::auth::{Principal, Role};
use crate::error::AppError;
use crate::events::EventHub;
use crate::queue::OwnedStatus;
use crate::queue::control::{self, Action};

/// Most ids one status call reads.
pub const MAX_IDS_PER_CALL: usize = app::api::MAX_IDS_PER_CALL;

/// Whether `who` may see a job owned by `owner`: a submitter only its own.
pub fn may_see(who: &Principal, owner: Option<&str>) -> bool {
    !who.sees_only_own() || owner == Some(&*who.owner)
}

/// What an event stream may carry to its caller.
pub struct Follow {
    /// The hub to subscribe to and replay from.
    pub hub: EventHub,
    /// Only this owner's jobs' events (a submitter's stream), or all.
    pub only_owner: Option<Arc<str>>,
}

impl Sentinel {
    /// Job `id`'s status; `404` when there is no such job, or it is another owner's and `who`
    /// sees only its own.
    pub async fn status(&self, who: &Principal, id: &JobId) -> Result<JobStatus, AppError> {
        self.allow(who, Op::TaskStatus).await?;
        match self.queue()?.status(id).await? {
            Some(found) if may_see(who, found.owner.as_deref()) => Ok(found.status),
            _ => Err(AppError::NotFound { id: id.to_string() }),
        }
    }

    /// The status of each of `ids`, in order; `None` where there is no such job (or it is
    /// another owner's). One round trip each, all at once on the multiplexed connection.
    pub async fn statuses(
        &self,
        who: &Principal,
        ids: &[JobId],
    ) -> Result<Vec<Option<JobStatus>>, AppError> {
        self.allow(who, Op::TaskStatus).await?;
        if ids.len() > MAX_IDS_PER_CALL {
            return Err(AppError::param(
                "ids",
                format!("at most {MAX_IDS_PER_CALL} ids a call"),
            ));
        }
        let queue = self.queue()?;
        let found: Vec<Option<OwnedStatus>> =
            futures::future::try_join_all(ids.iter().map(|id| queue.status(id))).await?;
        Ok(found
            .into_iter()
            .map(|f| {
                f.filter(|f| may_see(who, f.owner.as_deref()))
                    .map(|f| f.status)
            })
            .collect())
    }

    /// Runs `who`'s failed task `id` again (`POST /tasks/{id}/retry`, the page's Retry): a
    /// submitter only its own (another owner's task is a `404`, as for its status), and only
    /// a failed one (`409` naming its state). Audited as `retry`, like the dashboard's.
    pub async fn retry_task(
        &self,
        who: &Principal,
        id: &JobId,
    ) -> Result<app::admin::ActionOutcome, AppError> {
        let result = async {
            self.allow(who, Op::RetryTask).await?;
            let queue = self.queue()?;
            let missing = || AppError::NotFound { id: id.to_string() };
            let (found, _) = queue.state_and_record(id).await?.ok_or_else(missing)?;
            if !may_see(who, found.owner.as_deref()) {
                return Err(missing());
            }
            let state = found.status.state;
            if state != JobState::Failed {
                return Err(AppError::Conflict {
                    state,
                    message: format!("only a failed task can be retried; this one is {state}"),
                });
            }
            let done = control::act(queue, id, Action::Retry).await;
            self.forget_reads().await;
            done.map_err(|e| super::jobs::action_refused(id, e))
        }
        .await;
        let done = Done {
            action: Action::Retry.as_str(),
            target: Some(id.as_str()),
            count: Some(1),
        };
        self.record(who, done, result, |o| o.result.clone()).await
    }

    /// The ids of `who`'s own recent tasks, newest first (empty with access control off, where
    /// nobody owns anything).
    pub async fn my_tasks(&self, who: &Principal) -> Result<Vec<String>, AppError> {
        self.allow(who, Op::MyTasks).await?;
        if !self.access().enabled {
            return Ok(Vec::new());
        }
        Ok(self
            .queue()?
            .owned_ids(&who.owner, MAX_IDS_PER_CALL)
            .await?)
    }

    /// Whether `who` may see the whole queue's counts (a viewer or up whose grant reaches
    /// Sentinel's own queue).
    pub fn sees_counts(&self, who: &Principal) -> bool {
        who.role >= Role::Viewer && !who.home_hidden
    }

    /// Jobs per state of Sentinel's own queue; `None` for a caller who may not see them (the
    /// page then shows none).
    pub async fn counts(&self, who: &Principal) -> Result<Option<JobCounts>, AppError> {
        self.allow(who, Op::MyTasks).await?;
        if !self.sees_counts(who) {
            return Ok(None);
        }
        Ok(Some(self.queue()?.counts().await?))
    }

    /// Counts per state and the first jobs of each (`GET /tasks/counts`); `403` for a caller
    /// who may not see the whole queue.
    pub async fn counts_report(&self, who: &Principal) -> Result<app::CountsReport, AppError> {
        self.allow(who, Op::TaskCounts).await?;
        if who.home_hidden {
            return Err(AppError::Forbidden);
        }
        Ok(self.queue()?.counts_report().await?)
    }

    /// What `who`'s event stream may carry.
    pub async fn follow(&self, who: &Principal) -> Result<Follow, AppError> {
        self.allow(who, Op::Follow).await?;
        Ok(Follow {
            hub: self.hub()?.clone(),
            only_owner: who.sees_only_own().then(|| who.owner.clone()),
        })
    }

    /// Whether the queue answers a ping within a second.
    pub async fn queue_reachable(&self) -> bool {
        match self.connected_queue() {
            Ok(queue) => queue.ping(Duration::from_millis(1000)).await,
            Err(_) => false,
        }
    }

    /// Pings the queue within `limit` and records the outcome in the pulse every event
    /// stream follows (the per-process ping loop).
    pub async fn beat(&self, limit: Duration) {
        let up = match self.connected_queue() {
            Ok(queue) => queue.ping(limit).await,
            Err(_) => false,
        };
        self.pulse().record(up);
    }
}
