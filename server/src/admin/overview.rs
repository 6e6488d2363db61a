//! What open dashboards read every second, read at most once per [`FRESH_FOR`] per process and
//! shared: the overview (counts, paused, workers, the last hour), each page of jobs being
//! looked at and each job page. Dashboards on the same view share one read, and concurrent
//! readers wait for the read in flight instead of starting their own: twenty dashboards cost
//! Redis about what one does. An action taken through this process clears them all, so its
//! author sees its effect at once.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::time::{Duration, Instant};

use app::JobId;
use app::admin::{JobDetail, JobPage, JobQuery, Overview};
use tokio::sync::Mutex;

use crate::engine::{CALL_TIMEOUT, EngineError, bounded};
use crate::state::AppState;

/// How long a read is served as it is.
pub const FRESH_FOR: Duration = Duration::from_secs(1);

/// The overview (one per process).
pub type OverviewCache = SharedReads<(), Overview>;

/// Reads the overview: counts, paused, workers, the last hour.
pub async fn read(state: &AppState) -> Result<Overview, crate::error::AppError> {
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

/// Reads most recently made for dashboards, by what was asked: the overview
/// ([`OverviewCache`]), pages of jobs ([`PageCache`]) and job pages ([`DetailCache`]).
#[derive(Debug)]
pub struct SharedReads<K, V> {
    held: Mutex<HashMap<K, (Instant, V)>>,
}

impl<K, V> Default for SharedReads<K, V> {
    fn default() -> Self {
        Self {
            held: Mutex::new(HashMap::new()),
        }
    }
}

/// Pages of jobs, by what was asked.
pub type PageCache = SharedReads<JobQuery, JobPage>;
/// Jobs in full (with their events), by id.
pub type DetailCache = SharedReads<JobId, Option<JobDetail>>;

/// Reads held at most per cache (the oldest go first).
const MAX_HELD: usize = 64;

impl<K: Eq + Hash + Clone, V: Clone> SharedReads<K, V> {
    /// What `read` answers for `asked`, read again if the answer held is older than
    /// [`FRESH_FOR`].
    pub async fn get<F>(&self, asked: &K, read: F) -> Result<V, crate::error::AppError>
    where
        F: Future<Output = Result<V, crate::error::AppError>>,
    {
        // Held across the read: dashboards woken by the same event ask at the same moment,
        // and one read serves them all.
        let mut held = self.held.lock().await;
        if let Some((at, value)) = held.get(asked)
            && at.elapsed() < FRESH_FOR
        {
            return Ok(value.clone());
        }
        let value = read.await?;
        held.retain(|_, (at, _)| at.elapsed() < FRESH_FOR);
        if held.len() >= MAX_HELD
            && let Some(oldest) = held
                .iter()
                .min_by_key(|(_, (at, _))| *at)
                .map(|(k, _)| k.clone())
        {
            held.remove(&oldest);
        }
        held.insert(asked.clone(), (Instant::now(), value.clone()));
        Ok(value)
    }

    /// Forgets everything held (after an action).
    pub async fn clear(&self) {
        self.held.lock().await.clear();
    }
}
