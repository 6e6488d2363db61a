//! The options of one enqueue (`delay`, `priority`, `attempts`, `backoff`, `jobId`,
//! `timeoutMs`), read from a JSON body or a query string and checked once, here, for the HTTP
//! API and the page alike. Each refusal names its field.

use std::fmt;

use serde_json::{Map, Value};

use crate::model::types::{JobId, MAX_TIMEOUT_MS};

/// The longest `delay` taken: a year, in ms.
pub const MAX_DELAY_MS: u64 = 365 * 24 * 3600 * 1000;
/// The largest `priority` BullMQ takes (2^21); 0 is no priority.
pub const MAX_PRIORITY: u64 = 2_097_152;
/// The most `attempts` taken.
pub const MAX_ATTEMPTS: u64 = 100;
/// The longest back-off delay taken: a day, in ms.
pub const MAX_BACKOFF_MS: u64 = 86_400_000;

/// How a failed attempt waits before the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backoff {
    /// The same delay each time, in ms.
    Fixed(u64),
    /// `delay × 2^(attempt-1)`, in ms.
    Exponential(u64),
}

/// The options of one enqueue; `None` where the caller gave none (the defaults are the
/// original's: one attempt, no delay, no priority).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskOptions {
    /// Wait before the job may run, in ms.
    pub delay_ms: Option<u64>,
    /// Lower runs first; 0 is none.
    pub priority: Option<u32>,
    /// How many times the job may run in all.
    pub attempts: Option<u32>,
    /// How failed attempts wait.
    pub backoff: Option<Backoff>,
    /// A custom job id: a second add with it returns the existing job.
    pub job_id: Option<String>,
    /// The longest one attempt may run, in ms.
    pub timeout_ms: Option<u64>,
    /// The owner the job is enqueued for (`user:<name>` or `token:<name>`), by an operator or
    /// an admin: the job is theirs (their list, their quota), and the audit log says who did it.
    pub on_behalf_of: Option<String>,
}

/// Whether `owner` is an owner one may enqueue for: `user:` or `token:` and a name of 1 to 100
/// letters, digits, `-`, `_`, `.` or `@`.
pub fn valid_owner(owner: &str) -> bool {
    let Some((kind, name)) = owner.split_once(':') else {
        return false;
    };
    matches!(kind, "user" | "token")
        && (1..=100).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c))
}

/// Why an option was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionError {
    /// The field, as the request names it.
    pub field: &'static str,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for OptionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for OptionError {}

fn refuse(field: &'static str, message: impl Into<String>) -> OptionError {
    OptionError {
        field,
        message: message.into(),
    }
}

/// A whole number from a JSON value: an integer, an integral float, or a string of digits
/// (query strings and HTML forms send text).
pub fn whole(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < 9.0e15)
                .map(|f| f as u64)
        }),
        Value::String(text) => {
            let text = text.trim();
            (!text.is_empty() && text.len() <= 20 && text.bytes().all(|b| b.is_ascii_digit()))
                .then(|| text.parse().ok())
                .flatten()
        }
        _ => None,
    }
}

fn number_in(
    fields: &Map<String, Value>,
    field: &'static str,
    min: u64,
    max: u64,
) -> Result<Option<u64>, OptionError> {
    match fields.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => match whole(value) {
            Some(n) if (min..=max).contains(&n) => Ok(Some(n)),
            _ => Err(refuse(
                field,
                format!(
                    "must be a whole number from {min} to {max}, got {}",
                    crate::model::types::describe(value)
                ),
            )),
        },
    }
}

impl TaskOptions {
    /// Whether any option was given.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Reads the options from a JSON object (other fields, such as `seconds`, are left alone).
    /// Numbers must be JSON numbers.
    pub fn from_fields(fields: &Map<String, Value>) -> Result<Self, OptionError> {
        for field in ["delay", "priority", "attempts", "timeoutMs"] {
            if let Some(Value::String(_)) = fields.get(field) {
                return Err(refuse(field, "must be a number, not a string"));
            }
        }
        Self::read(fields)
    }

