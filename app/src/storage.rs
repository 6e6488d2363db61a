//! The user's task ids in the browser's localStorage, so they survive a reload.

/// The localStorage key.
pub const KEY: &str = "sentinel.tasks";

/// Parses the stored list; anything unreadable counts as empty.
pub fn parse(stored: &str) -> Vec<String> {
    serde_json::from_str::<Vec<String>>(stored).unwrap_or_default()
}

#[cfg(feature = "hydrate")]
mod browser {
    use super::{KEY, parse};

    fn storage() -> Option<web_sys::Storage> {
        web_sys::window()?.local_storage().ok()?
    }

    /// The stored ids, newest first.
    pub fn load() -> Vec<String> {
        storage()
            .and_then(|s| s.get_item(KEY).ok().flatten())
            .map(|text| parse(&text))
            .unwrap_or_default()
    }

    /// Stores `ids` (newest first). Storage can be full or disabled; the page works without it.
    pub fn save(ids: &[String]) {
        if let (Some(storage), Ok(text)) = (storage(), serde_json::to_string(ids)) {
            let _ = storage.set_item(KEY, &text);
        }
    }
}

#[cfg(feature = "hydrate")]
pub use browser::{load, save};

#[cfg(test)]
mod tests {
    #[test]
    fn unreadable_storage_is_empty() {
        assert_eq!(super::parse(r#"["3","1"]"#), vec!["3", "1"]);
        assert!(super::parse("not json").is_empty());
        assert!(super::parse(r#"{"a":1}"#).is_empty());
    }
}
