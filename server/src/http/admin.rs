//! The admin API under `/admin/api`: each route reads its parameters, calls one method of the
//! service (which checks the caller's role, grant and rate itself, as it does for the
//! dashboard's server functions) and answers. HTTP only: parameters and answers.

use std::collections::HashMap;

use app::admin::{
    ActionOutcome, CleanOutcome, CleanRequest, JobDetail, JobPage, JobQuery, MAX_PAGE_SIZE,
};
use axum::extract::{Path, Query, State};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde_json::{Value, json};

use app::admin::{QueueAction, SchedulerAction};

use super::params::{parse_id, queue_of};
use crate::error::AppError;
use crate::http::state::{AppState, Caller};
use crate::service::jobs::{BulkRequest, MAX_PAGE};
use crate::service::{BulkProgress, Op, Sentinel};

/// Jobs per page when the request does not say.
const DEFAULT_PAGE_SIZE: u64 = 20;

/// The admin routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/admin/api/jobs",
            get(list_jobs).post(super::writes::add_job),
        )
        .route("/admin/api/search", get(search_across))
        .route("/admin/api/jobs/bulk", post(bulk_action))
        .route("/admin/api/bulk/{bulk}", get(bulk_progress))
        .route("/admin/api/jobs/{id}", get(job))
        .route("/admin/api/jobs/{id}/why", get(why))
        .route("/admin/api/jobs/{id}/flow", get(flow))
        .route("/admin/api/jobs/{id}/data", put(super::writes::edit_data))
        .route("/admin/api/jobs/{id}/{action}", post(job_action))
        .route("/admin/api/queue/pause", post(pause))
        .route("/admin/api/queue/resume", post(resume))
        .route("/admin/api/queue/clean", post(clean))
        .route("/admin/api/workers", get(workers))
        .route("/admin/api/queues", get(queues))
        .route("/admin/api/audit", get(audit))
        .route("/admin/api/alerts", get(alerts))
        .route("/admin/api/alerts/firing", get(firing))
        .route("/admin/api/alerts/{rule}/ack", post(ack))
        .route("/admin/api/schedulers", get(list_schedulers))
        .route(
            "/admin/api/schedulers/{id}",
            axum::routing::put(upsert_scheduler).delete(remove_scheduler),
        )
        .route(
            "/admin/api/schedulers/{id}/{action}",
            post(scheduler_action),
        )
        .route("/admin/api/metrics", get(metrics))
        .route("/admin/api/history", get(history))
}

