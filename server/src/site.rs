//! The web page: Leptos server rendering of `app`'s components, the server functions they call,
//! and the built WASM/JS/CSS under `/pkg`. The server functions reach the queue through
//! [`QueueBackend`], provided to them as context.

use std::sync::Arc;

use app::backend::{BackendError, BoxFuture, SharedBackend, TaskBackend};
use app::{JobCounts, JobId, JobStatus};
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

use crate::auth::{Principal, Role, require};
use crate::config::Config;
use crate::error::AppError;
use crate::state::AppState;
use crate::telemetry::error_chain;

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

/// The user's words for a failure: what was wrong for a refusal (sign in, role, quota), one
/// neutral sentence for a failure of ours (the cause is logged).
fn refusal(cause: AppError) -> BackendError {
    match cause {
        AppError::NotConnected | AppError::Engine(_) | AppError::Events(_) => {
            error!(error = %error_chain(&cause), "page request failed: queue unavailable");
            BackendError("the queue is not reachable right now; try again shortly".to_string())
        }
        other => BackendError(other.to_string()),
    }
}

impl QueueBackend {
    /// Who the page request being served is for.
    fn principal(&self) -> Option<Principal> {
        use_context::<Parts>().and_then(|parts| parts.extensions.get::<Principal>().cloned())
    }

    fn require(&self, role: Role) -> Result<Principal, BackendError> {
        let principal = self.principal();
        require(principal.as_ref(), role).cloned().map_err(refusal)
    }
}

impl TaskBackend for QueueBackend {
    fn max_seconds(&self) -> u64 {
        self.state.config.max_seconds
    }

    fn viewer(&self) -> app::backend::Viewer {
        let principal = self.principal();
        app::backend::Viewer {
            auth: self.state.access.enabled,
            who: principal.as_ref().map(|p| p.owner.to_string()),
            role: principal.as_ref().map(|p| p.role.as_str().to_string()),
            can_see_counts: principal.as_ref().is_some_and(|p| p.role >= Role::Viewer),
        }
    }

    fn enqueue(&self, seconds: u64) -> BoxFuture<'_, Result<String, BackendError>> {
        Box::pin(async move {
            let principal = self.principal();
            let principal = crate::auth::require_enqueue(principal.as_ref())
                .cloned()
                .map_err(refusal)?;
            crate::routes::enqueue_as(&self.state, &principal, seconds, None)
                .await
                .map_err(refusal)
        })
    }

    fn statuses(
        &self,
        ids: Vec<JobId>,
    ) -> BoxFuture<'_, Result<Vec<Option<JobStatus>>, BackendError>> {
        Box::pin(async move {
            let principal = self.require(Role::Submitter)?;
            let queue = self.state.queue().map_err(refusal)?;
            // One round trip each, all at once on the multiplexed connection.
            let found = futures::future::try_join_all(ids.iter().map(|id| queue.status(id)))
                .await
                .map_err(|e| refusal(e.into()))?;
            // Another owner's job reads as gone, as over the HTTP API.
            Ok(found
                .into_iter()
                .map(|f| {
                    f.filter(|f| crate::routes::may_see(&principal, f.owner.as_deref()))
                        .map(|f| f.status)
                })
                .collect())
        })
    }

    fn my_tasks(&self) -> BoxFuture<'_, Result<Vec<String>, BackendError>> {
        Box::pin(async move {
            let principal = self.require(Role::Submitter)?;
            if !self.state.access.enabled {
                return Ok(Vec::new());
            }
            let queue = self.state.queue().map_err(refusal)?;
            queue
                .owned_ids(&principal.owner, app::api::MAX_IDS_PER_CALL)
                .await
                .map_err(|e| refusal(e.into()))
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

    fn counts(&self) -> BoxFuture<'_, Result<Option<JobCounts>, BackendError>> {
        Box::pin(async move {
            let principal = self.require(Role::Submitter)?;
            if principal.role < Role::Viewer {
                return Ok(None);
            }
            let queue = self.state.queue().map_err(refusal)?;
            queue
                .counts()
                .await
                .map(Some)
                .map_err(|e| refusal(e.into()))
        })
    }
}
