//! The OpenAPI description of the HTTP API, generated from the handlers' `#[utoipa::path]`
//! annotations and the shared types' schemas, served at `GET /openapi.json`.

use axum::Json;
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Sentinel",
        description = "Long-running tasks on a BullMQ queue: enqueue, follow, count."
    ),
    paths(
        crate::routes::enqueue,
        crate::routes::status,
        crate::routes::counts,
        crate::health::healthz,
        crate::health::readyz,
    ),
    components(schemas(ErrorBody, EnqueueBody))
)]
pub struct ApiDoc;

/// `GET /openapi.json`.
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// Every error answer: a code, and (for 4xx) the field or limit at fault and a message.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong, as a stable code (`invalid_seconds`, `not_found`, `body_too_large`, ...).
    pub error: String,
    /// The request field at fault (`seconds`, `id`, `Last-Event-ID`, ...).
    pub field: Option<String>,
    /// The setting whose limit was hit (`MAX_BODY_BYTES`, ...).
    pub limit: Option<String>,
    /// In words.
    pub message: Option<String>,
}

/// The optional JSON body of `POST /tasks/enqueue`.
#[derive(Debug, Serialize, ToSchema)]
pub struct EnqueueBody {
    /// Ticks the task runs: a whole number from 1 to `MAX_SECONDS` (default 20).
    pub seconds: Option<u64>,
}
