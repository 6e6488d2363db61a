//! What open dashboards read every second, read at most once per [`FRESH_FOR`] per process and
//! shared: the overview (counts, paused, workers, the last hour) and each page of jobs being
//! looked at (dashboards on the same view share one read). Twenty dashboards cost Redis about
//! what one does. Concurrent readers of the overview wait for the one read in flight instead of
//! starting their own. An action taken through this process clears both, so its author sees
//! its effect at once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use std::collections::HashMap;

use app::admin::{JobPage, JobQuery, Overview};
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
    /// Forgets what is held (after an action).
    pub async fn clear(&self) {
        *self.slot.lock().await = None;
    }

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

/// Pages of jobs most recently read for dashboards, by what was asked.
#[derive(Debug, Default)]
pub struct PageCache {
    pages: Mutex<HashMap<JobQuery, (Instant, JobPage)>>,
}

/// Pages held at most (the oldest go first).
const MAX_PAGES: usize = 64;

impl PageCache {
    /// The page for `asked`, read again if the one held is older than [`FRESH_FOR`].
    pub async fn get(
        &self,
        state: &AppState,
        asked: &JobQuery,
    ) -> Result<JobPage, crate::error::AppError> {
        // Held across the read: dashboards woken by the same event ask at the same moment,
        // and one read serves them all.
        let mut pages = self.pages.lock().await;
        if let Some((at, page)) = pages.get(asked)
            && at.elapsed() < FRESH_FOR
        {
            return Ok(page.clone());
        }
        let page = super::find(state, asked).await?;
        pages.retain(|_, (at, _)| at.elapsed() < FRESH_FOR);
        if pages.len() >= MAX_PAGES
            && let Some(oldest) = pages
                .iter()
                .min_by_key(|(_, (at, _))| *at)
                .map(|(k, _)| k.clone())
        {
            pages.remove(&oldest);
        }
        pages.insert(asked.clone(), (Instant::now(), page.clone()));
        Ok(page)
    }

    /// Forgets every page (after an action).
    pub async fn clear(&self) {
        self.pages.lock().await.clear();
    }
}
