//! The alerts file (`SENTINEL_ALERTS_FILE`, TOML or YAML by its extension): targets and rules,
//! checked as a whole. A file with a mistake is refused with a sentence naming the rule or
//! target and the field; the rules last loaded stay in force.

use std::collections::HashSet;
use std::time::Duration;

use serde::Deserialize;

/// Largest alerts file read.
pub const MAX_FILE_BYTES: u64 = 256 * 1024;
/// Most rules and most targets in a file.
pub const MAX_RULES: usize = 200;
/// Most targets in a file.
pub const MAX_TARGETS: usize = 50;

/// The file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileShape {
    /// Divides every duration of the file (drills and tests: 60 turns an hour into a minute).
    #[serde(default = "one")]
    time_scale: f64,
    /// How often the rules are checked, in seconds (default 10).
    #[serde(default = "ten")]
    check_every_secs: f64,
    #[serde(default)]
    targets: Vec<TargetShape>,
    #[serde(default)]
    rules: Vec<RuleShape>,
}

fn one() -> f64 {
    1.0
}
fn ten() -> f64 {
    10.0
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetShape {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    secret: Option<String>,
    #[serde(default)]
    smtp: Option<String>,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleShape {
    name: String,
    when: String,
    #[serde(default)]
    queue: Option<String>,
    #[serde(default)]
    seconds: Option<f64>,
    #[serde(default)]
    per_minute: Option<f64>,
    #[serde(default)]
    percent: Option<f64>,
    #[serde(default)]
    repeat_minutes: Option<f64>,
    #[serde(default)]
    clear_seconds: Option<f64>,
    #[serde(default)]
    targets: Option<Vec<String>>,
}

/// Where a message goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetKind {
    /// A POST of the alert as JSON, signed with HMAC-SHA256 when a secret is set.
    Webhook {
        /// Where.
        url: String,
        /// The signing secret.
        secret: Option<String>,
    },
    /// A Slack-compatible incoming webhook (`{"text": ...}`).
    Slack {
        /// Where.
        url: String,
    },
    /// A mail through an SMTP server.
    Email {
        /// `smtp://host:port`, `smtps://...` or `smtp://...?tls=required`, with credentials if any.
        smtp: String,
        /// The sender.
        from: String,
        /// The recipients.
        to: Vec<String>,
    },
}

/// One target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Its name (rules name it).
    pub name: String,
    /// What it is.
    pub kind: TargetKind,
}

impl Target {
    /// `webhook`, `slack` or `email`.
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            TargetKind::Webhook { .. } => "webhook",
            TargetKind::Slack { .. } => "slack",
            TargetKind::Email { .. } => "email",
        }
    }

    /// Where it goes, without credentials, query or path (for the dashboard).
    pub fn place(&self) -> String {
        let url = match &self.kind {
            TargetKind::Webhook { url, .. } | TargetKind::Slack { url } => url,
            TargetKind::Email { smtp, to, .. } => {
                let host = reqwest::Url::parse(smtp)
                    .ok()
                    .and_then(|u| u.host_str().map(str::to_string))
                    .unwrap_or_default();
                return format!("{} via {host}", to.join(", "));
            }
        };
        reqwest::Url::parse(url)
            .ok()
            .map(|u| {
                let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
                format!("{}://{}{port}", u.scheme(), u.host_str().unwrap_or(""))
            })
            .unwrap_or_default()
    }
}

/// What a rule watches.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Condition {
    /// No worker attached to the queue (for the rule's `seconds`).
    NoWorker,
    /// The oldest waiting job is older than `seconds`.
    OldestWaiting {
        /// The age, in real seconds.
        seconds: f64,
    },
    /// Over `per_minute` failures in the last minute, or over `percent` % of the jobs finished
    /// in it failed (at least one finished).
    Failures {
        /// Failures per minute over which it holds.
        per_minute: Option<f64>,
        /// Percent of finished over which it holds.
        percent: Option<f64>,
    },
    /// A job has been active longer than `seconds`.
    Stuck {
        /// The age, in real seconds.
        seconds: f64,
    },
    /// A job stalled (a `stalled` event) within the last `seconds`.
    Stalled {
        /// The window, in real seconds.
        seconds: f64,
    },
    /// Redis does not answer, or its eviction policy is not `noeviction`.
    Redis,
    /// Redis's memory is past `percent` % of the memory guard's limit (100: new jobs are
    /// being refused).
    RedisMemory {
        /// The share of the guard's limit over which it holds.
        percent: f64,
    },
}

