//! Who may do what: the one role table. Every operation of [`Sentinel`] names its [`Op`] and
//! calls [`Sentinel::allow`] (or [`Sentinel::open`], which also resolves the queue inside the
//! caller's grant) as its first step, so the REST API, the dashboard's and the page's server
//! functions cannot drift apart: the edges only identify the caller.
//!
//! Order of the checks, the same for every operation: the role (`403`), the rate limit of the
//! operation's bucket (`429`, before any Redis read the operation would make), then the queue
//! (`404` naming `queue`, the same whether it is absent or outside the grant).

use crate::auth::{Principal, Role};
use crate::error::AppError;

use super::Sentinel;
use super::queues::Target;
use super::state::limiter::Bucket;

/// Every operation of the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// Add a task (the task API, the page's form, the dashboard's add-job).
    Enqueue,
    /// Add a task owned by someone else.
    EnqueueOnBehalf,
    /// One task's status (a submitter: its own only).
    TaskStatus,
    /// Run a failed task again (a submitter: its own only).
    RetryTask,
    /// The caller's own recent tasks.
    MyTasks,
    /// The whole queue's counts.
    TaskCounts,
    /// The event stream (a submitter: its own jobs' events only).
    Follow,
    /// Pages of jobs and searches.
    ReadJobs,
    /// One job in full.
    ReadJob,
    /// Why a job is not running.
    ReadWhy,
    /// A queue's overview (counts, paused, workers, the last hour).
    ReadOverview,
    /// A queue's workers.
    ReadWorkers,
    /// A queue's per-minute statistics.
    ReadMetrics,
    /// The queues on the Redis.
    ListQueues,
    /// A queue's job schedulers.
    ListSchedulers,
    /// A bulk run's progress.
    BulkProgress,
    /// The alert rules and deliveries (limited to the caller's grant).
    ReadAlerts,
    /// The audit log.
    ReadAudit,
    /// `/metrics` (when `METRICS_ACCESS` asks for a viewer).
    Scrape,
    /// Retry, remove, promote or cancel one job.
    JobAction,
    /// Change the data of a job that is not running.
    EditJob,
    /// Add a job to a queue (a copy of one, its data and options edited first).
    AddJob,
    /// One action on many jobs.
    Bulk,
    /// Pause or resume a queue.
    PauseQueue,
    /// Remove finished jobs (or count them, on a dry run).
    CleanQueue,
    /// Create or change a job scheduler.
    UpsertScheduler,
    /// Remove a job scheduler.
    RemoveScheduler,
    /// Pause or resume a job scheduler.
    SwitchScheduler,
    /// Add one job now from a scheduler's template.
    RunScheduler,
    /// Acknowledge or silence a firing alert rule.
    AckAlert,
    /// Sign in with a token.
    SignIn,
    /// Sign out.
    SignOut,
}

/// Who may do an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Anyone who can reach the server (sign-in).
    Anyone,
    /// Anyone signed in (a submitter sees only its own).
    SignedIn,
    /// Anyone who may add jobs: every role but viewer.
    Enqueuer,
    /// Viewers and up.
    Viewer,
    /// Operators and up.
    Operator,
    /// Admins.
    Admin,
}

/// What the table says of one operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Who may do it.
    pub need: Need,
    /// The rate limit it takes from, per principal (state changes only).
    pub bucket: Option<Bucket>,
    /// Whether it needs a grant over Sentinel's own queue whatever queue it names (adding a
    /// job for someone else adds it there).
    pub home_grant: bool,
}

const fn rule(need: Need, bucket: Option<Bucket>) -> Rule {
    Rule {
        need,
        bucket,
        home_grant: false,
    }
}

impl Op {
    /// Every operation, for the tests that walk the table.
    pub const ALL: [Op; 32] = [
        Op::Enqueue,
        Op::EnqueueOnBehalf,
        Op::TaskStatus,
        Op::RetryTask,
        Op::MyTasks,
        Op::TaskCounts,
        Op::Follow,
        Op::ReadJobs,
        Op::ReadJob,
        Op::ReadWhy,
        Op::ReadOverview,
        Op::ReadWorkers,
        Op::ReadMetrics,
        Op::ListQueues,
        Op::ListSchedulers,
        Op::BulkProgress,
        Op::ReadAlerts,
        Op::ReadAudit,
        Op::Scrape,
        Op::JobAction,
        Op::EditJob,
        Op::AddJob,
        Op::Bulk,
        Op::PauseQueue,
        Op::CleanQueue,
        Op::UpsertScheduler,
        Op::RemoveScheduler,
        Op::SwitchScheduler,
        Op::RunScheduler,
        Op::AckAlert,
        Op::SignIn,
        Op::SignOut,
    ];

