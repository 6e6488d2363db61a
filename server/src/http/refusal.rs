//! How the pages' backends answer a refusal of the service (see `site.rs`).

use app::backend::BackendError;
use axum::http::StatusCode;
use axum::http::request::Parts;
use leptos::prelude::use_context;
use tracing::error;

use crate::error::AppError;
use crate::telemetry::error_chain;

/// Whether the request being answered is a call of a server function (`/api/…`), not a page
/// rendered on the server.
fn is_call() -> bool {
    use_context::<Parts>().is_some_and(|parts| parts.uri.path().starts_with("/api/"))
}

/// While a page is rendered (not a server function called from one): the page answers `404`,
/// as a mistyped address does (a job or queue that is not there).
pub fn page_not_found() {
    if !is_call()
        && let Some(response) = use_context::<leptos_axum::ResponseOptions>()
    {
        response.set_status(StatusCode::NOT_FOUND);
    }
}

/// The user's words for a failure: what was wrong for a refusal (sign in, role, quota), one
/// neutral sentence for a failure of ours (the cause is logged). A refusal of a call of the
/// function itself answers with the status the HTTP API gives it (401, 403, 404, 400, 409,
/// 429, 503), not the 500 of any server function's error; a page rendered on the server
/// reads through the same functions, and a part the viewer may not see must not fail the
/// page (a job or queue that is not there makes the page a 404).
pub fn refusal(cause: AppError) -> BackendError {
    let status = cause.status();
    if matches!(cause, AppError::NoQueue { .. } | AppError::NotFound { .. }) {
        page_not_found();
    }
    if is_call()
        && (status.is_client_error() || status == StatusCode::SERVICE_UNAVAILABLE)
        && let Some(response) = use_context::<leptos_axum::ResponseOptions>()
    {
        response.set_status(status);
        if let AppError::RateLimited { retry_after, .. } = &cause
            && let Ok(value) = axum::http::HeaderValue::from_str(&retry_after.to_string())
        {
            response.insert_header(axum::http::header::RETRY_AFTER, value);
        }
    }
    match cause {
        AppError::NotConnected | AppError::Engine(_) | AppError::Events(_) => {
            error!(error = %error_chain(&cause), "page request failed: queue unavailable");
            BackendError::unavailable("the queue is not reachable right now")
        }
        // The pulse's loop said so once; each refused read is not news.
        AppError::QueueDown { .. } => BackendError::unavailable("Redis does not answer"),
        AppError::RedisFull { .. } => BackendError::unavailable(cause.to_string()),
        other => BackendError::refused(other.to_string()),
    }
}