impl Condition {
    /// Whether the condition is about one queue (the others are about Redis itself).
    pub fn on_queue(self) -> bool {
        !matches!(self, Condition::Redis | Condition::RedisMemory { .. })
    }
}

/// One rule, its durations already divided by the file's time scale.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Its name (unique in the file).
    pub name: String,
    /// `no_worker`, `oldest_waiting`, ...
    pub when: String,
    /// What it watches.
    pub condition: Condition,
    /// The queue watched (`<prefix>:<name>`); Sentinel's own when the file names none.
    pub queue: Option<(String, String)>,
    /// How long the condition must hold before it fires.
    pub hold: Duration,
    /// At most one reminder per this while it holds; `None`: never.
    pub repeat: Option<Duration>,
    /// How long the condition must stay away before "resolved" is sent.
    pub clear: Duration,
    /// The targets' names it sends to.
    pub targets: Vec<String>,
    /// The window failures are counted in.
    pub window: Duration,
}

/// A checked alerts file.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertsFile {
    /// The time scale (1 unless drilling).
    pub time_scale: f64,
    /// How often rules are checked (real time).
    pub check_every: Duration,
    /// The targets.
    pub targets: Vec<Target>,
    /// The rules.
    pub rules: Vec<Rule>,
}

impl AlertsFile {
    /// The target named `name`.
    pub fn target(&self, name: &str) -> Option<&Target> {
        self.targets.iter().find(|t| t.name == name)
    }
}

/// Parses and checks a file's text; `yaml` picks the syntax.
pub fn parse(text: &str, yaml: bool) -> Result<AlertsFile, String> {
    let shape: FileShape = if yaml {
        serde_norway::from_str(text).map_err(|e| format!("not a valid alerts file: {e}"))?
    } else {
        toml::from_str(text).map_err(|e| format!("not a valid alerts file: {e}"))?
    };
    check(shape)
}

fn seconds(value: f64, scale: f64) -> Duration {
    Duration::from_secs_f64((value / scale).max(0.0))
}

