//! What the HTTP edge holds: the service, the settings, the shutdown signal, the open event
//! streams and the process's metrics. Handlers that need less take a substate (`FromRef`):
//! most take only the [`Sentinel`].

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use tokio_util::sync::CancellationToken;

use crate::auth::{Access, Principal};
use crate::config::Config;
use crate::error::AppError;
use crate::events::slots::StreamSlots;
use crate::metrics::Metrics;
use crate::service::{Parts as ServiceParts, Sentinel};
use crate::worker::processors::Processors;

/// The edge's state; one reference count to clone (axum clones it for every request).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`AppState`] holds.
pub struct Shared {
    /// The service every route calls.
    pub sentinel: Sentinel,
    /// The validated settings.
    pub config: Arc<Config>,
    /// Fired when the process starts shutting down.
    pub shutdown: CancellationToken,
    /// Open event streams, for their caps.
    pub streams: Arc<StreamSlots>,
    /// The process's Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// Who may do what (the identification middleware).
    pub access: Arc<Access>,
}

impl AppState {
    /// State whose workers run the built-in processors.
    pub fn new(config: Arc<Config>, shutdown: CancellationToken, access: Access) -> Self {
        let processors = Processors::builtin(&config);
        Self::with_processors(config, shutdown, access, processors)
    }

    /// State whose workers run `processors` by job name.
    pub fn with_processors(
        config: Arc<Config>,
        shutdown: CancellationToken,
        mut access: Access,
        processors: Processors,
    ) -> Self {
        access.set_home(&config.prefix, &config.queue);
        let access = Arc::new(access);
        let metrics = Arc::new(Metrics::default());
        let sentinel = Sentinel::new(ServiceParts {
            config: config.clone(),
            access: access.clone(),
            shutdown: shutdown.clone(),
            processors,
        });
        Self(Arc::new(Shared {
            sentinel,
            config,
            shutdown,
            streams: Arc::new(StreamSlots::default()),
            metrics,
            access,
        }))
    }
}

impl FromRef<AppState> for Sentinel {
    fn from_ref(state: &AppState) -> Self {
        state.sentinel.clone()
    }
}

impl FromRef<AppState> for Arc<Config> {
    fn from_ref(state: &AppState) -> Self {
        state.config.clone()
    }
}

impl FromRef<AppState> for Arc<Access> {
    fn from_ref(state: &AppState) -> Self {
        state.access.clone()
    }
}

impl FromRef<AppState> for Arc<Metrics> {
    fn from_ref(state: &AppState) -> Self {
        state.metrics.clone()
    }
}

/// The caller of a route that needs someone: the principal the identification middleware
/// found, or `401` (the role is the service's to check).
pub struct Caller(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .map(Caller)
            .ok_or(AppError::Unauthorized)
    }
}
