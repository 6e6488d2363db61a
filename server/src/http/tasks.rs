//! The task API of the original service: enqueue, status, counts.

use std::collections::HashMap;

use app::{EnqueueResponse, JobId, parse_seconds};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;

use app::options::TaskOptions;

use crate::auth::Credential;
use crate::error::AppError;
use crate::http::state::Caller;
use crate::service::{Op, Sentinel};

use app::types::DEFAULT_SECONDS;

/// `POST /tasks/enqueue?seconds=N` (or a JSON body `{"seconds": N}`) → `201 {"id"}`. With an
/// `Idempotency-Key` header, the same key returns the same job while that job is kept.
#[utoipa::path(
    post,
    path = "/tasks/enqueue",
    params(
        ("seconds" = Option<u64>, Query, minimum = 1, maximum = 3600, description = "Ticks the task runs (1 to MAX_SECONDS); else the body's, else 20"),
        ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]{1,255}$", description = "Retries with the same key return the same job (printable ASCII, at most 255 characters)"),
    ),
    request_body(content = Option<crate::http::schema::EnqueueBody>, content_type = "application/json"),
    responses(
        (status = 201, description = "Enqueued", body = app::EnqueueResponse),
        (status = 400, description = "A value was refused; the body names the field", body = crate::error::ErrorBody),
        (status = 403, description = "The role may not enqueue, or a cross-site request", body = crate::error::ErrorBody),
        (status = 413, description = "Body over MAX_BODY_BYTES", body = crate::error::ErrorBody),
        (status = 415, description = "A body that is not JSON", body = crate::error::ErrorBody),
        (status = 429, description = "Over the owner's enqueue rate or pending jobs (the body names the setting)", body = crate::error::ErrorBody),
        crate::http::schema::ForSignedIn,
    )
)]
pub async fn enqueue(
    State(sentinel): State<Sentinel>,
    Caller(who): Caller,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<EnqueueResponse>), AppError> {
    sentinel.may(&who, Op::Enqueue)?;
    // A browser can send a form or text/plain across sites without asking first: only JSON
    // (or nothing) is taken, unless the caller is a program with a token.
    if who.credential != Credential::Bearer
        && let Some(kind) = headers.get(CONTENT_TYPE)
        && !kind.to_str().is_ok_and(|k| {
            k.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/json")
        })
    {
        return Err(AppError::UnsupportedMediaType);
    }
    let max = sentinel.config().max_seconds;
    // The body is checked even when the query gives `seconds` (the query's value wins).
    let fields = body_fields(&body)?;
    let from_body = match &fields {
        Some(fields) => seconds_in(fields, max)?,
        None => None,
    };
    let seconds = match query.get("seconds") {
        Some(raw) => parse_seconds(raw, max)?,
        None => from_body.unwrap_or(DEFAULT_SECONDS.min(max)),
    };
    let body_options = match &fields {
        Some(fields) => TaskOptions::from_fields(fields)?,
        None => TaskOptions::default(),
    };
    let query_options =
        TaskOptions::from_pairs(query.iter().filter(|(name, _)| name.as_str() != "seconds"))?;
    let options = body_options.or(query_options);
    let key = idempotency_key(&headers)?;
    let request = crate::service::enqueue::EnqueueRequest {
        seconds,
        options: &options,
        idempotency_key: key.as_deref(),
    };
    let id = sentinel.enqueue(&who, request).await?;
    Ok((StatusCode::CREATED, Json(EnqueueResponse { id })))
}

/// The `Idempotency-Key` header, if any: printable ASCII, 1 to 255 characters.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, AppError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let invalid = |reason: &str| AppError::InvalidHeader {
        name: "Idempotency-Key",
        reason: reason.to_string(),
    };
    let key = value
        .to_str()
        .map_err(|_| invalid("must be printable ASCII"))?;
    if !app::types::valid_key(key) {
        return Err(invalid(app::types::KEY_RULE));
    }
    Ok(Some(key.to_string()))
}

/// The fields of an optional JSON body; `None` when there is no body or a `null` one.
fn body_fields(body: &[u8]) -> Result<Option<serde_json::Map<String, Value>>, AppError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| AppError::InvalidBody(format!("expected a JSON object: {e}")))?;
    match value {
        Value::Null => Ok(None),
        Value::Object(fields) => Ok(Some(fields)),
        _ => Err(AppError::InvalidBody(
            "expected a JSON object like {\"seconds\": 10}".to_string(),
        )),
    }
}

/// `seconds` from a JSON body's fields; `None` when absent.
fn seconds_in(fields: &serde_json::Map<String, Value>, max: u64) -> Result<Option<u64>, AppError> {
    match fields.get("seconds") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(raw)) => Ok(Some(parse_seconds(raw, max)?)),
        // A JSON number is taken when it is whole (`5` or `5.0`, as JSON Schema's `integer`
        // says) and in range: 2.5 and 1e9 are refused.
        Some(Value::Number(n)) => {
            let whole = n.as_u64().map(|v| v.to_string()).or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < 1e15)
                    .map(|f| format!("{f:.0}"))
            });
            Ok(Some(parse_seconds(
                &whole.unwrap_or_else(|| n.to_string()),
                max,
            )?))
        }
        Some(other) => Ok(Some(parse_seconds(&other.to_string(), max)?)),
    }
}

