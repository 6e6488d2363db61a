//! The user's tasks in the browser's localStorage, shared by every tab of the site: the listed
//! ids (with when each was added, so merged lists keep one order), the submissions not yet
//! confirmed by the queue, and the ids the user dismissed. Tabs never overwrite each other:
//! each save merges with what is stored, and a `storage` event tells the other tabs.

use serde::{Deserialize, Serialize};

use crate::model::types::JobId;

/// The listed tasks.
pub const TASKS_KEY: &str = "sentinel.tasks";
/// Submissions waiting for the queue to confirm them.
pub const PENDING_KEY: &str = "sentinel.pending";
/// Tasks the user dismissed (so another tab does not bring them back).
pub const DISMISSED_KEY: &str = "sentinel.dismissed";

/// Most tasks remembered.
pub const MAX_KEPT: usize = 500;
/// Most dismissed ids remembered.
pub const MAX_DISMISSED: usize = 1000;

/// One listed task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The job id.
    pub id: String,
    /// When this browser first listed it (ms since the epoch).
    pub at: f64,
}

/// A submission the queue has not confirmed yet. Its key names exactly one job, so sending it
/// again (from any tab, after a reload) never makes a second task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Submission {
    /// The idempotency key sent with it.
    pub key: String,
    /// The duration asked for.
    pub seconds: u64,
    /// When it was first sent (ms since the epoch).
    pub at: f64,
    /// The options it was sent with (resent the same).
    #[serde(default)]
    pub options: crate::model::options::FormOptions,
}

/// Whether a stored id can name a job at all (`#`-only or `a:b` ids are dropped).
fn usable(id: &str) -> bool {
    JobId::parse(id).is_ok()
}

/// Parses the stored task list, newest first; anything unreadable counts as empty, ids that
/// cannot name a job are dropped. Reads the older form (a bare list of ids) too.
pub fn parse_tasks(stored: &str) -> Vec<Entry> {
    let items = items_of(stored);
    let count = items.len() as f64;
    let mut entries: Vec<Entry> = items
        .into_iter()
        .enumerate()
        .filter_map(|(i, item)| {
            // Oldest form: bare ids, newest first, no times; keep that order.
            match serde_json::from_str::<String>(item.get()) {
                Ok(id) => Some(Entry {
                    id,
                    at: count - i as f64,
                }),
                Err(_) => serde_json::from_str::<Entry>(item.get()).ok(),
            }
        })
        .filter(|e| usable(&e.id) && e.at.is_finite())
        .collect();
    newest_once(&mut entries);
    entries
}

/// The items of a stored JSON list, each left as text to be read on its own (one bad item
/// does not lose the others); anything but a list is an empty one.
fn items_of(stored: &str) -> Vec<&serde_json::value::RawValue> {
    serde_json::from_str(stored).unwrap_or_default()
}

/// Merges two lists: every id of either, once, newest first, at most [`MAX_KEPT`], none of
/// `dismissed`.
pub fn merge(ours: &[Entry], theirs: &[Entry], dismissed: &[String]) -> Vec<Entry> {
    let mut all: Vec<Entry> = ours
        .iter()
        .chain(theirs)
        .filter(|e| !dismissed.contains(&e.id))
        .cloned()
        .collect();
    newest_once(&mut all);
    all.truncate(MAX_KEPT);
    all
}

/// Newest first, each id once (its newest entry).
fn newest_once(entries: &mut Vec<Entry>) {
    entries.sort_unstable_by(|a, b| a.id.cmp(&b.id).then_with(|| b.at.total_cmp(&a.at)));
    entries.dedup_by(|later, kept| later.id == kept.id);
    entries.sort_unstable_by(|a, b| b.at.total_cmp(&a.at).then_with(|| a.id.cmp(&b.id)));
}

/// Parses the stored submissions; unreadable ones are dropped.
pub fn parse_pending(stored: &str) -> Vec<Submission> {
    items_of(stored)
        .into_iter()
        .filter_map(|item| serde_json::from_str::<Submission>(item.get()).ok())
        .filter(|s| crate::model::types::valid_key(&s.key))
        .collect()
}

/// Parses the stored dismissed ids.
pub fn parse_dismissed(stored: &str) -> Vec<String> {
    serde_json::from_str::<Vec<String>>(stored).unwrap_or_default()
}

#[cfg(feature = "hydrate")]
mod browser {
    use super::*;

    fn storage() -> Option<web_sys::Storage> {
        web_sys::window()?.local_storage().ok()?
    }

    fn read(key: &str) -> Option<String> {
        storage()?.get_item(key).ok().flatten()
    }