    fn read(fields: &Map<String, Value>) -> Result<Self, OptionError> {
        let delay_ms = number_in(fields, "delay", 0, MAX_DELAY_MS)?;
        let priority = number_in(fields, "priority", 0, MAX_PRIORITY)?.map(|p| p as u32);
        let attempts = number_in(fields, "attempts", 1, MAX_ATTEMPTS)?.map(|a| a as u32);
        let timeout_ms = number_in(fields, "timeoutMs", 1, MAX_TIMEOUT_MS)?;
        let backoff = match fields.get("backoff") {
            None | Some(Value::Null) => None,
            Some(Value::Object(backoff)) => {
                let delay = number_in(backoff, "delay", 0, MAX_BACKOFF_MS)
                    .map_err(|e| refuse("backoff.delay", e.message))?
                    .unwrap_or(0);
                match backoff.get("type").and_then(Value::as_str) {
                    Some("fixed") => Some(Backoff::Fixed(delay)),
                    Some("exponential") => Some(Backoff::Exponential(delay)),
                    _ => {
                        return Err(refuse(
                            "backoff.type",
                            "must be \"fixed\" or \"exponential\"",
                        ));
                    }
                }
            }
            Some(_) => {
                return Err(refuse(
                    "backoff",
                    "must be {\"type\": \"fixed\" | \"exponential\", \"delay\": ms}",
                ));
            }
        };
        let job_id = match fields.get("jobId") {
            None | Some(Value::Null) => None,
            Some(Value::String(id)) => Some(custom_job_id(id).map_err(|e| refuse("jobId", e))?),
            Some(_) => return Err(refuse("jobId", "must be a string")),
        };
        let on_behalf_of = match fields.get("onBehalfOf") {
            None | Some(Value::Null) => None,
            Some(Value::String(owner)) if valid_owner(owner) => Some(owner.clone()),
            Some(_) => {
                return Err(refuse(
                    "onBehalfOf",
                    "must be user:<name> or token:<name> (1 to 100 letters, digits, - _ . @)",
                ));
            }
        };
        Ok(Self {
            delay_ms,
            priority,
            attempts,
            backoff,
            job_id,
            timeout_ms,
            on_behalf_of,
        })
    }

    /// Reads the options from query-string pairs.
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a String, &'a String)>,
    ) -> Result<Self, OptionError> {
        let mut fields = Map::new();
        for (name, value) in pairs {
            // A query string has text only; an empty value is no value.
            if !value.trim().is_empty()
                && matches!(
                    name.as_str(),
                    "delay" | "priority" | "attempts" | "jobId" | "timeoutMs" | "onBehalfOf"
                )
            {
                fields.insert(name.clone(), Value::String(value.clone()));
            }
        }
        Self::read(&fields)
    }

    /// Takes each option given in `other` over ours.
    pub fn or(self, other: Self) -> Self {
        Self {
            delay_ms: other.delay_ms.or(self.delay_ms),
            priority: other.priority.or(self.priority),
            attempts: other.attempts.or(self.attempts),
            backoff: other.backoff.or(self.backoff),
            job_id: other.job_id.or(self.job_id),
            timeout_ms: other.timeout_ms.or(self.timeout_ms),
            on_behalf_of: other.on_behalf_of.or(self.on_behalf_of),
        }
    }
}

/// The options as the page's form sends them: text, durations in seconds (people think in
/// seconds), every field optional. Stored with an unconfirmed submission so that a resend sends
/// the same options.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FormOptions {
    /// "Start after" (s).
    #[serde(default)]
    pub delay_s: Option<String>,
    /// "Priority".
    #[serde(default)]
    pub priority: Option<String>,
    /// "Attempts".
    #[serde(default)]
    pub attempts: Option<String>,
    /// "Retry delay" kind: `fixed` or `exponential`.
    #[serde(default)]
    pub backoff: Option<String>,
    /// "Retry delay" (s).
    #[serde(default)]
    pub backoff_s: Option<String>,
    /// "Job id".
    #[serde(default)]
    pub job_id: Option<String>,
    /// "Time limit" (s).
    #[serde(default)]
    pub timeout_s: Option<String>,
}