/// Reads `seconds` from an optional JSON body (see [`body_fields`] and [`seconds_in`]).
#[cfg(test)]
fn seconds_from_body(body: &[u8], max: u64) -> Result<Option<u64>, AppError> {
    match body_fields(body)? {
        Some(fields) => seconds_in(&fields, max),
        None => Ok(None),
    }
}

/// `GET /tasks/status/{id}` → the job's state, progress and outcome.
#[utoipa::path(
    get,
    path = "/tasks/status/{id}",
    params(("id" = String, Path, min_length = 1, max_length = 256, pattern = r"^[^:\u0000-\u001f\u007f-\u009f]{1,256}$", description = "The job id: no ':' and no control characters")),
    responses(
        (status = 200, description = "The job", body = app::JobStatus),
        (status = 400, description = "An id that can name no job", body = crate::error::ErrorBody),
        (status = 404, description = "No such job (or another owner's)", body = crate::error::ErrorBody),
        crate::http::schema::ForSignedIn,
    )
)]
pub async fn status(
    State(sentinel): State<Sentinel>,
    Caller(who): Caller,
    Path(raw_id): Path<String>,
) -> Result<Json<app::JobStatus>, AppError> {
    let id = JobId::parse(&raw_id).map_err(|source| AppError::InvalidId {
        id: raw_id.clone(),
        source,
    })?;
    // Another owner's job is answered exactly as a job that does not exist.
    Ok(Json(sentinel.status(&who, &id).await?))
}

/// `POST /tasks/{id}/retry` → runs the caller's failed task again.
#[utoipa::path(
    post,
    path = "/tasks/{id}/retry",
    params(("id" = String, Path, min_length = 1, max_length = 256, pattern = r"^[^:\u0000-\u001f\u007f-\u009f]{1,256}$", description = "The job id: no ':' and no control characters")),
    responses(
        (status = 200, description = "Moved back to waiting", body = app::admin::ActionOutcome),
        (status = 400, description = "An id that can name no job", body = crate::error::ErrorBody),
        (status = 403, description = "The role may not add tasks, or a cross-site request", body = crate::error::ErrorBody),
        (status = 404, description = "No such job (or another owner's)", body = crate::error::ErrorBody),
        (status = 409, description = "The task has not failed; the body names its state", body = crate::error::ErrorBody),
        (status = 429, description = "Over the caller's action rate", body = crate::error::ErrorBody),
        crate::http::schema::ForSignedIn,
    )
)]
pub async fn retry(
    State(sentinel): State<Sentinel>,
    Caller(who): Caller,
    Path(raw_id): Path<String>,
) -> Result<Json<app::admin::ActionOutcome>, AppError> {
    sentinel.may(&who, Op::RetryTask)?;
    let id = super::params::parse_id(&raw_id)?;
    Ok(Json(sentinel.retry_task(&who, &id).await?))
}

/// `GET /tasks/counts` → counts per state and the first jobs of each.
#[utoipa::path(
    get,
    path = "/tasks/counts",
    responses(
        (status = 200, description = "Counts and the first jobs of each state", body = app::CountsReport),
        (status = 403, description = "A submitter (or a grant limited to other queues) may not see the whole queue", body = crate::error::ErrorBody),
        crate::http::schema::ForSignedIn,
    )
)]
pub async fn counts(
    State(sentinel): State<Sentinel>,
    Caller(who): Caller,
) -> Result<Json<app::CountsReport>, AppError> {
    Ok(Json(sentinel.counts_report(&who).await?))
}

/// Any other path.
pub async fn no_route() -> AppError {
    AppError::NoRoute
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_table() {
        let cases: &[(&str, Option<u64>)] = &[
            ("", Some(20)),
            ("null", Some(20)),
            ("{}", Some(20)),
            (r#"{"seconds": 5}"#, Some(5)),
            (r#"{"seconds": "6"}"#, Some(6)),
            (r#"{"seconds": 2.5}"#, None),
            (r#"{"seconds": 7.0}"#, Some(7)),
            (r#"{"seconds": 1e9}"#, None),
            (r#"{"seconds": -1}"#, None),
            (r#"{"seconds": 0}"#, None),
            (r#"{"seconds": true}"#, None),
            ("[1]", None),
            ("not json", None),
        ];
        for (body, want) in cases {
            assert_eq!(
                seconds_from_body(body.as_bytes(), 3600)
                    .ok()
                    .map(|s| s.unwrap_or(DEFAULT_SECONDS)),
                *want,
                "body {body:?}"
            );
        }
    }
}
