//! What people see of the alert rules, limited to their grant: the alerts page's report, the
//! count of firing rules (the nav and the banner), and the acknowledgement of a firing.

use app::admin::{AlertDelivery, AlertRuleView, AlertTargetView, AlertsReport};

use crate::auth::Principal;
use crate::queue::alerts as store;

use super::super::{Op, Sentinel};
use super::rules;

/// Deliveries shown on the alerts page.
const SHOWN_DELIVERIES: usize = 100;

impl Sentinel {
    /// What the alerts page shows: the rules with their state, the targets with their last
    /// deliveries, the last delivery attempts, and the file's error if it has one. A principal
    /// whose grant is limited to some queues sees only the rules on those queues (and the
    /// deployment-wide ones about Redis itself, which name no queue), the deliveries of those
    /// rules, and the targets they send to; the file's error only with an unlimited grant (it
    /// may name any rule).
    pub async fn alerts_report(
        &self,
        who: &Principal,
    ) -> Result<AlertsReport, crate::error::AppError> {
        self.allow(who, Op::ReadAlerts).await?;
        let alerts = &self.inner.alerts;
        let super::loaded::Snapshot {
            file,
            error,
            loaded_at,
        } = alerts.snapshot();
        let queue = self.queue()?;
        let states = store::states(queue).await?;
        let acks = store::acks(queue).await?;
        let deliveries = store::deliveries(queue, SHOWN_DELIVERIES).await?;
        let local = alerts.unreachable_states();
        let visible: Vec<&rules::Rule> = file
            .as_deref()
            .map(|file| {
                file.rules
                    .iter()
                    .filter(|r| self.may_see_rule(who, r))
                    .collect()
            })
            .unwrap_or_default();
        let rules = visible
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
                let ack = acks
                    .get(&rule.name)
                    .filter(|ack| st.firing > 0 && ack.firing == st.firing);
                AlertRuleView {
                    name: rule.name.clone(),
                    when: rule.when.clone(),
                    queue: rule.condition.on_queue().then(|| self.rule_queue(rule)),
                    status: status.to_string(),
                    since: (st.firing > 0)
                        .then_some(st.firing)
                        .or((st.pending > 0).then_some(st.pending)),
                    last_sent: (st.sent > 0).then_some(st.sent),
                    resolved_at: (st.resolved > 0).then_some(st.resolved),
                    job: (!st.job.is_empty()).then(|| st.job.clone()),
                    detail: st.detail.clone(),
                    targets: rule.targets.clone(),
                    acked_by: ack.map(|a| a.by.clone()),
                    acked_at: ack.map(|a| a.at),
                    acked_until: ack.and_then(|a| (a.until > 0).then_some(a.until)),
                }
            })
            .collect();
        let shown_rules: std::collections::HashSet<&str> =
            visible.iter().map(|r| r.name.as_str()).collect();
        let deliveries: Vec<_> = deliveries
            .into_iter()
            .filter(|d| shown_rules.contains(d.rule.as_str()))
            .collect();
        let targets = file
            .as_deref()
            .map(|file| {
                file.targets
                    .iter()
                    .filter(|t| visible.iter().any(|r| r.targets.contains(&t.name)))
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
            file_error: error.filter(|_| who.queues.is_all()),
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

    /// How many of the rules `who` may see fire now (the nav's count and the banner): what
    /// [`Sentinel::alerts_report`] would say, without the deliveries.
    pub async fn firing(
        &self,
        who: &Principal,
    ) -> Result<app::admin::FiringSummary, crate::error::AppError> {
        self.allow(who, Op::ReadOverview).await?;
        let Some(file) = self.inner.alerts.current() else {
            return Ok(app::admin::FiringSummary::default());
        };
        let queue = self.queue()?;
        let states = store::states(queue).await?;
        let acks = store::acks(queue).await?;
        let local = self.inner.alerts.unreachable_states();
        let mut firing: Vec<(u64, &str, bool)> = file
            .rules
            .iter()
            .filter(|r| self.may_see_rule(who, r))
            .filter_map(|rule| {
                let st = local.get(&rule.name).or_else(|| states.get(&rule.name))?;
                (st.firing > 0).then(|| {
                    let acked = acks.get(&rule.name).is_some_and(|a| a.firing == st.firing);
                    (st.firing, rule.name.as_str(), acked)
                })
            })
            .collect();
        firing.sort_by_key(|f| std::cmp::Reverse(f.0));
        Ok(app::admin::FiringSummary {
            firing: firing.len() as u64,
            unacknowledged: firing.iter().filter(|(_, _, acked)| !acked).count() as u64,
            names: firing
                .iter()
                .take(10)
                .map(|(_, n, _)| n.to_string())
                .collect(),
        })
    }

    /// Acknowledges the firing rule `name`: no reminders for `minutes` (or until it resolves);
    /// firing and resolving go on as usual. Audited. `404` for a rule `who` may not see or that
    /// does not exist, `409` for one that does not fire.
    pub async fn ack_alert(
        &self,
        who: &Principal,
        name: &str,
        request: &app::admin::AckRequest,
    ) -> Result<(), crate::error::AppError> {
        use crate::error::AppError;
        let result = async {
            self.allow(who, Op::AckAlert).await?;
            if let Some(minutes) = request.minutes
                && !(1..=10_080).contains(&minutes)
            {
                return Err(AppError::param(
                    "minutes",
                    "must be from 1 to 10080 (a week)",
                ));
            }
            let rule = self
                .inner
                .alerts
                .current()
                .and_then(|file| file.rules.iter().find(|r| r.name == name).cloned())
                .filter(|rule| self.may_see_rule(who, rule))
                .ok_or_else(|| AppError::NoRule {
                    name: name.to_string(),
                })?;
            let queue = self.queue()?;
            let states = store::states(queue).await?;
            let local = self.inner.alerts.unreachable_states().remove(&rule.name);
            let firing = local
                .or_else(|| states.get(&rule.name).cloned())
                .map_or(0, |st| st.firing);
            if firing == 0 {
                return Err(AppError::NotFiring {
                    name: name.to_string(),
                });
            }
            let now = crate::clock::now_ms();
            let ack = store::Ack {
                by: who.owner.to_string(),
                at: now,
                until: request.minutes.map_or(0, |m| now + m * 60_000),
                firing,
            };
            store::write_ack(queue, &rule.name, &ack).await?;
            Ok(ack)
        }
        .await;
        let done = super::super::audit::Done {
            action: "alert:ack",
            target: Some(crate::queue::cut(name, 100)),
            count: None,
        };
        self.record(who, done, result, |ack| match ack.until {
            0 => "until it resolves".to_string(),
            until => format!("until {until}"),
        })
        .await
        .map(|_| ())
    }

    /// Whether `who` may see `rule`: a rule on a queue in its grant, or one about Redis itself.
    pub(crate) fn may_see_rule(&self, who: &Principal, rule: &rules::Rule) -> bool {
        if !rule.condition.on_queue() {
            return true;
        }
        let (prefix, name) = match &rule.queue {
            Some((prefix, name)) => (prefix.as_str(), name.as_str()),
            None => (self.config().prefix.as_str(), self.config().queue.as_str()),
        };
        who.may_see_queue(prefix, name)
    }

    /// The queue a rule watches, as `<prefix>:<name>`.
    pub(crate) fn rule_queue(&self, rule: &rules::Rule) -> String {
        match &rule.queue {
            Some((prefix, name)) => format!("{prefix}:{name}"),
            None => format!("{}:{}", self.config().prefix, self.config().queue),
        }
    }
}
