//! The HTTP edge: the router and everything between a request and the service layer. It
//! knows HTTP and axum, and never Redis: what it does is the service layer's (`service/`),
//! and what it reads is the queue's typed layer (`queue/`).
//!
//! `serve.rs` accepts connections; `limits.rs`, `headers.rs` and `metrics.rs` are the
//! middleware; `tasks.rs` (the original API), `sse.rs` (the event stream), `admin.rs` (the
//! operators' API), `health.rs`, `openapi.rs`, `signin.rs` and `site.rs` (the page and its
//! server functions) are the routes.

pub mod admin;
pub mod built;
pub mod edge;
pub mod headers;
pub mod health;
pub mod limits;
pub mod metrics;
pub mod openapi;
pub mod params;
pub mod refusal;
pub mod schema;
pub mod serve;
pub mod signin;
pub mod site;
pub mod sse;
pub mod state;
pub mod tasks;
pub mod writes;

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use tower_http::compression::CompressionLayer;

use state::AppState;

/// The router: the page, the task API and the event stream where the role serves them, health
/// everywhere.
pub fn app(state: AppState) -> Router {
    let mut router = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::scrape));
    if state.config.role.serves_api() {
        router = router
            .route("/signin", get(signin::show).post(signin::submit))
            .route("/signout", post(signin::sign_out))
            .route("/whoami", get(signin::whoami));
    }
    if state.config.role.serves_api() {
        router = router
            .route("/tasks/enqueue", post(tasks::enqueue))
            .route("/tasks/status/{id}", get(tasks::status))
            .route("/tasks/{id}/retry", post(tasks::retry))
            .route("/tasks/counts", get(tasks::counts))
            .route("/tasks/stream", get(sse::stream))
            .route("/openapi.json", get(openapi::document))
            .merge(admin::router());
    }
    let router = router.with_state(state.clone());
    let router = if state.config.role.serves_api() {
        router.merge(site::router(state.clone()))
    } else {
        router
    };
    let edge = std::sync::Arc::new(edge::Edge {
        headers: headers::HeaderSettings::new(
            built::is_dev().then_some(state.config.reload_port),
            built::built_root(&state.config),
        ),
        limits: limits::RequestLimits::new(&state.config.limits),
        access: state.access.clone(),
        metrics: state.metrics.clone(),
    });
    let page_not_found = state
        .config
        .role
        .serves_api()
        .then(|| site::not_found_page(&state));
    let fallback = move |request: axum::extract::Request| {
        let page_not_found = page_not_found.clone();
        async move {
            use axum::response::IntoResponse;
            match page_not_found {
                Some(page) if site::wants_page(&request) => page(request).await.into_response(),
                _ => tasks::no_route().await.into_response(),
            }
        }
    };
    router
        .fallback(fallback)
        // Everything between a request and its route (`edge.rs`), then compression outside it.
        .layer(from_fn_with_state(edge, edge::around))
        .layer(CompressionLayer::new())
}
