//! The web page: Leptos server rendering of `app`'s components, the server functions they call,
//! and the built WASM/JS/CSS under `/pkg`. The server functions reach the queue through
//! [`QueueBackend`], provided to them as context.

use std::sync::Arc;

use app::backend::{BackendError, BoxFuture, SharedBackend, TaskBackend};
use app::{JobCounts, JobId, JobStatus, TaskPayload};
use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::header::ACCEPT;
use axum::http::request::Parts;
use axum::routing::any;
use leptos::config::{Env, LeptosOptions};
use leptos::nonce::Nonce;
use leptos::prelude::{provide_context, use_context};
use leptos_axum::{LeptosRoutes, generate_route_list, handle_server_fns_with_context};
use tower_http::services::ServeDir;
use tracing::error;

use crate::config::Config;
use crate::error::AppError;
use crate::telemetry::error_chain;
use crate::state::AppState;

/// Whether this is a development build served by `cargo leptos watch` (live reload on).
pub fn is_dev() -> bool {
    match std::env::var("LEPTOS_ENV").as_deref() {
        Ok("PROD") | Ok("prod") | Ok("production") => false,
        Ok("DEV") | Ok("dev") | Ok("development") => true,
        _ => cfg!(debug_assertions),
    }
}

/// Leptos's settings, from ours.
pub fn leptos_options(config: &Config) -> LeptosOptions {
    let env = if is_dev() { Env::DEV } else { Env::PROD };
    LeptosOptions::builder()
        .output_name(config.output_name.clone())
        .site_root(config.site_root.clone())
        .site_pkg_dir(config.site_pkg_dir.clone())
        .site_addr(config.listen)
        .reload_port(config.reload_port)
        .env(env)
        .build()
}

/// The page's routes, the server functions and the static files.
pub fn router(state: AppState) -> Router {
    let options = leptos_options(&state.config);
    let backend: SharedBackend = Arc::new(QueueBackend {
        state: state.clone(),
    });
    let context = {
        let backend = backend.clone();
        move || {
            provide_context(backend.clone());
            // The nonce the security headers named for this request (Leptos made one of its
            // own just before; the policy must name the one the page uses).
            if let Some(nonce) =
                use_context::<Parts>().and_then(|parts| parts.extensions.get::<Nonce>().cloned())
            {
                provide_context(nonce);
            }
        }
    };
    let server_fns = {
        let context = context.clone();
        move |request: Request<Body>| handle_server_fns_with_context(context.clone(), request)
    };
    let pkg = format!("{}/{}", options.site_root, options.site_pkg_dir);
    let routes = generate_route_list(app::App);
    Router::new()
        .route("/api/{*fn_name}", any(server_fns))
        .leptos_routes_with_context(&options, routes, context, {
            let options = options.clone();
            move || app::shell(options.clone())
        })
        .nest_service(
            "/pkg",
            ServeDir::new(pkg).precompressed_br().precompressed_gzip(),
        )
        .with_state(options)
}

/// The queue, as the server functions see it.
struct QueueBackend {
    state: AppState,
}

/// Logs the cause and gives the user a message that says nothing internal.
fn unavailable(cause: AppError) -> BackendError {
    error!(error = %error_chain(&cause), "page request failed: queue unavailable");
    BackendError("the queue is not reachable right now; try again shortly".to_string())
}

impl TaskBackend for QueueBackend {
    fn max_seconds(&self) -> u64 {
        self.state.config.max_seconds
    }

    fn enqueue(&self, seconds: u64) -> BoxFuture<'_, Result<String, BackendError>> {
        Box::pin(async move {
            let queue = self.state.queue().map_err(unavailable)?;
            queue
                .enqueue(TaskPayload { seconds }, None)
                .await
                .map_err(|e| unavailable(e.into()))
        })
    }

    fn statuses(
        &self,
        ids: Vec<JobId>,
    ) -> BoxFuture<'_, Result<Vec<Option<JobStatus>>, BackendError>> {
        Box::pin(async move {
            let queue = self.state.queue().map_err(unavailable)?;
            // One round trip each, all at once on the multiplexed connection.
            futures::future::try_join_all(ids.iter().map(|id| queue.status(id)))
                .await
                .map_err(|e| unavailable(e.into()))
        })
    }

    fn is_plain_form_post(&self) -> bool {
        use_context::<Parts>()
            .and_then(|parts| {
                parts
                    .headers
                    .get(ACCEPT)
                    .and_then(|v| v.to_str().ok())
                    .map(|accept| accept.contains("text/html"))
            })
            .unwrap_or(false)
    }

    fn redirect(&self, path: &str) {
        leptos_axum::redirect(path);
    }

    fn counts(&self) -> BoxFuture<'_, Result<JobCounts, BackendError>> {
        Box::pin(async move {
            let queue = self.state.queue().map_err(unavailable)?;
            queue.counts().await.map_err(|e| unavailable(e.into()))
        })
    }
}