/// A form field's text, when it is not blank.
fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

impl FormOptions {
    /// The options, each checked; a refusal names the form's label.
    pub fn parse(&self) -> Result<TaskOptions, OptionError> {
        let seconds = |field: &'static str,
                       label: &'static str,
                       value: &Option<String>,
                       min: u64,
                       max_ms: u64| {
            match given(value) {
                None => Ok(None),
                Some(text) => text
                    .parse::<u64>()
                    .ok()
                    .map(|s| s.saturating_mul(1000))
                    .filter(|ms| (min..=max_ms).contains(ms))
                    .map(Some)
                    .ok_or_else(|| {
                        refuse(
                            field,
                            format!(
                                "{label} must be a whole number of seconds from {} to {}",
                                min / 1000,
                                max_ms / 1000
                            ),
                        )
                    }),
            }
        };
        let whole_in = |field: &'static str,
                        label: &'static str,
                        value: &Option<String>,
                        min: u64,
                        max: u64| {
            match given(value) {
                None => Ok(None),
                Some(text) => text
                    .parse::<u64>()
                    .ok()
                    .filter(|n| (min..=max).contains(n))
                    .map(Some)
                    .ok_or_else(|| {
                        refuse(
                            field,
                            format!("{label} must be a whole number from {min} to {max}"),
                        )
                    }),
            }
        };
        let delay_ms = seconds("delay", "Start after", &self.delay_s, 0, MAX_DELAY_MS)?;
        let priority =
            whole_in("priority", "Priority", &self.priority, 0, MAX_PRIORITY)?.map(|p| p as u32);
        let attempts =
            whole_in("attempts", "Attempts", &self.attempts, 1, MAX_ATTEMPTS)?.map(|a| a as u32);
        let timeout_ms = seconds(
            "timeoutMs",
            "Time limit",
            &self.timeout_s,
            1000,
            MAX_TIMEOUT_MS,
        )?;
        let backoff_ms = seconds(
            "backoff.delay",
            "Retry delay",
            &self.backoff_s,
            0,
            MAX_BACKOFF_MS,
        )?;
        let backoff = match given(&self.backoff) {
            None | Some("none") => None,
            Some("fixed") => Some(Backoff::Fixed(backoff_ms.unwrap_or(0))),
            Some("exponential") => Some(Backoff::Exponential(backoff_ms.unwrap_or(0))),
            Some(_) => {
                return Err(refuse(
                    "backoff.type",
                    "Retry delay must be none, fixed or exponential",
                ));
            }
        };
        let job_id = given(&self.job_id)
            .map(|id| custom_job_id(id).map_err(|e| refuse("jobId", format!("Job id: {e}"))))
            .transpose()?;
        Ok(TaskOptions {
            delay_ms,
            priority,
            attempts,
            backoff,
            job_id,
            timeout_ms,
            // The page's form enqueues for the one who sends it.
            on_behalf_of: None,
        })
    }
}

/// A custom job id, checked (the page checks the form's without any JSON at hand).
fn custom_job_id(id: &str) -> Result<String, String> {
    JobId::parse(id).map_err(|e| e.to_string())?;
    // BullMQ refuses integer custom ids: they would collide with its counter.
    if is_integer_like(id) {
        return Err("must not be an integer (those are the queue's own ids)".to_string());
    }
    Ok(id.to_string())
}

