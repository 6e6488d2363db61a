//! The operators' side of the queue, for both edges (the admin HTTP API and the dashboard's
//! server functions): finding jobs (listing and search), acting on one job, pausing, cleaning
//! and bulk runs. Every change clears the dashboards' shared reads, so its author sees it at
//! once, whichever edge it came through. Roles are checked by the edges.

use app::JobId;
use app::admin::{ActionOutcome, CleanOutcome, CleanRequest, JobPage, JobQuery, MAX_PAGE_SIZE};
use app::search::Search;
use app::types::JobState;
use serde_json::Value;

use super::audit::{Done, record};
use super::bulk;
use super::queues::{Target, target};
use super::state::AppState;
use crate::auth::Principal;
use crate::error::AppError;
use crate::queue::control::{self, Action, ActionError};
use crate::queue::{inspect, search};

/// The highest page number taken.
pub const MAX_PAGE: u64 = 1_000_000;

/// A refused parameter, named.
pub fn param(field: &'static str, message: impl Into<String>) -> AppError {
    AppError::InvalidOption(app::options::OptionError {
        field,
        message: message.into(),
    })
}

/// The states named by `state=` (comma-separated), or every state.
fn states_of(raw: Option<&String>) -> Result<Vec<JobState>, AppError> {
    let Some(raw) = raw.filter(|r| !r.trim().is_empty()) else {
        return Ok(inspect::DEFAULT_STATES.to_vec());
    };
    let mut states = Vec::new();
    for name in raw.split(',').map(str::trim) {
        let state = JobState::parse(name).ok_or_else(|| {
            param(
                "state",
                format!(
                    "{:?} is not a state; use waiting, active, delayed, prioritized, completed, failed or waiting-children",
                    crate::queue::cut(name, 40)
                ),
            )
        })?;
        if !states.contains(&state) {
            states.push(state);
        }
    }
    Ok(states)
}

/// A page of jobs for `asked` (the listing, or a search): what `GET /admin/api/jobs` answers,
/// and the dashboard shows. The caller checked the role.
pub async fn find(
    state: &AppState,
    principal: &Principal,
    asked: &JobQuery,
) -> Result<JobPage, AppError> {
    let (page, size) = (asked.page, asked.size);
    if page > MAX_PAGE {
        return Err(param(
            "page",
            format!("must be a whole number from 0 to {MAX_PAGE}"),
        ));
    }
    if size == 0 || size > MAX_PAGE_SIZE as u64 {
        return Err(param("size", "must be a whole number from 1 to 100"));
    }
    let states = states_of(asked.state.as_ref())?;
    let cursor = match asked.cursor.as_deref() {
        None => None,
        Some(raw) => Some(search::Cursor::parse(raw).ok_or_else(|| {
            param(
                "cursor",
                "must be a cursor from a search's answer (its `next`)",
            )
        })?),
    };
    let parsed = match asked.q.as_deref() {
        Some(q) => Search::parse(q).map_err(|e| param("q", e.0))?,
        None => Search::default(),
    };
    let target = target(state, principal, asked.queue.as_deref()).await?;
    let queue: &crate::queue::TaskQueue = &target;
    // `state:` in the search narrows to its states; otherwise `state=` (or every state).
    let states = if parsed.states.is_empty() {
        states
    } else {
        parsed.states.clone()
    };
    if parsed.only_states() {
        return Ok(inspect::list(queue, &states, page, size).await?);
    }
    if let Some(id) = parsed.id.as_deref() {
        return by_id(queue, &parsed, id, &states, page, size).await;
    }
    if let Some(bare) = parsed.bare.as_deref() {
        // One bare word: a job by that id, if there is one; else words of failed reasons.
        let id_only = Search {
            words: Vec::new(),
            ..parsed.clone()
        };
        let found = by_id(queue, &id_only, bare, &states, page, size).await?;
        if found.total > 0 {
            return Ok(found);
        }
    }
    Ok(search::run(queue, &parsed, &states, cursor, page, size).await?)
}