fn number(
    query: &HashMap<String, String>,
    field: &'static str,
    default: u64,
    max: u64,
) -> Result<u64, AppError> {
    match query.get(field) {
        None => Ok(default),
        Some(raw) => raw
            .parse::<u64>()
            .ok()
            .filter(|n| *n <= max)
            .ok_or_else(|| {
                AppError::param(field, format!("must be a whole number from 0 to {max}"))
            }),
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
        crate::http::schema::OnQueue,
    ),
    responses(
        (status = 200, description = "A page of jobs", body = app::admin::JobPage),
        (status = 400, description = "A parameter was refused; the body names it", body = crate::error::ErrorBody),
        (status = 404, description = "No such queue (or not one the caller may see)", body = crate::error::ErrorBody),
        crate::http::schema::ForViewers,
    )
)]
pub async fn list_jobs(
    State(sentinel): State<Sentinel>,
    Caller(who): Caller,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<JobPage>, AppError> {
    sentinel.may(&who, Op::ReadJobs)?;
    let asked = JobQuery {
        state: query.get("state").cloned(),
        q: query.get("q").cloned(),
        cursor: query.get("cursor").cloned(),
        page: number(&query, "page", 0, MAX_PAGE)?,
        size: number(&query, "size", DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE as u64)?,
        queue: query.get("queue").cloned(),
    };
    Ok(Json(sentinel.find(&who, &asked).await?))
}

/// `GET /admin/api/search?q=&cursor=&size=&queue=&scope=` → the jobs a search finds across
/// queues.
#[utoipa::path(
    get,
    path = "/admin/api/search",
    params(
        ("q" = Option<String>, Query, max_length = 200, description = "The search, in the language of `GET /admin/api/jobs`'s `q` (absent or blank: every job); the queue named by `queue` is searched first"),
        ("cursor" = Option<String>, Query, description = "Where the search goes on: the `next` of its previous answer"),
        ("size" = Option<u64>, Query, minimum = 1, maximum = 100, description = "Jobs per page, at most 100 (default 20)"),
        crate::http::schema::OnQueue,
        ("scope" = Option<String>, Query, pattern = "^(all|view)$", description = "`all` (default): every queue the caller may see; `view`: only Sentinel's own queue and the queue in view. One request examines at most 5,000 jobs over all the queues it searches, queue after queue, and answers `next` to go on"),
    ),
    responses(
        (status = 200, description = "The jobs found, each with its queue, and the matches per queue searched", body = app::admin::AcrossPage),
        (status = 400, description = "A parameter was refused; the body names it", body = crate::error::ErrorBody),
        (status = 404, description = "The queue in view, or the one the cursor names, is not one the caller may see", body = crate::error::ErrorBody),
        crate::http::schema::ForViewers,
    )
)]
pub async fn search_across(
    State(sentinel): State<Sentinel>,
    Caller(who): Caller,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<app::admin::AcrossPage>, AppError> {
    sentinel.may(&who, Op::ReadJobs)?;
    // Exactly the documented values: a blank or padded one is refused like any other.
    let only_in_view = match query.get("scope").map(String::as_str) {
        None | Some("all") => false,
        Some("view") => true,
        Some(_) => return Err(AppError::param("scope", "must be all or view")),
    };
    let asked = app::admin::AcrossQuery {
        q: query.get("q").cloned().unwrap_or_default(),
        cursor: query.get("cursor").cloned(),
        size: number(&query, "size", DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE as u64)?,
        queue: query.get("queue").cloned(),
        only_in_view,
    };
    Ok(Json(sentinel.search_across(&who, &asked).await?))
}

/// `GET /admin/api/jobs/{id}` → the job in full.
#[utoipa::path(
    get,
    path = "/admin/api/jobs/{id}",
    params(
        ("id" = String, Path, min_length = 1, max_length = 256, pattern = r"^([^:\u0000-\u001f\u007f-\u009f]{1,256}|repeat:[^\u0000-\u001f\u007f-\u009f]+:[0-9]{1,20})$", description = "The job id: no ':' and no control characters, or a job scheduler's job (`repeat:<scheduler>:<ms>`)"),
        crate::http::schema::OnQueue,
    ),
    responses(
        (status = 200, description = "The job", body = app::admin::JobDetail),
        (status = 400, description = "An id that can name no job", body = crate::error::ErrorBody),
        (status = 404, description = "No such job or queue", body = crate::error::ErrorBody),
        crate::http::schema::ForViewers,
    )
)]
pub async fn job(
    State(sentinel): State<Sentinel>,
    Caller(who): Caller,
    Path(raw_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<JobDetail>, AppError> {
    sentinel.may(&who, Op::ReadJob)?;
    let id = parse_id(&raw_id)?;
    sentinel
        .job(&who, queue_of(&query), &id)
        .await?
        .map(Json)
        .ok_or(AppError::NotFound { id: raw_id })
}

/// `GET /admin/api/jobs/{id}/flow?page=0` → the flow's tree around the job: from its topmost
/// parent down every level, depth first, 1,000 nodes a page.
#[utoipa::path(
    get,
    path = "/admin/api/jobs/{id}/flow",
    params(
        ("id" = String, Path, min_length = 1, max_length = 256, pattern = r"^([^:\u0000-\u001f\u007f-\u009f]{1,256}|repeat:[^\u0000-\u001f\u007f-\u009f]+:[0-9]{1,20})$", description = "The job id"),
        ("page" = Option<u32>, Query, minimum = 0, maximum = 19, description = "The page of 1,000 nodes (0 first)"),
        crate::http::schema::OnQueue,
    ),
    responses(
        (status = 200, description = "A page of the tree's nodes, depth first", body = app::admin::FlowTree),
        (status = 400, description = "An id that can name no job, or a page out of range", body = crate::error::ErrorBody),
        (status = 404, description = "No such job or queue", body = crate::error::ErrorBody),
        crate::http::schema::ForViewers,
    )
)]
pub async fn flow(
    State(sentinel): State<Sentinel>,
    Caller(who): Caller,
    Path(raw_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<app::admin::FlowTree>, AppError> {
    sentinel.may(&who, Op::ReadJob)?;
    let id = parse_id(&raw_id)?;
    let page = number(&query, "page", 0, 19)?;
    Ok(Json(
        sentinel
            .flow_tree(&who, queue_of(&query), &id, page as u32)
            .await?,
    ))
}

/// `GET /admin/api/jobs/{id}/why` → why the job is not running: each reason that holds now.
#[utoipa::path(
    get,
    path = "/admin/api/jobs/{id}/why",
    params(
        ("id" = String, Path, min_length = 1, max_length = 256, pattern = r"^([^:\u0000-\u001f\u007f-\u009f]{1,256}|repeat:[^\u0000-\u001f\u007f-\u009f]+:[0-9]{1,20})$", description = "The job id"),
        crate::http::schema::OnQueue,
    ),
    responses(
        (status = 200, description = "The reasons, the deciding one first (finished, running, lock lost, delayed, waiting for children, queue paused, no worker, rate-limited, global concurrency reached, workers busy, jobs ahead, no processor for its name; or nothing holds it)", body = app::admin::WhyReport),
        (status = 400, description = "An id that can name no job", body = crate::error::ErrorBody),
        (status = 404, description = "No such job or queue", body = crate::error::ErrorBody),
        crate::http::schema::ForViewers,
    )
)]
pub async fn why(
    State(sentinel): State<Sentinel>,
    Caller(who): Caller,
    Path(raw_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<app::admin::WhyReport>, AppError> {
    sentinel.may(&who, Op::ReadWhy)?;
    let id = parse_id(&raw_id)?;
    sentinel
        .why(&who, queue_of(&query), &id)
        .await?
        .map(Json)
        .ok_or(AppError::NotFound { id: raw_id })
}

/// `POST /admin/api/jobs/{id}/{action}` with `action` one of `retry`, `remove`, `promote`,
/// `cancel`.
#[utoipa::path(
    post,
    path = "/admin/api/jobs/{id}/{action}",
    params(
        ("id" = String, Path, min_length = 1, max_length = 256, pattern = r"^([^:\u0000-\u001f\u007f-\u009f]{1,256}|repeat:[^\u0000-\u001f\u007f-\u009f]+:[0-9]{1,20})$", description = "The job id: no ':' and no control characters, or a job scheduler's job (`repeat:<scheduler>:<ms>`)"),
        ("action" = String, Path, pattern = "^(retry|remove|promote|cancel)$", description = "retry (failed or completed), remove (not running), promote (delayed), cancel (not finished: removed, or stopped where it runs; a running job of a queue Sentinel's workers do not run cannot be stopped: 409)"),
        crate::http::schema::OnQueue,
    ),
    responses(
        (status = 200, description = "Done (`result` is `requested` for a running job being stopped)", body = app::admin::ActionOutcome),
        (status = 400, description = "An id that can name no job, or an unknown action (the body names it)", body = crate::error::ErrorBody),
        (status = 404, description = "No such job or queue", body = crate::error::ErrorBody),
        (status = 409, description = "The job's state does not allow it; the body names the state", body = crate::error::ErrorBody),
        crate::http::schema::ForOperators,
    )
)]
pub async fn job_action(
    State(sentinel): State<Sentinel>,
    Caller(who): Caller,
    Path((raw_id, name)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<ActionOutcome>, AppError> {
    sentinel.may(&who, Op::JobAction)?;
    let action = crate::service::jobs::job_action(&name)?;
    let id = parse_id(&raw_id)?;
    Ok(Json(
        sentinel.act(&who, queue_of(&query), &id, action).await?,
    ))
}

/// `POST /admin/api/queue/pause`: workers of every process stop taking jobs.
#[utoipa::path(post, path = "/admin/api/queue/pause", params(crate::http::schema::OnQueue), responses(
    (status = 400, description = "A parameter was refused (a queue that is not `<prefix>:<name>`); the body names it", body = crate::error::ErrorBody),
    (status = 404, description = "No such queue (or not one the caller may see)", body = crate::error::ErrorBody),
    (status = 200, description = "Paused"),
    crate::http::schema::ForOperators,
))]
pub async fn pause(
    State(sentinel): State<Sentinel>,
    Caller(who): Caller,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, AppError> {
    sentinel
        .queue_action(&who, queue_of(&query), QueueAction::Pause)
        .await?;
    Ok(Json(json!({"paused": true})))
}

/// `POST /admin/api/queue/resume`.
#[utoipa::path(post, path = "/admin/api/queue/resume", params(crate::http::schema::OnQueue), responses(
    (status = 400, description = "A parameter was refused (a queue that is not `<prefix>:<name>`); the body names it", body = crate::error::ErrorBody),
    (status = 404, description = "No such queue (or not one the caller may see)", body = crate::error::ErrorBody),
    (status = 200, description = "Resumed"),
    crate::http::schema::ForOperators,
))]
pub async fn resume(
    State(sentinel): State<Sentinel>,
    Caller(who): Caller,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, AppError> {
    sentinel
        .queue_action(&who, queue_of(&query), QueueAction::Resume)
        .await?;
    Ok(Json(json!({"paused": false})))
}

/// `POST /admin/api/queue/clean` `{"state": "completed"|"failed", "olderThanMs", "limit",
/// "dryRun"}`.
#[utoipa::path(
    post,
    path = "/admin/api/queue/clean",
    params(crate::http::schema::OnQueue),
    request_body(content = app::admin::CleanRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Removed (or, on a dry run, would remove) this many", body = app::admin::CleanOutcome),
        (status = 400, description = "A field was refused; the body names it", body = crate::error::ErrorBody),
        (status = 415, description = "A body that is not JSON", body = crate::error::ErrorBody),
        (status = 404, description = "No such queue (or not one the caller may see)", body = crate::error::ErrorBody),
        crate::http::schema::ForOperators,
    )
)]
pub async fn clean(
    State(sentinel): State<Sentinel>,
    Caller(who): Caller,
    Query(query): Query<HashMap<String, String>>,
    body: axum::body::Bytes,
) -> Result<Json<CleanOutcome>, AppError> {
    sentinel.may(&who, Op::CleanQueue)?;
    let value: Value = serde_json::from_slice(&body)
        .map_err(|e| AppError::InvalidBody(format!("expected a JSON object: {e}")))?;
    let request = CleanRequest::from_json(&value)?;
    Ok(Json(
        sentinel.clean(&who, queue_of(&query), &request).await?,
    ))
}

