//! What open dashboards read every second, read at most once per [`FRESH_FOR`] per process and
//! shared: the overview (counts, paused, workers, the last hour), each page of jobs being
//! looked at and each job page. Dashboards on the same view share one read, and concurrent
//! readers wait for the read in flight instead of starting their own: twenty dashboards cost
//! Redis about what one does. An action taken through this process clears them all, so its
//! author sees its effect at once.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;
use std::time::{Duration, Instant};

use app::JobId;
use app::admin::{JobDetail, JobPage, JobQuery, Overview};
use tokio::sync::Mutex;

use crate::queue::EngineError;
use crate::queue::discovery::FoundQueue;

/// How long a read is served as it is.
pub const FRESH_FOR: Duration = Duration::from_secs(1);

/// The overview, by queue (`<prefix>:<name>`).
pub type OverviewCache = SharedReads<String, Overview>;

/// Every read the dashboards share, and what a page of queues last read.
#[derive(Default)]
pub struct Reads {
    /// The overview of each queue looked at.
    pub overview: OverviewCache,
    /// Pages of jobs dashboards look at.
    pub pages: PageCache,
    /// Job pages dashboards look at.
    pub details: DetailCache,
    /// Pages of the queues found on the Redis.
    pub queues: QueuesCache,
    /// The queues' summaries last read, for reading only what changed.
    pub summaries: Summaries,
    /// The last scan for queues.
    pub discovered: DiscoveredCache,
}

impl Reads {
    /// Forgets everything but the last scan (after an action: its author sees its effect).
    pub async fn clear(&self) {
        self.overview.clear().await;
        self.queues.clear().await;
        self.summaries.clear();
        self.pages.clear().await;
        self.details.clear().await;
    }
}

/// Reads a queue's overview: counts, paused, workers, the last hour.
pub async fn overview(queue: &crate::queue::TaskQueue) -> Result<Overview, crate::error::AppError> {
    let (counts, paused, workers, metrics) = tokio::try_join!(
        queue.counts(),
        crate::queue::inspect::is_paused(queue),
        crate::queue::inspect::workers(queue),
        crate::queue::inspect::metrics(queue, 60),
    )
    .map_err(|e: EngineError| crate::error::AppError::from(e))?;
    Ok(Overview {
        counts,
        paused,
        workers: workers.workers,
        minutes: metrics.minutes,
        at: crate::clock::now_ms(),
        memory: None,
    })
}

/// Reads most recently made for dashboards, by what was asked: the overview
/// ([`OverviewCache`]), pages of jobs ([`PageCache`]) and job pages ([`DetailCache`]).
///
/// One read at a time per thing asked (single flight): dashboards asking the same thing at
/// the same moment wait for the read in flight and share it. Nothing is held across a read
/// but that one thing's own slot, so a slow read (a heavy search) delays only those asking the
/// same, never the other dashboards.
#[derive(Debug)]
pub struct SharedReads<K, V> {
    slots: std::sync::Mutex<HashMap<K, Arc<Slot<V>>>>,
}

/// One thing asked: its last read and when it was made; locked while it is read again.
type Slot<V> = Mutex<Option<(Instant, V)>>;

impl<K, V> Default for SharedReads<K, V> {
    fn default() -> Self {
        Self {
            slots: std::sync::Mutex::new(HashMap::new()),
        }
    }
}

/// Pages of the queues found on the Redis with their counts, by the page's queues.
pub type QueuesCache = SharedReads<Vec<FoundQueue>, Vec<app::admin::QueueSummary>>;

/// How long a queue's summary is used while its events do not move: what finished in the last
/// hour changes with the clock alone.
pub const SUMMARY_READ_EVERY: Duration = Duration::from_secs(60);

/// Most queues whose summaries are held (past it, they are all read again).
const MAX_SUMMARIES: usize = crate::queue::discovery::MAX_QUEUES;

/// The queues' summaries last read, each with its queue's last event then: a page of queues
/// costs one command per queue (its last event) plus one `CLIENT LIST`, and the full read
/// (13 commands, and one more for the oldest waiting job) only for the queues whose events
/// moved or whose summary is older than [`SUMMARY_READ_EVERY`]. Also the queues the last scan
/// found, so the next scan checks only new ones.
#[derive(Default)]
pub struct Summaries {
    held: std::sync::Mutex<HashMap<FoundQueue, Held>>,
    known: std::sync::Mutex<Arc<HashSet<FoundQueue>>>,
}

/// One queue's summary, its last event when it was read, and when.
struct Held {
    last_event: Option<String>,
    read_at: Instant,
    summary: app::admin::QueueSummary,
}

