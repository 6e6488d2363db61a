//! `AppError`: every way a request can fail, and the HTTP answer for each. 4xx bodies say what
//! was wrong with the request and name the field or the limit; 5xx bodies say nothing internal.
//! The cause of a 5xx is attached to the response and logged once by
//! [`crate::telemetry::log_failures`].

use std::time::Duration;

use app::{JobIdError, SecondsError};
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::events::EventsError;
use crate::queue::EngineError;
use crate::telemetry::{LoggedCause, error_chain};

/// A failed request.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// `seconds` is not an integer in range.
    #[error(transparent)]
    InvalidSeconds(#[from] SecondsError),
    /// The request body is not the JSON object we take.
    #[error("request body is not valid: {0}")]
    InvalidBody(String),
    /// A job option was refused.
    #[error(transparent)]
    InvalidOption(#[from] app::options::OptionError),
    /// A header has a value we cannot take.
    #[error("header {name} is not valid: {reason}")]
    InvalidHeader {
        /// The header.
        name: &'static str,
        /// What is wrong.
        reason: String,
    },
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
    /// No such BullMQ queue on the Redis.
    #[error("no BullMQ queue {queue:?} on this Redis")]
    NoQueue {
        /// The queue asked for (`<prefix>:<name>`).
        queue: String,
    },
    /// No such job scheduler on the queue.
    #[error("no job scheduler {id:?} on this queue")]
    NoScheduler {
        /// The scheduler asked for.
        id: String,
    },
    /// No such route.
    #[error("no such route")]
    NoRoute,
    /// The job's state does not allow the action.
    #[error("{message}")]
    Conflict {
        /// The job's state.
        state: app::types::JobState,
        /// Why.
        message: String,
    },
    /// The body is larger than `MAX_BODY_BYTES` (or, on the bulk route,
    /// `MAX_BULK_BODY_BYTES`).
    #[error("request body is larger than {limit} bytes")]
    BodyTooLarge {
        /// The limit.
        limit: usize,
        /// The setting that sets it.
        setting: &'static str,
    },
    /// The client took longer than `REQUEST_TIMEOUT_MS` to send the body.
    #[error("request body was not received within {0:?}")]
    BodyTimeout(Duration),
    /// The answer took longer than `REQUEST_TIMEOUT_MS`.
    #[error("request was not answered within {0:?}")]
    RequestTimeout(Duration),
    /// `MAX_CONNECTIONS` connections are open.
    #[error("too many open connections")]
    TooManyConnections,
    /// `MAX_SSE_STREAMS` streams are open.
    #[error("too many open event streams")]
    TooManyStreams,
    /// This client has `MAX_SSE_STREAMS_PER_CLIENT` streams open.
    #[error("too many open event streams from this client")]
    TooManyStreamsFromClient,
    /// No valid credentials.
    #[error("sign in first")]
    Unauthorized,
    /// The role may not do this.
    #[error("your role may not do this")]
    Forbidden,
    /// A state change made with cookies from another site.
    #[error("cross-site request refused")]
    CrossSite,
    /// A `Host` this server does not answer for (access control off).
    #[error(
        "this server does not answer for that host name; add it to SENTINEL_ALLOWED_HOSTS or use localhost"
    )]
    MisdirectedHost,
    /// `MAX_BULK_RUNS` bulk runs are under way in this process.
    #[error("{0} bulk runs are already under way here; try again when one has finished")]
    TooManyBulkRuns(usize),
    /// A body that is not JSON where only JSON is taken.
    #[error("this route takes a JSON body (Content-Type: application/json) or none")]
    UnsupportedMediaType,
    /// Over `ENQUEUE_RATE_PER_MINUTE`.
    #[error("at most {per_minute} tasks a minute may be enqueued; try again in {retry_after} s")]
    RateLimited {
        /// The rate.
        per_minute: u32,
        /// Seconds to wait.
        retry_after: u64,
    },
    /// Over `MAX_PENDING_PER_OWNER`.
    #[error(
        "you have {max} tasks waiting or running, the most allowed; try again when some have finished"
    )]
    TooManyPending {
        /// The limit.
        max: u64,
    },
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

impl From<crate::events::slots::SlotError> for AppError {
    fn from(error: crate::events::slots::SlotError) -> Self {
        match error {
            crate::events::slots::SlotError::Total => AppError::TooManyStreams,
            crate::events::slots::SlotError::PerClient => AppError::TooManyStreamsFromClient,
        }
    }
}

/// Seconds a client should wait before trying again after a refusal for load.
const RETRY_AFTER_SECS: u64 = 2;

