//! `GET /healthz` (the process is up) and `GET /readyz` (Redis answers, and the worker runs
//! where this role has one).

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::service::state::AppState;

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
    let evicts = policy
        .as_deref()
        .is_some_and(|p| !p.is_empty() && p != "noeviction");
    // A queue key of the wrong type (written over by hand or by a broken producer) fails every
    // script that touches it: the queue cannot work until someone repairs it.
    let mistyped = if redis {
        services.queue.mistyped_key().await.ok().flatten()
    } else {
        None
    };
    let ready = redis
        && !evicts
        && mistyped.is_none()
        && worker.unwrap_or(true)
        && !state.shutdown.is_cancelled();
    let reason = if state.shutdown.is_cancelled() {
        Some("shutting down".to_string())
    } else if !redis {
        Some("Redis does not answer".to_string())
    } else if let Some((key, found, wanted)) = &mistyped {
        Some(format!(
            "Redis key {key} is a {found}, not a {}: the queue cannot work until it is repaired",
            wanted.redis_name()
        ))
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
        "brokenKey": mistyped.as_ref().map(|(key, _, _)| key),
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

/// Whether the server listening on `listen` answers `GET path` with 200 within 3 s (a 0.0.0.0
/// listener is asked on loopback). `server health` uses it as a container's health check.
pub async fn probe(listen: std::net::SocketAddr, path: &str) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut addr = listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(if addr.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    let ask = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head).await.ok()?;
        Some(head.starts_with(b"HTTP/1.1 200"))
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(3), ask).await,
        Ok(Some(true))
    )
}