impl Summaries {
    /// The queues the last scan found.
    pub fn known(&self) -> Arc<HashSet<FoundQueue>> {
        self.known.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Notes what a scan found.
    pub fn set_known(&self, found: &[FoundQueue]) {
        *self.known.lock().unwrap_or_else(|e| e.into_inner()) =
            Arc::new(found.iter().cloned().collect());
    }

    /// The summaries of `page`, read as the type says.
    pub async fn read(
        &self,
        queue: &crate::queue::TaskQueue,
        page: &[FoundQueue],
        cluster_seeds: &[String],
    ) -> Result<Vec<app::admin::QueueSummary>, crate::error::AppError> {
        use crate::queue::discovery;
        let cluster = !cluster_seeds.is_empty();
        // Read before the summaries: an event in between makes the next read see a change.
        let marks = discovery::last_events(queue, page, cluster).await?;
        let stale: Vec<FoundQueue> = {
            let held = self.held.lock().unwrap_or_else(|e| e.into_inner());
            page.iter()
                .zip(&marks)
                .filter(|(q, mark)| {
                    held.get(*q).is_none_or(|h| {
                        h.last_event != **mark || h.read_at.elapsed() >= SUMMARY_READ_EVERY
                    })
                })
                .map(|(q, _)| q.clone())
                .collect()
        };
        let (fresh, workers) = tokio::join!(
            discovery::summaries(queue, &stale, cluster),
            discovery::workers_by_queue(queue, page, cluster_seeds)
        );
        let fresh = fresh?;
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        if held.len() + fresh.len() > MAX_SUMMARIES {
            held.clear();
        }
        let now = Instant::now();
        for (q, summary) in stale.iter().zip(fresh.iter()) {
            let at = page.iter().position(|p| p == q).unwrap_or(0);
            held.insert(
                q.clone(),
                Held {
                    last_event: marks.get(at).cloned().flatten(),
                    read_at: now,
                    summary: summary.clone(),
                },
            );
        }
        let fresh: HashMap<&FoundQueue, &app::admin::QueueSummary> =
            stale.iter().zip(fresh.iter()).collect();
        Ok(page
            .iter()
            .zip(workers)
            .filter_map(|(q, workers)| {
                let summary = fresh
                    .get(q)
                    .map(|s| (*s).clone())
                    .or_else(|| held.get(q).map(|h| h.summary.clone()))?;
                Some(app::admin::QueueSummary { workers, ..summary })
            })
            .collect())
    }

    /// Forgets every summary (after an action: its author sees its effect).
    pub fn clear(&self) {
        self.held.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}
/// The queues found by the last scan (one per process).
pub type DiscoveredCache = SharedReads<(), crate::queue::discovery::Found>;

/// Pages of jobs, by what was asked.
pub type PageCache = SharedReads<JobQuery, JobPage>;
/// Jobs in full (with their events), by queue (`<prefix>:<name>`) and id.
pub type DetailCache = SharedReads<(String, JobId), Option<JobDetail>>;

/// Reads held at most per cache (the oldest go first).
const MAX_HELD: usize = 64;

impl<K: Eq + Hash + Clone, V: Clone> SharedReads<K, V> {
    /// What `read` answers for `asked`, read again if the answer held is older than
    /// [`FRESH_FOR`].
    pub async fn get<F>(&self, asked: &K, read: F) -> Result<V, crate::error::AppError>
    where
        F: Future<Output = Result<V, crate::error::AppError>>,
    {
        self.get_within(asked, FRESH_FOR, read).await
    }

    /// What `read` answers for `asked`, read again if the answer held is older than `fresh_for`.
    pub async fn get_within<F>(
        &self,
        asked: &K,
        fresh_for: Duration,
        read: F,
    ) -> Result<V, crate::error::AppError>
    where
        F: Future<Output = Result<V, crate::error::AppError>>,
    {
        let slot = self.slot(asked);
        // Held across the read of this one thing only: dashboards woken by the same event ask
        // at the same moment, and one read serves them all.
        let mut held = slot.lock().await;
        if let Some((at, value)) = held.as_ref()
            && at.elapsed() < fresh_for
        {
            return Ok(value.clone());
        }
        let value = read.await?;
        *held = Some((Instant::now(), value.clone()));
        Ok(value)
    }

    /// The slot of `asked`, made if new. The map's lock is never held across an await; slots
    /// nobody is reading and whose value is stale are dropped when the map is full.
    fn slot(&self, asked: &K) -> Arc<Slot<V>> {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(slot) = slots.get(asked) {
            return slot.clone();
        }
        if slots.len() >= MAX_HELD {
            slots.retain(|_, slot| {
                Arc::strong_count(slot) > 1
                    || slot
                        .try_lock()
                        .map(|held| {
                            held.as_ref()
                                .is_some_and(|(at, _)| at.elapsed() < FRESH_FOR)
                        })
                        .unwrap_or(true)
            });
        }
        let slot = Arc::new(Mutex::new(None));
        // Still full of things being read: this one is read without sharing.
        if slots.len() < MAX_HELD {
            slots.insert(asked.clone(), slot.clone());
        }
        slot
    }

    /// Forgets everything held (after an action).
    pub async fn clear(&self) {
        let slots: Vec<Arc<Slot<V>>> = {
            let mut map = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            map.drain().map(|(_, slot)| slot).collect()
        };
        // A read in flight finishes into a slot nobody finds any more.
        for slot in slots {
            if let Ok(mut held) = slot.try_lock() {
                *held = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A slow read of one thing does not hold up a read of another, and concurrent asks of the
    /// same thing share one read.
    #[tokio::test(start_paused = true)]
    async fn one_slow_read_stalls_only_its_own_askers() {
        let reads: SharedReads<u32, u32> = SharedReads::default();
        let count = std::sync::atomic::AtomicU32::new(0);
        let slow = |n: u32| {
            let count = &count;
            async move {
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                tokio::time::sleep(Duration::from_secs(10)).await;
                Ok(n)
            }
        };
        let started = tokio::time::Instant::now();
        let (a, b, c) = tokio::join!(reads.get(&1, slow(1)), reads.get(&1, slow(100)), async {
            let answer = reads.get(&2, async { Ok(2) }).await;
            (answer.ok(), started.elapsed())
        },);
        assert_eq!((a.ok(), b.ok()), (Some(1), Some(1)), "one read shared");
        assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert_eq!(c.0, Some(2));
        assert!(
            c.1 < Duration::from_secs(1),
            "waited {:?} behind a slow read",
            c.1
        );
    }
}