/// `GET /admin/api/queues?rescan=true&filter=&offset=&limit=` → a page of the BullMQ queues on
/// the Redis, with their counts.
#[utoipa::path(get, path = "/admin/api/queues",
    params(
        ("rescan" = Option<bool>, Query, description = "Scan the Redis for queues now (otherwise the last scan, at most 10 s old, is used)"),
        ("filter" = Option<String>, Query, description = "Only queues whose `<prefix>:<name>` holds this, any case (no control characters)", max_length = 200, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$"),
        ("offset" = Option<u32>, Query, description = "Queues skipped (by prefix, then name)", maximum = 1000000),
        ("limit" = Option<u32>, Query, description = "Queues listed (default 50)", minimum = 1, maximum = 500),
    ),
    responses(
    (status = 200, description = "Every BullMQ queue found on the Redis (under SENTINEL_DISCOVER_PREFIXES when set), with its counts as Node's getJobCounts gives them", body = app::admin::QueueList),
    (status = 400, description = "rescan is not true or false, or filter, offset or limit is out of bounds (the body names it)", body = crate::error::ErrorBody),
    crate::http::schema::ForViewers,
))]
pub async fn queues(
    State(sentinel): State<Sentinel>,
    Caller(who): Caller,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<app::admin::QueueList>, AppError> {
    sentinel.may(&who, Op::ListQueues)?;
    let rescan = match query.get("rescan").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(AppError::param("rescan", "must be true or false")),
    };
    let number = |field: &'static str, default: u32| match query.get(field) {
        None => Ok(default),
        Some(text) => text
            .parse::<u32>()
            .map_err(|_| AppError::param(field, "must be a whole number")),
    };
    let asked = app::admin::QueueListQuery {
        rescan,
        filter: query.get("filter").cloned().unwrap_or_default(),
        offset: number("offset", 0)?,
        limit: number("limit", app::admin::QUEUES_PER_PAGE)?,
    };
    Ok(Json(sentinel.queues(&who, &asked).await?))
}

