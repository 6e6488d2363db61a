//! The dashboard's server functions: the admin API's reads and actions for the page, checked
//! against the caller's role by the server (a viewer's forced action is refused there).

use leptos::prelude::*;

use crate::model::admin::{
    AcrossPage, AcrossQuery, ActionOutcome, AdminAccess, BulkProgress, JobDetail, JobPage,
    JobQuery, Overview,
};

/// How a server function's error says the queue did not answer (asking again later may work),
/// rather than refused the call: its message starts with this.
const UNANSWERED: &str = "unanswered: ";

#[cfg(feature = "ssr")]
fn failed(error: crate::backend::BackendError) -> ServerFnError {
    if error.unavailable {
        ServerFnError::new(format!("{UNANSWERED}{}", error.message))
    } else {
        ServerFnError::new(error.message)
    }
}

/// What did not answer, when a call failed for that: Redis (the server said so) or the server
/// itself (the request got no answer of a server function).
pub fn unanswered_by(error: &ServerFnError) -> Option<super::live::Down> {
    use super::live::Down;
    match error {
        ServerFnError::ServerError(message) if message.starts_with(UNANSWERED) => Some(Down::Redis),
        ServerFnError::Request(_) | ServerFnError::Response(_) => Some(Down::Server),
        _ => None,
    }
}

/// What the caller may do on the dashboard.
#[server(prefix = "/api", endpoint = "admin/access")]
pub async fn my_admin_access() -> Result<AdminAccess, ServerFnError> {
    Ok(crate::backend::admin_backend()?.admin_access())
}

/// Counts, paused, workers and the last hour (shared by every open dashboard on the process).
#[server(prefix = "/api", endpoint = "admin/overview")]
pub async fn admin_overview(queue: Option<String>) -> Result<Overview, ServerFnError> {
    crate::backend::admin_backend()?
        .overview(queue)
        .await
        .map_err(failed)
}

/// A page of the flow's tree around job `id`.
#[server(prefix = "/api", endpoint = "admin/flow")]
pub async fn admin_flow(
    id: String,
    queue: Option<String>,
    page: u32,
) -> Result<crate::model::admin::FlowTree, ServerFnError> {
    let id = crate::JobId::parse(&id).map_err(|e| ServerFnError::new(e.to_string()))?;
    crate::backend::admin_backend()?
        .admin_flow(queue, id, page)
        .await
        .map_err(failed)
}

/// A queue's history over `range` (`1h`, `24h`, `7d`, `90d`), for its charts.
#[server(prefix = "/api", endpoint = "admin/history")]
pub async fn admin_history(
    queue: Option<String>,
    range: crate::model::admin::HistoryRange,
) -> Result<crate::model::admin::History, ServerFnError> {
    crate::backend::admin_backend()?
        .admin_history(queue, range)
        .await
        .map_err(failed)
}

/// A page of jobs: a state's listing or a search.
#[server(prefix = "/api", endpoint = "admin/jobs")]
pub async fn admin_jobs(query: JobQuery) -> Result<JobPage, ServerFnError> {
    crate::backend::admin_backend()?
        .admin_jobs(query)
        .await
        .map_err(failed)
}

/// A page of the jobs a search finds across queues.
#[server(prefix = "/api", endpoint = "admin/search")]
pub async fn admin_search(query: AcrossQuery) -> Result<AcrossPage, ServerFnError> {
    crate::backend::admin_backend()?
        .admin_search(query)
        .await
        .map_err(failed)
}

/// One job in full (`None`: no such job).
#[server(prefix = "/api", endpoint = "admin/job")]
pub async fn admin_job(
    id: String,
    queue: Option<String>,
) -> Result<Option<JobDetail>, ServerFnError> {
    let id = crate::JobId::parse(&id).map_err(|e| ServerFnError::new(e.to_string()))?;
    crate::backend::admin_backend()?
        .admin_job(queue, id)
        .await
        .map_err(failed)
}

/// The action a form names; a refusal of the arguments (400) otherwise.
#[cfg(feature = "ssr")]
fn job_action(name: &str) -> Result<crate::model::admin::JobAction, ServerFnError> {
    crate::model::admin::JobAction::parse(name).ok_or_else(|| {
        ServerFnError::Args(format!(
            "no action {:?}: the action must be retry, remove, promote or cancel",
            name.chars().take(40).collect::<String>()
        ))
    })
}

/// `retry`, `remove`, `promote` or `cancel` on one job.
#[server(prefix = "/api", endpoint = "admin/act")]
pub async fn admin_act(
    id: String,
    action: String,
    queue: Option<String>,
) -> Result<ActionOutcome, ServerFnError> {
    let id = crate::JobId::parse(&id).map_err(|e| ServerFnError::new(e.to_string()))?;
    let action = job_action(&action)?;
    crate::backend::admin_backend()?
        .admin_act(queue, id, action)
        .await
        .map_err(failed)
}

