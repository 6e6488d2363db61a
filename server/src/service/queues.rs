//! Queues: which queue a call is about (Sentinel's own, or any other BullMQ queue on the Redis,
//! named `<prefix>:<name>`), the list of every queue found on the Redis, and the operations on
//! one queue as a whole: its overview, workers and statistics, pause and resume, clean.
//!
//! A queue that does not exist, or that the caller's grant does not reach, is the same `404`
//! naming `queue` everywhere, and nothing is ever created by asking. The scan for queues costs
//! the same whoever asks and however often: one process scans at a time (a Redis lease), at most
//! once per `SENTINEL_DISCOVERY_MIN_INTERVAL_MS`, and every process reads the result it stored.

use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use app::admin::{CleanOutcome, CleanRequest, QueueAction, QueueName};

use super::audit::Done;
use super::{Op, Sentinel};
use crate::auth::Principal;
use crate::error::AppError;
use crate::queue::discovery::{self, Found, FoundQueue};
use crate::queue::{TaskQueue, control, inspect};

/// How long the lease of the scanning process lasts (a scan of the budget takes about a
/// second; a process that dies mid-scan holds it no longer than this).
const DISCOVERY_LEASE: Duration = Duration::from_secs(30);

/// How long a process waits for another's scan when it has no result of its own yet.
const DISCOVERY_WAIT: Duration = Duration::from_secs(10);

/// The queue a call is about.
pub enum Target<'a> {
    /// Sentinel's own queue.
    Home(&'a TaskQueue),
    /// Another BullMQ queue on the Redis.
    Other(Arc<TaskQueue>),
}

impl Deref for Target<'_> {
    type Target = TaskQueue;

    fn deref(&self) -> &TaskQueue {
        match self {
            Target::Home(queue) => queue,
            Target::Other(queue) => queue,
        }
    }
}

impl Target<'_> {
    /// Another queue's handle (`None`: Sentinel's own).
    pub(crate) fn other(&self) -> Option<Arc<TaskQueue>> {
        match self {
            Target::Home(_) => None,
            Target::Other(queue) => Some(queue.clone()),
        }
    }

    /// The queue's name as `<prefix>:<name>`.
    pub fn text(&self) -> String {
        format!("{}:{}", self.keys().prefix(), self.keys().queue())
    }
}

impl Sentinel {
    /// Sentinel's own queue's name.
    pub fn home_name(&self) -> QueueName {
        QueueName {
            prefix: self.config().prefix.clone(),
            name: self.config().queue.clone(),
        }
    }

    /// The name `asked` gives (`<prefix>:<name>`), the home queue's when absent. An empty or
    /// blank value is a refused name, not Sentinel's own queue.
    pub fn queue_name(&self, asked: Option<&str>) -> Result<QueueName, AppError> {
        match asked {
            None => Ok(self.home_name()),
            Some(raw) => QueueName::parse(raw).map_err(|message| AppError::param("queue", message)),
        }
    }