    fn write(key: &str, text: &str) {
        // Storage can be full or disabled; the page works without it.
        if let Some(storage) = storage() {
            let _ = storage.set_item(key, text);
        }
    }

    /// The stored tasks, newest first, without the dismissed ones.
    pub fn load_tasks() -> Vec<Entry> {
        let dismissed = load_dismissed();
        read(TASKS_KEY)
            .map(|text| parse_tasks(&text))
            .unwrap_or_default()
            .into_iter()
            .filter(|e| !dismissed.contains(&e.id))
            .collect()
    }

    /// Merges `ours` into the stored list and returns the merged list.
    pub fn save_tasks(ours: &[Entry]) -> Vec<Entry> {
        let dismissed = load_dismissed();
        let merged = merge(ours, &load_tasks(), &dismissed);
        if let Ok(text) = serde_json::to_string(&merged) {
            write(TASKS_KEY, &text);
        }
        merged
    }

    /// Dismisses `ids`: removed from the stored list, and remembered as dismissed.
    pub fn dismiss(ids: &[String]) {
        let mut dismissed = load_dismissed();
        for id in ids {
            if !dismissed.contains(id) {
                dismissed.push(id.clone());
            }
        }
        let excess = dismissed.len().saturating_sub(MAX_DISMISSED);
        dismissed.drain(..excess);
        if let Ok(text) = serde_json::to_string(&dismissed) {
            write(DISMISSED_KEY, &text);
        }
        let kept: Vec<Entry> = load_tasks()
            .into_iter()
            .filter(|e| !ids.contains(&e.id))
            .collect();
        if let Ok(text) = serde_json::to_string(&kept) {
            write(TASKS_KEY, &text);
        }
    }

    /// The dismissed ids.
    pub fn load_dismissed() -> Vec<String> {
        read(DISMISSED_KEY)
            .map(|text| parse_dismissed(&text))
            .unwrap_or_default()
    }

    /// The stored submissions.
    pub fn load_pending() -> Vec<Submission> {
        read(PENDING_KEY)
            .map(|text| parse_pending(&text))
            .unwrap_or_default()
    }

    /// Adds a submission (before it is sent).
    pub fn add_pending(submission: &Submission) {
        let mut all = load_pending();
        if !all.iter().any(|s| s.key == submission.key) {
            all.push(submission.clone());
        }
        if let Ok(text) = serde_json::to_string(&all) {
            write(PENDING_KEY, &text);
        }
    }

    /// Forgets a submission (confirmed or refused).
    pub fn remove_pending(key: &str) {
        let all: Vec<Submission> = load_pending()
            .into_iter()
            .filter(|s| s.key != key)
            .collect();
        if let Ok(text) = serde_json::to_string(&all) {
            write(PENDING_KEY, &text);
        }
    }
}

#[cfg(feature = "hydrate")]
pub use browser::*;

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, at: f64) -> Entry {
        Entry { id: id.into(), at }
    }

    #[test]
    fn unreadable_storage_is_empty_and_bad_ids_are_dropped() {
        let ids: Vec<String> = parse_tasks(r#"["3","1"]"#)
            .into_iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(ids, vec!["3", "1"]);
        assert!(parse_tasks("not json").is_empty());
        assert!(parse_tasks(r#"{"a":1}"#).is_empty());
        let ids: Vec<String> = parse_tasks(
            r#"[{"id":"","at":1},{"id":"a:b","at":2},{"id":"9","at":3},12,null,{"id":5}]"#,
        )
        .into_iter()
        .map(|e| e.id)
        .collect();
        assert_eq!(ids, vec!["9"]);
    }

    #[test]
    fn merging_keeps_every_tab_s_tasks_in_one_order() {
        let ours = [entry("5", 50.0), entry("1", 10.0)];
        let theirs = [entry("6", 60.0), entry("1", 10.0), entry("2", 20.0)];
        let merged: Vec<String> = merge(&ours, &theirs, &["2".to_string()])
            .into_iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(merged, vec!["6", "5", "1"]);
        let many: Vec<Entry> = (0..600).map(|i| entry(&i.to_string(), i as f64)).collect();
        let kept = merge(&many, &[], &[]);
        assert_eq!(kept.len(), MAX_KEPT);
        assert_eq!(kept[0].id, "599");
    }

    #[test]
    fn pending_submissions_need_a_valid_key() {
        let stored =
            r#"[{"key":"k1","seconds":3,"at":1},{"key":"has space","seconds":3,"at":1},{"bad":1}]"#;
        let keys: Vec<String> = parse_pending(stored).into_iter().map(|s| s.key).collect();
        assert_eq!(keys, vec!["k1"]);
        assert!(parse_pending("nonsense").is_empty());
    }
}