/// Replaces the data of job `id` with `data` (JSON text).
#[server(prefix = "/api", endpoint = "admin/edit-data")]
pub async fn admin_edit_data(
    id: String,
    data: String,
    queue: Option<String>,
) -> Result<ActionOutcome, ServerFnError> {
    let id = crate::JobId::parse(&id).map_err(|e| ServerFnError::new(e.to_string()))?;
    crate::backend::admin_backend()?
        .admin_edit_data(queue, id, data)
        .await
        .map_err(failed)
}

/// Adds a job named `name` with `data` and `opts` (JSON texts) to the queue: a copy of a job,
/// edited first. The new job's id.
#[server(prefix = "/api", endpoint = "admin/add-copy")]
pub async fn admin_add_copy(
    name: String,
    data: String,
    opts: String,
    queue: Option<String>,
) -> Result<String, ServerFnError> {
    crate::backend::admin_backend()?
        .admin_add_copy(queue, name, data, opts)
        .await
        .map_err(failed)
}

/// `pause` or `resume` on the queue.
#[server(prefix = "/api", endpoint = "admin/queue")]
pub async fn admin_queue(action: String, queue: Option<String>) -> Result<(), ServerFnError> {
    let action = crate::model::admin::QueueAction::parse(&action)
        .ok_or_else(|| refused_arg("action: the action must be pause or resume"))?;
    crate::backend::admin_backend()?
        .admin_queue(queue, action)
        .await
        .map_err(failed)
}

/// Starts `action` on `ids` (one per line: a job id holds no control character), or (with
/// `q`) on every job that search finds.
#[server(prefix = "/api", endpoint = "admin/bulk")]
pub async fn admin_bulk(
    action: String,
    ids: String,
    q: Option<String>,
    queue: Option<String>,
) -> Result<BulkProgress, ServerFnError> {
    let ids: Vec<String> = ids
        .lines()
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
        .collect();
    let action = job_action(&action)?;
    crate::backend::admin_backend()?
        .admin_bulk(queue, action, ids, q)
        .await
        .map_err(failed)
}

/// A bulk run's progress (`None`: this server process did not start it).
#[server(prefix = "/api", endpoint = "admin/bulk-progress")]
pub async fn admin_bulk_progress(bulk: String) -> Result<Option<BulkProgress>, ServerFnError> {
    crate::backend::admin_backend()?
        .admin_bulk_progress(bulk)
        .await
        .map_err(failed)
}

/// Removes `state` (`completed` or `failed`) jobs that finished more than `older_than_minutes`
/// ago (at most 10,000), or only counts them on a dry run.
#[server(prefix = "/api", endpoint = "admin/clean")]
pub async fn admin_clean(
    state: String,
    older_than_minutes: u64,
    dry_run: bool,
    queue: Option<String>,
) -> Result<crate::model::admin::CleanOutcome, ServerFnError> {
    let state = match state.as_str() {
        "completed" => crate::model::admin::FinishedState::Completed,
        "failed" => crate::model::admin::FinishedState::Failed,
        _ => return Err(ServerFnError::new("state: completed or failed")),
    };
    let older_than_ms = older_than_minutes.saturating_mul(60_000);
    if older_than_ms > crate::model::admin::MAX_CLEAN_AGE_MS {
        return Err(ServerFnError::new("older than: at most ten years"));
    }
    let request = crate::model::admin::CleanRequest {
        state,
        older_than_ms,
        limit: None,
        dry_run,
    };
    crate::backend::admin_backend()?
        .admin_clean(queue, request)
        .await
        .map_err(failed)
}

/// A page of the BullMQ queues on the Redis the caller may see, with their counts (see
/// [`crate::model::admin::QueueListQuery`]); `rescan`: look for new queues now.
#[server(prefix = "/api", endpoint = "admin/queues")]
pub async fn admin_queues(
    rescan: bool,
    filter: Option<String>,
    offset: Option<u32>,
    limit: Option<u32>,
) -> Result<crate::model::admin::QueueList, ServerFnError> {
    let asked = crate::model::admin::QueueListQuery {
        rescan,
        filter: filter.unwrap_or_default(),
        offset: offset.unwrap_or(0),
        limit: limit.unwrap_or(crate::model::admin::QUEUES_PER_PAGE),
    };
    if let Err((field, message)) = asked.check() {
        return Err(refused_arg(&format!("{field}: {message}")));
    }
    crate::backend::admin_backend()?
        .admin_queues(asked)
        .await
        .map_err(failed)
}

