//! The alerts page (`/admin/alerts`, operators and admins): the rules of the alerts file with
//! their state (ok, pending, firing, since when, what the last check saw), the targets and how
//! their deliveries went, and the last delivery attempts. Read every 2 s.

use leptos::prelude::*;

use super::api::{admin_ack, admin_alerts, error_text};
use super::frame::{Live, frame};
use super::kept::Kept;
use crate::model::admin::{AdminAccess, AlertsReport};

/// The alerts page.
#[component]
pub fn AlertsPage() -> impl IntoView {
    let live = Live::start(None, false);
    let tick = live.tick;
    let kept = Kept::new(live);
    let no_queue = Memo::new(|_| None::<String>);
    let report = Resource::new(move || tick.get(), |_| admin_alerts());
    frame(
        || "Alerts · Sentinel".to_string(),
        no_queue,
        live,
        move |access| {
            view! {
                <section class="panel alerts" aria-labelledby="alerts-title">
                    <h2 id="alerts-title">"Alerts"</h2>
                    <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                        {move || Suspend::new(async move {
                            kept.show(report.await, |report| shown(report, access, tick))
                        })}
                    </Transition>
                </section>
            }
        },
    )
}

fn when(at: Option<u64>, now: f64) -> String {
    at.map(|at| crate::model::time::relative(at, now))
        .unwrap_or_else(|| "–".to_string())
}

/// Acknowledges rule `name` for `minutes` (until it resolves when `None`), then reads again.
fn acknowledge(
    name: String,
    minutes: Option<u64>,
    tick: RwSignal<u64>,
    problem: RwSignal<Option<String>>,
) {
    leptos::task::spawn_local(async move {
        match admin_ack(name, minutes).await {
            Ok(()) => {
                problem.set(None);
                tick.update(|t| *t += 1);
            }
            Err(error) => problem.set(Some(error_text(&error))),
        }
    });
}

/// The acknowledgement of a firing rule: who and until when, or the controls to make one.
fn ack_cell(
    rule: &crate::model::admin::AlertRuleView,
    access: AdminAccess,
    tick: RwSignal<u64>,
    problem: RwSignal<Option<String>>,
    now: f64,
) -> AnyView {
    if rule.status != "firing" {
        return "–".into_any();
    }
    if let Some(by) = rule.acked_by.clone() {
        let until = match rule.acked_until {
            Some(at) => format!(" until {}", crate::model::time::exact(at)),
            None => " until it resolves".to_string(),
        };
        let at = rule
            .acked_at
            .map(|at| format!(", {}", crate::model::time::relative(at, now)));
        return view! { <span data-acked=by.clone()>{format!("Acknowledged by {by}{}{until}", at.unwrap_or_default())}</span> }
            .into_any();
    }
    if access != AdminAccess::Operator {
        return "Not acknowledged".into_any();
    }
    let name = rule.name.clone();
    let choice = RwSignal::new(String::new());
    view! {
        <span class="ack">
            <label class="sr-only" for=format!("ack-for-{name}")>{format!("Silence {name} for")}</label>
            <select id=format!("ack-for-{name}") on:change=move |ev| choice.set(event_target_value(&ev))>
                <option value="">"until it resolves"</option>
                <option value="30">"30 minutes"</option>
                <option value="60">"1 hour"</option>
                <option value="240">"4 hours"</option>
                <option value="1440">"1 day"</option>
            </select>
            " "
            <button
                type="button"
                class="action quiet"
                data-ack=name.clone()
                on:click=move |_| acknowledge(name.clone(), choice.get_untracked().parse().ok(), tick, problem)
            >
                "Acknowledge"
            </button>
        </span>
    }
    .into_any()
}

