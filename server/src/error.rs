//! `AppError`: every way a request can fail, and the HTTP answer for each. 4xx bodies say what
//! was wrong with the request and name the field or the limit; 5xx bodies say nothing internal.
//! The cause of a 5xx is attached to the response and logged once by
//! [`crate::telemetry::log_failures`].

use std::time::Duration;

use app::{JobIdError, SecondsError};
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

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
    /// No such alert rule (or not one the caller may see).
    #[error("no alert rule {name:?}")]
    NoRule {
        /// The rule asked for.
        name: String,
    },
    /// The alert rule does not fire (nothing to acknowledge).
    #[error("alert rule {name:?} does not fire now")]
    NotFiring {
        /// The rule asked for.
        name: String,
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
    /// Over a rate limit per principal (`ENQUEUE_RATE_PER_MINUTE`,
    /// `SENTINEL_RATE_*_PER_MINUTE`).
    #[error("at most {per_minute} of these a minute ({limit}); try again in {retry_after} s")]
    RateLimited {
        /// The setting that sets the limit.
        limit: &'static str,
        /// The rate.
        per_minute: u32,
        /// Seconds to wait.
        retry_after: u64,
    },
    /// Redis's memory is past the guard's limit: new jobs are refused until it is freed.
    #[error(
        "Redis is nearly full ({used} bytes used, limit {limit}): new jobs are refused until jobs finish or are cleaned"
    )]
    RedisFull {
        /// `used_memory`, bytes.
        used: u64,
        /// The guard's limit, bytes.
        limit: u64,
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
    /// Redis stopped answering this process's pings (refused at once until it answers again).
    #[error("Redis has not answered since {since_ms} (ms since the epoch)")]
    QueueDown {
        /// Since when (ms since the epoch).
        since_ms: u64,
    },
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
    /// A refused parameter, named: a `400` with `field` and `message`.
    pub fn param(field: &'static str, message: impl Into<String>) -> Self {
        AppError::InvalidOption(app::options::OptionError {
            field,
            message: message.into(),
        })
    }

    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        self.parts().0
    }

    /// The answer's body, as [`ErrorBody`] (what the OpenAPI document describes).
    pub fn body(&self) -> ErrorBody {
        self.parts().1
    }

    fn parts(&self) -> (StatusCode, ErrorBody) {
        use StatusCode as S;
        let said = || Some(self.to_string());
        let (status, body) = match self {
            AppError::InvalidSeconds(e) => (
                S::BAD_REQUEST,
                ErrorBody::new("invalid_seconds")
                    .field("seconds")
                    .message(e.to_string()),
            ),
            AppError::InvalidBody(message) => (
                S::BAD_REQUEST,
                ErrorBody::new("invalid_body")
                    .field("body")
                    .message(message.clone()),
            ),
            AppError::Conflict { state, message } => (
                S::CONFLICT,
                ErrorBody {
                    state: Some(state.as_str().to_string()),
                    ..ErrorBody::new("conflict").message(message.clone())
                },
            ),
            AppError::InvalidOption(e) => (
                S::BAD_REQUEST,
                ErrorBody::new("invalid_option")
                    .field(e.field)
                    .message(e.to_string()),
            ),
            AppError::InvalidHeader { name, .. } => (
                S::BAD_REQUEST,
                ErrorBody {
                    message: said(),
                    ..ErrorBody::new("invalid_header").field(name)
                },
            ),
            AppError::InvalidId { id, source } => (
                S::BAD_REQUEST,
                ErrorBody {
                    id: Some(short(id)),
                    ..ErrorBody::new("invalid_id")
                        .field("id")
                        .message(source.to_string())
                },
            ),
            AppError::InvalidLastEventId(raw) => (
                S::BAD_REQUEST,
                ErrorBody::new("invalid_last_event_id")
                    .field("Last-Event-ID")
                    .message(format!(
                        "Last-Event-ID must be a stream entry id like 1700000000000-0, got {:?}",
                        short(raw)
                    )),
            ),
            AppError::NotFound { id } => (
                S::NOT_FOUND,
                ErrorBody {
                    id: Some(short(id)),
                    ..ErrorBody::new("not_found")
                },
            ),
            AppError::NoQueue { queue } => (
                S::NOT_FOUND,
                ErrorBody {
                    queue: Some(short(queue)),
                    ..ErrorBody::new("not_found")
                        .field("queue")
                        .message(format!("no BullMQ queue {:?} on this Redis", short(queue)))
                },
            ),
            AppError::NoScheduler { id } => (
                S::NOT_FOUND,
                ErrorBody {
                    id: Some(short(id)),
                    ..ErrorBody::new("not_found")
                        .field("id")
                        .message(format!("no job scheduler {:?} on this queue", short(id)))
                },
            ),
            AppError::NoRule { name } => (
                S::NOT_FOUND,
                ErrorBody::new("not_found")
                    .field("rule")
                    .message(format!("no alert rule {:?} you may see", short(name))),
            ),
            AppError::NotFiring { name } => (
                S::CONFLICT,
                ErrorBody::new("not_firing")
                    .field("rule")
                    .message(format!("alert rule {:?} does not fire now", short(name))),
            ),
            AppError::NoRoute => (
                S::NOT_FOUND,
                ErrorBody::new("not_found").message("no such route"),
            ),
            AppError::BodyTooLarge { limit, setting } => (
                S::PAYLOAD_TOO_LARGE,
                ErrorBody {
                    max: Some(*limit as u64),
                    message: said(),
                    ..ErrorBody::new("body_too_large").limit(setting)
                },
            ),
            AppError::BodyTimeout(_) => (
                S::REQUEST_TIMEOUT,
                ErrorBody {
                    message: said(),
                    ..ErrorBody::new("request_timeout").limit("REQUEST_TIMEOUT_MS")
                },
            ),
            AppError::RequestTimeout(_) => (
                S::SERVICE_UNAVAILABLE,
                ErrorBody {
                    message: said(),
                    ..ErrorBody::new("timeout").limit("REQUEST_TIMEOUT_MS")
                },
            ),
            AppError::TooManyConnections => (
                S::SERVICE_UNAVAILABLE,
                ErrorBody {
                    message: said(),
                    ..ErrorBody::new("too_many_connections").limit("MAX_CONNECTIONS")
                },
            ),
            AppError::TooManyStreams => (
                S::SERVICE_UNAVAILABLE,
                ErrorBody {
                    message: said(),
                    ..ErrorBody::new("too_many_streams").limit("MAX_SSE_STREAMS")
                },
            ),
            AppError::TooManyStreamsFromClient => (
                S::TOO_MANY_REQUESTS,
                ErrorBody {
                    message: said(),
                    ..ErrorBody::new("too_many_streams").limit("MAX_SSE_STREAMS_PER_CLIENT")
                },
            ),
            AppError::Unauthorized => (
                S::UNAUTHORIZED,
                ErrorBody {
                    message: said(),
                    ..ErrorBody::new("unauthorized")
                },
            ),
            AppError::Forbidden | AppError::CrossSite => (
                S::FORBIDDEN,
                ErrorBody {
                    message: said(),
                    ..ErrorBody::new("forbidden")
                },
            ),
            AppError::MisdirectedHost => (
                S::MISDIRECTED_REQUEST,
                ErrorBody {
                    message: said(),
                    ..ErrorBody::new("misdirected").field("Host")
                },
            ),
            AppError::TooManyBulkRuns(_) => (
                S::TOO_MANY_REQUESTS,
                ErrorBody {
                    message: said(),
                    ..ErrorBody::new("too_many_bulk_runs").limit("MAX_BULK_RUNS")
                },
            ),
            AppError::UnsupportedMediaType => (
                S::UNSUPPORTED_MEDIA_TYPE,
                ErrorBody {
                    message: said(),
                    ..ErrorBody::new("unsupported_media_type").field("Content-Type")
                },
            ),
            AppError::RateLimited { limit, .. } => (
                S::TOO_MANY_REQUESTS,
                ErrorBody {
                    message: said(),
                    ..ErrorBody::new("rate_limited").limit(limit)
                },
            ),
            AppError::RedisFull { .. } => (
                S::SERVICE_UNAVAILABLE,
                ErrorBody {
                    message: said(),
                    ..ErrorBody::new("redis_full").limit("SENTINEL_REDIS_MEMORY_SHARE")
                },
            ),
            AppError::TooManyPending { .. } => (
                S::TOO_MANY_REQUESTS,
                ErrorBody {
                    message: said(),
                    ..ErrorBody::new("too_many_pending").limit("MAX_PENDING_PER_OWNER")
                },
            ),
            AppError::NotConnected | AppError::Engine(_) | AppError::Events(_) => (
                S::SERVICE_UNAVAILABLE,
                ErrorBody::new("unavailable")
                    .message("the queue is not reachable right now; try again shortly"),
            ),
            AppError::QueueDown { since_ms } => (
                S::SERVICE_UNAVAILABLE,
                ErrorBody {
                    since: Some(*since_ms),
                    ..ErrorBody::new("queue_unreachable")
                        .message("Redis does not answer; try again shortly")
                },
            ),
        };
        (status, body)
    }
}

