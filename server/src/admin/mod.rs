//! The admin API under `/admin/api`: reads for viewers and up, actions for operators and up.
//! Admin reads and actions are not the producer: `inspect.rs` reads, `actions.rs` changes the
//! queue through the engine's scripts; this file is HTTP only (parameters, roles, answers).

pub mod actions;
pub mod bulk;
pub mod inspect;
pub mod overview;
pub mod search;

use std::collections::HashMap;

use app::JobId;
use app::admin::{
    ActionOutcome, CleanOutcome, CleanRequest, JobDetail, JobPage, JobQuery, MAX_PAGE_SIZE,
};
use app::search::Search;
use app::types::JobState;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde_json::{Value, json};

use crate::auth::{Principal, Role, require};
use crate::error::AppError;
use crate::state::AppState;
use actions::{Action, ActionError};

/// The highest page number taken.
const MAX_PAGE: u64 = 1_000_000;

/// Jobs per page when the request does not say.
const DEFAULT_PAGE_SIZE: u64 = 20;

/// The admin routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/api/jobs", get(list_jobs))
        .route("/admin/api/jobs/bulk", post(bulk_action))
        .route("/admin/api/bulk/{bulk}", get(bulk_progress))
        .route("/admin/api/jobs/{id}", get(job))
        .route("/admin/api/jobs/{id}/{action}", post(job_action))
        .route("/admin/api/queue/pause", post(pause))
        .route("/admin/api/queue/resume", post(resume))
        .route("/admin/api/queue/clean", post(clean))
        .route("/admin/api/workers", get(workers))
        .route("/admin/api/metrics", get(metrics))
}

fn param(field: &'static str, message: impl Into<String>) -> AppError {
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
                    crate::events::cut(name, 40)
                ),
            )
        })?;
        if !states.contains(&state) {
            states.push(state);
        }
    }
    Ok(states)
}

fn number(
    query: &HashMap<String, String>,
    field: &'static str,
    default: u64,
    max: u64,
) -> Result<u64, AppError> {
    match query.get(field).map(|v| v.trim()) {
        None => Ok(default),
        Some(raw) => raw
            .parse::<u64>()
            .ok()
            .filter(|n| *n <= max)
            .ok_or_else(|| param(field, format!("must be a whole number from 0 to {max}"))),
    }
}

/// `GET /admin/api/jobs?state=&q=&page=&size=` → a page of jobs and the total.
#[utoipa::path(
    get,
    path = "/admin/api/jobs",
    params(
        ("state" = Option<String>, Query, pattern = "^((waiting|active|delayed|prioritized|completed|failed|waiting-children)(,(waiting|active|delayed|prioritized|completed|failed|waiting-children))*)?$", description = "States, comma-separated (waiting, active, delayed, prioritized, completed, failed, waiting-children); all when absent"),
        ("q" = Option<String>, Query, max_length = 200, description = "Search: `id:<id>` (or one bare word that is an id), `name:<name>`, `state:<state>[,<state>]`, `data.<field>[.<field>]:<value>`, and words or \"quoted phrases\" that must all appear in the failed reason; quote values holding spaces or ':'. Jobs Sentinel adds are found through an index; jobs other producers add, by a scan of at most 5,000 jobs per request that answers `next` to go on"),
        ("cursor" = Option<String>, Query, description = "Where a search goes on: the `next` of its previous answer"),
        ("page" = Option<u64>, Query, minimum = 0, maximum = 1000000, description = "Page number from 0"),
        ("size" = Option<u64>, Query, minimum = 1, maximum = 100, description = "Jobs per page, at most 100 (default 20)"),
    ),
    responses(
        (status = 200, description = "A page of jobs", body = app::admin::JobPage),
        (status = 400, description = "A parameter was refused; the body names it", body = crate::openapi::ErrorBody),
        (status = 401, description = "Sign in first", body = crate::openapi::ErrorBody),
        (status = 403, description = "Viewers and up only", body = crate::openapi::ErrorBody),
        (status = 503, description = "The queue is not reachable", body = crate::openapi::ErrorBody),
    )
)]
pub async fn list_jobs(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<JobPage>, AppError> {
    require(principal.as_deref(), Role::Viewer)?;
    let page = number(&query, "page", 0, MAX_PAGE)?;
    let size = number(&query, "size", DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE as u64)?;
    let asked = JobQuery {
        state: query.get("state").cloned(),
        q: query.get("q").cloned(),
        cursor: query.get("cursor").cloned(),
        page,
        size,
    };
    Ok(Json(find(&state, &asked).await?))
}

/// A page of jobs for `asked` (the listing, or a search): what `GET /admin/api/jobs` answers,
/// and the dashboard shows. The caller checked the role.
pub async fn find(state: &AppState, asked: &JobQuery) -> Result<JobPage, AppError> {
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
    let queue = state.queue()?;
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
    queue: &crate::engine::TaskQueue,
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

/// `GET /admin/api/jobs/{id}` → the job in full.
#[utoipa::path(
    get,
    path = "/admin/api/jobs/{id}",
    params(("id" = String, Path, min_length = 1, max_length = 256, pattern = r"^[^:\u0000-\u001f\u007f-\u009f]{1,256}$", description = "The job id")),
    responses(
        (status = 200, description = "The job", body = app::admin::JobDetail),
        (status = 400, description = "An id that can name no job", body = crate::openapi::ErrorBody),
        (status = 401, description = "Sign in first", body = crate::openapi::ErrorBody),
        (status = 403, description = "Viewers and up only", body = crate::openapi::ErrorBody),
        (status = 404, description = "No such job", body = crate::openapi::ErrorBody),
        (status = 503, description = "The queue is not reachable", body = crate::openapi::ErrorBody),
    )
)]
pub async fn job(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
    Path(raw_id): Path<String>,
) -> Result<Json<JobDetail>, AppError> {
    require(principal.as_deref(), Role::Viewer)?;
    let id = parse_id(&raw_id)?;
    let limits = crate::events::EventLimits::from(&state.config.limits);
    inspect::detail(state.queue()?, &id, &limits)
        .await?
        .map(Json)
        .ok_or(AppError::NotFound { id: raw_id })
}