    /// The queue `asked` names, for `who`: the home queue when absent; another queue if it
    /// exists on the Redis (its meta hash holds BullMQ's settings), is under
    /// `SENTINEL_DISCOVER_PREFIXES` when that is set, and `who` may see it. Otherwise a 404
    /// naming `queue`. Only [`Sentinel::open`] calls this, after the policy check.
    pub(super) async fn target(
        &self,
        who: &Principal,
        asked: Option<&str>,
    ) -> Result<Target<'_>, AppError> {
        let home_queue = self.queue()?;
        let name = self.queue_name(asked)?;
        let missing = || AppError::NoQueue { queue: name.text() };
        if !who.may_see_queue(&name.prefix, &name.name) {
            return Err(missing());
        }
        if name == self.home_name() {
            return Ok(Target::Home(home_queue));
        }
        let prefixes = &self.config().discover_prefixes;
        if !prefixes.is_empty() && !prefixes.contains(&name.prefix) {
            return Err(missing());
        }
        if let Some(queue) = self.inner.attached.get(&name) {
            return Ok(Target::Other(queue));
        }
        let found = FoundQueue {
            prefix: name.prefix.clone(),
            name: name.name.clone(),
        };
        if !discovery::exists(home_queue, &found).await? {
            return Err(missing());
        }
        if name.prefix.contains(':') {
            return Err(AppError::param(
                "queue",
                "this queue's prefix holds ':', which the queue engine refuses: Sentinel lists it but cannot open it",
            ));
        }
        let works = self.config().works(&name.prefix, &name.name);
        let queue = Arc::new(home_queue.attach(&name.prefix, &name.name, works).await?);
        self.inner.attached.put(name, queue.clone());
        Ok(Target::Other(queue))
    }

    /// The queue asked for as text (`<prefix>:<name>`, cut), Sentinel's own when absent: for
    /// the audit log and the shared reads' keys.
    pub(super) fn queue_text(&self, asked: Option<&str>) -> String {
        match asked.map(str::trim).filter(|q| !q.is_empty()) {
            Some(q) => crate::queue::cut(q, 300).to_string(),
            None => self.home_name().text(),
        }
    }

    /// What an audit entry names as the target: `what` alone on Sentinel's own queue, else
    /// `<prefix>:<name> what`.
    pub(super) fn on_queue(&self, asked: Option<&str>, what: &str) -> String {
        let home = self.home_name().text();
        match asked.map(str::trim).filter(|q| !q.is_empty()) {
            Some(q) if q != home => format!("{} {what}", crate::queue::cut(q, 300)),
            _ => what.to_string(),
        }
    }

    /// A queue's overview (counts, paused, workers, the last hour, Redis's memory), shared by
    /// every dashboard on it.
    pub async fn overview(
        &self,
        who: &Principal,
        queue: Option<&str>,
    ) -> Result<app::admin::Overview, AppError> {
        let target = self.open(who, Op::ReadOverview, queue).await?;
        let key = self.queue_text(queue);
        let mut overview = self
            .inner
            .reads
            .overview
            .get(&key, super::state::reads::overview(&target))
            .await?;
        overview.memory = self.redis_memory();
        Ok(overview)
    }

    /// The live workers of a queue.
    pub async fn workers(
        &self,
        who: &Principal,
        queue: Option<&str>,
    ) -> Result<app::admin::WorkerList, AppError> {
        let target = self.open(who, Op::ReadWorkers, queue).await?;
        Ok(inspect::workers(&target).await?)
    }

    /// The last `minutes` of a queue, per minute.
    pub async fn minutes(
        &self,
        who: &Principal,
        queue: Option<&str>,
        minutes: u64,
    ) -> Result<app::admin::MetricsReport, AppError> {
        if !(1..=120).contains(&minutes) {
            return Err(AppError::param(
                "minutes",
                "must be a whole number from 1 to 120",
            ));
        }
        let target = self.open(who, Op::ReadMetrics, queue).await?;
        Ok(inspect::metrics(&target, minutes).await?)
    }

    /// Pauses or resumes a queue: workers of every process stop (or start again) taking jobs.
    pub async fn queue_action(
        &self,
        who: &Principal,
        queue: Option<&str>,
        action: QueueAction,
    ) -> Result<(), AppError> {
        let result = async {
            let target = self.open(who, Op::PauseQueue, queue).await?;
            let done = control::pause(&target, action == QueueAction::Pause).await;
            self.forget_reads().await;
            Ok(done?)
        }
        .await;
        let name = self.queue_text(queue);
        let done = Done {
            action: action.as_str(),
            target: Some(&name),
            count: None,
        };
        self.record(who, done, result, |()| "done".to_string())
            .await
    }

    /// Removes finished jobs as asked, or counts them on a dry run (which changes nothing and
    /// is not recorded).
    pub async fn clean(
        &self,
        who: &Principal,
        queue: Option<&str>,
        request: &CleanRequest,
    ) -> Result<CleanOutcome, AppError> {
        let result = async {
            let target = self.open(who, Op::CleanQueue, queue).await?;
            let done = control::clean(&target, request).await;
            if !request.dry_run {
                self.forget_reads().await;
            }
            Ok(done?)
        }
        .await;
        if request.dry_run {
            return result;
        }
        let what = format!(
            "{} older than {} ms",
            request.state.state(),
            request.older_than_ms
        );
        let what = self.on_queue(queue, &what);
        let done = Done {
            action: "clean",
            target: Some(&what),
            count: result.as_ref().ok().map(|o| o.count),
        };
        self.record(who, done, result, |o| format!("removed {}", o.count))
            .await
    }

    /// A page of the BullMQ queues on the Redis (under `SENTINEL_DISCOVER_PREFIXES` when set)
    /// that `who` may see and the filter keeps, with their counts. Only the page's queues are
    /// read, shared by every dashboard on the same page, and of those only the ones whose
    /// events moved.
    pub async fn queues(
        &self,
        who: &Principal,
        asked: &app::admin::QueueListQuery,
    ) -> Result<app::admin::QueueList, AppError> {
        self.allow(who, Op::ListQueues).await?;
        self.queue_page(who, asked).await
    }

    async fn queue_page(
        &self,
        who: &Principal,
        asked: &app::admin::QueueListQuery,
    ) -> Result<app::admin::QueueList, AppError> {
        if let Err((field, message)) = asked.check() {
            return Err(AppError::param(field, &message));
        }
        let queue = self.queue()?;
        let found = self.discovered(asked.rescan).await?;
        let kept: Vec<&FoundQueue> = found
            .queues
            .iter()
            .filter(|q| who.may_see_queue(&q.prefix, &q.name) && asked.keeps(&q.prefix, &q.name))
            .collect();
        let page: Vec<FoundQueue> = kept
            .iter()
            .skip(asked.offset as usize)
            .take(asked.limit as usize)
            .map(|q| (*q).clone())
            .collect();
        let reads = &self.inner.reads;
        // Keyed by the page's queues: callers who may see the same queues share the read.
        let read = async {
            let mut summaries = reads
                .summaries
                .read(queue, &page, &self.config().redis_cluster_nodes)
                .await?;
            // What finished in the last hour, from the history once the collector has read the
            // queue (it counts jobs removed on completion too), as the charts draw it.
            let names: Vec<String> = summaries
                .iter()
                .map(|s| format!("{}:{}", s.prefix, s.name))
                .collect();
            let counted =
                crate::queue::history::last_hour(queue, &names, crate::clock::now_ms()).await?;
            for (summary, counted) in summaries.iter_mut().zip(counted) {
                if let Some((completed, failed)) = counted {
                    summary.completed_last_hour = completed;
                    summary.failed_last_hour = failed;
                }
            }
            Ok::<_, AppError>(summaries)
        };
        let queues = reads.queues.get(&page, read).await?;
        Ok(app::admin::QueueList {
            home: self.home_name().text(),
            queues,
            total: kept.len() as u64,
            offset: asked.offset,
            complete: found.complete,
        })
    }

    /// Every queue `who` may see, with its counts (for `/metrics`): page after page.
    pub(super) async fn every_queue(
        &self,
        who: &Principal,
    ) -> Result<Vec<app::admin::QueueSummary>, AppError> {
        let mut all = Vec::new();
        let mut asked = app::admin::QueueListQuery {
            limit: app::admin::MAX_QUEUES_PER_PAGE,
            ..Default::default()
        };
        loop {
            let page = self.queue_page(who, &asked).await?;
            let got = page.queues.len() as u32;
            all.extend(page.queues);
            if got == 0 || u64::from(asked.offset + got) >= page.total {
                return Ok(all);
            }
            asked.offset += got;
        }
    }

    /// The queues found on the Redis: this process's last result while it is younger than
    /// the least interval (or, with `rescan`, whatever its age... within the same bound); else
    /// the result another process stored, if young enough; else a scan by whichever process
    /// takes the lease, the others waiting for its result.
    pub(super) async fn discovered(&self, rescan: bool) -> Result<Found, AppError> {
        let every = Duration::from_millis(self.config().guards.discovery_min_interval_ms);
        let reads = &self.inner.reads;
        if rescan {
            reads.discovered.clear().await;
            reads.queues.clear().await;
        }
        let shared = self.shared_scan(every);
        reads.discovered.get_within(&(), every, shared).await
    }

    /// The queues for a background task (the history collector): the scan every process shares
    /// if it is younger than the least interval between scans, else a scan of this process's
    /// own that is not shared. A person's "look for new queues now" then always gets a scan
    /// of its own when the last shared one is old enough, whatever the background reads.
    pub(super) async fn discovered_in_background(&self) -> Result<Found, AppError> {
        let every_ms = self.config().guards.discovery_min_interval_ms;
        if let Some(stored) = discovery::shared(self.queue()?).await?
            && crate::clock::now_ms().saturating_sub(stored.at) < every_ms
        {
            return Ok(stored.found);
        }
        self.scan().await
    }

    async fn shared_scan(&self, every: Duration) -> Result<Found, AppError> {
        let home = self.queue()?;
        let every_ms = u64::try_from(every.as_millis()).unwrap_or(u64::MAX);
        let deadline = tokio::time::Instant::now() + DISCOVERY_WAIT;
        loop {
            let stored = discovery::shared(home).await?;
            let now = crate::clock::now_ms();
            if let Some(stored) = &stored
                && now.saturating_sub(stored.at) < every_ms
            {
                self.inner.reads.summaries.set_known(&stored.found.queues);
                return Ok(stored.found.clone());
            }
            let me = self.inner.alerts.me();
            let lease_ms = u64::try_from(DISCOVERY_LEASE.as_millis()).unwrap_or(30_000);
            if discovery::take_lease(home, me, lease_ms).await? {
                let scanned = self.scan().await;
                if let Ok(found) = &scanned {
                    // Kept for the readers a while past its use; a younger one replaces it.
                    let keep = every_ms.saturating_mul(10).max(60_000);
                    discovery::share(home, found, crate::clock::now_ms(), keep).await?;
                }
                let _ = discovery::release_lease(home, me).await;
                return scanned;
            }
            // Another process scans: its result, when it comes; an older one meanwhile if
            // there is one.
            if let Some(stored) = stored {
                return Ok(stored.found);
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(Found::default());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn scan(&self) -> Result<Found, AppError> {
        let summaries = &self.inner.reads.summaries;
        let known = summaries.known();
        let found = discovery::discover(
            self.queue()?,
            &self.config().discover_prefixes,
            self.config().guards.discovery_scan_keys,
            &self.config().redis_cluster_nodes,
            &known,
        )
        .await?;
        summaries.set_known(&found.queues);
        Ok(found)
    }
}
