//! The server side of the server functions: what the page needs from the queue, as a trait the
//! server implements and provides as Leptos context. Keeps this crate free of tokio, Redis and
//! the queue engine.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use leptos::prelude::*;

use crate::types::{JobCounts, JobId, JobStatus};

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A failure of the queue, already phrased for the user (the server logs the cause).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendError(pub String);

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
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

/// What the server functions need from the server.
pub trait TaskBackend: Send + Sync + 'static {
    /// Largest `seconds` accepted.
    fn max_seconds(&self) -> u64;
    /// Who the request being answered is for. Called inside a server function.
    fn viewer(&self) -> Viewer;
    /// The ids of the caller's own recent tasks, newest first (empty with access control off).
    fn my_tasks(&self) -> BoxFuture<'_, Result<Vec<String>, BackendError>>;
    /// Enqueues a task of `seconds` ticks; returns its id.
    fn enqueue(&self, seconds: u64) -> BoxFuture<'_, Result<String, BackendError>>;
    /// The status of each job of `ids`, in order; `None` where there is no such job.
    fn statuses(
        &self,
        ids: Vec<JobId>,
    ) -> BoxFuture<'_, Result<Vec<Option<JobStatus>>, BackendError>>;
    /// Jobs per state; `None` when the caller may not see them.
    fn counts(&self) -> BoxFuture<'_, Result<Option<JobCounts>, BackendError>>;
    /// Whether the request being answered is a plain HTML form post (no JavaScript), which
    /// wants a redirect back to a page rather than data. Called inside a server function.
    fn is_plain_form_post(&self) -> bool;
    /// Answers the request being served with a redirect to `path`. Called inside a server
    /// function.
    fn redirect(&self, path: &str);
}

/// The backend as it is stored in context.
pub type SharedBackend = Arc<dyn TaskBackend>;

/// The backend the server provided for this request.
pub fn backend() -> Result<SharedBackend, ServerFnError> {
    use_context::<SharedBackend>()
        .ok_or_else(|| ServerFnError::new("the server did not provide the task backend"))
}