/// The latest time an audit query takes (ms since the epoch; the year 2286).
const MAX_AUDIT_TIME: u64 = 10_000_000_000_000;

/// `GET /admin/api/audit?who=&action=&since=&until=&before=&limit=` → the audit log, newest
/// first (admins only).
#[utoipa::path(get, path = "/admin/api/audit",
    params(
        ("who" = Option<String>, Query, description = "Only this owner's entries (`token:ci`, `user:alice`, `local`)"),
        ("action" = Option<String>, Query, description = "Only this action's entries (`retry`, `pause`, `clean`, `bulk:remove`, `sign-in`, ...)"),
        ("since" = Option<u64>, Query, minimum = 0, maximum = 10000000000000u64, description = "Only entries from this time on (ms since the epoch)"),
        ("until" = Option<u64>, Query, minimum = 0, maximum = 10000000000000u64, description = "Only entries up to this time (ms since the epoch)"),
        ("before" = Option<String>, Query, pattern = "^([0-9]{1,19}(-[0-9]{1,19})?)?$", description = "Only entries older than this one (the `next` of an answer)"),
        ("limit" = Option<u64>, Query, minimum = 1, maximum = 200, description = "Entries at most (default 50)"),
    ),
    responses(
        (status = 200, description = "Entries newest first, and where older ones go on", body = app::admin::AuditPage),
        (status = 400, description = "A parameter was refused; the body names it", body = crate::error::ErrorBody),
        (status = 401, description = "Sign in first", body = crate::error::ErrorBody),
        (status = 403, description = "Admins only", body = crate::error::ErrorBody),
        (status = 503, description = "The queue is not reachable", body = crate::error::ErrorBody),
    )
)]
pub async fn audit(
    State(sentinel): State<Sentinel>,
    Caller(who): Caller,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<app::admin::AuditPage>, AppError> {
    sentinel.may(&who, Op::ReadAudit)?;
    let limit = number(&query, "limit", 50, 200)?;
    let time = |field: &'static str| -> Result<Option<u64>, AppError> {
        query
            .get(field)
            .map(|_| number(&query, field, 0, MAX_AUDIT_TIME))
            .transpose()
    };
    let asked = crate::service::audit::query(
        query.get("who").map(String::as_str),
        query.get("action").map(String::as_str),
        time("since")?,
        time("until")?,
        query.get("before").map(String::as_str),
    )?;
    Ok(Json(
        sentinel.audit_page(&who, &asked, limit as usize).await?,
    ))
}

