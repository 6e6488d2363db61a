//! The wall clock in the unit BullMQ keeps its times in: milliseconds since the epoch.

/// Now, in ms since the epoch (0 before 1970, `u64::MAX` in the very far future).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