/// The page for a search by id: the job, if it exists and matches the rest of the search.
async fn by_id(
    queue: &crate::queue::TaskQueue,
    parsed: &Search,
    raw: &str,
    states: &[JobState],
    page: u64,
    size: u64,
) -> Result<JobPage, AppError> {
    let mut jobs = Vec::new();
    // An id too long to name a job finds nothing.
    if let Ok(id) = JobId::parse(raw)
        && let Some((found, record)) = queue.state_and_record(&id).await?
    {
        let job = record.summary();
        let state = found.status.state;
        if states.contains(&state)
            && parsed.matches(&job.name, &job.data, job.failed_reason.as_deref())
        {
            jobs.push(app::admin::ListedJob { state, job });
        }
    }
    let total = jobs.len() as u64;
    if page > 0 {
        jobs.clear();
    }
    Ok(JobPage {
        total,
        page,
        size,
        jobs,
        complete: true,
        next: None,
    })
}

/// Job `id` of the queue asked for, in full (with its events), as it is now (the admin API's
/// read); `None` when there is no such job.
pub async fn job(
    state: &AppState,
    principal: &Principal,
    queue: Option<&str>,
    id: &JobId,
) -> Result<Option<app::admin::JobDetail>, AppError> {
    let target = target(state, principal, queue).await?;
    let limits = crate::queue::stream::EventLimits::from(&state.config.limits);
    Ok(inspect::detail(&target, id, &limits).await?)
}

/// As [`job`], read at most once a second per process and shared by the dashboards looking at
/// the job (see [`super::reads`]).
pub async fn job_shared(
    state: &AppState,
    principal: &Principal,
    queue: Option<&str>,
    id: &JobId,
) -> Result<Option<app::admin::JobDetail>, AppError> {
    // The caller's access is checked before a shared read can answer it.
    target(state, principal, queue).await?;
    let key = (queue_text(state, queue), id.clone());
    state
        .details
        .get(&key, job(state, principal, queue, id))
        .await
}

/// As [`find`], read at most once a second per process and shared by the dashboards on the
/// same view; the caller's access to the queue is checked first, never answered from another
/// caller's read.
pub async fn find_shared(
    state: &AppState,
    principal: &Principal,
    asked: &JobQuery,
) -> Result<JobPage, AppError> {
    target(state, principal, asked.queue.as_deref()).await?;
    state.pages.get(asked, find(state, principal, asked)).await
}

/// Why job `id` of the queue asked for is not running: every reason that holds now, the
/// deciding one first; `None` when there is no such job.
pub async fn why(
    state: &AppState,
    principal: &Principal,
    queue: Option<&str>,
    id: &JobId,
) -> Result<Option<app::admin::WhyReport>, AppError> {
    let target = target(state, principal, queue).await?;
    Ok(crate::queue::why::diagnose(&target, id, &state.processors.names()).await?)
}

/// The dashboard's overview of the queue asked for (counts, paused, workers, the last hour),
/// shared by every dashboard on it.
pub async fn overview(
    state: &AppState,
    principal: &Principal,
    queue: Option<&str>,
) -> Result<app::admin::Overview, AppError> {
    let target = target(state, principal, queue).await?;
    let key = queue_text(state, queue);
    state.overview.get(&key, super::reads::read(&target)).await
}

/// The live workers of the queue asked for.
pub async fn workers(
    state: &AppState,
    principal: &Principal,
    queue: Option<&str>,
) -> Result<app::admin::WorkerList, AppError> {
    let target = target(state, principal, queue).await?;
    Ok(inspect::workers(&target).await?)
}

/// The last `minutes` of the queue asked for, per minute.
pub async fn metrics(
    state: &AppState,
    principal: &Principal,
    queue: Option<&str>,
    minutes: u64,
) -> Result<app::admin::MetricsReport, AppError> {
    let target = target(state, principal, queue).await?;
    Ok(inspect::metrics(&target, minutes).await?)
}