fn parse_id(raw: &str) -> Result<JobId, AppError> {
    JobId::parse(raw).map_err(|source| AppError::InvalidId {
        id: raw.to_string(),
        source,
    })
}

/// `POST /admin/api/jobs/{id}/{action}` with `action` one of `retry`, `remove`, `promote`,
/// `cancel`.
#[utoipa::path(
    post,
    path = "/admin/api/jobs/{id}/{action}",
    params(
        ("id" = String, Path, min_length = 1, max_length = 256, pattern = r"^[^:\u0000-\u001f\u007f-\u009f]{1,256}$", description = "The job id"),
        ("action" = String, Path, pattern = "^(retry|remove|promote|cancel)$", description = "retry (failed or completed), remove (not running), promote (delayed), cancel (not finished: removed, or stopped where it runs)"),
    ),
    responses(
        (status = 200, description = "Done (`result` is `requested` for a running job being stopped)", body = app::admin::ActionOutcome),
        (status = 400, description = "An id that can name no job", body = crate::openapi::ErrorBody),
        (status = 401, description = "Sign in first", body = crate::openapi::ErrorBody),
        (status = 403, description = "Operators and up only", body = crate::openapi::ErrorBody),
        (status = 404, description = "No such job or action", body = crate::openapi::ErrorBody),
        (status = 409, description = "The job's state does not allow it; the body names the state", body = crate::openapi::ErrorBody),
        (status = 503, description = "The queue is not reachable", body = crate::openapi::ErrorBody),
    )
)]
pub async fn job_action(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
    Path((raw_id, name)): Path<(String, String)>,
) -> Result<Json<ActionOutcome>, AppError> {
    require(principal.as_deref(), Role::Operator)?;
    let action = Action::parse(&name).ok_or(AppError::NoRoute)?;
    let id = parse_id(&raw_id)?;
    let config = &state.config;
    match actions::act(state.queue()?, &config.prefix, &config.queue, &id, action).await {
        Ok(outcome) => Ok(Json(outcome)),
        Err(ActionError::NotFound) => Err(AppError::NotFound { id: raw_id }),
        Err(ActionError::Conflict { state, message }) => Err(AppError::Conflict { state, message }),
        Err(ActionError::Engine(error)) => Err(error.into()),
    }
}

