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

/// What an audit entry's target names, read back from the target's text as the service writes
/// it: a job (`<id>` on Sentinel's own queue, `<prefix>:<name> <id>` on another), a queue
/// (pause, resume, clean), or a scheduler (`<prefix>:<name> <id>`). A queue's text holds exactly
/// one `:` (neither a prefix nor a job id holds one, so `repeat:<scheduler>:<ms>` is a job id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditTarget {
    /// A job, and its queue when not Sentinel's own.
    Job { queue: Option<String>, id: String },
    /// A queue (`None`: Sentinel's own).
    Queue(Option<String>),
    /// A job scheduler of a queue.
    Scheduler { queue: String, id: String },
}

/// Whether `text` can be a queue's `<prefix>:<name>`.
fn queue_text(text: &str) -> bool {
    text.matches(':').count() == 1 && !text.starts_with(':') && !text.ends_with(':')
}

/// The target of an entry with this action and target text, if it names one.
pub fn audit_target(action: &str, target: &str) -> Option<AuditTarget> {
    let split = || {
        target
            .split_once(' ')
            .filter(|(queue, rest)| queue_text(queue) && !rest.is_empty())
    };
    match action {
        "retry" | "remove" | "promote" | "cancel" => match split() {
            Some((queue, id)) => Some(AuditTarget::Job {
                queue: Some(queue.to_string()),
                id: id.to_string(),
            }),
            None => (!target.is_empty()).then(|| AuditTarget::Job {
                queue: None,
                id: target.to_string(),
            }),
        },
        "pause" | "resume" => {
            queue_text(target).then(|| AuditTarget::Queue(Some(target.to_string())))
        }
        "clean" => Some(AuditTarget::Queue(
            split().map(|(queue, _)| queue.to_string()),
        )),
        scheduler if scheduler.starts_with("scheduler:") => {
            split().map(|(queue, id)| AuditTarget::Scheduler {
                queue: queue.to_string(),
                id: id.to_string(),
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_read_back_as_the_service_writes_them() {
        let job = |queue: Option<&str>, id: &str| {
            Some(AuditTarget::Job {
                queue: queue.map(str::to_string),
                id: id.to_string(),
            })
        };
        assert_eq!(audit_target("retry", "42"), job(None, "42"));
        assert_eq!(audit_target("retry", "my job 7"), job(None, "my job 7"));
        assert_eq!(
            audit_target("remove", "bull:payments 42"),
            job(Some("bull:payments"), "42")
        );
        assert_eq!(
            audit_target("cancel", "repeat:nightly:1700000000000"),
            job(None, "repeat:nightly:1700000000000")
        );
        assert_eq!(
            audit_target("pause", "bull:payments"),
            Some(AuditTarget::Queue(Some("bull:payments".into())))
        );
        assert_eq!(audit_target("pause", "not a queue"), None);
        assert_eq!(
            audit_target("clean", "bull:payments failed older than 0 ms"),
            Some(AuditTarget::Queue(Some("bull:payments".into())))
        );
        assert_eq!(
            audit_target("clean", "failed older than 0 ms"),
            Some(AuditTarget::Queue(None))
        );
        assert_eq!(
            audit_target("scheduler:upsert", "bull:mail nightly"),
            Some(AuditTarget::Scheduler {
                queue: "bull:mail".into(),
                id: "nightly".into()
            })
        );
        assert_eq!(audit_target("enqueue:on-behalf", "for user:ann"), None);
        assert_eq!(audit_target("bulk:retry", "state:failed"), None);
        assert_eq!(audit_target("retry", ""), None);
    }
}
