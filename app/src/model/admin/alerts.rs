//! The alert rules as people see them: the report, the count of firing rules, an
//! acknowledgement.

use serde::{Deserialize, Serialize};

/// The alert rules and their state (`GET /admin/api/alerts`, the alerts page).
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertsReport {
    /// Whether an alerts file is set (`SENTINEL_ALERTS_FILE`).
    pub configured: bool,
    /// Why the file's last change was refused (the rules before it stay in force).
    pub file_error: Option<String>,
    /// When the rules in force were read (ms since the epoch).
    pub loaded_at: Option<u64>,
    /// The file's time scale (1 unless drilling).
    pub time_scale: f64,
    /// The rules.
    pub rules: Vec<AlertRuleView>,
    /// The targets.
    pub targets: Vec<AlertTargetView>,
    /// The last delivery attempts, newest first.
    pub deliveries: Vec<AlertDelivery>,
}

/// One alert rule and its state.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertRuleView {
    /// Its name.
    pub name: String,
    /// What it watches (`no_worker`, `oldest_waiting`, `failures`, `stuck`, `stalled`, `redis`).
    pub when: String,
    /// The queue it watches (`<prefix>:<name>`), for rules about a queue.
    pub queue: Option<String>,
    /// `ok`, `pending` (holds, not for long enough yet) or `firing`.
    pub status: String,
    /// Since when it fires or is pending (ms since the epoch).
    pub since: Option<u64>,
    /// When its last message was sent (ms since the epoch).
    pub last_sent: Option<u64>,
    /// When it last resolved (ms since the epoch).
    pub resolved_at: Option<u64>,
    /// What its last check saw.
    pub detail: String,
    /// The targets it sends to.
    pub targets: Vec<String>,
    /// The job its detail names (a stuck or stalled job), to link to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    /// Who acknowledged this firing, when someone did: no reminders are sent until it
    /// resolves (or until `ackedUntil`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acked_by: Option<String>,
    /// When the acknowledgement was made (ms since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acked_at: Option<u64>,
    /// Until when reminders are silenced (ms since the epoch); absent: until it resolves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acked_until: Option<u64>,
}

/// How many rules fire now, for the dashboard's nav and banner (the caller's grant applied).
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FiringSummary {
    /// Rules firing now.
    pub firing: u64,
    /// Of those, the ones nobody acknowledged.
    pub unacknowledged: u64,
    /// The firing rules' names (at most ten), most recent first.
    pub names: Vec<String>,
}

/// An acknowledgement of a firing rule (`POST /admin/api/alerts/{rule}/ack`).
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AckRequest {
    /// Silence reminders for this many minutes (1 to 10,080, a week); absent: until the rule
    /// resolves.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(minimum = 1, maximum = 10080))]
    pub minutes: Option<u64>,
}

/// One target and how its deliveries went.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertTargetView {
    /// Its name.
    pub name: String,
    /// `webhook`, `slack` or `email`.
    pub kind: String,
    /// Where it goes (scheme, host and port; recipients for mail), without credentials.
    pub place: String,
    /// When a message last reached it (ms since the epoch), among the recent attempts.
    pub last_sent: Option<u64>,
    /// When an attempt last failed (ms since the epoch).
    pub last_failure_at: Option<u64>,
    /// Why it failed.
    pub last_error: Option<String>,
    /// Failed attempts among the recent ones.
    pub recent_failures: u64,
}

/// One delivery attempt.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertDelivery {
    /// When (ms since the epoch).
    pub at: u64,
    /// The rule.
    pub rule: String,
    /// `firing`, `repeat` or `resolved`.
    pub status: String,
    /// The target.
    pub target: String,
    /// Which attempt (1 is the first).
    pub attempt: u32,
    /// `sent`, or why it failed.
    pub outcome: String,
}
