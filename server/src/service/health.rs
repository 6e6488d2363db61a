//! What the process reports of itself: readiness (`/readyz`) and the figures `/metrics` is
//! made of.

use std::time::Duration;

use app::admin::{QueueSummary, RedisMemory};

use super::{Op, Sentinel};
use crate::auth::Principal;
use crate::error::AppError;

/// Whether this process can do its job, and why not.
#[derive(Debug, Clone)]
pub struct Readiness {
    /// Whether it is ready.
    pub ready: bool,
    /// Whether Redis answers.
    pub redis: bool,
    /// Redis's `maxmemory-policy`, when it could be read.
    pub eviction_policy: Option<String>,
    /// A queue key of the wrong type.
    pub broken_key: Option<String>,
    /// Whether the worker runs, where this role has one.
    pub worker: Option<bool>,
    /// Jobs the worker runs now.
    pub active_jobs: Option<usize>,
    /// Redis's memory as the guard last read it.
    pub memory: Option<RedisMemory>,
    /// Why it is not ready.
    pub reason: Option<String>,
    /// What is wrong without making it unready (new jobs refused for memory).
    pub warning: Option<String>,
}

/// What `/metrics` shows besides the process's own counters.
pub struct Scrape {
    /// Jobs per state of Sentinel's own queue (none while Redis is away).
    pub counts: Option<app::JobCounts>,
    /// Jobs the embedded worker runs now.
    pub busy: usize,
    /// Every queue the caller may see, the busiest first.
    pub queues: Vec<QueueSummary>,
}

impl Sentinel {
    /// Readiness: Redis answers, its eviction policy is `noeviction`, every queue key has the
    /// type BullMQ relies on, and the worker runs where this role has one. A Redis past the
    /// memory guard's limit leaves the process ready (it still serves reads and runs jobs)
    /// with a warning saying new jobs are refused.
    pub async fn readiness(&self) -> Readiness {
        let worker = self.worker().map(|w| w.is_running());
        let active_jobs = self.worker().map(|w| w.active_jobs());
        // Its own ping, whatever the pulse says (probes see the truth of this moment).
        let Ok(queue) = self.connected_queue() else {
            return Readiness {
                ready: false,
                redis: false,
                eviction_policy: None,
                broken_key: None,
                worker,
                active_jobs,
                memory: None,
                reason: Some("not connected to Redis yet".to_string()),
                warning: None,
            };
        };
        let redis = queue.ping(Duration::from_millis(1000)).await;
        // A Redis that refuses CONFIG (managed services rename it) is taken on trust.
        let policy = if redis {
            queue.eviction_policy().await.ok()
        } else {
            None
        };
        let evicts = policy
            .as_deref()
            .is_some_and(|p| !p.is_empty() && p != "noeviction");
        let mistyped = if redis {
            queue.mistyped_key().await.ok().flatten()
        } else {
            None
        };
        let memory = if redis {
            let _ = self.read_memory().await;
            self.redis_memory()
        } else {
            None
        };
        let shutting_down = self.shutdown_token().is_cancelled();
        let ready =
            redis && !evicts && mistyped.is_none() && worker.unwrap_or(true) && !shutting_down;
        let reason = if shutting_down {
            Some("shutting down".to_string())
        } else if !redis {
            Some("Redis does not answer".to_string())
        } else if let Some((key, found, wanted)) = &mistyped {
            Some(format!(
                "Redis key {key} is a {found}, not a {}: the queue cannot work until it is repaired",
                wanted.redis_name()
            ))
        } else if evicts {
            Some(format!(
                "Redis maxmemory-policy is {}; BullMQ needs noeviction (jobs could be evicted)",
                policy.as_deref().unwrap_or_default()
            ))
        } else if worker == Some(false) {
            Some("the worker is not running".to_string())
        } else {
            None
        };
        let warning = memory.filter(|m| m.full).map(|m| {
            format!(
                "Redis memory is past the guard's limit ({} of {} bytes): new jobs are refused until jobs finish or are cleaned",
                m.used,
                m.limit.unwrap_or(m.max)
            )
        });
        Readiness {
            ready,
            redis,
            eviction_policy: policy,
            broken_key: mistyped.map(|(key, _, _)| key),
            worker,
            active_jobs,
            memory,
            reason,
            warning,
        }
    }

    /// The figures of a scrape of `/metrics` by `who` (`None`: open to anyone, who then sees
    /// every queue). Queues as the dashboards' shared read has them; none while Redis is away.
    pub async fn scrape(&self, who: Option<&Principal>) -> Result<Scrape, AppError> {
        let everyone = Principal::open();
        let caller = match who {
            Some(who) => {
                self.allow(who, Op::Scrape).await?;
                who
            }
            None => &everyone,
        };
        let busy = self.worker().map_or(0, |w| w.active_jobs());
        let Ok(queue) = self.queue() else {
            return Ok(Scrape {
                counts: None,
                busy,
                queues: Vec::new(),
            });
        };
        let counts = queue.counts().await.ok();
        let mut queues = self.every_queue(caller).await.unwrap_or_default();
        // The busiest first: the ones labelled one by one when there are more than
        // SENTINEL_METRICS_MAX_QUEUES.
        queues.sort_by_key(|q| {
            let c = &q.counts;
            std::cmp::Reverse(c.waiting + c.active + c.delayed + c.prioritized + c.failed)
        });
        Ok(Scrape {
            counts,
            busy,
            queues,
        })
    }
}
