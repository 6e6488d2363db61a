//! `GET /healthz` (the process is up) and `GET /readyz` (Redis answers, and the worker runs
//! where this role has one).

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use std::sync::Arc;

use crate::config::Config;
use crate::service::Sentinel;

/// `/healthz`: always 200 while the process serves HTTP.
#[utoipa::path(get, path = "/healthz", responses((status = 200, description = "The process is up")))]
pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// `/readyz`: 200 when this process can do its job, 503 with the reason otherwise. A Redis
/// past the memory guard's limit leaves it ready (it serves reads and runs jobs) with a
/// `warning` and `acceptingJobs: false`.
#[utoipa::path(get, path = "/readyz", responses(
    (status = 200, description = "Ready (`warning` says what is degraded: new jobs refused while Redis is full)"),
    (status = 503, description = "Not ready; `reason` says why"),
))]
pub async fn readyz(
    State(sentinel): State<Sentinel>,
    State(config): State<Arc<Config>>,
) -> (StatusCode, Json<Value>) {
    let role = format!("{:?}", config.role).to_lowercase();
    let ready = sentinel.readiness().await;
    let body = json!({
        "status": if ready.ready { "ready" } else { "unavailable" },
        "role": role,
        "redis": ready.redis,
        "evictionPolicy": ready.eviction_policy,
        "brokenKey": ready.broken_key,
        "worker": ready.worker,
        "activeJobs": ready.active_jobs,
        "redisMemory": ready.memory,
        "acceptingJobs": ready.redis && !ready.memory.is_some_and(|m| m.full),
        "reason": ready.reason,
        "warning": ready.warning,
    });
    let status = if ready.ready {
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