/// `GET /admin/api/alerts` → the alert rules with their state, the targets with how their
/// deliveries went, and the last delivery attempts (operators and admins).
#[utoipa::path(get, path = "/admin/api/alerts",
    responses(
        (status = 200, description = "The rules of SENTINEL_ALERTS_FILE (ok, pending or firing, since when, what the last check saw), the targets (without credentials) and the last 100 delivery attempts, newest first", body = app::admin::AlertsReport),
        (status = 401, description = "Sign in first", body = crate::error::ErrorBody),
        (status = 403, description = "Operators and admins only", body = crate::error::ErrorBody),
        (status = 503, description = "The queue is not reachable", body = crate::error::ErrorBody),
    )
)]
pub async fn alerts(
    State(sentinel): State<Sentinel>,
    Caller(who): Caller,
) -> Result<Json<app::admin::AlertsReport>, AppError> {
    Ok(Json(sentinel.alerts_report(&who).await?))
}

/// `GET /admin/api/alerts/firing` → how many rules the caller may see fire now (the nav's
/// count and the banner on every dashboard page).
#[utoipa::path(get, path = "/admin/api/alerts/firing",
    responses(
        (status = 200, description = "Rules firing now, of those the caller may see, and how many nobody acknowledged", body = app::admin::FiringSummary),
        crate::http::schema::ForViewers,
    )
)]
pub async fn firing(
    State(sentinel): State<Sentinel>,
    Caller(who): Caller,
) -> Result<Json<app::admin::FiringSummary>, AppError> {
    Ok(Json(sentinel.firing(&who).await?))
}

