//! Everything between a request and its route, as one middleware: axum clones a route's whole
//! middleware stack for every request, so five middlewares cost five clones and drops per
//! enqueue; one costs one. Its steps stay where their rules are, in order:
//! 1. a page gets its nonce (`headers.rs`);
//! 2. the body is read within its limits, and a deadline set for the answer (`limits.rs`);
//! 3. the caller is identified, foreign hosts and cross-site state changes refused
//!    (`auth::admit`);
//! 4. the route runs, counted by the metrics (`metrics.rs`), and must answer by the deadline;
//! 5. the security headers are added (`headers.rs`) and a failure's cause logged
//!    (`telemetry.rs`).
//!
//! An answer from a step (a refusal) still gets steps 5; only answers of the route are counted.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

use super::headers::{self, HeaderSettings};
use super::limits::{self, RequestLimits};
use crate::auth::{self, Access};
use crate::metrics::Metrics;

/// What the steps need.
pub struct Edge {
    /// The page's policy settings.
    pub headers: HeaderSettings,
    /// The body and time limits.
    pub limits: RequestLimits,
    /// Who may do what.
    pub access: Arc<Access>,
    /// The process's metrics.
    pub metrics: Arc<Metrics>,
}

/// The middleware.
pub async fn around(State(edge): State<Arc<Edge>>, mut request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let uri = request.uri().clone();
    let nonce = headers::nonce_for(&mut request);
    let mut response = match steps(&edge, request, next).await {
        Ok(response) | Err(response) => response,
    };
    headers::add(&edge.headers, nonce.as_ref(), uri.path(), &mut response);
    crate::telemetry::log_failure(&method, &uri, &response);
    response
}

/// Steps 2 to 4; `Err` is a step's own answer.
async fn steps(edge: &Edge, request: Request, next: Next) -> Result<Response, Response> {
    let (request, deadline) = limits::read_body(&edge.limits, request).await?;
    let (mut parts, body) = request.into_parts();
    let new_cookie = auth::admit(&edge.access, &mut parts).map_err(|refused| *refused)?;
    let request = Request::from_parts(parts, body);
    let routed = super::metrics::track(&edge.metrics, request, next);
    let mut response = limits::answer_by(&edge.limits, deadline, routed).await;
    if let Some(cookie) = new_cookie
        && let Ok(value) = HeaderValue::from_str(&cookie)
    {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    Ok(response)
}
