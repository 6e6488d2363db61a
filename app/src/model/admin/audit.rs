//! The audit log's shapes: an entry, a query, a page.

use serde::{Deserialize, Serialize};

/// One entry of the audit log (`GET /admin/api/audit`).
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Its id in the log (a Redis stream entry id); pass it as `before` for older entries.
    pub id: String,
    /// When (ms since the epoch).
    pub at: u64,
    /// Who (`token:ci`, `user:alice`, `local`).
    pub who: String,
    /// With which role.
    pub role: String,
    /// How they proved who they are (`bearer`, `session`, `proxy`, `anonymous`, `open`).
    pub via: String,
    /// What (`retry`, `remove`, `promote`, `cancel`, `pause`, `resume`, `clean`,
    /// `bulk:<action>`, `sign-in`, `sign-out`).
    pub action: String,
    /// On what (a job id, a state, a search, a bulk run), if anything.
    pub target: Option<String>,
    /// How many jobs, when known.
    pub count: Option<u64>,
    /// How it ended (`done`, `requested`, `started`, or the refusal).
    pub outcome: String,
}

/// What `GET /admin/api/audit` is asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only this owner's entries.
    pub who: Option<String>,
    /// Only this action's entries.
    pub action: Option<String>,
    /// Only entries from this time on (ms since the epoch).
    pub since: Option<u64>,
    /// Only entries up to this time (ms since the epoch).
    pub until: Option<u64>,
    /// Only entries older than this entry id (paging).
    pub before: Option<String>,
}

/// `GET /admin/api/audit`: entries newest first.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPage {
    /// The entries.
    pub entries: Vec<AuditEntry>,
    /// Where older entries go on (`before=`), when there may be more.
    pub next: Option<String>,
}
