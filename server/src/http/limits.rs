//! The request limits every route shares: the body is read up to `MAX_BODY_BYTES` within
//! `REQUEST_TIMEOUT_MS` (then `413` or `408`, and nothing more is read), and the answer must
//! start within the same time (`503`). Event streams count as answered once their headers are
//! out, so the timeout never cuts a stream.
//!
//! Bodies are read whole here, before any handler runs: Sentinel's bodies are small, and
//! reading them in one place is what makes the limit hold for the Leptos server functions too
//! (they read the body themselves, and a body error there would be a 500).

use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::CONTENT_LENGTH;
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use tokio::time::Instant;

use crate::config::Limits;
use crate::error::AppError;

/// The route whose body may be larger (`MAX_BULK_BODY_BYTES`).
const BULK_PATH: &str = "/admin/api/jobs/bulk";

/// The limits as the edge needs them.
#[derive(Debug, Clone, Copy)]
pub struct RequestLimits {
    max_body_bytes: usize,
    max_bulk_body_bytes: usize,
    timeout: Duration,
}

impl RequestLimits {
    /// From the settings.
    pub fn new(limits: &Limits) -> Self {
        Self {
            max_body_bytes: limits.max_body_bytes,
            max_bulk_body_bytes: limits.max_bulk_body_bytes,
            timeout: limits.request_timeout(),
        }
    }
}

/// The edge's first step (`http/edge.rs`): reads the body within the limits, or answers for
/// the request. `Ok` carries the request with its body read, and the deadline its answer must
/// start by (see [`answer_by`]).
pub async fn read_body(
    limits: &RequestLimits,
    request: Request,
) -> Result<(Request, Instant), Response> {
    let deadline = Instant::now() + limits.timeout;
    let (parts, body) = request.into_parts();
    // One route takes lists of ids: its own, larger limit.
    let (max, setting) = if parts.uri.path() == BULK_PATH {
        (limits.max_bulk_body_bytes, "MAX_BULK_BODY_BYTES")
    } else {
        (limits.max_body_bytes, "MAX_BODY_BYTES")
    };
    let too_large = || {
        AppError::BodyTooLarge {
            limit: max,
            setting,
        }
        .into_response()
    };
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > max as u64) {
        return Err(too_large());
    }
    let read = Limited::new(body, max).collect();
    let bytes = match tokio::time::timeout_at(deadline, read).await {
        Err(_) => return Err(AppError::BodyTimeout(limits.timeout).into_response()),
        Ok(Err(error)) if error.downcast_ref::<LengthLimitError>().is_some() => {
            return Err(too_large());
        }
        Ok(Err(_)) => {
            return Err(
                AppError::InvalidBody("the request body could not be read".to_string())
                    .into_response(),
            );
        }
        Ok(Ok(collected)) => collected.to_bytes(),
    };
    Ok((Request::from_parts(parts, Body::from(bytes)), deadline))
}

/// The answer of `answer`, or `503` when it has not started by `deadline`.
pub async fn answer_by(
    limits: &RequestLimits,
    deadline: Instant,
    answer: impl Future<Output = Response>,
) -> Response {
    match tokio::time::timeout_at(deadline, answer).await {
        Ok(response) => response,
        Err(_) => AppError::RequestTimeout(limits.timeout).into_response(),
    }
}
