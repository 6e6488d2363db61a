//! One rule's condition, read from what Redis holds now: whether it holds, and what it saw in
//! words (the message says it).

use crate::auth::Access;
use crate::error::AppError;
use crate::queue::alerts as store;
use crate::queue::discovery::{self, FoundQueue};

use super::super::Sentinel;
use super::rules::{Condition, Rule};

/// What one check found.
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    /// Whether the condition holds.
    pub holds: bool,
    /// What was seen, in words.
    pub detail: String,
    /// The job it is about, if one (a stuck or stalled job).
    pub job: Option<String>,
}

fn seen(holds: bool, detail: impl Into<String>) -> Seen {
    Seen {
        holds,
        detail: detail.into(),
        job: None,
    }
}

fn seen_job(holds: bool, detail: impl Into<String>, job: &str) -> Seen {
    Seen {
        job: Some(job.to_string()),
        ..seen(holds, detail)
    }
}

/// Bytes in words (KB, MB, GB).
fn bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.1} GB", n as f64 / (1u64 << 30) as f64),
        n if n >= 1 << 20 => format!("{:.1} MB", n as f64 / (1u64 << 20) as f64),
        n => format!("{:.0} KB", n as f64 / 1024.0),
    }
}

/// Seconds in words, to one decimal below a minute.
fn secs(ms: u64) -> String {
    if ms < 60_000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else {
        format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1000)
    }
}

impl Sentinel {
    /// Checks `rule` now (`now`: ms). A queue that does not exist (yet) is a condition that does not
    /// hold, said in the detail; a Redis error is the caller's (the check is skipped).
    pub async fn check_rule(&self, rule: &Rule, now: u64) -> Result<Seen, AppError> {
        let state = self;
        let home = state.queue()?;
        if let Condition::RedisMemory { percent } = rule.condition {
            let reading = self.read_memory().await?;
            let limit = self.inner.memory.limit(reading);
            return Ok(match limit {
                None => seen(
                    false,
                    format!(
                        "Redis uses {}; it has no maxmemory and SENTINEL_REDIS_MEMORY_LIMIT is not set",
                        bytes(reading.used)
                    ),
                ),
                Some(limit) => {
                    let share = reading.used as f64 * 100.0 / limit.max(1) as f64;
                    let refused = if reading.used >= limit {
                        "; new jobs are refused"
                    } else {
                        ""
                    };
                    seen(
                        share >= percent,
                        format!(
                            "Redis uses {} of the {} the guard allows ({share:.0} %){refused}",
                            bytes(reading.used),
                            bytes(limit)
                        ),
                    )
                }
            });
        }
        if rule.condition == Condition::Redis {
            let policy = home.eviction_policy().await?;
            return Ok(if policy == "noeviction" || policy.is_empty() {
                seen(false, "Redis answers; its maxmemory-policy is noeviction")
            } else {
                seen(
                    true,
                    format!(
                        "Redis's maxmemory-policy is {policy}, not noeviction: it may evict jobs"
                    ),
                )
            });
        }
        let named = self.rule_queue(rule);
        let system = Access::system();
        let queue = match self.target(&system, Some(&named)).await {
            Ok(queue) => queue,
            Err(AppError::NoQueue { .. }) => {
                return Ok(seen(
                    false,
                    format!("no BullMQ queue {named} on this Redis"),
                ));
            }
            Err(error) => return Err(error),
        };
        let window_ms = u64::try_from(rule.window.as_millis()).unwrap_or(u64::MAX);
        let found = FoundQueue {
            prefix: queue.keys().prefix().to_string(),
            name: queue.keys().queue().to_string(),
        };
        Ok(match rule.condition {
            Condition::Redis | Condition::RedisMemory { .. } => unreachable!("answered above"),
            Condition::NoWorker => {
                let workers = discovery::workers_by_queue(
                    home,
                    std::slice::from_ref(&found),
                    &state.config().redis_cluster_nodes,
                )
                .await;
                let n = workers.first().copied().unwrap_or(0);
                seen(n == 0, format!("{n} workers attached to {named}"))
            }
            Condition::OldestWaiting { seconds } => {
                let cluster = !state.config().redis_cluster_nodes.is_empty();
                let summary =
                    discovery::summaries(home, std::slice::from_ref(&found), cluster).await?;
                match summary.first().and_then(|s| s.oldest_waiting_at) {
                    Some(at) => {
                        let age = now.saturating_sub(at);
                        seen(
                            age as f64 > seconds * 1000.0,
                            format!("the oldest waiting job of {named} has waited {}", secs(age)),
                        )
                    }
                    None => seen(false, format!("no job waits in {named}")),
                }
            }
            Condition::Failures {
                per_minute,
                percent,
            } => {
                let (completed, failed) =
                    store::finished_since(&queue, now.saturating_sub(window_ms)).await?;
                let finished = completed + failed;
                let over_count = per_minute.is_some_and(|n| failed as f64 > n);
                let share = if finished == 0 {
                    0.0
                } else {
                    failed as f64 * 100.0 / finished as f64
                };
                let over_share = percent.is_some_and(|p| finished > 0 && share > p);
                seen(
                    over_count || over_share,
                    format!(
                        "{failed} of {finished} jobs finished in {named} in the last {} failed ({share:.0} %)",
                        secs(window_ms)
                    ),
                )
            }
            Condition::Stuck { seconds } => match store::longest_active(&queue).await? {
                Some((job, started)) => {
                    let age = now.saturating_sub(started);
                    seen_job(
                        age as f64 > seconds * 1000.0,
                        format!("job {job} of {named} has been active for {}", secs(age)),
                        &job,
                    )
                }
                None => seen(false, format!("no job is active in {named}")),
            },
            Condition::Stalled { seconds } => {
                let since = now.saturating_sub((seconds * 1000.0) as u64);
                match store::last_stalled(&queue, since).await? {
                    Some((job, at)) => seen_job(
                        true,
                        format!(
                            "job {job} of {named} stalled {} ago",
                            secs(now.saturating_sub(at))
                        ),
                        &job,
                    ),
                    None => seen(false, format!("no job of {named} stalled lately")),
                }
            }
        })
    }
}
