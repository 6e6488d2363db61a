//! The task API of the original service: enqueue, status, counts.

use std::collections::HashMap;

use app::{EnqueueResponse, JobId, TaskPayload, parse_seconds};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde_json::Value;

use crate::error::AppError;
use crate::state::AppState;

/// `seconds` used when the request gives none, as in the original.
pub const DEFAULT_SECONDS: u64 = 20;

/// `POST /tasks/enqueue?seconds=N` (or a JSON body `{"seconds": N}`) → `201 {"id"}`.
pub async fn enqueue(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Result<(StatusCode, Json<EnqueueResponse>), AppError> {
    let max = state.config.max_seconds;
    let seconds = match query.get("seconds") {
        Some(raw) => parse_seconds(raw, max)?,
        None => seconds_from_body(&body, max)?,
    };
    let queue = state.queue()?;
    let id = queue.enqueue(TaskPayload { seconds }).await?;
    Ok((StatusCode::CREATED, Json(EnqueueResponse { id })))
}

/// Reads `seconds` from an optional JSON body; no body or no field means the default.
fn seconds_from_body(body: &[u8], max: u64) -> Result<u64, AppError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(DEFAULT_SECONDS.min(max));
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| AppError::InvalidBody(format!("expected a JSON object: {e}")))?;
    let Value::Object(fields) = value else {
        return Err(AppError::InvalidBody(
            "expected a JSON object like {\"seconds\": 10}".to_string(),
        ));
    };
    match fields.get("seconds") {
        None | Some(Value::Null) => Ok(DEFAULT_SECONDS.min(max)),
        Some(Value::String(raw)) => Ok(parse_seconds(raw, max)?),
        // A JSON number goes through the same text rules, so 2.5 and 1e9 are refused alike.
        Some(Value::Number(n)) => Ok(parse_seconds(&n.to_string(), max)?),
        Some(other) => Ok(parse_seconds(&other.to_string(), max)?),
    }
}

/// `GET /tasks/status/{id}` → the job's state, progress and outcome.
pub async fn status(
    State(state): State<AppState>,
    Path(raw_id): Path<String>,
) -> Result<Json<app::JobStatus>, AppError> {
    let id = JobId::parse(&raw_id).map_err(|source| AppError::InvalidId {
        id: raw_id.clone(),
        source,
    })?;
    let queue = state.queue()?;
    match queue.status(&id).await? {
        Some(status) => Ok(Json(status)),
        None => Err(AppError::NotFound { id: raw_id }),
    }
}

/// `GET /tasks/counts` → counts per state and the first jobs of each.
pub async fn counts(State(state): State<AppState>) -> Result<Json<app::CountsReport>, AppError> {
    Ok(Json(state.queue()?.counts_report().await?))
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
            ("{}", Some(20)),
            (r#"{"seconds": 5}"#, Some(5)),
            (r#"{"seconds": "6"}"#, Some(6)),
            (r#"{"seconds": 2.5}"#, None),
            (r#"{"seconds": 1e9}"#, None),
            (r#"{"seconds": -1}"#, None),
            (r#"{"seconds": 0}"#, None),
            (r#"{"seconds": true}"#, None),
            ("[1]", None),
            ("not json", None),
        ];
        for (body, want) in cases {
            assert_eq!(
                seconds_from_body(body.as_bytes(), 3600).ok(),
                *want,
                "body {body:?}"
            );
        }
    }
}
