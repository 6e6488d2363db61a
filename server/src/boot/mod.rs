//! Start-up and shutdown: [`run`] binds the listener, starts the connector (which builds the
//! Redis-backed services in order) and the per-process loops, serves until the shutdown signal,
//! then stops everything in the order written on [`run`].

pub mod audit;
pub mod connector;
pub mod memory;
pub mod ping;
pub mod revocations;
pub mod sweep;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::config::{self, Config};
use crate::http::state::AppState;
use crate::{auth, http};

/// What can stop the server from starting or running.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The settings are inconsistent.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// The access settings are unsafe or broken.
    #[error(transparent)]
    Access(#[from] auth::AccessError),
    /// The alerts file cannot be read or has a mistake.
    #[error("SENTINEL_ALERTS_FILE: {0}")]
    Alerts(String),
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
    let processors = crate::worker::processors::Processors::builtin(&config);
    run_with(config, processors, shutdown).await
}

/// [`run`] with the processors the workers run by job name (for a deployment that embeds the
/// server and adds its own to [`Processors::builtin`](crate::worker::processors::Processors)).
pub async fn run_with(
    config: Config,
    processors: crate::worker::processors::Processors,
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
    let state = AppState::with_processors(config.clone(), token.clone(), access, processors);
    state.sentinel.load_alerts().map_err(RunError::Alerts)?;

    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| RunError::Bind {
            addr: config.listen,
            source,
        })?;
    info!(addr = %config.listen, role = ?config.role, queue = %config.queue, prefix = %config.prefix, "listening");

    let connector = tokio::spawn(connector::connect(state.clone()));
    let sentinel = &state.sentinel;
    let mut loops = Vec::new();
    if config.role.serves_api() {
        loops.push(tokio::spawn(ping::run(sentinel.clone())));
        loops.push(tokio::spawn(memory::run(sentinel.clone())));
        loops.push(tokio::spawn(audit::run(sentinel.clone())));
        if config.alerts_file.is_some() {
            loops.push(tokio::spawn(sentinel.clone().run_alerts()));
        }
    }
    if config.role.serves_api() && state.access.enabled {
        loops.push(tokio::spawn(revocations::run(sentinel.clone())));
    }
    loops.push(tokio::spawn(sweep::run(sentinel.clone())));
    // Every role collects the history (one process at a time holds its lease).
    loops.push(tokio::spawn(sentinel.clone().run_history()));
    let signal_token = token.clone();
    tokio::spawn(async move {
        shutdown.await;
        info!("shutdown requested");
        signal_token.cancel();
    });

    let grace = config.shutdown_grace();
    // Requests still open when the token fires get the worker's grace to finish (event
    // streams end at once); then what is left is closed.
    let serving = http::serve::serve(
        listener,
        http::app(state.clone()),
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
        if let Some(worker) = worker_state.sentinel.worker() {
            let handed_back = worker.shutdown(grace).await;
            info!(handed_back, "worker stopped");
        }
    };
    tokio::join!(serving, worker_shutdown);
    // The loops end on the same token; the audit loop writes its last coalesced counts first.
    for handle in loops {
        let _ = handle.await;
    }
    if let Some(services) = state.sentinel.services() {
        services.queue.close().await;
    }
    info!("stopped");
    Ok(())
}