/// `POST /admin/api/alerts/{rule}/ack` `{"minutes"?}` → acknowledges a firing rule: no
/// reminders until it resolves (or for `minutes`); firing and resolving go on as usual.
#[utoipa::path(post, path = "/admin/api/alerts/{rule}/ack",
    params(("rule" = String, Path, min_length = 1, max_length = 100, pattern = "^[A-Za-z0-9._-]{1,100}$", description = "The rule's name")),
    request_body(content = Option<app::admin::AckRequest>, content_type = "application/json"),
    responses(
        (status = 200, description = "Acknowledged"),
        (status = 400, description = "A field was refused; the body names it", body = crate::error::ErrorBody),
        (status = 404, description = "No such rule (or not one the caller may see)", body = crate::error::ErrorBody),
        (status = 409, description = "The rule does not fire now", body = crate::error::ErrorBody),
        crate::http::schema::ForOperators,
    )
)]
pub async fn ack(
    State(sentinel): State<Sentinel>,
    Caller(who): Caller,
    Path(rule): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, AppError> {
    sentinel.may(&who, Op::AckAlert)?;
    let value: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| AppError::InvalidBody(format!("expected {{\"minutes\": n}}: {e}")))?
    };
    // `minutes` as JSON Schema's `integer` reads it: `60` or `60.0`; other fields are ignored.
    let minutes = match value.get("minutes") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => Some(
            n.as_u64()
                .or_else(|| {
                    n.as_f64()
                        .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < 1e15)
                        .map(|f| f as u64)
                })
                .ok_or_else(|| {
                    AppError::param("minutes", "must be a whole number from 1 to 10080")
                })?,
        ),
        Some(_) => {
            return Err(AppError::param(
                "minutes",
                "must be a whole number from 1 to 10080",
            ));
        }
    };
    if !matches!(value, Value::Null | Value::Object(_)) {
        return Err(AppError::InvalidBody("expected {\"minutes\": n}".into()));
    }
    let request = app::admin::AckRequest { minutes };
    sentinel.ack_alert(&who, &rule, &request).await?;
    Ok(Json(json!({"rule": rule, "acknowledged": true})))
}

/// `GET /admin/api/workers` → every live worker on the queue.
#[utoipa::path(get, path = "/admin/api/workers", params(crate::http::schema::OnQueue), responses(
    (status = 400, description = "A parameter was refused (a queue that is not `<prefix>:<name>`); the body names it", body = crate::error::ErrorBody),
    (status = 404, description = "No such queue (or not one the caller may see)", body = crate::error::ErrorBody),
    (status = 200, description = "Sentinel workers (heartbeats) and other BullMQ workers (named connections)", body = app::admin::WorkerList),
    crate::http::schema::ForViewers,
))]
pub async fn workers(
    State(sentinel): State<Sentinel>,
    Caller(who): Caller,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<app::admin::WorkerList>, AppError> {
    Ok(Json(sentinel.workers(&who, queue_of(&query)).await?))
}

/// `GET /admin/api/metrics?minutes=60` → per minute: completed, failed, wait and run time
/// percentiles, shared by all processes.
#[utoipa::path(
    get,
    path = "/admin/api/metrics",
    params(
        ("minutes" = Option<u64>, Query, minimum = 1, maximum = 120, description = "Minutes back, the current one included (default 60)"),
        crate::http::schema::OnQueue,
    ),
    responses(
        (status = 200, description = "The last minutes, oldest first", body = app::admin::MetricsReport),
        (status = 400, description = "A parameter was refused; the body names it", body = crate::error::ErrorBody),
        (status = 404, description = "No such queue (or not one the caller may see)", body = crate::error::ErrorBody),
        crate::http::schema::ForViewers,
    )
)]
pub async fn metrics(
    State(sentinel): State<Sentinel>,
    Caller(who): Caller,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<app::admin::MetricsReport>, AppError> {
    sentinel.may(&who, Op::ReadMetrics)?;
    let minutes = number(&query, "minutes", 60, 120)?;
    Ok(Json(
        sentinel.minutes(&who, queue_of(&query), minutes).await?,
    ))
}

/// `GET /admin/api/history?range=24h` → a queue's history: completed, failed, wait and run
/// time percentiles per period (a minute for `1h` and `24h`, 30 minutes for `7d`, 6 hours
/// for `90d`), for any queue on the Redis, from the events its workers wrote (jobs removed on
/// completion included).
#[utoipa::path(
    get,
    path = "/admin/api/history",
    params(
        ("range" = Option<String>, Query, pattern = "^(1h|24h|7d|90d)$", description = "The range: 1h (default), 24h, 7d or 90d"),
        crate::http::schema::OnQueue,
    ),
    responses(
        (status = 200, description = "One point per period, oldest first", body = app::admin::History),
        (status = 400, description = "A parameter was refused; the body names it", body = crate::error::ErrorBody),
        (status = 404, description = "No such queue (or not one the caller may see)", body = crate::error::ErrorBody),
        crate::http::schema::ForViewers,
    )
)]
pub async fn history(
    State(sentinel): State<Sentinel>,
    Caller(who): Caller,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<app::admin::History>, AppError> {
    sentinel.may(&who, Op::ReadMetrics)?;
    let range = match query.get("range") {
        None => app::admin::HistoryRange::default(),
        Some(raw) => app::admin::HistoryRange::parse(raw)
            .ok_or_else(|| AppError::param("range", "must be 1h, 24h, 7d or 90d"))?,
    };
    Ok(Json(sentinel.history(&who, queue_of(&query), range).await?))
}

/// `POST /admin/api/jobs/bulk` `{"action", "ids": [...]}` or `{"action", "q": "<search>"}`
/// → `202` with the run's progress; follow it at `GET /admin/api/bulk/{bulk}`.
#[utoipa::path(
    post,
    path = "/admin/api/jobs/bulk",
    params(crate::http::schema::OnQueue),
    request_body(content = crate::http::schema::BulkBody, content_type = "application/json"),
    responses(
        (status = 202, description = "Started; the body is its progress so far"),
        (status = 400, description = "A field was refused; the body names it", body = crate::error::ErrorBody),
        (status = 413, description = "Body over MAX_BULK_BODY_BYTES", body = crate::error::ErrorBody),
        (status = 404, description = "No such queue (or not one the caller may see)", body = crate::error::ErrorBody),
        crate::http::schema::ForOperators,
    )
)]
pub async fn bulk_action(
    State(sentinel): State<Sentinel>,
    Caller(who): Caller,
    Query(query): Query<HashMap<String, String>>,
    body: axum::body::Bytes,
) -> Result<(axum::http::StatusCode, Json<BulkProgress>), AppError> {
    sentinel.may(&who, Op::Bulk)?;
    let value: Value = serde_json::from_slice(&body)
        .map_err(|e| AppError::InvalidBody(format!("expected a JSON object: {e}")))?;
    let request = BulkRequest::from_json(&value)?;
    let progress = sentinel.start_bulk(&who, queue_of(&query), request).await?;
    Ok((axum::http::StatusCode::ACCEPTED, Json(progress)))
}