/// Whether BullMQ would take `id` for an integer and refuse it as a custom id: an optional `-`
/// and digits (what JavaScript's `parseInt` reads back unchanged, and a little more), or `NaN`.
pub fn is_integer_like(id: &str) -> bool {
    let digits = id.strip_prefix('-').unwrap_or(id);
    id == "NaN" || (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(value: Value) -> Result<TaskOptions, OptionError> {
        TaskOptions::from_fields(value.as_object().expect("an object"))
    }

    #[test]
    fn good_options() {
        let options = parse(json!({
            "seconds": 3, "delay": 1500, "priority": 7, "attempts": 3,
            "backoff": {"type": "exponential", "delay": 200}, "jobId": "order-17", "timeoutMs": 900,
            "onBehalfOf": "user:alice"
        }))
        .unwrap();
        assert_eq!(
            options,
            TaskOptions {
                delay_ms: Some(1500),
                priority: Some(7),
                attempts: Some(3),
                backoff: Some(Backoff::Exponential(200)),
                job_id: Some("order-17".into()),
                timeout_ms: Some(900),
                on_behalf_of: Some("user:alice".into()),
            }
        );
        assert_eq!(
            parse(json!({"backoff": {"type": "fixed", "delay": 50}}))
                .unwrap()
                .backoff,
            Some(Backoff::Fixed(50))
        );
        assert!(parse(json!({"seconds": 3})).unwrap().is_empty());
        // A query string's text is read as numbers; an empty value is none.
        let query = [
            ("delay".to_string(), "250".to_string()),
            ("attempts".to_string(), String::new()),
        ];
        let options = TaskOptions::from_pairs(query.iter().map(|(k, v)| (k, v))).unwrap();
        assert_eq!((options.delay_ms, options.attempts), (Some(250), None));
    }

    #[test]
    fn the_form_speaks_seconds_and_names_its_labels() {
        let form = FormOptions {
            delay_s: Some("60".into()),
            attempts: Some("3".into()),
            backoff: Some("exponential".into()),
            backoff_s: Some("2".into()),
            timeout_s: Some(" ".into()),
            ..FormOptions::default()
        };
        let options = form.parse().unwrap();
        assert_eq!(options.delay_ms, Some(60_000));
        assert_eq!(options.backoff, Some(Backoff::Exponential(2000)));
        assert_eq!(options.timeout_ms, None);
        let bad = FormOptions {
            timeout_s: Some("0".into()),
            ..FormOptions::default()
        };
        let error = bad.parse().unwrap_err();
        assert!(error.message.starts_with("Time limit must be"), "{error}");
        let bad = FormOptions {
            job_id: Some("12".into()),
            ..FormOptions::default()
        };
        assert!(bad.parse().unwrap_err().message.starts_with("Job id:"));
    }

    #[test]
    fn each_bad_value_names_its_field() {
        let cases = [
            (json!({"delay": -1}), "delay"),
            (json!({"delay": "soon"}), "delay"),
            (json!({"delay": 1e300}), "delay"),
            (json!({"priority": 2_097_153}), "priority"),
            (json!({"attempts": 0}), "attempts"),
            (json!({"attempts": 101}), "attempts"),
            (json!({"attempts": 2.5}), "attempts"),
            (
                json!({"backoff": {"type": "linear", "delay": 5}}),
                "backoff.type",
            ),
            (
                json!({"backoff": {"type": "fixed", "delay": -5}}),
                "backoff.delay",
            ),
            (json!({"backoff": "x"}), "backoff"),
            (json!({"backoff": 50}), "backoff"),
            (json!({"jobId": ""}), "jobId"),
            (json!({"jobId": "a:b"}), "jobId"),
            (json!({"jobId": "42"}), "jobId"),
            (json!({"jobId": 42}), "jobId"),
            (json!({"timeoutMs": 0}), "timeoutMs"),
            (json!({"onBehalfOf": "alice"}), "onBehalfOf"),
            (json!({"onBehalfOf": "anon:x"}), "onBehalfOf"),
            (json!({"onBehalfOf": "user:"}), "onBehalfOf"),
            (json!({"onBehalfOf": "user:a b"}), "onBehalfOf"),
            (json!({"onBehalfOf": 7}), "onBehalfOf"),
            (json!({"timeoutMs": ""}), "timeoutMs"),
            (json!({"delay": "250"}), "delay"),
            (json!({"timeoutMs": 86_400_001u64}), "timeoutMs"),
        ];
        for (value, field) in cases {
            let error = parse(value.clone()).expect_err("refused");
            assert_eq!(error.field, field, "{value}: {error}");
            assert!(error.message.len() < 200, "{error}");
        }
    }
}