/// Why job `id` is not running (`None`: no such job).
#[server(prefix = "/api", endpoint = "admin/why")]
pub async fn admin_why(
    id: String,
    queue: Option<String>,
) -> Result<Option<crate::model::admin::WhyReport>, ServerFnError> {
    let id = crate::JobId::parse(&id).map_err(|e| ServerFnError::new(e.to_string()))?;
    crate::backend::admin_backend()?
        .admin_why(queue, id)
        .await
        .map_err(failed)
}

/// A refusal of a server function's arguments (400).
#[cfg(feature = "ssr")]
fn refused_arg(message: &str) -> ServerFnError {
    ServerFnError::Args(message.to_string())
}

/// A queue's job schedulers.
#[server(prefix = "/api", endpoint = "admin/schedulers")]
pub async fn admin_schedulers(
    queue: Option<String>,
) -> Result<crate::model::admin::SchedulerList, ServerFnError> {
    crate::backend::admin_backend()?
        .schedulers(queue)
        .await
        .map_err(failed)
}

/// Creates or changes scheduler `id`: a cron `pattern` (with `tz`) or `every` seconds, the
/// jobs' `name` and `data` (JSON).
#[server(prefix = "/api", endpoint = "admin/scheduler-save")]
pub async fn admin_scheduler_save(
    id: String,
    pattern: String,
    every_seconds: String,
    tz: String,
    name: String,
    data: String,
    queue: Option<String>,
) -> Result<(), ServerFnError> {
    let blank = |text: &str| Some(text.trim().to_string()).filter(|t| !t.is_empty());
    let every = match blank(&every_seconds) {
        None => None,
        Some(text) => Some(
            text.parse::<u64>()
                .map_err(|_| refused_arg("every: a whole number of seconds"))?
                .saturating_mul(1000),
        ),
    };
    let data = match blank(&data) {
        None => None,
        Some(text) => {
            Some(serde_json::from_str(&text).map_err(|_| refused_arg("data: a JSON object"))?)
        }
    };
    let request = crate::model::admin::SchedulerRequest {
        pattern: blank(&pattern),
        every,
        tz: blank(&tz),
        name: blank(&name),
        data,
        limit: None,
    };
    crate::backend::admin_backend()?
        .scheduler_upsert(queue, id, request)
        .await
        .map_err(failed)
}

/// `pause`, `resume`, `run` (one job now) or `remove` on scheduler `id`.
#[server(prefix = "/api", endpoint = "admin/scheduler-act")]
pub async fn admin_scheduler_act(
    id: String,
    action: String,
    queue: Option<String>,
) -> Result<String, ServerFnError> {
    let action = crate::model::admin::SchedulerAction::parse(&action)
        .ok_or_else(|| refused_arg("action: the action must be pause, resume, run or remove"))?;
    crate::backend::admin_backend()?
        .scheduler_act(queue, id, action)
        .await
        .map_err(failed)
}

/// How many alert rules fire now (the nav's count and the banner).
#[server(prefix = "/api", endpoint = "admin/firing")]
pub async fn admin_firing() -> Result<crate::model::admin::FiringSummary, ServerFnError> {
    crate::backend::admin_backend()?
        .firing()
        .await
        .map_err(failed)
}

/// Acknowledges the firing rule `rule`: no reminders for `minutes` (none: until it resolves).
#[server(prefix = "/api", endpoint = "admin/ack")]
pub async fn admin_ack(rule: String, minutes: Option<u64>) -> Result<(), ServerFnError> {
    crate::backend::admin_backend()?
        .ack_alert(rule, minutes)
        .await
        .map_err(failed)
}

/// The alert rules with their state, the targets and the last deliveries (operators and
/// admins).
#[server(prefix = "/api", endpoint = "admin/alerts")]
pub async fn admin_alerts() -> Result<crate::model::admin::AlertsReport, ServerFnError> {
    crate::backend::admin_backend()?
        .alerts()
        .await
        .map_err(failed)
}

/// A page of the audit log, newest first (admins only): entries of `who` and `action` (exact,
/// empty for any) from `since_minutes` ago, older than `before` when paging.
#[server(prefix = "/api", endpoint = "admin/audit")]
pub async fn admin_audit(
    who: Option<String>,
    action: Option<String>,
    since_minutes: Option<u64>,
    before: Option<String>,
) -> Result<crate::model::admin::AuditPage, ServerFnError> {
    crate::backend::admin_backend()?
        .audit(who, action, since_minutes, before)
        .await
        .map_err(failed)
}

/// The message of a server function's error, without the framework's prefix.
pub fn error_text(error: &ServerFnError) -> String {
    let text = error.to_string();
    let text = text
        .strip_prefix("error running server function: ")
        .unwrap_or(&text);
    text.strip_prefix(UNANSWERED).unwrap_or(text).to_string()
}