fn shown(report: AlertsReport, access: AdminAccess, tick: RwSignal<u64>) -> impl IntoView + use<> {
    let now = crate::model::time::now_ms();
    let problem = RwSignal::new(None::<String>);
    if !report.configured {
        return view! {
            <p class="muted" data-alerts="none">
                "No alert rules: set SENTINEL_ALERTS_FILE to a TOML or YAML file of rules and targets (see the README)."
            </p>
        }
        .into_any();
    }
    let file_error = report.file_error.clone().map(|error| {
        view! {
            <p class="error" role="alert" data-file-error="">
                {format!("The alerts file's last change was refused (the rules below stay in force): {error}")}
            </p>
        }
    });
    let scale = (report.time_scale != 1.0).then(|| {
        view! {
            <p class="muted">{format!("Drill: every duration of the file is divided by {}.", report.time_scale)}</p>
        }
    });
    let rules = report
        .rules
        .into_iter()
        .map(|rule| {
            let status = rule.status.clone();
            let label = match status.as_str() {
                "firing" => "Firing",
                "pending" => "Pending",
                _ => "OK",
            };
            let queue = match rule.queue.clone() {
                Some(queue) => {
                    let href = format!("/admin?queue={}", crate::model::url::encode(&queue));
                    view! { <a href=href>{queue}</a> }.into_any()
                }
                None => "Redis".into_any(),
            };
            let detail = match rule.job.clone() {
                Some(job) => {
                    let href = super::job_link(&job, rule.queue.as_deref());
                    view! { {rule.detail.clone()}" "<a href=href data-job-link=job>"Open the job"</a> }.into_any()
                }
                None => rule.detail.clone().into_any(),
            };
            let ack = ack_cell(&rule, access, tick, problem, now);
            view! {
                <tr data-rule=rule.name.clone() data-status=status.clone()>
                    <td>{rule.name.clone()}</td>
                    <td>{rule.when.clone()}</td>
                    <td>{queue}</td>
                    <td><span class=format!("badge alert-{status}")>{label}</span></td>
                    <td>{when(rule.since, now)}</td>
                    <td>{when(rule.last_sent, now)}</td>
                    <td>{when(rule.resolved_at, now)}</td>
                    <td>{detail}</td>
                    <td>{rule.targets.join(", ")}</td>
                    <td>{ack}</td>
                </tr>
            }
        })
        .collect_view();
    let targets = report
        .targets
        .into_iter()
        .map(|target| {
            view! {
                <tr data-target=target.name.clone() data-failures=target.recent_failures.to_string()>
                    <td>{target.name.clone()}</td>
                    <td>{target.kind.clone()}</td>
                    <td>{target.place.clone()}</td>
                    <td>{when(target.last_sent, now)}</td>
                    <td>{when(target.last_failure_at, now)}</td>
                    <td>{target.last_error.clone().unwrap_or_default()}</td>
                    <td class="num">{target.recent_failures}</td>
                </tr>
            }
        })
        .collect_view();
    let deliveries = report
        .deliveries
        .into_iter()
        .map(|d| {
            let ok = d.outcome == "sent";
            view! {
                <tr data-delivery=if ok { "sent" } else { "failed" }>
                    <td title=crate::model::time::exact(d.at)>{crate::model::time::relative(d.at, now)}</td>
                    <td>{d.rule}</td>
                    <td>{d.status}</td>
                    <td>{d.target}</td>
                    <td class="num">{d.attempt}</td>
                    <td>{d.outcome}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        {file_error}
        {scale}
        <h3>"Rules"</h3>
        <div class="table-wrap"><table class="jobs-table alerts-table">
            <thead>
                <tr>
                    <th scope="col">"Rule"</th>
                    <th scope="col">"Condition"</th>
                    <th scope="col">"Queue"</th>
                    <th scope="col">"State"</th>
                    <th scope="col">"Since"</th>
                    <th scope="col">"Last sent"</th>
                    <th scope="col">"Last resolved"</th>
                    <th scope="col">"Last check saw"</th>
                    <th scope="col">"Targets"</th>
                    <th scope="col">"Acknowledged"</th>
                </tr>
            </thead>
            <tbody>{rules}</tbody>
        </table></div>
        {move || problem.get().map(|p| view! { <p class="error" role="alert">{p}</p> })}
        <h3>"Targets"</h3>
        <div class="table-wrap"><table class="jobs-table targets-table">
            <thead>
                <tr>
                    <th scope="col">"Target"</th>
                    <th scope="col">"Type"</th>
                    <th scope="col">"Where"</th>
                    <th scope="col">"Last delivered"</th>
                    <th scope="col">"Last failure"</th>
                    <th scope="col">"Why"</th>
                    <th scope="col">"Recent failures"</th>
                </tr>
            </thead>
            <tbody>{targets}</tbody>
        </table></div>
        <h3>"Last deliveries"</h3>
        <div class="table-wrap"><table class="jobs-table deliveries-table">
            <thead>
                <tr>
                    <th scope="col">"When"</th>
                    <th scope="col">"Rule"</th>
                    <th scope="col">"Message"</th>
                    <th scope="col">"Target"</th>
                    <th scope="col">"Attempt"</th>
                    <th scope="col">"Outcome"</th>
                </tr>
            </thead>
            <tbody>{deliveries}</tbody>
        </table></div>
    }
    .into_any()
}
