//! `GET /metrics` and the middleware that counts every request (the registry is
//! `crate::metrics`).

use std::sync::Arc;
use std::time::Instant;

use axum::Extension;
use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::auth::{Principal, Role, require};
use crate::error::AppError;
use crate::metrics::{Metrics, MetricsAccess};
use crate::service::state::AppState;

/// Middleware: counts each request by method, matched route and status, with its latency.
pub async fn track(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let response = next.run(request).await;
    metrics.http_request(method, route, response.status().as_u16(), started.elapsed());
    response
}

/// `GET /metrics`.
pub async fn scrape(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
) -> Result<Response, AppError> {
    if state.config.metrics_access == MetricsAccess::Viewer {
        require(principal.as_deref(), Role::Viewer)?;
    }
    let metrics = &state.metrics;
    let services = state.services();
    let busy = services
        .and_then(|s| s.worker.as_ref())
        .map_or(0, |w| w.active_jobs());
    // Jobs per state: one read; a scrape while Redis is away leaves the last values.
    let counts = match services {
        Some(services) => services.queue.counts().await.ok(),
        None => None,
    };
    metrics.set_gauges(state.streams.open(), busy, counts.as_ref());
    // Every queue on the Redis the caller may see (a scrape open to anyone sees them all), from
    // the dashboards' shared read; none while Redis is away.
    let everyone = Principal::open();
    let caller = principal.as_deref().unwrap_or(&everyone);
    let queues = match services {
        Some(_) => crate::service::admin::every_queue(&state, caller)
            .await
            .unwrap_or_default(),
        None => Vec::new(),
    };
    let text = metrics.encode(&queues).map_err(|_| AppError::NoRoute)?;
    Ok((
        StatusCode::OK,
        [(
            CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response())
}
