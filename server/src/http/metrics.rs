//! `GET /metrics` and the middleware that counts every request (the registry is
//! `crate::metrics`).

use std::time::Instant;

use axum::Extension;
use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::auth::Principal;
use crate::error::AppError;
use crate::http::state::AppState;
use crate::metrics::{Metrics, MetricsAccess};

/// The edge's step around the route (`http/edge.rs`): counts each request by method, matched
/// route and status, with its latency.
pub async fn track(metrics: &Metrics, request: Request, next: Next) -> Response {
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
    // Open to anyone unless METRICS_ACCESS asks for a viewer: then the service checks who.
    let who = match state.config.metrics_access {
        MetricsAccess::Viewer => Some(principal.as_deref().ok_or(AppError::Unauthorized)?),
        MetricsAccess::Open => None,
    };
    let scrape = state.sentinel.scrape(who).await?;
    let metrics = &state.metrics;
    metrics.set_gauges(state.streams.open(), scrape.busy, scrape.counts.as_ref());
    let max_queues = state.config.guards.metrics_max_queues;
    let text = metrics
        .encode(&scrape.queues, max_queues)
        .map_err(|_| AppError::NoRoute)?;
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
