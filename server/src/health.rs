//! `GET /healthz` (the process is up) and `GET /readyz` (Redis answers, and the worker runs
//! where this role has one).

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::state::AppState;

/// `/healthz`: always 200 while the process serves HTTP.
#[utoipa::path(get, path = "/healthz", responses((status = 200, description = "The process is up")))]
pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// `/readyz`: 200 when this process can do its job, 503 with the reason otherwise.
#[utoipa::path(get, path = "/readyz", responses(
    (status = 200, description = "Ready"),
    (status = 503, description = "Not ready; `reason` says why"),
))]
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
    // A Redis that may evict keys may evict jobs: not a place to accept work. A Redis that
    // refuses CONFIG (managed services rename it) is taken on trust.
    let policy = if redis {
        services.queue.eviction_policy().await.ok()
    } else {
        None
    };
    let evicts = policy.as_deref().is_some_and(|p| !p.is_empty() && p != "noeviction");
    let ready = redis && !evicts && worker.unwrap_or(true) && !state.shutdown.is_cancelled();
    let reason = if state.shutdown.is_cancelled() {
        Some("shutting down".to_string())
    } else if !redis {
        Some("Redis does not answer".to_string())
    } else if evicts {
        Some(format!(
            "Redis maxmemory-policy is {}; BullMQ needs noeviction (jobs could be evicted)",
            policy.as_deref().unwrap_or_default()
        ))
    } else if worker == Some(false) {
        Some("the worker is not running".to_string())
    } else {
        None
    };
    let body = json!({
        "status": if ready { "ready" } else { "unavailable" },
        "role": role,
        "redis": redis,
        "evictionPolicy": policy,
        "worker": worker,
        "activeJobs": services.worker.as_ref().map(|w| w.active_jobs()),
        "reason": reason,
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}
