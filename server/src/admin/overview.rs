//! The dashboard's overview (counts, paused, workers, the last hour), read at most once per
//! [`FRESH_FOR`] per process and shared by every open dashboard: twenty dashboards cost Redis
//! what one does. Concurrent readers wait for the one read in flight instead of starting their
//! own.

use std::sync::Arc;
use std::time::{Duration, Instant};

use app::admin::Overview;
use tokio::sync::Mutex;

use crate::engine::{CALL_TIMEOUT, EngineError, bounded};
use crate::state::AppState;

/// How long a read overview is served as it is.
pub const FRESH_FOR: Duration = Duration::from_secs(1);

/// The last overview read, and when.
#[derive(Debug, Default)]
pub struct OverviewCache {
    slot: Mutex<Option<(Instant, Arc<Overview>)>>,
}

impl OverviewCache {
    /// The overview, read again if the one held is older than [`FRESH_FOR`].
    pub async fn get(&self, state: &AppState) -> Result<Arc<Overview>, crate::error::AppError> {
        let mut slot = self.slot.lock().await;
        if let Some((at, overview)) = slot.as_ref()
            && at.elapsed() < FRESH_FOR
        {
            return Ok(overview.clone());
        }
        let overview = Arc::new(read(state).await?);
        *slot = Some((Instant::now(), overview.clone()));
        Ok(overview)
    }
}

async fn read(state: &AppState) -> Result<Overview, crate::error::AppError> {
    let queue = state.queue()?;
    let config = &state.config;
    let (counts, paused, workers, metrics) = tokio::try_join!(
        queue.counts(),
        async { bounded(CALL_TIMEOUT, queue.engine().is_paused()).await },
        super::inspect::workers(queue, &config.prefix, &config.queue),
        super::inspect::metrics(queue, &config.prefix, &config.queue, 60),
    )
    .map_err(|e: EngineError| crate::error::AppError::from(e))?;
    Ok(Overview {
        counts,
        paused,
        workers: workers.workers,
        minutes: metrics.minutes,
        at: crate::clock::now_ms(),
    })
}
