//! `AppError`: every way a request can fail, and the HTTP answer for each. 4xx bodies say what
//! was wrong with the request; 5xx bodies say nothing internal, and the cause is logged.

use app::{JobIdError, SecondsError};
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tracing::{debug, error};

use crate::engine::EngineError;
use crate::events::EventsError;

/// A failed request.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// `seconds` is not an integer in range.
    #[error(transparent)]
    InvalidSeconds(#[from] SecondsError),
    /// The request body is not the JSON object we take.
    #[error("request body is not valid: {0}")]
    InvalidBody(String),
    /// A job id that could never name a job.
    #[error("invalid job id")]
    InvalidId {
        /// The id as given.
        id: String,
        /// What is wrong with it.
        #[source]
        source: JobIdError,
    },
    /// A `Last-Event-ID` that is not a stream entry id.
    #[error("Last-Event-ID must be a stream entry id like 1700000000000-0, got {0:?}")]
    InvalidLastEventId(String),
    /// No such job.
    #[error("job not found")]
    NotFound {
        /// The id asked for.
        id: String,
    },
    /// No such route.
    #[error("no such route")]
    NoRoute,
    /// Sentinel has not reached Redis yet (or this role does not serve the route).
    #[error("the queue is not connected")]
    NotConnected,
    /// A queue call failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// Reading the event stream failed.
    #[error(transparent)]
    Events(#[from] EventsError),
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, body) = match &self {
            AppError::InvalidSeconds(e) => (
                StatusCode::BAD_REQUEST,
                json!({"error": "invalid_seconds", "field": "seconds", "message": e.to_string()}),
            ),
            AppError::InvalidBody(message) => (
                StatusCode::BAD_REQUEST,
                json!({"error": "invalid_body", "message": message}),
            ),
            AppError::InvalidId { id, source } => (
                StatusCode::BAD_REQUEST,
                json!({"error": "invalid_id", "field": "id", "id": id, "message": source.to_string()}),
            ),
            AppError::InvalidLastEventId(_) => (
                StatusCode::BAD_REQUEST,
                json!({"error": "invalid_last_event_id", "field": "Last-Event-ID", "message": self.to_string()}),
            ),
            AppError::NotFound { id } => (
                StatusCode::NOT_FOUND,
                json!({"error": "not_found", "id": id}),
            ),
            AppError::NoRoute => (
                StatusCode::NOT_FOUND,
                json!({"error": "not_found", "message": "no such route"}),
            ),
            AppError::NotConnected | AppError::Engine(_) | AppError::Events(_) => {
                if matches!(self, AppError::NotConnected) {
                    // Expected until Redis is reached; the connector already logged why.
                    debug!("request refused: not connected to Redis yet");
                } else {
                    error!(error = %error_chain(&self), "request failed: queue unavailable");
                }
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    json!({"error": "unavailable", "message": "the queue is not reachable right now; try again shortly"}),
                )
            }
        };
        (status, Json(body)).into_response()
    }
}

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
