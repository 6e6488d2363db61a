//! The audit log: every state-changing operation recorded by the service (never by an edge):
//! who, what, on what, and how it ended. Stored in Redis (`queue/audit.rs`), logged too, read by
//! admins only (`GET /admin/api/audit`, the dashboard's audit page).
//!
//! What matters stays findable whatever anyone floods: each principal's entries are capped
//! apart (its volume removes only its own oldest), sign-ins and sign-outs are capped apart from
//! actions, entries age out after `AUDIT_MAX_AGE_DAYS`, and sign-ins of one principal within
//! `AUDIT_SIGN_IN_WINDOW_SECS` are coalesced: the first is written at once, the rest of the
//! window as one entry with their count when the window ends.

use std::time::Duration;

use super::limits::digest;
use super::state::coalescer::{COALESCED, Due};
use super::{Op, Sentinel};
use crate::auth::Principal;
use crate::error::AppError;
use crate::queue::audit::{self, AuditRecord, Retention};

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
                    AppError::param("before", "must be an entry id like 1700000000000-0")
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

impl Sentinel {
    fn retention(&self) -> Retention {
        let guards = &self.config().guards;
        Retention {
            max_entries: self.config().limits.audit_max_entries,
            max_per_principal: guards.audit_max_per_principal,
            max_age_ms: guards.audit_max_age_days.saturating_mul(86_400_000),
        }
    }

    fn sign_in_window(&self) -> Duration {
        Duration::from_secs(self.config().guards.audit_sign_in_window_secs)
    }

    /// Records `done` by `who` with the outcome of `result`, then hands `result` back. A
    /// record that cannot be written is logged (the action happened; the log line keeps it).
    /// Sign-ins and sign-outs are coalesced per principal and window.
    pub(crate) async fn record<T>(
        &self,
        who: &Principal,
        done: Done<'_>,
        result: Result<T, AppError>,
        outcome: impl Fn(&T) -> String,
    ) -> Result<T, AppError> {
        let said = match &result {
            Ok(value) => outcome(value),
            Err(error) => format!("refused: {error}"),
        };
        if let Some(action) = COALESCED.into_iter().find(|a| *a == done.action) {
            let (now, closed) = self.inner.audit.note(who, action, self.sign_in_window());
            if let Some(closed) = closed {
                self.write_due(closed).await;
            }
            if !now {
                return result;
            }
        }
        self.write(who, done, &said).await;
        result
    }

    async fn write(&self, who: &Principal, done: Done<'_>, said: &str) {
        tracing::info!(
            who = %who.owner,
            role = %who.role,
            action = done.action,
            target = done.target.unwrap_or(""),
            count = done.count,
            outcome = %said,
            "audit"
        );
        let Ok(queue) = self.queue() else {
            return;
        };
        let entry = AuditRecord {
            who: &who.owner,
            role: who.role.as_str(),
            via: who.credential.as_str(),
            action: done.action,
            target: done.target,
            count: done.count,
            outcome: said,
        };
        let category = if COALESCED.contains(&done.action) {
            "access"
        } else {
            "actions"
        };
        if let Err(error) = audit::append(
            queue,
            &entry,
            &digest(&who.owner),
            category,
            self.retention(),
        )
        .await
        {
            tracing::warn!(error = %crate::telemetry::error_chain(&error), action = done.action, "audit entry not stored (logged above)");
        }
    }

    async fn write_due(&self, due: Due) {
        let said = format!(
            "{} more in the {} s after {} (coalesced)",
            due.more,
            self.sign_in_window().as_secs(),
            due.first_at
        );
        let done = Done {
            action: due.action,
            target: None,
            count: Some(due.more),
        };
        self.write(&due.principal, done, &said).await;
    }

    /// Writes the counts of every coalescing window that has ended (all of them on
    /// shutdown): the per-process loop calls it every few seconds.
    pub async fn flush_coalesced(&self, all: bool) {
        let ended = self.inner.audit.take_ended(self.sign_in_window(), all);
        for due in ended {
            self.write_due(due).await;
        }
    }

    /// A page of the audit log as `asked`, at most `limit` entries (1 to 200), newest first.
    pub async fn audit_page(
        &self,
        who: &Principal,
        asked: &app::admin::AuditQuery,
        limit: usize,
    ) -> Result<app::admin::AuditPage, AppError> {
        self.allow(who, Op::ReadAudit).await?;
        if !(1..=200).contains(&limit) {
            return Err(AppError::param(
                "limit",
                "must be a whole number from 1 to 200",
            ));
        }
        let (entries, next) = audit::read(self.queue()?, asked, limit).await?;
        Ok(app::admin::AuditPage { entries, next })
    }

    /// Records each re-read of the tokens file (`tokens:reload`, with the number of tokens,
    /// or the file's error as a refusal) as Sentinel's own action, until shutdown. Every web
    /// process re-reads the file, so each records its own.
    pub async fn record_token_reloads(self) {
        let mut reloads = self.access().token_reloads();
        loop {
            tokio::select! {
                changed = reloads.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
                () = self.shutdown_token().cancelled() => return,
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
            let _ = self
                .record(&system, done, result, |n| format!("{n} tokens"))
                .await;
        }
    }
}
