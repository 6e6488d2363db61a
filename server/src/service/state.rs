//! What every handler can reach: the settings, the shutdown signal, and the services that exist
//! once Redis has been reached.

use std::sync::{Arc, OnceLock};

use tokio_util::sync::CancellationToken;

use crate::auth::Access;
use crate::config::Config;
use crate::error::AppError;
use crate::events::EventHub;
use crate::events::pulse::Pulse;
use crate::events::slots::StreamSlots;
use crate::queue::TaskQueue;
use crate::worker::EmbeddedWorker;

/// The services built on a Redis connection; set once, by the connector.
pub struct Services {
    /// The queue (every role uses it, if only for `/readyz`).
    pub queue: TaskQueue,
    /// The event hub (roles that serve the API).
    pub hub: Option<EventHub>,
    /// The embedded worker (roles that run one).
    pub worker: Option<EmbeddedWorker>,
}

/// Shared handler state; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The validated settings.
    pub config: Arc<Config>,
    /// Fired when the process starts shutting down.
    pub shutdown: CancellationToken,
    /// Open event streams, for their caps.
    pub streams: Arc<StreamSlots>,
    /// Who may do what.
    pub access: Arc<Access>,
    /// Whether the queue answers right now.
    pub pulse: Arc<Pulse>,
    /// The process's Prometheus metrics.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Bulk admin runs this process started.
    pub bulk: Arc<crate::service::bulk::Runs>,
    /// The dashboard's overview, shared by every open dashboard.
    pub overview: Arc<crate::service::reads::OverviewCache>,
    /// Pages of jobs dashboards look at, shared by the dashboards on the same view.
    pub pages: Arc<crate::service::reads::PageCache>,
    /// Job pages dashboards look at, shared by the dashboards on the same job.
    pub details: Arc<crate::service::reads::DetailCache>,
    /// The queues found on the Redis, shared by every dashboard.
    pub queues: Arc<crate::service::reads::QueuesCache>,
    /// The queues' summaries last read, for reading only what changed.
    pub summaries: Arc<crate::service::reads::Summaries>,
    /// The last scan for queues.
    pub discovered: Arc<crate::service::reads::DiscoveredCache>,
    /// Other queues on the Redis opened for operators' calls.
    pub attached: Arc<crate::service::queues::Attached>,
    /// What Sentinel's workers run, by job name (the embedded worker's, and what "why isn't
    /// this job running" checks a job's name against).
    pub processors: crate::worker::processors::Processors,
    /// The alert rules (`SENTINEL_ALERTS_FILE`) and the state only this process keeps.
    pub alerts: Arc<crate::service::alerts::Alerts>,
    services: Arc<OnceLock<Services>>,
}

impl AppState {
    /// State with no services yet.
    pub fn new(config: Arc<Config>, shutdown: CancellationToken, mut access: Access) -> Self {
        access.set_home(&config.prefix, &config.queue);
        let processors = crate::worker::processors::Processors::builtin(&config);
        let alerts = Arc::new(crate::service::alerts::Alerts::new(
            config.alerts_file.clone(),
        ));
        Self {
            config,
            shutdown,
            access: Arc::new(access),
            streams: Arc::new(StreamSlots::default()),
            pulse: Arc::new(Pulse::default()),
            metrics: Arc::new(crate::metrics::Metrics::default()),
            bulk: Arc::new(crate::service::bulk::Runs::default()),
            overview: Arc::new(crate::service::reads::OverviewCache::default()),
            pages: Arc::new(crate::service::reads::PageCache::default()),
            details: Arc::new(crate::service::reads::DetailCache::default()),
            queues: Arc::new(crate::service::reads::QueuesCache::default()),
            discovered: Arc::new(crate::service::reads::DiscoveredCache::default()),
            summaries: Arc::new(crate::service::reads::Summaries::default()),
            attached: Arc::new(crate::service::queues::Attached::default()),
            processors,
            alerts,
            services: Arc::new(OnceLock::new()),
        }
    }

    /// The services, once connected.
    pub fn services(&self) -> Option<&Services> {
        self.services.get()
    }

    /// Installs the services; only the connector calls this, once.
    pub fn set_services(&self, services: Services) {
        if self.services.set(services).is_err() {
            tracing::error!("services were installed twice; keeping the first");
        }
    }

    /// The queue, or 503 while Redis has not been reached.
    pub fn queue(&self) -> Result<&TaskQueue, AppError> {
        self.services()
            .map(|s| &s.queue)
            .ok_or(AppError::NotConnected)
    }

    /// The event hub, or 503.
    pub fn hub(&self) -> Result<&EventHub, AppError> {
        self.services()
            .and_then(|s| s.hub.as_ref())
            .ok_or(AppError::NotConnected)
    }
}
