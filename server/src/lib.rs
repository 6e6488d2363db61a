//! Sentinel's server: the task API, the event stream, the embedded worker and their lifecycle.
//!
//! Entry points: [`run`] starts everything and returns after a clean shutdown; [`app`] builds the
//! router for a given state.

pub mod admin;
pub mod auth;
pub mod cancel;
pub mod clock;
pub mod config;
pub mod connector;
pub mod engine;
pub mod error;
pub mod events;
pub mod fanout;
pub mod headers;
pub mod health;
pub mod index;
pub mod keys;
pub mod limits;
pub mod lock;
pub mod metrics;
pub mod openapi;
pub mod pulse;
pub mod record;
pub mod routes;
pub mod serve;
pub mod service;
pub mod site;
pub mod sse;
pub mod state;
pub mod stats;
pub mod telemetry;
pub mod worker;

use std::future::Future;
use std::sync::Arc;

use std::time::Duration;

use axum::Router;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::compression::CompressionLayer;
use tracing::{info, warn};

pub use config::{Config, Role};
pub use state::AppState;

/// The router: the page, the task API and the event stream where the role serves them, health
/// everywhere.
pub fn app(state: AppState) -> Router {
    let mut router = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::scrape));
    if state.config.role.serves_api() {
        router = router
            .route(
                "/signin",
                get(auth::signin::show).post(auth::signin::submit),
            )
            .route("/signout", post(auth::signin::sign_out))
            .route("/whoami", get(auth::signin::whoami));
    }
    if state.config.role.serves_api() {
        router = router
            .route("/tasks/enqueue", post(routes::enqueue))
            .route("/tasks/status/{id}", get(routes::status))
            .route("/tasks/counts", get(routes::counts))
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
    let header_settings = std::sync::Arc::new(headers::HeaderSettings {
        reload_port: site::is_dev().then_some(state.config.reload_port),
    });
    // Outermost first: log causes, add headers, compress, then the limits around the routes.
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
                _ => routes::no_route().await.into_response(),
            }
        }
    };
    router
        .fallback(fallback)
        .layer(from_fn_with_state(state.metrics.clone(), metrics::track))
        .layer(from_fn_with_state(state.clone(), auth::identify))
        .layer(from_fn_with_state(
            limits::RequestLimits::new(&state.config.limits),
            limits::limit_requests,
        ))
        .layer(CompressionLayer::new())
        .layer(from_fn_with_state(
            header_settings,
            headers::security_headers,
        ))
        .layer(from_fn(telemetry::log_failures))
}

/// What can stop the server from starting or running.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The settings are inconsistent.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// The access settings are unsafe or broken.
    #[error(transparent)]
    Access(#[from] auth::AccessError),
    /// The listen address cannot be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Runs Sentinel until `shutdown` completes, then shuts down in order:
/// 1. stop accepting HTTP connections and end every event stream;
/// 2. at the same time, the worker stops taking jobs, lets running ones finish within the grace
///    and hands back the rest;
/// 3. the event reader stops (same signal), then the queue connection closes.
pub async fn run(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RunError> {
    config.validate()?;
    let config = Arc::new(config);
    let token = CancellationToken::new();
    let access = auth::Access::new(
        &config.auth,
        config.listen,
        config.role.serves_api(),
        token.clone(),
    )?;
    let state = AppState::new(config.clone(), token.clone(), access);

    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| RunError::Bind {
            addr: config.listen,
            source,
        })?;
    info!(addr = %config.listen, role = ?config.role, queue = %config.queue, prefix = %config.prefix, "listening");

    let connector = tokio::spawn(connector::connect(state.clone()));
    if config.role.serves_api() {
        tokio::spawn(pulse::run(state.clone()));
    }
    if config.role.serves_api() && state.access.enabled {
        tokio::spawn(
            state
                .access
                .revoked
                .clone()
                .run(state.clone(), token.clone()),
        );
    }
    tokio::spawn(index::run_sweeper(state.clone()));
    let signal_token = token.clone();
    tokio::spawn(async move {
        shutdown.await;
        info!("shutdown requested");
        signal_token.cancel();
    });

    let grace = config.shutdown_grace();
    // Requests still open when the token fires get the worker's grace to finish (event
    // streams end at once); then what is left is closed.
    let http = serve::serve(
        listener,
        app(state.clone()),
        &config.limits,
        token.clone(),
        grace.max(Duration::from_secs(1)),
    );
    let worker_state = state.clone();
    let worker_shutdown = async move {
        worker_state.shutdown.cancelled().await;
        // The connector stops on the same token; a worker it installed while shutdown had
        // already begun is shut down too.
        if let Err(error) = connector.await {
            warn!(%error, "the connector ended abnormally");
        }
        if let Some(worker) = worker_state.services().and_then(|s| s.worker.as_ref()) {
            let handed_back = worker.shutdown(grace).await;
            info!(handed_back, "worker stopped");
        }
    };
    tokio::join!(http, worker_shutdown);
    if let Some(services) = state.services() {
        services.queue.close().await;
    }
    info!("stopped");
    Ok(())
}
