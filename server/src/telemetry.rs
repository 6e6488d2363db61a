//! Logging helpers shared by every module: error chains for log lines, and the middleware that
//! logs a failed request's cause once, in one place.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use tracing::error;

/// The internal cause of a 5xx answer, attached to the response by `AppError` and logged here.
#[derive(Debug, Clone)]
pub struct LoggedCause(pub std::sync::Arc<str>);

/// An error with its sources, for a log line.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Logs the cause of every answer that carries one (5xx answers), with the route.
pub async fn log_failures(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    if let Some(LoggedCause(cause)) = response.extensions().get::<LoggedCause>() {
        error!(%method, %path, status = response.status().as_u16(), error = %cause, "request failed");
    }
    response
}
