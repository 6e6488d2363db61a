//! The audit log: every state-changing action recorded, whichever edge it came through (the
//! service layer writes it, not each edge): who, what, on what, and how it ended. Stored in Redis
//! (`queue/audit.rs`), logged too, read by admins only (`GET /admin/api/audit`).

use crate::auth::Principal;
use crate::error::AppError;
use crate::queue::audit::{self, AuditRecord};

use super::state::AppState;

/// What was done, to record.
#[derive(Debug, Clone, Copy)]
pub struct Done<'a> {
    /// The action's name.
    pub action: &'a str,
    /// Its target, if any.
    pub target: Option<&'a str>,
    /// How many jobs it covered, when known.
    pub count: Option<u64>,
}

/// Records `done` by `principal` with the outcome of `result`, then hands `result` back. A
/// record that cannot be written is logged (the action happened; the log line keeps it).
pub async fn record<T>(
    state: &AppState,
    principal: &Principal,
    done: Done<'_>,
    result: Result<T, AppError>,
    outcome: impl Fn(&T) -> String,
) -> Result<T, AppError> {
    let said = match &result {
        Ok(value) => outcome(value),
        Err(error) => format!("refused: {error}"),
    };
    tracing::info!(
        who = %principal.owner,
        role = %principal.role,
        action = done.action,
        target = done.target.unwrap_or(""),
        count = done.count,
        outcome = %said,
        "audit"
    );
    if let Ok(queue) = state.queue() {
        let entry = AuditRecord {
            who: &principal.owner,
            role: principal.role.as_str(),
            via: principal.credential.as_str(),
            action: done.action,
            target: done.target,
            count: done.count,
            outcome: &said,
        };
        if let Err(error) =
            audit::append(queue, &entry, state.config.limits.audit_max_entries).await
        {
            tracing::warn!(error = %crate::telemetry::error_chain(&error), action = done.action, "audit entry not stored (logged above)");
        }
    }
    result
}

/// The longest `who` or `action` filter kept.
const MAX_FILTER: usize = 256;

/// What a caller asks of the audit log, checked whichever edge it came through: `who` and
/// `action` (empty: any) cut to 256 bytes, `before` an entry id (a 400 naming it otherwise).
pub fn query(
    who: Option<&str>,
    action: Option<&str>,
    since: Option<u64>,
    until: Option<u64>,
    before: Option<&str>,
) -> Result<app::admin::AuditQuery, AppError> {
    let short = |value: Option<&str>| {
        value
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(|v| crate::queue::cut(v, MAX_FILTER).to_string())
    };
    let before = match before.map(str::trim).filter(|b| !b.is_empty()) {
        Some(raw) => Some(
            raw.parse::<crate::queue::stream::StreamId>()
                .map_err(|()| {
                    super::admin::param("before", "must be an entry id like 1700000000000-0")
                })?
                .to_string(),
        ),
        None => None,
    };
    Ok(app::admin::AuditQuery {
        who: short(who),
        action: short(action),
        since,
        until,
        before,
    })
}

/// A page of the audit log as `asked`, at most `limit` entries, newest first (the edges check
/// that the caller is an admin).
pub async fn read(
    state: &AppState,
    asked: &app::admin::AuditQuery,
    limit: usize,
) -> Result<app::admin::AuditPage, AppError> {
    let (entries, next) = audit::read(state.queue()?, asked, limit).await?;
    Ok(app::admin::AuditPage { entries, next })
}

/// Records each re-read of the tokens file (`tokens:reload`, with the number of tokens, or the
/// file's error as a refusal) as Sentinel's own action, until shutdown. Every web process
/// re-reads the file, so each records its own.
pub async fn record_token_reloads(state: AppState) {
    let mut reloads = state.access.token_reloads();
    loop {
        tokio::select! {
            changed = reloads.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            () = state.shutdown.cancelled() => return,
        }
        let Some(reload) = reloads.borrow_and_update().clone() else {
            continue;
        };
        let system = crate::auth::Access::system();
        let (count, result) = match reload {
            crate::auth::tokens::Reload::Read(n) => (Some(n as u64), Ok(n)),
            crate::auth::tokens::Reload::Invalid(reason) => {
                (None, Err(AppError::InvalidBody(reason)))
            }
        };
        let done = Done {
            action: "tokens:reload",
            target: Some("tokens file"),
            count,
        };
        let _ = record(&state, &system, done, result, |n| format!("{n} tokens")).await;
    }
}
