//! The server side of the server functions: what the page needs from the queue, as a trait the
//! server implements and provides as Leptos context. Keeps this crate free of tokio, Redis and
//! the queue engine.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use leptos::prelude::*;

use crate::model::types::{JobCounts, JobId, JobStatus};

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A failure, already phrased for the user (the server logs the cause).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendError {
    /// What happened, for the user.
    pub message: String,
    /// Whether the queue did not answer (asking again later may work), rather than a refusal.
    pub unavailable: bool,
}

impl BackendError {
    /// A refusal: asking again the same way gets the same answer.
    pub fn refused(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            unavailable: false,
        }
    }

    /// The queue did not answer.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            unavailable: true,
        }
    }
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for BackendError {}

/// Who the page is being served to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Viewer {
    /// Whether access control is on.
    pub auth: bool,
    /// The owner (`token:ci`, `anon:…`), if anyone.
    pub who: Option<String>,
    /// The role.
    pub role: Option<String>,
    /// Whether they may see the whole queue's counts.
    pub can_see_counts: bool,
}

/// What the page's server functions need from the server.
pub trait TaskBackend: Send + Sync + 'static {
    /// Largest `seconds` accepted.
    fn max_seconds(&self) -> u64;
    /// Who the request being answered is for. Called inside a server function.
    fn viewer(&self) -> Viewer;
    /// The ids of the caller's own recent tasks, newest first (empty with access control off).
    fn my_tasks(&self) -> BoxFuture<'_, Result<Vec<String>, BackendError>>;
    /// How long one tick lasts, in ms.
    fn tick_ms(&self) -> u64;
    /// A fresh idempotency key (for the form, when it is posted without JavaScript).
    fn new_key(&self) -> String;
    /// Enqueues a task of `seconds` ticks; returns its id. The same `key` returns the same
    /// task.
    fn enqueue(
        &self,
        seconds: u64,
        key: Option<String>,
        options: crate::model::options::TaskOptions,
    ) -> BoxFuture<'_, Result<String, BackendError>>;
    /// Whether the queue answers.
    fn queue_reachable(&self) -> BoxFuture<'_, bool>;
    /// The ids this browser enqueued with plain form posts (a cookie), newest first.
    fn remembered(&self) -> Vec<String>;
    /// Remembers `id` for this browser (sets the cookie on the response being served).
    fn remember(&self, id: &str);
    /// The status of each job of `ids`, in order; `None` where there is no such job.
    fn statuses(
        &self,
        ids: Vec<JobId>,
    ) -> BoxFuture<'_, Result<Vec<Option<JobStatus>>, BackendError>>;
    /// Jobs per state; `None` when the caller may not see them.
    fn counts(&self) -> BoxFuture<'_, Result<Option<JobCounts>, BackendError>>;
    /// Runs the caller's failed task `id` again.
    fn retry(&self, id: JobId) -> BoxFuture<'_, Result<(), BackendError>>;
    /// Whether the request being answered is a plain HTML form post (no JavaScript), which
    /// wants a redirect back to a page rather than data. Called inside a server function.
    fn is_plain_form_post(&self) -> bool;
    /// Answers the request being served with a redirect to `path`. Called inside a server
    /// function.
    fn redirect(&self, path: &str);
}