/// `POST /admin/api/queue/pause`: workers of every process stop taking jobs.
#[utoipa::path(post, path = "/admin/api/queue/pause", responses(
    (status = 200, description = "Paused"),
    (status = 401, description = "Sign in first", body = crate::openapi::ErrorBody),
    (status = 403, description = "Operators and up only", body = crate::openapi::ErrorBody),
    (status = 503, description = "The queue is not reachable", body = crate::openapi::ErrorBody),
))]
pub async fn pause(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
) -> Result<Json<Value>, AppError> {
    require(principal.as_deref(), Role::Operator)?;
    actions::pause(state.queue()?, true).await?;
    Ok(Json(json!({"paused": true})))
}

/// `POST /admin/api/queue/resume`.
#[utoipa::path(post, path = "/admin/api/queue/resume", responses(
    (status = 200, description = "Resumed"),
    (status = 401, description = "Sign in first", body = crate::openapi::ErrorBody),
    (status = 403, description = "Operators and up only", body = crate::openapi::ErrorBody),
    (status = 503, description = "The queue is not reachable", body = crate::openapi::ErrorBody),
))]
pub async fn resume(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
) -> Result<Json<Value>, AppError> {
    require(principal.as_deref(), Role::Operator)?;
    actions::pause(state.queue()?, false).await?;
    Ok(Json(json!({"paused": false})))
}

/// `POST /admin/api/queue/clean` `{"state": "completed"|"failed", "olderThanMs", "limit",
/// "dryRun"}`.
#[utoipa::path(
    post,
    path = "/admin/api/queue/clean",
    request_body(content = app::admin::CleanRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Removed (or, on a dry run, would remove) this many", body = app::admin::CleanOutcome),
        (status = 400, description = "A field was refused; the body names it", body = crate::openapi::ErrorBody),
        (status = 401, description = "Sign in first", body = crate::openapi::ErrorBody),
        (status = 403, description = "Operators and up only", body = crate::openapi::ErrorBody),
        (status = 415, description = "A body that is not JSON", body = crate::openapi::ErrorBody),
        (status = 503, description = "The queue is not reachable", body = crate::openapi::ErrorBody),
    )
)]
pub async fn clean(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
    body: axum::body::Bytes,
) -> Result<Json<CleanOutcome>, AppError> {
    require(principal.as_deref(), Role::Operator)?;
    let value: Value = serde_json::from_slice(&body)
        .map_err(|e| AppError::InvalidBody(format!("expected a JSON object: {e}")))?;
    let request = CleanRequest::from_json(&value)?;
    Ok(Json(actions::clean(state.queue()?, &request).await?))
}

/// `GET /admin/api/workers` → every live worker on the queue.
#[utoipa::path(get, path = "/admin/api/workers", responses(
    (status = 200, description = "Sentinel workers (heartbeats) and other BullMQ workers (named connections)", body = app::admin::WorkerList),
    (status = 401, description = "Sign in first", body = crate::openapi::ErrorBody),
    (status = 403, description = "Viewers and up only", body = crate::openapi::ErrorBody),
    (status = 503, description = "The queue is not reachable", body = crate::openapi::ErrorBody),
))]
pub async fn workers(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
) -> Result<Json<app::admin::WorkerList>, AppError> {
    require(principal.as_deref(), Role::Viewer)?;
    let config = &state.config;
    Ok(Json(
        inspect::workers(state.queue()?, &config.prefix, &config.queue).await?,
    ))
}

