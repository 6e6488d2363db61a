//! What Sentinel does, whoever asks: one value, [`Sentinel`], that every edge (the HTTP API,
//! the page's and the dashboard's server functions, the sign-in page) calls. It owns the queue
//! handles, the dashboards' shared reads, the bulk runs, the other queues opened, the
//! processors, the alert rules, the audit log's coalescing, the rate limits and the memory
//! guard, all behind private fields. Its operations are methods grouped by concern, one file
//! each (`tasks.rs` for the people's side, `jobs.rs`, `queues.rs`, `schedulers.rs`,
//! `alerts/`, `audit.rs`, `sessions.rs`), and each one's first step is the policy check
//! ([`policy`]): the caller's role, the queue grant and the rate limit, written once. The
//! edges identify the caller, call one method and map its error.

pub mod alerts;
pub mod audit;
mod bulk;
pub mod enqueue;
pub mod health;
pub mod history;
pub mod jobs;
pub mod limits;
pub mod memory;
pub mod policy;
pub mod queues;
pub mod schedulers;
pub mod search;
pub mod sessions;
pub mod state;
pub mod tasks;

use std::sync::{Arc, OnceLock};

use tokio_util::sync::CancellationToken;

use crate::auth::Access;
use crate::config::Config;
use crate::error::AppError;
use crate::events::EventHub;
use crate::events::pulse::Pulse;
use crate::queue::TaskQueue;
use crate::worker::EmbeddedWorker;
use crate::worker::processors::Processors;
use alerts::loaded::Alerts;
use state::attached::Attached;
use state::coalescer::Coalescer;
use state::limiter::Limiter;
use state::memory::MemoryGuard;
use state::reads::Reads;
use state::runs::Runs;

pub use policy::Op;
pub use state::runs::Progress as BulkProgress;

/// The services built on a Redis connection; installed once, by the connector.
pub struct Services {
    /// The queue (every role uses it, if only for `/readyz`).
    pub queue: TaskQueue,
    /// The event hub (roles that serve the API).
    pub hub: Option<EventHub>,
    /// The embedded worker (roles that run one).
    pub worker: Option<EmbeddedWorker>,
}

/// What a [`Sentinel`] is made of: the settings and what the process shares with it.
pub struct Parts {
    /// The validated settings.
    pub config: Arc<Config>,
    /// Who may sign in, and as what.
    pub access: Arc<Access>,
    /// Fired when the process starts shutting down.
    pub shutdown: CancellationToken,
    /// What Sentinel's workers run, by job name.
    pub processors: Processors,
}

/// Sentinel's service API; cheap to clone (one shared value).
#[derive(Clone)]
pub struct Sentinel {
    inner: Arc<Inner>,
}

struct Inner {
    config: Arc<Config>,
    access: Arc<Access>,
    shutdown: CancellationToken,
    processors: Processors,
    pulse: Pulse,
    services: OnceLock<Services>,
    reads: Reads,
    bulk: Runs,
    attached: Attached,
    alerts: Alerts,
    limits: Limiter,
    memory: MemoryGuard,
    audit: Coalescer,
    throttle: crate::telemetry::LogThrottle,
}

impl Sentinel {
    /// A service with no Redis connection yet (see [`Sentinel::install`]).
    pub fn new(parts: Parts) -> Self {
        let Parts {
            config,
            access,
            shutdown,
            processors,
        } = parts;
        let limits = Limiter::new(&config.rates, &config.auth);
        let memory = MemoryGuard::new(&config.guards);
        let alerts = Alerts::new(config.alerts_file.clone());
        Self {
            inner: Arc::new(Inner {
                config,
                access,
                shutdown,
                processors,
                pulse: Pulse::default(),
                services: OnceLock::new(),
                reads: Reads::default(),
                bulk: Runs::default(),
                attached: Attached::default(),
                alerts,
                limits,
                memory,
                audit: Coalescer::default(),
                throttle: crate::telemetry::LogThrottle::default(),
            }),
        }
    }

    /// The settings it runs with.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Who may sign in, and as what.
    pub fn access(&self) -> &Access {
        &self.inner.access
    }

    /// Fired when the process starts shutting down.
    pub fn shutdown_token(&self) -> &CancellationToken {
        &self.inner.shutdown
    }

    /// Whether the queue answers right now (what event streams tell their clients).
    pub fn pulse(&self) -> &Pulse {
        &self.inner.pulse
    }

    /// What Sentinel's workers run, by job name.
    pub fn processors(&self) -> &Processors {
        &self.inner.processors
    }

    /// Installs the Redis-backed services; only the connector calls this, once.
    pub fn install(&self, services: Services) {
        if self.inner.services.set(services).is_err() {
            tracing::error!("services were installed twice; keeping the first");
        }
    }

    /// The Redis-backed services, once connected (for start-up, shutdown and health).
    pub fn services(&self) -> Option<&Services> {
        self.inner.services.get()
    }

    /// Whether Redis has been reached.
    pub fn is_connected(&self) -> bool {
        self.inner.services.get().is_some()
    }

    /// The embedded worker, where this process has one.
    pub fn worker(&self) -> Option<&EmbeddedWorker> {
        self.services().and_then(|s| s.worker.as_ref())
    }

    /// Sentinel's own queue, or 503 while Redis has not been reached. For this layer and the
    /// per-process loops; the edges ask through the operations.
    pub(crate) fn queue(&self) -> Result<&TaskQueue, AppError> {
        // While the pulse knows Redis does not answer, every operation is refused at once
        // rather than each waiting out its own timeout: a dashboard in an outage gets its 503
        // in a millisecond, and the server holds no pile of waiting requests.
        let queue = self.connected_queue()?;
        if let Some(since_ms) = self.inner.pulse.down_since() {
            return Err(AppError::QueueDown { since_ms });
        }
        Ok(queue)
    }

    /// The queue's connection whatever the pulse says (the pings that tell it), or 503.
    pub(crate) fn connected_queue(&self) -> Result<&TaskQueue, AppError> {
        self.services()
            .map(|s| &s.queue)
            .ok_or(AppError::NotConnected)
    }

    /// The event hub, or 503.
    fn hub(&self) -> Result<&EventHub, AppError> {
        self.services()
            .and_then(|s| s.hub.as_ref())
            .ok_or(AppError::NotConnected)
    }

    /// Reads the alert rules at start-up (a mistake stops the process, naming it).
    pub fn load_alerts(&self) -> Result<(), String> {
        self.inner.alerts.load()
    }

    /// Clears the dashboards' shared reads, so the author of an action sees its effect at
    /// once, whichever edge it came through.
    async fn forget_reads(&self) {
        self.inner.reads.clear().await;
    }
}
