//! Logging helpers shared by every module: error chains for log lines, and the step that logs
//! a failed request's cause once, in one place.

use axum::response::Response;
use tracing::error;

/// The internal cause of a 5xx answer, attached to the response by `AppError` and logged here.
#[derive(Debug, Clone)]
pub struct LoggedCause(pub std::sync::Arc<str>);

/// An error with its sources, for a log line.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Logs the cause of an answer that carries one (5xx answers), with its route (the edge's last
/// step, `http/edge.rs`).
pub fn log_failure(method: &axum::http::Method, uri: &axum::http::Uri, response: &Response) {
    if let Some(LoggedCause(cause)) = response.extensions().get::<LoggedCause>() {
        error!(%method, path = %uri.path(), status = response.status().as_u16(), error = %cause, "request failed");
    }
}

/// How often one kind of repeated warning is logged at most.
const THROTTLE_EVERY: std::time::Duration = std::time::Duration::from_secs(60);
/// Kinds (and keys) remembered at most; past it the memory starts again.
const THROTTLE_KEYS: usize = 10_000;

struct Throttle {
    logged_at: std::time::Instant,
    suppressed: u64,
}

/// Repeated warnings of one kind logged at most once a minute each, with how many were
/// suppressed since the last one logged: a flood of refusals (failed sign-ins, foreign hosts,
/// cross-site requests, rate limits, foreign entries) cannot flood the log too. Each part that
/// warns owns one (the identification middleware's, the service's), so what one logs never
/// silences another.
#[derive(Default)]
pub struct LogThrottle {
    seen: std::sync::Mutex<std::collections::HashMap<(&'static str, String), Throttle>>,
}

impl LogThrottle {
    /// Runs `log` for the first warning of `kind` in each minute, with the count suppressed.
    pub fn warn(&self, kind: &'static str, log: impl FnOnce(u64)) {
        self.warn_for(kind, "", log);
    }

    /// As [`LogThrottle::warn`], once a minute per `key` of `kind` (e.g. per queue).
    pub fn warn_for(&self, kind: &'static str, key: &str, log: impl FnOnce(u64)) {
        let now = std::time::Instant::now();
        let due = {
            let mut map = self.seen.lock().unwrap_or_else(|e| e.into_inner());
            if map.len() >= THROTTLE_KEYS {
                map.clear();
            }
            match map.get_mut(&(kind, key.to_string())) {
                Some(entry) if now.duration_since(entry.logged_at) < THROTTLE_EVERY => {
                    entry.suppressed += 1;
                    None
                }
                Some(entry) => {
                    let suppressed = entry.suppressed;
                    entry.logged_at = now;
                    entry.suppressed = 0;
                    Some(suppressed)
                }
                None => {
                    map.insert(
                        (kind, key.to_string()),
                        Throttle {
                            logged_at: now,
                            suppressed: 0,
                        },
                    );
                    Some(0)
                }
            }
        };
        if let Some(suppressed) = due {
            log(suppressed);
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_repeated_warning_is_logged_once_a_minute_with_the_count_suppressed() {
        let throttle = super::LogThrottle::default();
        let mut logged = Vec::new();
        for _ in 0..1000 {
            throttle.warn_for("test-kind", "q1", |n| logged.push(n));
        }
        throttle.warn_for("test-kind", "q2", |n| logged.push(n));
        assert_eq!(logged, [0, 0], "once per key");
        let mut map = throttle.seen.lock().unwrap();
        let entry = map.get_mut(&("test-kind", "q1".to_string())).unwrap();
        assert_eq!(entry.suppressed, 999);
        entry.logged_at = entry
            .logged_at
            .checked_sub(super::THROTTLE_EVERY)
            .expect("the machine has been up a minute");
        drop(map);
        throttle.warn_for("test-kind", "q1", |n| logged.push(n));
        assert_eq!(
            logged,
            [0, 0, 999],
            "the next line says how many were not logged"
        );
    }
}