/// `GET /admin/api/metrics?minutes=60` → per minute: completed, failed, wait and run time
/// percentiles, shared by all processes.
#[utoipa::path(
    get,
    path = "/admin/api/metrics",
    params(("minutes" = Option<u64>, Query, minimum = 1, maximum = 120, description = "Minutes back, the current one included (default 60)")),
    responses(
        (status = 200, description = "The last minutes, oldest first", body = app::admin::MetricsReport),
        (status = 400, description = "A parameter was refused; the body names it", body = crate::openapi::ErrorBody),
        (status = 401, description = "Sign in first", body = crate::openapi::ErrorBody),
        (status = 403, description = "Viewers and up only", body = crate::openapi::ErrorBody),
        (status = 503, description = "The queue is not reachable", body = crate::openapi::ErrorBody),
    )
)]
pub async fn metrics(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<app::admin::MetricsReport>, AppError> {
    require(principal.as_deref(), Role::Viewer)?;
    let minutes = number(&query, "minutes", 60, 120)?;
    if minutes == 0 {
        return Err(param("minutes", "must be a whole number from 1 to 120"));
    }
    let config = &state.config;
    Ok(Json(
        inspect::metrics(state.queue()?, &config.prefix, &config.queue, minutes).await?,
    ))
}

/// `POST /admin/api/jobs/bulk` `{"action", "ids": [...]}` or `{"action", "q": "<search>"}`
/// → `202` with the run's progress; follow it at `GET /admin/api/bulk/{bulk}`.
#[utoipa::path(
    post,
    path = "/admin/api/jobs/bulk",
    request_body(content = crate::openapi::BulkBody, content_type = "application/json"),
    responses(
        (status = 202, description = "Started; the body is its progress so far"),
        (status = 400, description = "A field was refused; the body names it", body = crate::openapi::ErrorBody),
        (status = 401, description = "Sign in first", body = crate::openapi::ErrorBody),
        (status = 403, description = "Operators and up only", body = crate::openapi::ErrorBody),
        (status = 413, description = "Body over MAX_BULK_BODY_BYTES", body = crate::openapi::ErrorBody),
        (status = 429, description = "MAX_BULK_RUNS runs are under way on this process", body = crate::openapi::ErrorBody),
        (status = 503, description = "The queue is not reachable", body = crate::openapi::ErrorBody),
    )
)]
pub async fn bulk_action(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
    body: axum::body::Bytes,
) -> Result<(axum::http::StatusCode, Json<bulk::Progress>), AppError> {
    require(principal.as_deref(), Role::Operator)?;
    let value: Value = serde_json::from_slice(&body)
        .map_err(|e| AppError::InvalidBody(format!("expected a JSON object: {e}")))?;
    let progress = start_bulk(&state, &value)?;
    Ok((axum::http::StatusCode::ACCEPTED, Json(progress)))
}

/// Starts the bulk run a body asks for (`{"action", "ids"}` or `{"action", "q"}`); the
/// caller checked the role.
pub fn start_bulk(state: &AppState, value: &Value) -> Result<bulk::Progress, AppError> {
    // `action` with `ids`, or `action` with `q`: nothing else.
    if let Some(extra) = value.as_object().and_then(|fields| {
        fields
            .keys()
            .find(|k| !matches!(k.as_str(), "action" | "ids" | "q"))
    }) {
        return Err(param(
            "body",
            format!(
                "unknown field {:?}: give action with ids or q",
                crate::events::cut(extra, 40)
            ),
        ));
    }
    let action = value
        .get("action")
        .and_then(Value::as_str)
        .and_then(Action::parse)
        .ok_or_else(|| param("action", "must be retry, remove, promote or cancel"))?;
    let target = match (value.get("ids"), value.get("q").and_then(Value::as_str)) {
        (Some(Value::Array(ids)), None) => {
            if ids.is_empty() || ids.len() > bulk::MAX_IDS {
                return Err(param(
                    "ids",
                    format!("must list 1 to {} ids", bulk::MAX_IDS),
                ));
            }
            let ids = ids
                .iter()
                .map(|id| id.as_str().and_then(|id| JobId::parse(id).ok()))
                .collect::<Option<Vec<JobId>>>()
                .ok_or_else(|| param("ids", "every id must be a job id (text, no ':')"))?;
            bulk::Target::Ids(ids)
        }
        (None, Some(q)) => {
            let search = Search::parse(q).map_err(|e| param("q", e.0))?;
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
    state.queue()?;
    let run = bulk::start(&state.bulk, state.clone(), action, target)
        .ok_or(AppError::TooManyBulkRuns(state.config.limits.max_bulk_runs))?;
    Ok(run.progress())
}

/// `GET /admin/api/bulk/{bulk}` → a bulk run's progress (runs this process started).
#[utoipa::path(
    get,
    path = "/admin/api/bulk/{bulk}",
    params(("bulk" = String, Path, description = "The run's id, from the bulk request's answer")),
    responses(
        (status = 200, description = "Its progress"),
        (status = 401, description = "Sign in first", body = crate::openapi::ErrorBody),
        (status = 403, description = "Viewers and up only", body = crate::openapi::ErrorBody),
        (status = 404, description = "No such run on this process", body = crate::openapi::ErrorBody),
    )
)]
pub async fn bulk_progress(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
    Path(id): Path<String>,
) -> Result<Json<bulk::Progress>, AppError> {
    require(principal.as_deref(), Role::Viewer)?;
    state
        .bulk
        .get(&id)
        .map(|run| Json(run.progress()))
        .ok_or(AppError::NotFound { id })
}