impl AppError {
    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        self.parts().0
    }

    fn parts(&self) -> (StatusCode, Value) {
        match self {
            AppError::InvalidSeconds(e) => (
                StatusCode::BAD_REQUEST,
                json!({"error": "invalid_seconds", "field": "seconds", "message": e.to_string()}),
            ),
            AppError::InvalidBody(message) => (
                StatusCode::BAD_REQUEST,
                json!({"error": "invalid_body", "field": "body", "message": message}),
            ),
            AppError::Conflict { state, message } => (
                StatusCode::CONFLICT,
                json!({"error": "conflict", "state": state, "message": message}),
            ),
            AppError::InvalidOption(e) => (
                StatusCode::BAD_REQUEST,
                json!({"error": "invalid_option", "field": e.field, "message": e.to_string()}),
            ),
            AppError::InvalidHeader { name, .. } => (
                StatusCode::BAD_REQUEST,
                json!({"error": "invalid_header", "field": name, "message": self.to_string()}),
            ),
            AppError::InvalidId { id, source } => (
                StatusCode::BAD_REQUEST,
                json!({"error": "invalid_id", "field": "id", "id": short(id), "message": source.to_string()}),
            ),
            AppError::InvalidLastEventId(raw) => (
                StatusCode::BAD_REQUEST,
                json!({"error": "invalid_last_event_id", "field": "Last-Event-ID",
                       "message": format!("Last-Event-ID must be a stream entry id like 1700000000000-0, got {:?}", short(raw))}),
            ),
            AppError::NotFound { id } => (
                StatusCode::NOT_FOUND,
                json!({"error": "not_found", "id": short(id)}),
            ),
            AppError::NoQueue { queue } => (
                StatusCode::NOT_FOUND,
                json!({"error": "not_found", "field": "queue", "queue": short(queue),
                       "message": format!("no BullMQ queue {:?} on this Redis", short(queue))}),
            ),
            AppError::NoScheduler { id } => (
                StatusCode::NOT_FOUND,
                json!({"error": "not_found", "field": "id", "id": short(id),
                       "message": format!("no job scheduler {:?} on this queue", short(id))}),
            ),
            AppError::NoRoute => (
                StatusCode::NOT_FOUND,
                json!({"error": "not_found", "message": "no such route"}),
            ),
            AppError::BodyTooLarge { limit, setting } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                json!({"error": "body_too_large", "limit": setting, "max": limit,
                       "message": self.to_string()}),
            ),
            AppError::BodyTimeout(_) => (
                StatusCode::REQUEST_TIMEOUT,
                json!({"error": "request_timeout", "limit": "REQUEST_TIMEOUT_MS", "message": self.to_string()}),
            ),
            AppError::RequestTimeout(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"error": "timeout", "limit": "REQUEST_TIMEOUT_MS", "message": self.to_string()}),
            ),
            AppError::TooManyConnections => (
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"error": "too_many_connections", "limit": "MAX_CONNECTIONS", "message": self.to_string()}),
            ),
            AppError::TooManyStreams => (
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"error": "too_many_streams", "limit": "MAX_SSE_STREAMS", "message": self.to_string()}),
            ),
            AppError::TooManyStreamsFromClient => (
                StatusCode::TOO_MANY_REQUESTS,
                json!({"error": "too_many_streams", "limit": "MAX_SSE_STREAMS_PER_CLIENT", "message": self.to_string()}),
            ),
            AppError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                json!({"error": "unauthorized", "message": self.to_string()}),
            ),
            AppError::Forbidden => (
                StatusCode::FORBIDDEN,
                json!({"error": "forbidden", "message": self.to_string()}),
            ),
            AppError::CrossSite => (
                StatusCode::FORBIDDEN,
                json!({"error": "forbidden", "message": self.to_string()}),
            ),
            AppError::MisdirectedHost => (
                StatusCode::MISDIRECTED_REQUEST,
                json!({"error": "misdirected", "field": "Host", "message": self.to_string()}),
            ),
            AppError::TooManyBulkRuns(_) => (
                StatusCode::TOO_MANY_REQUESTS,
                json!({"error": "too_many_bulk_runs", "limit": "MAX_BULK_RUNS", "message": self.to_string()}),
            ),
            AppError::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                json!({"error": "unsupported_media_type", "field": "Content-Type", "message": self.to_string()}),
            ),
            AppError::RateLimited { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                json!({"error": "rate_limited", "limit": "ENQUEUE_RATE_PER_MINUTE", "message": self.to_string()}),
            ),
            AppError::TooManyPending { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                json!({"error": "too_many_pending", "limit": "MAX_PENDING_PER_OWNER", "message": self.to_string()}),
            ),
            AppError::NotConnected | AppError::Engine(_) | AppError::Events(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"error": "unavailable", "message": "the queue is not reachable right now; try again shortly"}),
            ),
        }
    }
}

/// A value from the request, cut so an error body never echoes a huge input.
fn short(text: &str) -> String {
    const MAX: usize = 64;
    if text.len() <= MAX {
        return text.to_string();
    }
    format!("{}…", crate::queue::cut(text, MAX))
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, body) = self.parts();
        let mut response = (status, Json(body)).into_response();
        let retry_after = match &self {
            AppError::RateLimited { retry_after, .. } => Some(*retry_after),
            AppError::TooManyPending { .. } => Some(30),
            _ if matches!(
                status,
                StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS
            ) =>
            {
                Some(RETRY_AFTER_SECS)
            }
            _ => None,
        };
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if matches!(self, AppError::Unauthorized) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        // Expected until Redis is reached (the connector already said why), and refusals for
        // load are not failures of ours: only real failures are logged.
        if matches!(
            self,
            AppError::Engine(_) | AppError::Events(_) | AppError::RequestTimeout(_)
        ) {
            response
                .extensions_mut()
                .insert(LoggedCause(error_chain(&self).into()));
        }
        response
    }
}