/// A bulk run, as asked: an action, and the jobs it covers.
#[derive(Debug, Clone)]
pub struct BulkRequest {
    /// What to do.
    pub action: Action,
    /// To which jobs.
    pub target: bulk::Target,
    /// The jobs as asked, for the audit log (`ids:…` or `q:…`).
    pub asked: String,
}

impl BulkRequest {
    /// The body of `POST /admin/api/jobs/bulk`: `{"action", "ids"}` or `{"action", "q"}`,
    /// nothing else.
    pub fn from_json(value: &Value) -> Result<Self, AppError> {
        if let Some(extra) = value.as_object().and_then(|fields| {
            fields
                .keys()
                .find(|k| !matches!(k.as_str(), "action" | "ids" | "q"))
        }) {
            return Err(param(
                "body",
                format!(
                    "unknown field {:?}: give action with ids or q",
                    crate::queue::cut(extra, 40)
                ),
            ));
        }
        let action = value
            .get("action")
            .and_then(Value::as_str)
            .and_then(Action::parse)
            .ok_or_else(|| param("action", "must be retry, remove, promote or cancel"))?;
        let ids = match value.get("ids") {
            None => None,
            Some(Value::Array(ids)) => Some(
                ids.iter()
                    .map(|id| id.as_str().map(str::to_owned))
                    .collect::<Option<Vec<String>>>()
                    .ok_or_else(|| param("ids", "every id must be a job id (text, no ':')"))?,
            ),
            Some(_) => return Err(param("ids", "give ids (a list) or q, not both")),
        };
        let q = value.get("q").and_then(Value::as_str).map(str::to_owned);
        Self::new(action, ids, q)
    }

    /// `action` on `ids`, or on every job the search `q` finds.
    pub fn new(
        action: Action,
        ids: Option<Vec<String>>,
        q: Option<String>,
    ) -> Result<Self, AppError> {
        let asked = match (&ids, &q) {
            (Some(ids), None) => format!("ids:{}", ids.join(",")),
            (_, Some(q)) => format!("q:{q}"),
            (None, None) => String::new(),
        };
        let target = match (ids, q) {
            (Some(ids), None) => {
                if ids.is_empty() || ids.len() > bulk::MAX_IDS {
                    return Err(param(
                        "ids",
                        format!("must list 1 to {} ids", bulk::MAX_IDS),
                    ));
                }
                let ids = ids
                    .iter()
                    .map(|id| JobId::parse(id).ok())
                    .collect::<Option<Vec<JobId>>>()
                    .ok_or_else(|| param("ids", "every id must be a job id (text, no ':')"))?;
                bulk::Target::Ids(ids)
            }
            (None, Some(q)) => {
                let search = Search::parse(&q).map_err(|e| param("q", e.0))?;
                match search.states.as_slice() {
                    [state] if search.only_states() => bulk::Target::State(*state),
                    _ => {
                        let states = if search.states.is_empty() {
                            inspect::DEFAULT_STATES.to_vec()
                        } else {
                            search.states.clone()
                        };
                        bulk::Target::Search(search, states)
                    }
                }
            }
            _ => return Err(param("ids", "give ids (a list) or q, not both")),
        };
        Ok(Self {
            action,
            target,
            asked,
        })
    }
}

/// Starts a bulk run; its progress so far.
pub async fn start_bulk(
    state: &AppState,
    principal: &Principal,
    queue: Option<&str>,
    request: BulkRequest,
) -> Result<bulk::Progress, AppError> {
    let action = format!("bulk:{}", request.action.as_str());
    let count = match &request.target {
        bulk::Target::Ids(ids) => Some(ids.len() as u64),
        bulk::Target::State(_) | bulk::Target::Search(..) => None,
    };
    let asked = on_queue(state, queue, &request.asked);
    let done = Done {
        action: &action,
        target: Some(crate::queue::cut(&asked, 512)),
        count,
    };
    let started = start_bulk_run(state, principal, queue, request).await;
    record(state, principal, done, started, |p| {
        format!("started {}", p.bulk)
    })
    .await
}

