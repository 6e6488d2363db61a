//! Alert rules: the file (`SENTINEL_ALERTS_FILE`, re-read when it changes), the loop that checks
//! the rules, and the messages it sends.
//!
//! Every process that serves the API runs the loop; one of them at a time holds a lease in Redis
//! and checks the rules (the others wait to take over), and a rule's state is written in Redis
//! only under that lease, so three processes send one message. "Redis does not answer" cannot go
//! through Redis: the process that held the lease when Redis went away fires and resolves it on
//! its own.

pub mod check;
pub mod notify;
pub mod rules;
pub mod transition;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use app::admin::{AlertDelivery, AlertRuleView, AlertTargetView, AlertsReport};

use crate::queue::alerts::{self as store, RuleState};
use rules::{AlertsFile, Condition};
use transition::Notice;

use super::state::AppState;

/// How often the file is looked at for a change.
const FILE_CHECK: Duration = Duration::from_secs(2);
/// Deliveries shown on the alerts page.
const SHOWN_DELIVERIES: usize = 100;

type Stamp = Option<(SystemTime, u64)>;

#[derive(Default)]
struct Loaded {
    file: Option<Arc<AlertsFile>>,
    error: Option<String>,
    loaded_at: Option<u64>,
    stamp: Stamp,
}

/// The alert rules of this process: the file's path, what was last read from it, and the state
/// of the one rule that cannot live in Redis.
pub struct Alerts {
    path: Option<PathBuf>,
    loaded: Mutex<Loaded>,
    /// This process's name for the lease.
    me: String,
    /// Built when the first message is sent (a process without alerts never builds it).
    http: std::sync::OnceLock<reqwest::Client>,
    /// Whether this process held the lease at its last check that reached Redis.
    leader: std::sync::atomic::AtomicBool,
    /// "Redis does not answer", per `redis` rule, kept here while it fires.
    unreachable: Mutex<HashMap<String, RuleState>>,
}