fn name_ok(name: &str) -> bool {
    (1..=100).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

fn check(shape: FileShape) -> Result<AlertsFile, String> {
    let scale = shape.time_scale;
    if !(scale.is_finite() && (0.001..=100_000.0).contains(&scale)) {
        return Err("time_scale: from 0.001 to 100000".into());
    }
    if !(shape.check_every_secs.is_finite() && (1.0..=3600.0).contains(&shape.check_every_secs)) {
        return Err("check_every_secs: from 1 to 3600".into());
    }
    if shape.targets.len() > MAX_TARGETS {
        return Err(format!("targets: at most {MAX_TARGETS}"));
    }
    if shape.rules.len() > MAX_RULES {
        return Err(format!("rules: at most {MAX_RULES}"));
    }
    let mut targets = Vec::new();
    let mut names = HashSet::new();
    for t in shape.targets {
        let at = format!("target {:?}", t.name);
        if !name_ok(&t.name) {
            return Err(format!(
                "{at}: name: 1 to 100 letters, digits, '-', '_' or '.'"
            ));
        }
        if !names.insert(t.name.clone()) {
            return Err(format!("{at}: name: named twice"));
        }
        let web_url = |url: Option<String>| -> Result<String, String> {
            let url = url.ok_or(format!("{at}: url: required"))?;
            let parsed =
                reqwest::Url::parse(&url).map_err(|e| format!("{at}: url: not a URL ({e})"))?;
            if !["http", "https"].contains(&parsed.scheme()) || parsed.host_str().is_none() {
                return Err(format!("{at}: url: an http:// or https:// address"));
            }
            Ok(url)
        };
        let kind = match t.kind.as_str() {
            "webhook" => {
                if t.secret.as_deref().is_some_and(str::is_empty) {
                    return Err(format!("{at}: secret: empty"));
                }
                TargetKind::Webhook {
                    url: web_url(t.url)?,
                    secret: t.secret,
                }
            }
            "slack" => TargetKind::Slack {
                url: web_url(t.url)?,
            },
            "email" => {
                let smtp = t.smtp.ok_or(format!("{at}: smtp: required"))?;
                let parsed = reqwest::Url::parse(&smtp)
                    .map_err(|e| format!("{at}: smtp: not a URL ({e})"))?;
                if !["smtp", "smtps"].contains(&parsed.scheme()) || parsed.host_str().is_none() {
                    return Err(format!("{at}: smtp: an smtp:// or smtps:// address"));
                }
                let from = t.from.ok_or(format!("{at}: from: required"))?;
                if from.parse::<lettre::message::Mailbox>().is_err() {
                    return Err(format!("{at}: from: not a mail address"));
                }
                if t.to.is_empty() || t.to.len() > 50 {
                    return Err(format!("{at}: to: 1 to 50 addresses"));
                }
                for to in &t.to {
                    if to.parse::<lettre::message::Mailbox>().is_err() {
                        return Err(format!("{at}: to: {to:?} is not a mail address"));
                    }
                }
                TargetKind::Email {
                    smtp,
                    from,
                    to: t.to,
                }
            }
            other => {
                return Err(format!(
                    "{at}: type: {other:?} is none of webhook, slack, email"
                ));
            }
        };
        targets.push(Target { name: t.name, kind });
    }
    let mut rules = Vec::new();
    let mut rule_names = HashSet::new();
    for r in shape.rules {
        let at = format!("rule {:?}", r.name);
        if !name_ok(&r.name) {
            return Err(format!(
                "{at}: name: 1 to 100 letters, digits, '-', '_' or '.'"
            ));
        }
        if !rule_names.insert(r.name.clone()) {
            return Err(format!("{at}: name: named twice"));
        }
        let positive = |field: &str, value: Option<f64>| -> Result<Option<f64>, String> {
            match value {
                Some(v) if !(v.is_finite() && (0.0..=1e9).contains(&v)) => {
                    Err(format!("{at}: {field}: a number from 0 to 1000000000"))
                }
                other => Ok(other),
            }
        };
        let secs = positive("seconds", r.seconds)?;
        let per_minute = positive("per_minute", r.per_minute)?;
        let percent = positive("percent", r.percent)?;
        if percent.is_some_and(|p| p > 100.0) {
            return Err(format!("{at}: percent: from 0 to 100"));
        }
        let repeat = positive("repeat_minutes", r.repeat_minutes)?.unwrap_or(60.0);
        let clear = positive("clear_seconds", r.clear_seconds)?.unwrap_or(60.0);
        let need =
            |value: Option<f64>| value.ok_or(format!("{at}: seconds: required for {}", r.when));
        let mut hold = 0.0;
        let condition = match r.when.as_str() {
            "no_worker" => {
                hold = secs.unwrap_or(0.0);
                Condition::NoWorker
            }
            "oldest_waiting" => Condition::OldestWaiting {
                seconds: need(secs)? / scale,
            },
            "failures" => {
                if per_minute.is_none() && percent.is_none() {
                    return Err(format!("{at}: per_minute or percent: one is required"));
                }
                hold = secs.unwrap_or(0.0);
                Condition::Failures {
                    per_minute,
                    percent,
                }
            }
            "stuck" => Condition::Stuck {
                seconds: need(secs)? / scale,
            },
            "stalled" => Condition::Stalled {
                seconds: secs.unwrap_or(60.0) / scale,
            },
            "redis" => {
                hold = secs.unwrap_or(0.0);
                Condition::Redis
            }
            "redis_memory" => {
                hold = secs.unwrap_or(0.0);
                if percent.is_some_and(|p| p <= 0.0) {
                    return Err(format!("{at}: percent: above 0"));
                }
                Condition::RedisMemory {
                    percent: percent.unwrap_or(100.0),
                }
            }
            other => {
                return Err(format!(
                    "{at}: when: {other:?} is none of no_worker, oldest_waiting, failures, stuck, stalled, redis, redis_memory"
                ));
            }
        };
        let queue = match r.queue {
            None => None,
            Some(q) => {
                let (prefix, name) = q
                    .split_once(':')
                    .filter(|(p, n)| !p.is_empty() && !n.is_empty())
                    .ok_or(format!("{at}: queue: written <prefix>:<name>"))?;
                if q.len() > 512 || q.chars().any(char::is_control) {
                    return Err(format!(
                        "{at}: queue: at most 512 bytes, no control characters"
                    ));
                }
                Some((prefix.to_string(), name.to_string()))
            }
        };
        let rule_targets = match r.targets {
            Some(list) => {
                for name in &list {
                    if !targets.iter().any(|t| &t.name == name) {
                        return Err(format!("{at}: targets: no target named {name:?}"));
                    }
                }
                list
            }
            None => targets.iter().map(|t| t.name.clone()).collect(),
        };
        rules.push(Rule {
            name: r.name,
            when: r.when,
            condition,
            queue,
            hold: seconds(hold, scale),
            repeat: (repeat > 0.0).then(|| seconds(repeat * 60.0, scale)),
            clear: seconds(clear, scale),
            targets: rule_targets,
            window: seconds(60.0, scale),
        });
    }
    Ok(AlertsFile {
        time_scale: scale,
        check_every: seconds(shape.check_every_secs, scale).max(Duration::from_millis(100)),
        targets,
        rules,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOML: &str = r#"
time_scale = 60
[[targets]]
name = "ops"
type = "webhook"
url = "http://127.0.0.1:9/hook"
secret = "s3cret"
[[targets]]
name = "mail"
type = "email"
smtp = "smtp://127.0.0.1:2525"
from = "Sentinel <sentinel@example.com>"
to = ["ops@example.com"]
[[rules]]
name = "failing"
when = "failures"
per_minute = 5
targets = ["ops"]
[[rules]]
name = "no-workers"
when = "no_worker"
seconds = 120
queue = "bull:emails"
"#;

    #[test]
    fn a_toml_file_reads_with_durations_scaled_and_defaults() {
        let file = parse(TOML, false).unwrap();
        assert_eq!(file.targets.len(), 2);
        assert_eq!(file.rules[0].targets, vec!["ops".to_string()]);
        assert_eq!(
            file.rules[1].targets,
            vec!["ops".to_string(), "mail".to_string()]
        );
        assert_eq!(file.rules[1].hold, Duration::from_secs(2));
        assert_eq!(file.rules[0].repeat, Some(Duration::from_secs(60)));
        assert_eq!(file.rules[0].clear, Duration::from_secs(1));
        assert_eq!(
            file.rules[1].queue,
            Some(("bull".to_string(), "emails".to_string()))
        );
        assert_eq!(
            file.target("mail").unwrap().place(),
            "ops@example.com via 127.0.0.1"
        );
        assert_eq!(file.target("ops").unwrap().place(), "http://127.0.0.1:9");
    }

    #[test]
    fn the_same_file_in_yaml_reads_the_same() {
        let yaml = r#"
time_scale: 60
targets:
  - name: ops
    type: webhook
    url: "http://127.0.0.1:9/hook"
    secret: s3cret
  - name: mail
    type: email
    smtp: "smtp://127.0.0.1:2525"
    from: "Sentinel <sentinel@example.com>"
    to: ["ops@example.com"]
rules:
  - name: failing
    when: failures
    per_minute: 5
    targets: [ops]
  - name: no-workers
    when: no_worker
    seconds: 120
    queue: "bull:emails"
"#;
        assert_eq!(parse(yaml, true).unwrap(), parse(TOML, false).unwrap());
    }

    #[test]
    fn mistakes_are_named() {
        let cases = [
            ("[[rules]]\nname = \"x\"\nwhen = \"sometimes\"", "when"),
            ("[[rules]]\nname = \"x\"\nwhen = \"stuck\"", "seconds"),
            ("[[rules]]\nname = \"x\"\nwhen = \"failures\"", "per_minute"),
            (
                "[[rules]]\nname = \"x\"\nwhen = \"redis\"\ntargets = [\"nobody\"]",
                "targets",
            ),
            (
                "[[rules]]\nname = \"x\"\nwhen = \"redis\"\nqueue = \"nocolon\"",
                "queue",
            ),
            (
                "[[rules]]\nname = \"x\"\nwhen = \"redis\"\ncolour = 1",
                "colour",
            ),
            (
                "[[targets]]\nname = \"t\"\ntype = \"webhook\"\nurl = \"ftp://x\"",
                "url",
            ),
            (
                "[[targets]]\nname = \"t\"\ntype = \"email\"\nsmtp = \"smtp://h\"\nfrom = \"no\"\nto = [\"a@b.c\"]",
                "from",
            ),
            ("[[targets]]\nname = \"t\"\ntype = \"pager\"", "type"),
            ("time_scale = 0", "time_scale"),
            (
                "[[rules]]\nname = \"x\"\nwhen = \"failures\"\npercent = 150",
                "percent",
            ),
        ];
        for (text, field) in cases {
            let error = parse(text, false).expect_err(text);
            assert!(error.contains(field), "{text}: {error}");
        }
    }
}
