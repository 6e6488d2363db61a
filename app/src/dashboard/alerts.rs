//! The alerts page (`/admin/alerts`, operators and admins): the rules of the alerts file with
//! their state (ok, pending, firing, since when, what the last check saw), the targets and how
//! their deliveries went, and the last delivery attempts. Read every 2 s.

use leptos::prelude::*;
use leptos_meta::Title;

use super::api::{admin_alerts, error_text, my_admin_access};
use super::live::{self, Feed};
use super::{denied, header};
use crate::admin::{AdminAccess, AlertsReport};

/// The alerts page.
#[component]
pub fn AlertsPage() -> impl IntoView {
    let tick = RwSignal::new(0u64);
    let feed = RwSignal::new(Feed::Starting);
    live::start(tick, feed, None, false);
    let no_queue = Memo::new(|_| None::<String>);
    let access = Resource::new(|| (), |_| my_admin_access());
    let report = Resource::new(move || tick.get(), |_| admin_alerts());
    let hydrated = super::hydrated_mark();
    view! {
        <Title text="Alerts · Sentinel"/>
        <main class="page admin" data-hydrated=move || hydrated.get().to_string()>
            {header(feed, no_queue)}
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match access.await {
                        Ok(AdminAccess::None) => denied(None),
                        Err(error) => denied(Some(error_text(&error))),
                        Ok(_) => view! {
                            <section class="panel alerts" aria-labelledby="alerts-title">
                                <h2 id="alerts-title">"Alerts"</h2>
                                <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                                    {move || Suspend::new(async move {
                                        match report.await {
                                            Err(error) => view! { <p class="error" role="alert">{error_text(&error)}</p> }.into_any(),
                                            Ok(report) => shown(report).into_any(),
                                        }
                                    })}
                                </Transition>
                            </section>
                        }
                        .into_any(),
                    }
                })}
            </Transition>
        </main>
    }
}

fn when(at: Option<u64>, now: f64) -> String {
    at.map(|at| crate::time::relative(at, now))
        .unwrap_or_else(|| "–".to_string())
}

fn shown(report: AlertsReport) -> impl IntoView + use<> {
    let now = crate::time::now_ms();
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
            view! {
                <tr data-rule=rule.name.clone() data-status=status.clone()>
                    <td>{rule.name.clone()}</td>
                    <td>{rule.when.clone()}</td>
                    <td>{rule.queue.clone().unwrap_or_else(|| "Redis".to_string())}</td>
                    <td><span class=format!("badge alert-{status}")>{label}</span></td>
                    <td>{when(rule.since, now)}</td>
                    <td>{when(rule.last_sent, now)}</td>
                    <td>{when(rule.resolved_at, now)}</td>
                    <td>{rule.detail.clone()}</td>
                    <td>{rule.targets.join(", ")}</td>
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
                    <td title=crate::time::exact(d.at)>{crate::time::relative(d.at, now)}</td>
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
        <table class="jobs-table alerts-table">
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
                </tr>
            </thead>
            <tbody>{rules}</tbody>
        </table>
        <h3>"Targets"</h3>
        <table class="jobs-table targets-table">
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
        </table>
        <h3>"Last deliveries"</h3>
        <table class="jobs-table deliveries-table">
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
        </table>
    }
    .into_any()
}