/// `GET /admin/api/bulk/{bulk}` → a bulk run's progress (runs this process started).
#[utoipa::path(
    get,
    path = "/admin/api/bulk/{bulk}",
    params(("bulk" = String, Path, description = "The run's id, from the bulk request's answer")),
    responses(
        (status = 200, description = "Its progress"),
        (status = 401, description = "Sign in first", body = crate::error::ErrorBody),
        (status = 403, description = "Viewers and up only", body = crate::error::ErrorBody),
        (status = 404, description = "No such run on this process", body = crate::error::ErrorBody),
    )
)]
pub async fn bulk_progress(
    State(sentinel): State<Sentinel>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<Json<BulkProgress>, AppError> {
    sentinel
        .bulk_progress(&who, &id)
        .await?
        .map(Json)
        .ok_or(AppError::NotFound { id })
}

/// `GET /admin/api/schedulers?queue=` → the queue's job schedulers, by next run.
#[utoipa::path(get, path = "/admin/api/schedulers",
    params(crate::http::schema::OnQueue),
    responses(
        (status = 200, description = "Its schedulers (at most 500), each with its next and last run and whether it is late or paused", body = app::admin::SchedulerList),
        (status = 400, description = "A parameter was refused; the body names it", body = crate::error::ErrorBody),
        (status = 404, description = "No such queue (or not one the caller may see)", body = crate::error::ErrorBody),
        crate::http::schema::ForViewers,
    )
)]
pub async fn list_schedulers(
    State(sentinel): State<Sentinel>,
    Caller(who): Caller,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<app::admin::SchedulerList>, AppError> {
    Ok(Json(sentinel.schedulers(&who, queue_of(&query)).await?))
}

/// `PUT /admin/api/schedulers/{id}?queue=` `{"pattern", "tz"} | {"every"}, "name", "data",
/// "limit"` → creates or changes the scheduler, as Node's `upsertJobScheduler` does.
#[utoipa::path(put, path = "/admin/api/schedulers/{id}",
    params(
        ("id" = String, Path, min_length = 1, max_length = 200, pattern = r"^[^\u0000-\u001f\u007f-\u009f]{1,200}$", description = "The scheduler's id"),
        crate::http::schema::OnQueue,
    ),
    request_body(content = app::admin::SchedulerRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Created or changed (a paused one stays paused)"),
        (status = 400, description = "A field was refused (a pattern that is not cron, a zone that is not IANA, both pattern and every...); the body names it", body = crate::error::ErrorBody),
        (status = 404, description = "No such queue", body = crate::error::ErrorBody),
        (status = 415, description = "A body that is not JSON", body = crate::error::ErrorBody),
        crate::http::schema::ForOperators,
    )
)]
pub async fn upsert_scheduler(
    State(sentinel): State<Sentinel>,
    Caller(who): Caller,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, AppError> {
    sentinel.may(&who, Op::UpsertScheduler)?;
    let request: app::admin::SchedulerRequest = serde_json::from_slice(&body)
        .map_err(|e| AppError::InvalidBody(format!("expected a scheduler: {e}")))?;
    sentinel
        .upsert_scheduler(&who, queue_of(&query), &id, &request)
        .await?;
    Ok(Json(json!({"id": id})))
}

/// `DELETE /admin/api/schedulers/{id}?queue=` → removes the scheduler and its next job.
#[utoipa::path(delete, path = "/admin/api/schedulers/{id}",
    params(
        ("id" = String, Path, min_length = 1, max_length = 200, pattern = r"^[^\u0000-\u001f\u007f-\u009f]{1,200}$", description = "The scheduler's id"),
        crate::http::schema::OnQueue,
    ),
    responses(
        (status = 200, description = "Removed"),
        (status = 400, description = "An id that names no scheduler", body = crate::error::ErrorBody),
        (status = 404, description = "No such queue or scheduler", body = crate::error::ErrorBody),
        crate::http::schema::ForOperators,
    )
)]
pub async fn remove_scheduler(
    State(sentinel): State<Sentinel>,
    Caller(who): Caller,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, AppError> {
    sentinel.may(&who, Op::RemoveScheduler)?;
    sentinel
        .remove_scheduler(&who, queue_of(&query), &id)
        .await?;
    Ok(Json(json!({"removed": id})))
}

/// `POST /admin/api/schedulers/{id}/{action}?queue=` with `action` one of `pause`, `resume`,
/// `run` (one job now from its template, the schedule unchanged).
#[utoipa::path(post, path = "/admin/api/schedulers/{id}/{action}",
    params(
        ("id" = String, Path, min_length = 1, max_length = 200, pattern = r"^[^\u0000-\u001f\u007f-\u009f]{1,200}$", description = "The scheduler's id"),
        ("action" = String, Path, pattern = "^(pause|resume|run|remove)$", description = "pause (BullMQ has none: Sentinel keeps its definition and removes it, with its next job, until resumed), resume, run (one job now), remove (as DELETE)"),
        crate::http::schema::OnQueue,
    ),
    responses(
        (status = 200, description = "Done: `changed` (pause, resume), `job` (run) or `removed`"),
        (status = 400, description = "An id that names no scheduler, or an unknown action (the body names it)", body = crate::error::ErrorBody),
        (status = 404, description = "No such queue or scheduler", body = crate::error::ErrorBody),
        crate::http::schema::ForOperators,
    )
)]
pub async fn scheduler_action(
    State(sentinel): State<Sentinel>,
    Caller(who): Caller,
    Path((id, action)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, AppError> {
    sentinel.may(&who, Op::SwitchScheduler)?;
    let action = crate::service::schedulers::scheduler_action(&action)?;
    let queue = queue_of(&query);
    match action {
        SchedulerAction::Run => {
            let job = sentinel.run_scheduler(&who, queue, &id).await?;
            Ok(Json(json!({"id": id, "job": job})))
        }
        SchedulerAction::Remove => {
            sentinel.remove_scheduler(&who, queue, &id).await?;
            Ok(Json(json!({"id": id, "removed": true})))
        }
        SchedulerAction::Pause | SchedulerAction::Resume => {
            let paused = action == SchedulerAction::Pause;
            let changed = sentinel.switch_scheduler(&who, queue, &id, paused).await?;
            Ok(Json(json!({"id": id, "changed": changed})))
        }
    }
}