/// What the dashboard's server functions need from the server: the operators' reads and
/// actions. Kept apart from [`TaskBackend`] (the page's): each audience sees only its own.
pub trait AdminBackend: Send + Sync + 'static {
    /// What the caller may do on the dashboard.
    fn admin_access(&self) -> crate::model::admin::AdminAccess;
    /// The overview of a queue (Sentinel's own when `None`; `<prefix>:<name>` otherwise; the
    /// other calls take the queue the same way) (viewers and up).
    fn overview(
        &self,
        queue: Option<String>,
    ) -> BoxFuture<'_, Result<crate::model::admin::Overview, BackendError>>;
    /// A page of the flow's tree around a job, as `GET /admin/api/jobs/{id}/flow` answers it
    /// (viewers and up).
    fn admin_flow(
        &self,
        queue: Option<String>,
        id: JobId,
        page: u32,
    ) -> BoxFuture<'_, Result<crate::model::admin::FlowTree, BackendError>>;
    /// A queue's history over a range, as `GET /admin/api/history` answers it (viewers and up).
    fn admin_history(
        &self,
        queue: Option<String>,
        range: crate::model::admin::HistoryRange,
    ) -> BoxFuture<'_, Result<crate::model::admin::History, BackendError>>;
    /// A page of the BullMQ queues on the Redis the caller may see, with their counts (viewers
    /// and up).
    fn admin_queues(
        &self,
        asked: crate::model::admin::QueueListQuery,
    ) -> BoxFuture<'_, Result<crate::model::admin::QueueList, BackendError>>;
    /// A page of jobs as `GET /admin/api/jobs` answers it (viewers and up).
    fn admin_jobs(
        &self,
        query: crate::model::admin::JobQuery,
    ) -> BoxFuture<'_, Result<crate::model::admin::JobPage, BackendError>>;
    /// A page of the jobs a search finds across queues, as `GET /admin/api/search` answers
    /// it (viewers and up).
    fn admin_search(
        &self,
        query: crate::model::admin::AcrossQuery,
    ) -> BoxFuture<'_, Result<crate::model::admin::AcrossPage, BackendError>>;
    /// One job in full; `None` when there is no such job (viewers and up).
    fn admin_job(
        &self,
        queue: Option<String>,
        id: JobId,
    ) -> BoxFuture<'_, Result<Option<crate::model::admin::JobDetail>, BackendError>>;
    /// An action on one job (operators and up).
    fn admin_act(
        &self,
        queue: Option<String>,
        id: JobId,
        action: crate::model::admin::JobAction,
    ) -> BoxFuture<'_, Result<crate::model::admin::ActionOutcome, BackendError>>;
    /// Replaces the data of a job that is not running (operators and up).
    fn admin_edit_data(
        &self,
        queue: Option<String>,
        id: JobId,
        data: String,
    ) -> BoxFuture<'_, Result<crate::model::admin::ActionOutcome, BackendError>>;
    /// Adds a job (a copy of one, edited first); its id (operators and up).
    fn admin_add_copy(
        &self,
        queue: Option<String>,
        name: String,
        data: String,
        opts: String,
    ) -> BoxFuture<'_, Result<String, BackendError>>;
    /// Pauses or resumes the queue (operators and up).
    fn admin_queue(
        &self,
        queue: Option<String>,
        action: crate::model::admin::QueueAction,
    ) -> BoxFuture<'_, Result<(), BackendError>>;
    /// Starts `action` on these ids, or on every job the search `q` finds (operators and up).
    fn admin_bulk(
        &self,
        queue: Option<String>,
        action: crate::model::admin::JobAction,
        ids: Vec<String>,
        q: Option<String>,
    ) -> BoxFuture<'_, Result<crate::model::admin::BulkProgress, BackendError>>;
    /// Removes finished jobs as `POST /admin/api/queue/clean` does, or counts them on a dry
    /// run (operators and up).
    fn admin_clean(
        &self,
        queue: Option<String>,
        request: crate::model::admin::CleanRequest,
    ) -> BoxFuture<'_, Result<crate::model::admin::CleanOutcome, BackendError>>;
    /// A bulk run's progress, if this server process started it (viewers and up).
    fn admin_bulk_progress(
        &self,
        bulk: String,
    ) -> BoxFuture<'_, Result<Option<crate::model::admin::BulkProgress>, BackendError>>;
    /// Why job `id` is not running; `None` when there is no such job (viewers and up).
    fn admin_why(
        &self,
        queue: Option<String>,
        id: JobId,
    ) -> BoxFuture<'_, Result<Option<crate::model::admin::WhyReport>, BackendError>>;
    /// A queue's job schedulers (viewers and up).
    fn schedulers(
        &self,
        queue: Option<String>,
    ) -> BoxFuture<'_, Result<crate::model::admin::SchedulerList, BackendError>>;
    /// Creates or changes scheduler `id` (operators and up).
    fn scheduler_upsert(
        &self,
        queue: Option<String>,
        id: String,
        request: crate::model::admin::SchedulerRequest,
    ) -> BoxFuture<'_, Result<(), BackendError>>;
    /// The alert rules and their state (operators and up).
    fn alerts(&self) -> BoxFuture<'_, Result<crate::model::admin::AlertsReport, BackendError>>;
    /// How many rules fire now (viewers and up; their grant applied).
    fn firing(&self) -> BoxFuture<'_, Result<crate::model::admin::FiringSummary, BackendError>>;
    /// Acknowledges a firing rule for `minutes` (or until it resolves) (operators and up).
    fn ack_alert(
        &self,
        rule: String,
        minutes: Option<u64>,
    ) -> BoxFuture<'_, Result<(), BackendError>>;
    /// A page of the audit log (admins only): `who` and `action` exact, from `since_minutes`
    /// ago, older than entry `before`.
    fn audit(
        &self,
        who: Option<String>,
        action: Option<String>,
        since_minutes: Option<u64>,
        before: Option<String>,
    ) -> BoxFuture<'_, Result<crate::model::admin::AuditPage, BackendError>>;
    /// An action on scheduler `id` (operators and up); what was done, in words.
    fn scheduler_act(
        &self,
        queue: Option<String>,
        id: String,
        action: crate::model::admin::SchedulerAction,
    ) -> BoxFuture<'_, Result<String, BackendError>>;
}

/// The backend as it is stored in context.
pub type SharedBackend = Arc<dyn TaskBackend>;

/// The dashboard's backend as it is stored in context.
pub type SharedAdminBackend = Arc<dyn AdminBackend>;

/// The dashboard's backend the server provided for this request.
pub fn admin_backend() -> Result<SharedAdminBackend, ServerFnError> {
    use_context::<SharedAdminBackend>()
        .ok_or_else(|| ServerFnError::new("the server did not provide the dashboard's backend"))
}

/// The backend the server provided for this request.
pub fn backend() -> Result<SharedBackend, ServerFnError> {
    use_context::<SharedBackend>()
        .ok_or_else(|| ServerFnError::new("the server did not provide the task backend"))
}
