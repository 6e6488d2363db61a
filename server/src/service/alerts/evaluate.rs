//! The loop that checks the rules: every process that serves the API runs it; the one holding
//! the lease checks each rule, writes its state under the lease and sends what the transition
//! says (a reminder not while the firing is acknowledged).

use std::sync::Arc;
use std::time::Duration;

use crate::queue::alerts::{self as store, RuleState};

use super::super::Sentinel;
use super::loaded::FILE_CHECK;
use super::notify;
use super::rules::{self, AlertsFile, Condition};
use super::transition::{self, Notice};

impl Sentinel {
    /// Checks the rules until shutdown (processes that serve the API; nothing without a file).
    pub async fn run_alerts(self) {
        let state = &self;
        let alerts = &self.inner.alerts;
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
                        self.check_all(&file).await;
                        file.check_every
                    }
                    None => FILE_CHECK,
                };
                next_round = now() + every;
            }
            tokio::select! {
                () = tokio::time::sleep_until(next_round.min(next_file_check)) => {}
                () = state.shutdown_token().cancelled() => break,
            }
        }
        if let Ok(queue) = state.queue()
            && alerts.leader.load(std::sync::atomic::Ordering::Relaxed)
        {
            let _ = store::release_lease(queue, alerts.me()).await;
        }
    }

    /// One round: every rule checked by the lease's holder.
    async fn check_all(&self, file: &Arc<AlertsFile>) {
        let state = self;
        let alerts = &self.inner.alerts;
        let Ok(queue) = state.queue() else {
            return;
        };
        let now = crate::clock::now_ms();
        let reachable = queue.ping(Duration::from_secs(2)).await;
        self.redis_reachability(file, reachable, now);
        if !reachable {
            return;
        }
        let lease_ms = u64::try_from((file.check_every * 3).as_millis())
            .unwrap_or(u64::MAX)
            .max(1_000);
        let held = match store::hold_lease(queue, alerts.me(), lease_ms).await {
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
        let acks = store::acks(queue).await.unwrap_or_default();
        let gone: Vec<String> = states
            .keys()
            .filter(|name| !file.rules.iter().any(|r| &r.name == *name))
            .cloned()
            .collect();
        let _ = store::forget_states(queue, alerts.me(), &gone).await;
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
            let seen = match self.check_rule(rule, now).await {
                Ok(seen) => seen,
                Err(error) => {
                    tracing::debug!(rule = %rule.name, %error, "alert rule not checked this round");
                    continue;
                }
            };
            let before = states.get(&rule.name).cloned().unwrap_or_default();
            let (mut after, send) = transition::step(rule, &before, seen.holds, now, &seen.detail);
            after.job = seen.job.clone().unwrap_or_default();
            if after == before {
                continue;
            }
            match store::write_state(queue, alerts.me(), &rule.name, &after).await {
                Ok(true) => {}
                Ok(false) => {
                    alerts
                        .leader
                        .store(false, std::sync::atomic::Ordering::Relaxed);
                    return;
                }
                Err(_) => continue,
            }
            if send == Notice::Resolved {
                let _ = store::forget_ack(queue, &rule.name).await;
            }
            let silenced = acks
                .get(&rule.name)
                .is_some_and(|ack| ack.holds(after.firing, now));
            if send != Notice::Nothing && !(silenced && send == Notice::Repeat) {
                let since = if send == Notice::Resolved {
                    before.firing
                } else {
                    after.firing
                };
                let queue_name = rule.condition.on_queue().then(|| self.rule_queue(rule));
                let message =
                    notify::Message::new(rule, queue_name, send, &seen.detail, now, since);
                self.send_to_targets(file, rule, message);
            }
        }
    }

    /// "Redis does not answer", kept in this process: fired by the process that held the lease when
    /// Redis went away, resolved by the same process.
    fn redis_reachability(&self, file: &Arc<AlertsFile>, reachable: bool, now: u64) {
        let alerts = &self.inner.alerts;
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
                self.send_to_targets(file, rule, message);
            }
        }
    }

    /// Sends `message` to each of the rule's targets, each in its own task (a slow target delays
    /// no other, nor the next round).
    fn send_to_targets(
        &self,
        file: &Arc<AlertsFile>,
        rule: &rules::Rule,
        message: notify::Message,
    ) {
        for name in &rule.targets {
            let Some(target) = file.target(name).cloned() else {
                continue;
            };
            let service = self.clone();
            let message = message.clone();
            let scale = file.time_scale;
            tokio::spawn(async move {
                let Ok(queue) = service.queue() else {
                    return;
                };
                let http = service.inner.alerts.http.get_or_init(notify::http_client);
                let stop = service.shutdown_token();
                notify::deliver(http, queue, &target, &message, scale, stop).await;
            });
        }
    }
}
