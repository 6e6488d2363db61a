//! Server functions: the page's only way to talk to the server (besides the event stream).
//! Their bodies run on the server against the [`TaskBackend`](crate::backend::TaskBackend)
//! that the server provides as context; the browser gets typed stubs.

use leptos::prelude::*;

use crate::types::{EnqueueOutcome, JobCounts, PageSettings, TaskView};

/// Most task ids one status call looks up.
pub const MAX_IDS_PER_CALL: usize = 50;

/// Enqueues a task. Works as a plain HTML form post too: then the answer is a redirect back to
/// the page with `?task=<id>` or `?error=<message>`, which the server renders.
#[server(prefix = "/api", endpoint = "enqueue")]
pub async fn enqueue_task(seconds: String) -> Result<EnqueueOutcome, ServerFnError> {
    use crate::backend::backend;
    let backend = backend()?;
    let outcome = match crate::types::parse_seconds(&seconds, backend.max_seconds()) {
        // A refusal (sign in, role, quota) or an unreachable queue is shown next to the form,
        // in the page and after a plain form post alike.
        Ok(seconds) => match backend.enqueue(seconds).await {
            Ok(id) => EnqueueOutcome::Enqueued { id },
            Err(error) => EnqueueOutcome::Rejected {
                message: error.to_string(),
            },
        },
        Err(error) => EnqueueOutcome::Rejected {
            message: error.to_string(),
        },
    };
    if backend.is_plain_form_post() {
        let target = match &outcome {
            EnqueueOutcome::Enqueued { id } => format!("/?task={}", crate::url::encode(id)),
            EnqueueOutcome::Rejected { message } => format!(
                "/?error={}&seconds={}",
                crate::url::encode(message),
                crate::url::encode(&seconds)
            ),
        };
        backend.redirect(&target);
    }
    Ok(outcome)
}

/// The current view of each task in `ids` (unknown or invalid ids come back as gone).
#[server(prefix = "/api", endpoint = "statuses")]
pub async fn task_statuses(ids: Vec<String>) -> Result<Vec<TaskView>, ServerFnError> {
    use crate::backend::backend;
    use crate::types::JobId;
    let backend = backend()?;
    let ids: Vec<String> = ids.into_iter().take(MAX_IDS_PER_CALL).collect();
    // Ids that could never name a job are not looked up; they come back as gone.
    let valid: Vec<JobId> = ids
        .iter()
        .filter_map(|raw| JobId::parse(raw).ok())
        .collect();
    let found: std::collections::HashMap<String, TaskView> = backend
        .statuses(valid)
        .await
        .map_err(ServerFnError::new)?
        .iter()
        .flatten()
        .map(|status| (status.id.clone(), TaskView::from_status(status)))
        .collect();
    let views = ids
        .iter()
        .map(|raw| {
            found
                .get(raw)
                .cloned()
                .unwrap_or_else(|| TaskView::pending(raw))
        })
        .collect();
    Ok(views)
}

/// Number of jobs per state; `None` for a caller who may not see the whole queue (a
/// submitter).
#[server(prefix = "/api", endpoint = "counts")]
pub async fn queue_counts() -> Result<Option<JobCounts>, ServerFnError> {
    crate::backend::backend()?
        .counts()
        .await
        .map_err(ServerFnError::new)
}

/// The settings the page is rendered with, and who it is for.
#[server(prefix = "/api", endpoint = "settings")]
pub async fn get_page_settings() -> Result<PageSettings, ServerFnError> {
    let backend = crate::backend::backend()?;
    let viewer = backend.viewer();
    Ok(PageSettings {
        max_seconds: backend.max_seconds(),
        auth: viewer.auth,
        who: viewer.who,
        role: viewer.role,
        can_see_counts: viewer.can_see_counts,
    })
}

/// The ids of the caller's own recent tasks, newest first: the task list follows the identity
/// (across devices and browsers), not only this browser's storage.
#[server(prefix = "/api", endpoint = "mytasks")]
pub async fn my_tasks() -> Result<Vec<String>, ServerFnError> {
    crate::backend::backend()?
        .my_tasks()
        .await
        .map_err(ServerFnError::new)
}
