//! Jobs, for operators: finding them (the listing and the search), one job in full, why it is
//! not running, one action on one job, and bulk runs. Every change clears the dashboards'
//! shared reads and is on the audit log, whichever edge it came through.

use app::JobId;
use app::admin::{ActionOutcome, JobPage, JobQuery, MAX_PAGE_SIZE};
use app::search::Search;
use app::types::JobState;
use serde_json::Value;

use super::audit::Done;
use super::bulk;
use super::{Op, Sentinel};
use crate::auth::Principal;
use crate::error::AppError;
use crate::queue::control::{self, Action, ActionError};
use crate::queue::{TaskQueue, flows, index, inspect, search};

/// The highest page number taken.
pub const MAX_PAGE: u64 = 1_000_000;

/// The job action named `name` (a route's or a form's), or a 400 naming `action`: the same
/// answer on every edge.
pub fn job_action(name: &str) -> Result<Action, AppError> {
    Action::parse(name)
        .ok_or_else(|| AppError::param("action", "must be retry, remove, promote or cancel"))
}

/// The states named by `state=` (comma-separated), or every state.
fn states_of(raw: Option<&String>) -> Result<Vec<JobState>, AppError> {
    let Some(raw) = raw.filter(|r| !r.trim().is_empty()) else {
        return Ok(inspect::DEFAULT_STATES.to_vec());
    };
    let mut states = Vec::new();
    for name in raw.split(',').map(str::trim) {
        let state = JobState::parse(name).ok_or_else(|| {
            AppError::param(
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

/// The parts of a [`JobQuery`] that can be refused before anything is read.
struct Asked {
    states: Vec<JobState>,
    cursor: Option<search::Cursor>,
    search: Search,
}

fn check(asked: &JobQuery) -> Result<Asked, AppError> {
    if asked.page > MAX_PAGE {
        return Err(AppError::param(
            "page",
            format!("must be a whole number from 0 to {MAX_PAGE}"),
        ));
    }
    if asked.size == 0 || asked.size > MAX_PAGE_SIZE as u64 {
        return Err(AppError::param(
            "size",
            "must be a whole number from 1 to 100",
        ));
    }
    let states = states_of(asked.state.as_ref())?;
    let cursor = match asked.cursor.as_deref() {
        None => None,
        Some(raw) => Some(search::Cursor::parse(raw).ok_or_else(|| {
            AppError::param(
                "cursor",
                "must be a cursor from a search's answer (its `next`)",
            )
        })?),
    };
    let search = match asked.q.as_deref() {
        Some(q) => Search::parse(q).map_err(|e| AppError::param("q", e.0))?,
        None => Search::default(),
    };
    Ok(Asked {
        states,
        cursor,
        search,
    })
}

/// What an action on job `id` that was not done answers: `404` naming the job, `409` naming
/// its state, or the queue's error.
pub(super) fn action_refused(id: &JobId, error: ActionError) -> AppError {
    match error {
        ActionError::NotFound => AppError::NotFound { id: id.to_string() },
        ActionError::Conflict { state, message } => AppError::Conflict { state, message },
        ActionError::Engine(error) => error.into(),
    }
}

impl Sentinel {
    /// A page of jobs for `asked` (the listing, or a search): what `GET /admin/api/jobs`
    /// answers.
    pub async fn find(&self, who: &Principal, asked: &JobQuery) -> Result<JobPage, AppError> {
        self.allow(who, Op::ReadJobs).await?;
        let checked = check(asked)?;
        let target = self.target(who, asked.queue.as_deref()).await?;
        let page = find_in(&target, checked, asked.page, asked.size).await?;
        self.note_skipped(&target, page.skipped);
        Ok(page)
    }

    /// Entries that are no jobs, found among a queue's: logged at most once a minute per
    /// queue (the page says how many it left out).
    fn note_skipped(&self, queue: &TaskQueue, skipped: u64) {
        if skipped == 0 {
            return;
        }
        let base = queue.keys().base();
        self.inner
            .throttle
            .warn_for("foreign entries", base, |suppressed| {
                tracing::warn!(
                    queue = %base,
                    skipped,
                    suppressed,
                    "entries that are no jobs are listed among this queue's jobs (left out)"
                );
            });
    }

    /// As [`Sentinel::find`], read at most once a second per process and shared by the
    /// dashboards on the same view; the caller's access to the queue is checked first, never
    /// answered from another caller's read.
    pub async fn find_shared(
        &self,
        who: &Principal,
        asked: &JobQuery,
    ) -> Result<JobPage, AppError> {
        self.allow(who, Op::ReadJobs).await?;
        let checked = check(asked)?;
        let target = self.target(who, asked.queue.as_deref()).await?;
        let read = find_in(&target, checked, asked.page, asked.size);
        let page = self.inner.reads.pages.get(asked, read).await?;
        self.note_skipped(&target, page.skipped);
        Ok(page)
    }

    /// Job `id` in full (with its events), as it is now; `None` when there is no such job.
    pub async fn job(
        &self,
        who: &Principal,
        queue: Option<&str>,
        id: &JobId,
    ) -> Result<Option<app::admin::JobDetail>, AppError> {
        let target = self.open(who, Op::ReadJob, queue).await?;
        let detail = read_detail(&target, id, &self.config().limits).await?;
        Ok(detail.map(|d| seen_by(who, d)))
    }

    /// The flow's tree around job `id` (see `queue/flows.rs`): page `page` (0 first) of its
    /// nodes, depth first, in the queues the caller may see.
    pub async fn flow_tree(
        &self,
        who: &Principal,
        queue: Option<&str>,
        id: &JobId,
        page: u32,
    ) -> Result<app::admin::FlowTree, AppError> {
        let most = (flows::MAX_TREE_NODES / app::admin::TREE_PAGE_NODES) as u32;
        if page >= most {
            return Err(AppError::param(
                "page",
                format!(
                    "must be below {most} (a tree shows at most {} nodes)",
                    flows::MAX_TREE_NODES
                ),
            ));
        }
        let target = self.open(who, Op::ReadJob, queue).await?;
        // A queue's own key (`wait`, `meta`) is no job, whatever Redis holds under its name.
        if crate::queue::keys::is_job_id(id.as_str()).is_none()
            || !flows::exists(&target, id).await?
        {
            return Err(AppError::NotFound {
                id: id.as_str().to_string(),
            });
        }
        Ok(flows::tree(&target, id, page, |p, n| who.may_see_queue(p, n)).await?)
    }

    /// As [`Sentinel::job`], read at most once a second per process and shared by the
    /// dashboards looking at the job.
    pub async fn job_shared(
        &self,
        who: &Principal,
        queue: Option<&str>,
        id: &JobId,
    ) -> Result<Option<app::admin::JobDetail>, AppError> {
        let target = self.open(who, Op::ReadJob, queue).await?;
        let detail = self.detail_shared(&target, id).await?;
        Ok(detail.map(|d| seen_by(who, d)))
    }

    /// Job `id` in full with its whole flow, read at most once a second per process: the same
    /// for every caller who may see the job (each sees the part of its flow its grant reaches).
    async fn detail_shared(
        &self,
        target: &super::queues::Target<'_>,
        id: &JobId,
    ) -> Result<Option<app::admin::JobDetail>, AppError> {
        let key = (target.text(), id.clone());
        let read = read_detail(target, id, &self.config().limits);
        self.inner.reads.details.get(&key, read).await
    }

    /// Why job `id` is not running: every reason that holds now, the deciding one first;
    /// `None` when there is no such job.
    pub async fn why(
        &self,
        who: &Principal,
        queue: Option<&str>,
        id: &JobId,
    ) -> Result<Option<app::admin::WhyReport>, AppError> {
        let target = self.open(who, Op::ReadWhy, queue).await?;
        let names = self.processors().names();
        let Some(mut report) = crate::queue::why::diagnose(&target, id, &names).await? else {
            return Ok(None);
        };
        if report.state == JobState::WaitingChildren
            && let Some(detail) = self.detail_shared(&target, id).await?
        {
            // The job page asks for the job and for this together: one read of the flow.
            let family = seen_by(who, detail).family;
            if let Some(child) = family.blocked_by.first() {
                let reason = child
                    .failed_reason
                    .as_deref()
                    .map(|r| format!(": {}", crate::queue::cut(r, 200)))
                    .unwrap_or_default();
                let more = match family.blocked_by.len() {
                    1 => String::new(),
                    n => format!(" ({} children in all)", n),
                };
                report.reasons.insert(
                    0,
                    app::admin::WhyReason {
                        code: "never-finishes".to_string(),
                        message: format!(
                            "It will never finish: its child {} in {} failed{reason}{more}, and the flow did not say to fail, ignore or remove a failed child. Retry the child to go on.",
                            child.id, child.queue
                        ),
                    },
                );
            }
        }
        Ok(Some(report))
    }

    /// Does `action` to job `id`.
    pub async fn act(
        &self,
        who: &Principal,
        queue: Option<&str>,
        id: &JobId,
        action: Action,
    ) -> Result<ActionOutcome, AppError> {
        let result = async {
            let target = self.open(who, Op::JobAction, queue).await?;
            let done = control::act(&target, id, action).await;
            self.forget_reads().await;
            done.map_err(|e| action_refused(id, e))
        }
        .await;
        let on = self.on_queue(queue, id.as_str());
        let done = Done {
            action: action.as_str(),
            target: Some(&on),
            count: Some(1),
        };
        self.record(who, done, result, |o| o.result.clone()).await
    }

    /// Replaces the data of job `id` with `data` (JSON text, at most `MAX_BODY_BYTES`), unless
    /// it runs or completed (`409` naming its state). On Sentinel's own queue the data must
    /// still be a task's (`seconds`) and keeps its owner whatever the new data says (an edit
    /// is not a way to give a job to someone else); its search index terms follow the data.
    /// Audited as `edit-data`.
    pub async fn edit_data(
        &self,
        who: &Principal,
        queue: Option<&str>,
        id: &JobId,
        data: &str,
    ) -> Result<ActionOutcome, AppError> {
        let result = async {
            let target = self.open(who, Op::EditJob, queue).await?;
            let limit = self.config().limits.max_body_bytes;
            if data.len() > limit {
                return Err(AppError::param(
                    "data",
                    format!("at most {limit} bytes of JSON (MAX_BODY_BYTES)"),
                ));
            }
            let mut value: Value = serde_json::from_str(data)
                .map_err(|e| AppError::param("data", format!("must be JSON: {e}")))?;
            let home = target.other().is_none();
            if home {
                let Value::Object(fields) = &mut value else {
                    return Err(AppError::param(
                        "data",
                        "must be a JSON object with seconds",
                    ));
                };
                app::TaskPayload::from_job_data(
                    &Value::Object(fields.clone()),
                    self.config().max_seconds,
                )
                .map_err(|why| AppError::param("data", why))?;
                let (_, record) = target
                    .state_and_record(id)
                    .await?
                    .ok_or_else(|| AppError::NotFound { id: id.to_string() })?;
                match record.owner() {
                    Some(owner) => {
                        fields.insert("owner".to_string(), Value::String(owner));
                    }
                    None => {
                        fields.remove("owner");
                    }
                }
            }
            let text = value.to_string();
            let done = control::update_data(&target, id, &text).await;
            self.forget_reads().await;
            let (outcome, before) = done.map_err(|e| action_refused(id, e))?;
            if home {
                // Best effort, as at enqueue: the index only proposes candidates.
                let _ = index::forget(&target, id.as_str(), &before.name, &before.data).await;
                let _ =
                    index::note(&target, id.as_str(), &before.name, &value, before.timestamp).await;
            }
            Ok(outcome)
        }
        .await;
        let on = self.on_queue(queue, id.as_str());
        let done = Done {
            action: "edit-data",
            target: Some(&on),
            count: Some(1),
        };
        self.record(who, done, result, |o| o.result.clone()).await
    }

    /// Adds a job named `name` with `data` and `opts` (JSON texts; the options as the task API
    /// takes them: `delay`, `priority`, `attempts`, `backoff`, `timeoutMs`) to the queue: the
    /// dashboard's "duplicate", a copy of a job edited first. On Sentinel's own queue it is a
    /// task like any other (its `seconds`, owned by the caller, within the caller's quotas); on
    /// another program's queue, a job as its producers add them. A copy gets an id of its own.
    /// Audited as `add`; the new job's id.
    pub async fn add_copy(
        &self,
        who: &Principal,
        queue: Option<&str>,
        name: &str,
        data: &str,
        opts: &str,
    ) -> Result<String, AppError> {
        let result = async {
            let target = self.open(who, Op::AddJob, queue).await?;
            let limit = self.config().limits.max_body_bytes;
            if data.len() + opts.len() > limit {
                return Err(AppError::param(
                    "data",
                    format!("data and options at most {limit} bytes of JSON (MAX_BODY_BYTES)"),
                ));
            }
            let data: Value = serde_json::from_str(data)
                .map_err(|e| AppError::param("data", format!("must be JSON: {e}")))?;
            let opts: Value = match opts.trim() {
                "" => Value::Object(Default::default()),
                text => serde_json::from_str(text)
                    .map_err(|e| AppError::param("opts", format!("must be JSON: {e}")))?,
            };
            let Value::Object(fields) = &opts else {
                return Err(AppError::param("opts", "must be a JSON object"));
            };
            for field in ["jobId", "onBehalfOf"] {
                if fields.contains_key(field) {
                    return Err(AppError::param(
                        "opts",
                        format!("{field}: a copy is a job of its own, added for the caller"),
                    ));
                }
            }
            let options = app::options::TaskOptions::from_fields(fields)?;
            match target.other() {
                None => {
                    if name != crate::queue::TASK_JOB_NAME {
                        return Err(AppError::param(
                            "name",
                            format!("Sentinel's own queue runs {}", crate::queue::TASK_JOB_NAME),
                        ));
                    }
                    let payload = app::TaskPayload::from_job_data(&data, self.config().max_seconds)
                        .map_err(|why| AppError::param("data", why))?;
                    let request = super::enqueue::EnqueueRequest {
                        seconds: payload.seconds,
                        options: &options,
                        idempotency_key: None,
                    };
                    self.enqueue(who, request).await
                }
                Some(other) => {
                    if name.is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
                        return Err(AppError::param(
                            "name",
                            "1 to 200 bytes without control characters",
                        ));
                    }
                    if options.timeout_ms.is_some() {
                        return Err(AppError::param(
                            "opts",
                            "timeoutMs: only Sentinel's own workers keep a time limit",
                        ));
                    }
                    self.admit_new_jobs().await?;
                    let id = control::add_copy(&other, name, data, &options).await?;
                    self.forget_reads().await;
                    Ok(id)
                }
            }
        }
        .await;
        let on = self.on_queue(queue, name);
        let done = Done {
            action: "add",
            target: Some(&on),
            count: Some(1),
        };
        self.record(who, done, result, |id| format!("added {id}"))
            .await
    }

    /// Starts a bulk run; its progress so far. The audit entry is completed with the run's
    /// final counts when it ends.
    pub async fn start_bulk(
        &self,
        who: &Principal,
        queue: Option<&str>,
        request: BulkRequest,
    ) -> Result<super::BulkProgress, AppError> {
        let action = format!("bulk:{}", request.action.as_str());
        let count = match &request.target {
            bulk::Target::Ids(ids) => Some(ids.len() as u64),
            bulk::Target::State(_) | bulk::Target::Search(..) => None,
        };
        let asked = self.on_queue(queue, &request.asked);
        let done = Done {
            action: &action,
            target: Some(crate::queue::cut(&asked, 512)),
            count,
        };
        let started = async {
            // The place among this process's runs first (it needs no Redis): a full house is
            // said as such, whatever else is wrong; only someone who may is told.
            self.may(who, Op::Bulk)?;
            let limit = self.config().limits.max_bulk_runs;
            let place = self
                .inner
                .bulk
                .take(limit)
                .ok_or(AppError::TooManyBulkRuns(limit))?;
            let target = self.open(who, Op::Bulk, queue).await?;
            let scope = bulk::Scope {
                service: self.clone(),
                other: target.other(),
                who: who.clone(),
                asked: asked.clone(),
            };
            let run = bulk::start(
                &self.inner.bulk,
                place,
                scope,
                request.action,
                request.target,
            );
            self.forget_reads().await;
            Ok(run.progress())
        }
        .await;
        self.record(who, done, started, |p| format!("started {}", p.bulk))
            .await
    }

    /// A bulk run's progress, if this process started it. When it has finished, the
    /// dashboards' shared reads are cleared (its changes show at once), whichever edge asks.
    pub async fn bulk_progress(
        &self,
        who: &Principal,
        id: &str,
    ) -> Result<Option<super::BulkProgress>, AppError> {
        self.allow(who, Op::BulkProgress).await?;
        let progress = self.inner.bulk.get(id).map(|run| run.progress());
        if progress.as_ref().is_some_and(|p| p.finished) {
            self.forget_reads().await;
        }
        Ok(progress)
    }
}

impl Sentinel {
    /// Sweeps the search index of jobs that are gone (the per-process loop).
    pub async fn sweep_index(&self) {
        let Ok(queue) = self.queue() else {
            return;
        };
        match crate::queue::index::sweep(queue).await {
            Ok(0) => {}
            Ok(removed) => tracing::debug!(removed, "search index swept"),
            Err(error) => tracing::debug!(
                error = %crate::telemetry::error_chain(&error),
                "search index sweep stopped; trying again later"
            ),
        }
    }
}

/// The page `checked` asks of `queue`.
async fn find_in(
    queue: &TaskQueue,
    checked: Asked,
    page: u64,
    size: u64,
) -> Result<JobPage, AppError> {
    let Asked {
        states,
        cursor,
        search: parsed,
    } = checked;
    // `state:` in the search narrows to its states; otherwise `state=` (or every state).
    let states = if parsed.states.is_empty() {
        states
    } else {
        parsed.states.clone()
    };
    if parsed.only_states() {
        return Ok(inspect::list(queue, &states, page, size).await?);
    }
    if let Some(found) = by_id_first(queue, &parsed, &states, page, size).await? {
        return Ok(found);
    }
    Ok(search::run(queue, &parsed, &states, cursor, page, size).await?)
}

/// The page of a search that an id decides: `id:<id>`, or one bare word that is a job's id
/// (a bare word that is none is words of failed reasons: `None`, for the walk).
pub(super) async fn by_id_first(
    queue: &TaskQueue,
    parsed: &Search,
    states: &[JobState],
    page: u64,
    size: u64,
) -> Result<Option<JobPage>, AppError> {
    if let Some(id) = parsed.id.as_deref() {
        return Ok(Some(by_id(queue, parsed, id, states, page, size).await?));
    }
    let Some(bare) = parsed.bare.as_deref() else {
        return Ok(None);
    };
    let id_only = Search {
        words: Vec::new(),
        ..parsed.clone()
    };
    let found = by_id(queue, &id_only, bare, states, page, size).await?;
    Ok((found.total > 0).then_some(found))
}

/// The page for a search by id: the job, if it exists and matches the rest of the search.
async fn by_id(
    queue: &TaskQueue,
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
        skipped: 0,
    })
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
            return Err(AppError::param(
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
            .ok_or_else(|| AppError::param("action", "must be retry, remove, promote or cancel"))?;
        let ids = match value.get("ids") {
            None => None,
            Some(Value::Array(ids)) => Some(
                ids.iter()
                    .map(|id| id.as_str().map(str::to_owned))
                    .collect::<Option<Vec<String>>>()
                    .ok_or_else(|| {
                        AppError::param("ids", "every id must be a job id (text, no ':')")
                    })?,
            ),
            Some(_) => return Err(AppError::param("ids", "give ids (a list) or q, not both")),
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
                    return Err(AppError::param(
                        "ids",
                        format!("must list 1 to {} ids", bulk::MAX_IDS),
                    ));
                }
                let ids = ids
                    .iter()
                    .map(|id| JobId::parse(id).ok())
                    .collect::<Option<Vec<JobId>>>()
                    .ok_or_else(|| {
                        AppError::param("ids", "every id must be a job id (text, no ':')")
                    })?;
                bulk::Target::Ids(ids)
            }
            (None, Some(q)) => {
                let search = Search::parse(&q).map_err(|e| AppError::param("q", e.0))?;
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
            _ => return Err(AppError::param("ids", "give ids (a list) or q, not both")),
        };
        Ok(Self {
            action,
            target,
            asked,
        })
    }
}

/// Job `id` in full, with its whole flow.
async fn read_detail(
    queue: &TaskQueue,
    id: &JobId,
    limits: &crate::config::Limits,
) -> Result<Option<app::admin::JobDetail>, AppError> {
    let limits = crate::queue::stream::EventLimits::from(limits);
    let Some(mut detail) = inspect::detail(queue, id, &limits).await? else {
        return Ok(None);
    };
    detail.family = flows::family(queue, id).await?;
    Ok(Some(detail))
}

/// `detail` with only the part of its flow that `who` may see.
fn seen_by(who: &Principal, mut detail: app::admin::JobDetail) -> app::admin::JobDetail {
    detail.family = flows::seen_by(detail.family, |p, n| who.may_see_queue(p, n));
    detail
}