async fn start_bulk_run(
    state: &AppState,
    principal: &Principal,
    queue: Option<&str>,
    request: BulkRequest,
) -> Result<bulk::Progress, AppError> {
    let other = match target(state, principal, queue).await? {
        Target::Home(_) => None,
        Target::Other(queue) => Some(queue),
    };
    let scope = bulk::Scope {
        state: state.clone(),
        other,
    };
    let run = bulk::start(&state.bulk, scope, request.action, request.target)
        .ok_or(AppError::TooManyBulkRuns(state.config.limits.max_bulk_runs))?;
    forget_reads(state).await;
    Ok(run.progress())
}

/// Does `action` to job `id`.
pub async fn act(
    state: &AppState,
    principal: &Principal,
    queue: Option<&str>,
    id: &JobId,
    action: Action,
) -> Result<ActionOutcome, AppError> {
    let result = act_on(state, principal, queue, id, action).await;
    let on = on_queue(state, queue, id.as_str());
    let done = Done {
        action: action.as_str(),
        target: Some(&on),
        count: Some(1),
    };
    record(state, principal, done, result, |o| o.result.clone()).await
}

async fn act_on(
    state: &AppState,
    principal: &Principal,
    queue: Option<&str>,
    id: &JobId,
    action: Action,
) -> Result<ActionOutcome, AppError> {
    let target = target(state, principal, queue).await?;
    let done = control::act(&target, id, action).await;
    forget_reads(state).await;
    match done {
        Ok(outcome) => Ok(outcome),
        Err(ActionError::NotFound) => Err(AppError::NotFound { id: id.to_string() }),
        Err(ActionError::Conflict { state, message }) => Err(AppError::Conflict { state, message }),
        Err(ActionError::Engine(error)) => Err(error.into()),
    }
}

/// Pauses (`true`) or resumes the queue.
pub async fn pause(
    state: &AppState,
    principal: &Principal,
    queue: Option<&str>,
    paused: bool,
) -> Result<(), AppError> {
    let result = async {
        let target = target(state, principal, queue).await?;
        let done = control::pause(&target, paused).await;
        forget_reads(state).await;
        Ok(done?)
    }
    .await;
    let name = queue_text(state, queue);
    let done = Done {
        action: if paused { "pause" } else { "resume" },
        target: Some(&name),
        count: None,
    };
    record(state, principal, done, result, |()| "done".to_string()).await
}