fn stamp_of(path: &std::path::Path) -> Stamp {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

impl Alerts {
    /// The rules of `path` (none without one), not read yet (see [`Alerts::load`]).
    pub fn new(path: Option<PathBuf>) -> Self {
        let mut id = [0u8; 9];
        if getrandom::fill(&mut id).is_err() {
            // Unique enough among a deployment's processes.
            id[..8].copy_from_slice(&crate::clock::now_ms().to_le_bytes());
            id[8] = (std::process::id() % 251) as u8;
        }
        let me = app::url::hex(id);
        Self {
            path,
            loaded: Mutex::new(Loaded::default()),
            me,
            http: std::sync::OnceLock::new(),
            leader: std::sync::atomic::AtomicBool::new(false),
            unreachable: Mutex::new(HashMap::new()),
        }
    }

    /// Reads the file at start-up: one that cannot be read or has a mistake stops the process
    /// with the reason (later changes with a mistake are refused and shown, the rules in force
    /// stay).
    pub fn load(&self) -> Result<(), String> {
        if self.path.is_none() {
            return Ok(());
        }
        self.reload();
        match self.lock().error.clone() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Loaded> {
        self.loaded.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The rules in force.
    pub fn current(&self) -> Option<Arc<AlertsFile>> {
        self.lock().file.clone()
    }

    /// Reads the file again; a file with a mistake keeps the last rules in force and its error
    /// is shown. Whether the rules changed.
    fn reload(&self) -> bool {
        let Some(path) = &self.path else {
            return false;
        };
        let stamp = stamp_of(path);
        let read = read_file(path);
        let mut loaded = self.lock();
        loaded.stamp = stamp;
        match read {
            Ok(file) => {
                let changed = loaded.file.as_deref() != Some(&file);
                loaded.file = Some(Arc::new(file));
                loaded.error = None;
                loaded.loaded_at = Some(crate::clock::now_ms());
                if changed {
                    tracing::info!(path = %path.display(), "alert rules read");
                }
                changed
            }
            Err(error) => {
                tracing::error!(path = %path.display(), %error, "alert rules not read; the last ones stay in force");
                loaded.error = Some(error);
                false
            }
        }
    }

    /// Reads the file again if it changed (its time or length).
    fn reload_if_changed(&self) {
        let Some(path) = &self.path else {
            return;
        };
        let stamp = stamp_of(path);
        if stamp != self.lock().stamp {
            self.reload();
        }
    }
}

fn read_file(path: &std::path::Path) -> Result<AlertsFile, String> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| format!("{shown}: {e}"))?;
    if meta.len() > rules::MAX_FILE_BYTES {
        return Err(format!(
            "{shown}: larger than {} KiB",
            rules::MAX_FILE_BYTES / 1024
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("{shown}: {e}"))?;
    let yaml = matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    );
    rules::parse(&text, yaml).map_err(|e| format!("{shown}: {e}"))
}

/// Checks the rules until shutdown (processes that serve the API; nothing without a file).
pub async fn run(state: AppState) {
    let alerts = state.alerts.clone();
    if alerts.path.is_none() {
        return;
    }
    let now = tokio::time::Instant::now;
    let mut next_file_check = now();
    let mut next_round = now();
    loop {
        if now() >= next_file_check {
            alerts.reload_if_changed();
            next_file_check = now() + FILE_CHECK;
        }
        if now() >= next_round {
            let every = match alerts.current() {
                Some(file) => {
                    check_all(&state, &file).await;
                    file.check_every
                }
                None => FILE_CHECK,
            };
            next_round = now() + every;
        }
        tokio::select! {
            () = tokio::time::sleep_until(next_round.min(next_file_check)) => {}
            () = state.shutdown.cancelled() => break,
        }
    }
    if let Ok(queue) = state.queue()
        && alerts.leader.load(std::sync::atomic::Ordering::Relaxed)
    {
        let _ = store::release_lease(queue, &alerts.me).await;
    }
}

/// One round: every rule checked by the lease's holder.
async fn check_all(state: &AppState, file: &Arc<AlertsFile>) {
    let alerts = &state.alerts;
    let Ok(queue) = state.queue() else {
        return;
    };
    let now = crate::clock::now_ms();
    let reachable = queue.ping(Duration::from_secs(2)).await;
    redis_reachability(state, file, reachable, now);
    if !reachable {
        return;
    }
    let lease_ms = u64::try_from((file.check_every * 3).as_millis())
        .unwrap_or(u64::MAX)
        .max(1_000);
    let held = match store::hold_lease(queue, &alerts.me, lease_ms).await {
        Ok(held) => held,
        Err(error) => {
            tracing::debug!(error = %crate::telemetry::error_chain(&error), "alert lease not reached");
            return;
        }
    };
    alerts
        .leader
        .store(held, std::sync::atomic::Ordering::Relaxed);
    if !held {
        return;
    }
    let Ok(states) = store::states(queue).await else {
        return;
    };
    let gone: Vec<String> = states
        .keys()
        .filter(|name| !file.rules.iter().any(|r| &r.name == *name))
        .cloned()
        .collect();
    let _ = store::forget_states(queue, &alerts.me, &gone).await;
    for rule in &file.rules {
        if rule.condition == Condition::Redis
            && alerts
                .unreachable
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .contains_key(&rule.name)
        {
            // Fired here while Redis was away; this process resolves it.
            continue;
        }
        let seen = match check::check(state, rule, now).await {
            Ok(seen) => seen,
            Err(error) => {
                tracing::debug!(rule = %rule.name, %error, "alert rule not checked this round");
                continue;
            }
        };
        let before = states.get(&rule.name).cloned().unwrap_or_default();
        let (after, send) = transition::step(rule, &before, seen.holds, now, &seen.detail);
        if after == before {
            continue;
        }
        match store::write_state(queue, &alerts.me, &rule.name, &after).await {
            Ok(true) => {}
            Ok(false) => {
                alerts
                    .leader
                    .store(false, std::sync::atomic::Ordering::Relaxed);
                return;
            }
            Err(_) => continue,
        }
        if send != Notice::Nothing {
            let since = if send == Notice::Resolved {
                before.firing
            } else {
                after.firing
            };
            let queue_name =
                (rule.condition != Condition::Redis).then(|| check::queue_text(state, rule));
            let message = notify::Message::new(rule, queue_name, send, &seen.detail, now, since);
            send_to_targets(state, file, rule, message);
        }
    }
}

/// "Redis does not answer", kept in this process: fired by the process that held the lease when
/// Redis went away, resolved by the same process.
fn redis_reachability(state: &AppState, file: &Arc<AlertsFile>, reachable: bool, now: u64) {
    let alerts = &state.alerts;
    let was_leader = alerts.leader.load(std::sync::atomic::Ordering::Relaxed);
    for rule in file
        .rules
        .iter()
        .filter(|r| r.condition == Condition::Redis)
    {
        let mut local = alerts.unreachable.lock().unwrap_or_else(|e| e.into_inner());
        let before = match local.get(&rule.name) {
            Some(state) => state.clone(),
            None if !reachable && was_leader => RuleState::default(),
            None => continue,
        };
        let detail = if reachable {
            "Redis answers again"
        } else {
            "Redis does not answer"
        };
        let (after, send) = transition::step(rule, &before, !reachable, now, detail);
        if after.firing == 0 && after.pending == 0 {
            local.remove(&rule.name);
        } else {
            local.insert(rule.name.clone(), after.clone());
        }
        drop(local);
        if send != Notice::Nothing {
            let since = if send == Notice::Resolved {
                before.firing
            } else {
                after.firing
            };
            let message = notify::Message::new(rule, None, send, detail, now, since);
            send_to_targets(state, file, rule, message);
        }
    }
}

/// Sends `message` to each of the rule's targets, each in its own task (a slow target delays
/// no other, nor the next round).
fn send_to_targets(
    state: &AppState,
    file: &Arc<AlertsFile>,
    rule: &rules::Rule,
    message: notify::Message,
) {
    for name in &rule.targets {
        let Some(target) = file.target(name).cloned() else {
            continue;
        };
        let state = state.clone();
        let message = message.clone();
        let scale = file.time_scale;
        tokio::spawn(async move {
            let Ok(queue) = state.queue() else {
                return;
            };
            let http = state.alerts.http.get_or_init(notify::http_client);
            notify::deliver(http, queue, &target, &message, scale, &state.shutdown).await;
        });
    }
}

/// What the alerts page shows: the rules with their state, the targets with their last
/// deliveries, the last delivery attempts, and the file's error if it has one.
pub async fn report(state: &AppState) -> Result<AlertsReport, crate::error::AppError> {
    let alerts = &state.alerts;
    let (file, error, loaded_at) = {
        let loaded = alerts.lock();
        (loaded.file.clone(), loaded.error.clone(), loaded.loaded_at)
    };
    let queue = state.queue()?;
    let states = store::states(queue).await?;
    let deliveries = store::deliveries(queue, SHOWN_DELIVERIES).await?;
    let local = alerts
        .unreachable
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let rules = file
        .as_deref()
        .map(|file| {
            file.rules
                .iter()
                .map(|rule| {
                    let st = local
                        .get(&rule.name)
                        .or_else(|| states.get(&rule.name))
                        .cloned()
                        .unwrap_or_default();
                    let status = if st.firing > 0 {
                        "firing"
                    } else if st.pending > 0 {
                        "pending"
                    } else {
                        "ok"
                    };
                    AlertRuleView {
                        name: rule.name.clone(),
                        when: rule.when.clone(),
                        queue: (rule.condition != Condition::Redis)
                            .then(|| check::queue_text(state, rule)),
                        status: status.to_string(),
                        since: (st.firing > 0)
                            .then_some(st.firing)
                            .or((st.pending > 0).then_some(st.pending)),
                        last_sent: (st.sent > 0).then_some(st.sent),
                        resolved_at: (st.resolved > 0).then_some(st.resolved),
                        detail: st.detail.clone(),
                        targets: rule.targets.clone(),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let targets = file
        .as_deref()
        .map(|file| {
            file.targets
                .iter()
                .map(|target| {
                    let mine = deliveries.iter().filter(|d| d.target == target.name);
                    let last_sent = mine.clone().find(|d| d.outcome == "sent").map(|d| d.at);
                    let last_failure = mine.clone().find(|d| d.outcome != "sent");
                    AlertTargetView {
                        name: target.name.clone(),
                        kind: target.kind_name().to_string(),
                        place: target.place(),
                        last_sent,
                        last_failure_at: last_failure.map(|d| d.at),
                        last_error: last_failure.map(|d| d.outcome.clone()),
                        recent_failures: mine.filter(|d| d.outcome != "sent").count() as u64,
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(AlertsReport {
        configured: alerts.path.is_some(),
        file_error: error,
        loaded_at,
        time_scale: file.as_deref().map_or(1.0, |f| f.time_scale),
        rules,
        targets,
        deliveries: deliveries
            .into_iter()
            .map(|d| AlertDelivery {
                at: d.at,
                rule: d.rule,
                status: d.kind,
                target: d.target,
                attempt: d.attempt,
                outcome: d.outcome,
            })
            .collect(),
    })
}
