//! The admin API's routes that write a job's contents rather than move it: change a job's
//! data, add a job (the dashboard's "duplicate"). Each reads its parameters and calls one
//! method of the service, like the rest of the admin API (`admin.rs`).

use std::collections::HashMap;

use app::admin::ActionOutcome;
use axum::Json;
use axum::extract::{Path, Query, State};

use super::params::{parse_id, queue_of};
use crate::error::AppError;
use crate::http::state::Caller;
use crate::service::{Op, Sentinel};

/// `PUT /admin/api/jobs/{id}/data?queue=` with the new data as the body → replaces the data of
/// a job that is not running and not completed (BullMQ's `updateData`).
#[utoipa::path(
    put,
    path = "/admin/api/jobs/{id}/data",
    params(
        ("id" = String, Path, min_length = 1, max_length = 256, pattern = r"^([^:\u0000-\u001f\u007f-\u009f]{1,256}|repeat:[^\u0000-\u001f\u007f-\u009f]+:[0-9]{1,20})$", description = "The job id"),
        crate::http::schema::OnQueue,
    ),
    request_body(content = Object, content_type = "application/json", description = "The job's new data (on Sentinel's own queue, a task's: `seconds`; its owner is kept)"),
    responses(
        (status = 200, description = "Changed", body = app::admin::ActionOutcome),
        (status = 400, description = "Data that is not JSON, over MAX_BODY_BYTES, or (Sentinel's own queue) not a task's; the body names `data`", body = crate::error::ErrorBody),
        (status = 404, description = "No such job or queue", body = crate::error::ErrorBody),
        (status = 409, description = "The job runs or completed; the body names its state", body = crate::error::ErrorBody),
        (status = 415, description = "A body that is not JSON", body = crate::error::ErrorBody),
        crate::http::schema::ForOperators,
    )
)]
pub async fn edit_data(
    State(sentinel): State<Sentinel>,
    Caller(who): Caller,
    Path(raw_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    body: axum::body::Bytes,
) -> Result<Json<ActionOutcome>, AppError> {
    sentinel.may(&who, Op::EditJob)?;
    let id = parse_id(&raw_id)?;
    let data =
        std::str::from_utf8(&body).map_err(|_| AppError::param("data", "must be UTF-8 JSON"))?;
    Ok(Json(
        sentinel
            .edit_data(&who, queue_of(&query), &id, data)
            .await?,
    ))
}

/// `POST /admin/api/jobs?queue=` `{"name", "data", "opts"}` → `201 {"id"}`: adds a job (a
/// copy of one, edited first) to the queue.
#[utoipa::path(
    post,
    path = "/admin/api/jobs",
    params(crate::http::schema::OnQueue),
    request_body(content = crate::http::schema::AddJobBody, content_type = "application/json"),
    responses(
        (status = 201, description = "Added; the body has its id", body = app::EnqueueResponse),
        (status = 400, description = "A field was refused (the body names it); on Sentinel's own queue the name is longTask and the data a task's", body = crate::error::ErrorBody),
        (status = 404, description = "No such queue (or not one the caller may see)", body = crate::error::ErrorBody),
        (status = 415, description = "A body that is not JSON", body = crate::error::ErrorBody),
        (status = 429, description = "Over the caller's action rate or quota", body = crate::error::ErrorBody),
        crate::http::schema::ForOperators,
    )
)]
pub async fn add_job(
    State(sentinel): State<Sentinel>,
    Caller(who): Caller,
    Query(query): Query<HashMap<String, String>>,
    body: axum::body::Bytes,
) -> Result<(axum::http::StatusCode, Json<app::EnqueueResponse>), AppError> {
    sentinel.may(&who, Op::AddJob)?;
    let body: crate::http::schema::AddJobBody = serde_json::from_slice(&body).map_err(|e| {
        AppError::InvalidBody(format!("expected {{\"name\", \"data\", \"opts\"}}: {e}"))
    })?;
    let opts = body.opts.map(|o| o.to_string()).unwrap_or_default();
    let id = sentinel
        .add_copy(
            &who,
            queue_of(&query),
            &body.name,
            &body.data.to_string(),
            &opts,
        )
        .await?;
    Ok((
        axum::http::StatusCode::CREATED,
        Json(app::EnqueueResponse { id }),
    ))
}