/// Removes finished jobs as asked (or counts them, on a dry run, which changes nothing and is
/// not recorded).
pub async fn clean(
    state: &AppState,
    principal: &Principal,
    queue: Option<&str>,
    request: &CleanRequest,
) -> Result<CleanOutcome, AppError> {
    let result = async {
        let target = target(state, principal, queue).await?;
        let done = control::clean(&target, request).await;
        if !request.dry_run {
            forget_reads(state).await;
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
    let what = on_queue(state, queue, &what);
    let done = Done {
        action: "clean",
        target: Some(&what),
        count: result.as_ref().ok().map(|o| o.count),
    };
    record(state, principal, done, result, |o| {
        format!("removed {}", o.count)
    })
    .await
}

/// Keys one discovery looks at, at most (whole `SCAN` steps): on a Redis with more keys, the
/// list says it is not complete.
pub const DISCOVERY_BUDGET: usize = 200_000;

/// How long the set of queues found is used before the Redis is scanned again (counts are read
/// each time; a scan can also be asked for). The scan happens only when the list is read, so
/// an idle deployment does not scan; a queue made by another service shows on an open queues
/// page within this (plus one scan), as the 15 s asks. A scan of 110,000 keys is about
/// 110 `SCAN` steps: 11 commands/s while someone looks, shared by every dashboard.
pub const DISCOVER_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// A page of the BullMQ queues on the Redis (under `SENTINEL_DISCOVER_PREFIXES` when set) that
/// `principal` may see and the filter keeps, with their counts. The queues are found by a scan
/// at most every [`DISCOVER_EVERY`] (or now, with `rescan`: a new queue appears at once); only
/// the page's queues are read, at most once a second per process and shared by every
/// dashboard on the same page, and of those only the ones whose events moved (see
/// [`super::reads::Summaries`]).
pub async fn queues(
    state: &AppState,
    principal: &Principal,
    asked: &app::admin::QueueListQuery,
) -> Result<app::admin::QueueList, AppError> {
    if let Err((field, message)) = asked.check() {
        return Err(param(field, &message));
    }
    let queue = state.queue()?;
    if asked.rescan {
        state.discovered.clear().await;
        state.queues.clear().await;
    }
    let scan = async {
        let known = state.summaries.known();
        let found = crate::queue::discovery::discover(
            queue,
            &state.config.discover_prefixes,
            DISCOVERY_BUDGET,
            &state.config.redis_cluster_nodes,
            &known,
        )
        .await?;
        state.summaries.set_known(&found.queues);
        Ok(found)
    };
    let found = state
        .discovered
        .get_within(&(), DISCOVER_EVERY, scan)
        .await?;
    let kept: Vec<&crate::queue::discovery::FoundQueue> = found
        .queues
        .iter()
        .filter(|q| principal.may_see_queue(&q.prefix, &q.name) && asked.keeps(&q.prefix, &q.name))
        .collect();
    let page: Vec<crate::queue::discovery::FoundQueue> = kept
        .iter()
        .skip(asked.offset as usize)
        .take(asked.limit as usize)
        .map(|q| (*q).clone())
        .collect();
    // Keyed by the page's queues: callers who may see the same queues share the read.
    let read = async {
        state
            .summaries
            .read(queue, &page, &state.config.redis_cluster_nodes)
            .await
    };
    let queues = state.queues.get(&page, read).await?;
    Ok(app::admin::QueueList {
        home: super::queues::home(state).text(),
        queues,
        total: kept.len() as u64,
        offset: asked.offset,
        complete: found.complete,
    })
}

/// Every queue `principal` may see, with its counts (for `/metrics`): page after page of
/// [`queues`].
pub async fn every_queue(
    state: &AppState,
    principal: &Principal,
) -> Result<Vec<app::admin::QueueSummary>, AppError> {
    let mut all = Vec::new();
    let mut asked = app::admin::QueueListQuery {
        limit: app::admin::MAX_QUEUES_PER_PAGE,
        ..Default::default()
    };
    loop {
        let page = queues(state, principal, &asked).await?;
        let got = page.queues.len() as u32;
        all.extend(page.queues);
        if got == 0 || u64::from(asked.offset + got) >= page.total {
            return Ok(all);
        }
        asked.offset += got;
    }
}

/// What an audit entry names as the target: `what` alone on Sentinel's own queue, else
/// `<prefix>:<name> what`.
fn on_queue(state: &AppState, queue: Option<&str>, what: &str) -> String {
    match queue.map(str::trim).filter(|q| !q.is_empty()) {
        Some(q) if *q != queue_text(state, None) => format!("{} {what}", crate::queue::cut(q, 300)),
        _ => what.to_string(),
    }
}

/// The queue asked for as text (`<prefix>:<name>`), Sentinel's own when absent.
fn queue_text(state: &AppState, queue: Option<&str>) -> String {
    match queue.map(str::trim).filter(|q| !q.is_empty()) {
        Some(q) => crate::queue::cut(q, 300).to_string(),
        None => super::queues::home(state).text(),
    }
}

/// Clears the dashboards' shared reads, so the author of an action sees its effect.
pub async fn forget_reads(state: &AppState) {
    state.overview.clear().await;
    state.queues.clear().await;
    state.summaries.clear();
    state.pages.clear().await;
    state.details.clear().await;
}