/// Every error answer's body: a stable code, and (for 4xx) the field or limit at fault and a
/// message. What [`AppError`] serializes and what the OpenAPI document describes are this one
/// type, so they cannot drift apart.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    /// What went wrong, as a stable code (`invalid_seconds`, `not_found`, `body_too_large`,
    /// `rate_limited`, `redis_full`, ...).
    pub error: String,
    /// The request field at fault (`seconds`, `id`, `queue`, `Last-Event-ID`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The setting whose limit was hit (`MAX_BODY_BYTES`, `SENTINEL_RATE_ACTIONS_PER_MINUTE`,
    /// ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
    /// The limit's value, where it is a size (bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<u64>,
    /// In words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The job's state, for a `409 conflict`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// The id asked for (cut to 64 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The queue asked for (cut to 64 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    /// Since when the queue has not answered, for a `503 queue_unreachable` (ms since the
    /// epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<u64>,
}

impl ErrorBody {
    fn new(error: &str) -> Self {
        Self {
            error: error.to_string(),
            ..Self::default()
        }
    }

    fn field(self, field: &str) -> Self {
        Self {
            field: Some(field.to_string()),
            ..self
        }
    }

    fn limit(self, limit: &str) -> Self {
        Self {
            limit: Some(limit.to_string()),
            ..self
        }
    }

    fn message(self, message: impl Into<String>) -> Self {
        Self {
            message: Some(message.into()),
            ..self
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
            AppError::RedisFull { .. } => Some(30),
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