    /// The role table.
    pub const fn rule(self) -> Rule {
        use Need::*;
        match self {
            // The enqueue rate is held inside the add's own script (see `enqueue.rs`).
            Op::Enqueue => rule(Enqueuer, None),
            Op::EnqueueOnBehalf => Rule {
                need: Operator,
                bucket: Some(Bucket::Action),
                home_grant: true,
            },
            Op::TaskStatus | Op::MyTasks | Op::Follow => rule(SignedIn, None),
            // Running a task again is adding work: whoever may add tasks, on its own.
            Op::RetryTask => rule(Enqueuer, Some(Bucket::Action)),
            Op::TaskCounts
            | Op::ReadJobs
            | Op::ReadJob
            | Op::ReadWhy
            | Op::ReadOverview
            | Op::ReadWorkers
            | Op::ReadMetrics
            | Op::ListQueues
            | Op::ListSchedulers
            | Op::BulkProgress
            | Op::Scrape => rule(Viewer, None),
            Op::ReadAlerts => rule(Operator, None),
            Op::ReadAudit => rule(Admin, None),
            Op::JobAction
            | Op::EditJob
            | Op::AddJob
            | Op::PauseQueue
            | Op::CleanQueue
            | Op::UpsertScheduler
            | Op::RemoveScheduler
            | Op::SwitchScheduler
            | Op::AckAlert => rule(Operator, Some(Bucket::Action)),
            Op::Bulk => rule(Operator, Some(Bucket::Bulk)),
            Op::RunScheduler => rule(Operator, Some(Bucket::RunNow)),
            Op::SignIn | Op::SignOut => rule(Anyone, Some(Bucket::SignIn)),
        }
    }

    /// Whether the operation changes anything (and so is on the audit log).
    pub const fn changes_state(self) -> bool {
        self.rule().bucket.is_some() || matches!(self, Op::Enqueue)
    }
}

impl Need {
    /// Whether `principal` meets it.
    pub fn met_by(self, principal: &Principal) -> bool {
        match self {
            Need::Anyone | Need::SignedIn => true,
            Need::Enqueuer => principal.may_enqueue(),
            Need::Viewer => principal.role >= Role::Viewer,
            Need::Operator => principal.role >= Role::Operator,
            Need::Admin => principal.role >= Role::Admin,
        }
    }

    /// The least role that meets it (for the documentation and the tests).
    pub fn least_role(self) -> Option<Role> {
        match self {
            Need::Anyone => None,
            Need::SignedIn | Need::Enqueuer => Some(Role::Submitter),
            Need::Viewer => Some(Role::Viewer),
            Need::Operator => Some(Role::Operator),
            Need::Admin => Some(Role::Admin),
        }
    }
}

impl Sentinel {
    /// Whether `who`'s role may do `op` at all (the role and the home grant, no rate taken):
    /// what an edge asks before it reads a request's body or parameters, so a caller who may
    /// not is told so before anything about its input. The operation itself checks again,
    /// with the rate limit.
    pub fn may(&self, who: &Principal, op: Op) -> Result<(), AppError> {
        let rule = op.rule();
        if !rule.need.met_by(who) || (rule.home_grant && who.home_hidden) {
            return Err(AppError::Forbidden);
        }
        Ok(())
    }

    /// The first step of every operation: may `who` do `op`? Its role, then the rate limit
    /// of the operation's bucket (with access control on). `401` for nobody is the edge's
    /// (it has no principal to pass).
    pub async fn allow(&self, who: &Principal, op: Op) -> Result<(), AppError> {
        self.may(who, op)?;
        if let Some(bucket) = op.rule().bucket {
            self.take(bucket, who).await?;
        }
        Ok(())
    }

    /// [`Sentinel::allow`], then the queue `asked` names (Sentinel's own when `None`) if it
    /// exists and is in `who`'s grant: a `404` naming `queue` otherwise.
    pub async fn open(
        &self,
        who: &Principal,
        op: Op,
        asked: Option<&str>,
    ) -> Result<Target<'_>, AppError> {
        self.allow(who, op).await?;
        self.target(who, asked).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_change_takes_from_a_bucket_and_reads_never_do() {
        for op in Op::ALL {
            let rule = op.rule();
            let read = matches!(
                op,
                Op::TaskStatus
                    | Op::MyTasks
                    | Op::TaskCounts
                    | Op::Follow
                    | Op::ReadJobs
                    | Op::ReadJob
                    | Op::ReadWhy
                    | Op::ReadOverview
                    | Op::ReadWorkers
                    | Op::ReadMetrics
                    | Op::ListQueues
                    | Op::ListSchedulers
                    | Op::BulkProgress
                    | Op::ReadAlerts
                    | Op::ReadAudit
                    | Op::Scrape
            );
            assert_eq!(rule.bucket.is_none(), read || op == Op::Enqueue, "{op:?}");
            assert_eq!(op.changes_state(), !read, "{op:?}");
        }
        let unique: std::collections::HashSet<Op> = Op::ALL.into_iter().collect();
        assert_eq!(unique.len(), Op::ALL.len());
    }
}
