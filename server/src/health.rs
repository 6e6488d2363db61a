//! `GET /healthz` (the process is up) and `GET /readyz` (Redis answers, and the worker runs
//! where this role has one).

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::state::AppState;

/// `/healthz`: always 200 while the process serves HTTP.
pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// `/readyz`: 200 when this process can do its job, 503 with the reason otherwise.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let role = format!("{:?}", state.config.role).to_lowercase();
    let Some(services) = state.services() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(
                json!({"status": "unavailable", "role": role, "redis": false, "reason": "not connected to Redis yet"}),
            ),
        );
    };
    let redis = services.queue.ping(Duration::from_millis(1000)).await;
    let worker = services.worker.as_ref().map(|w| w.is_running());
    let ready = redis && worker.unwrap_or(true) && !state.shutdown.is_cancelled();
    let body = json!({
        "status": if ready { "ready" } else { "unavailable" },
        "role": role,
        "redis": redis,
        "worker": worker,
        "activeJobs": services.worker.as_ref().map(|w| w.active_jobs()),
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}
