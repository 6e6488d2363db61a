//! The audit log page (`/admin/audit`, admins only): every state-changing action, newest first,
//! filtered by who, what and since when; the newest page is read again every 2 s (live), older
//! pages stay as they are.

use leptos::prelude::*;

use super::api::admin_audit;
use super::frame::{Live, frame};
use super::kept::Kept;
use crate::model::admin::AuditPage;

/// The audit page.
#[component]
pub fn AuditPageView() -> impl IntoView {
    let live = Live::start(None, false);
    let tick = live.tick;
    let kept = Kept::new(live);
    let no_queue = Memo::new(|_| None::<String>);
    let who = RwSignal::new(String::new());
    let action = RwSignal::new(String::new());
    let since = RwSignal::new(0u64);
    let before = RwSignal::new(None::<String>);
    let page = Resource::new(
        move || {
            // Only the newest page follows the log.
            let newest = if before.get().is_none() {
                tick.get()
            } else {
                0
            };
            (newest, who.get(), action.get(), since.get(), before.get())
        },
        |(_, who, action, since, before)| admin_audit(Some(who), Some(action), Some(since), before),
    );
    frame(
        || "Audit log · Sentinel".to_string(),
        no_queue,
        live,
        move |_access| {
            view! {
                <section class="panel audit" aria-labelledby="audit-title">
                    <h2 id="audit-title">"Audit log"</h2>
                    <div class="queue-tools audit-filters">
                        <label for="audit-who">"Who"</label>
                        <input
                            id="audit-who"
                            type="search"
                            maxlength="256"
                            placeholder="user:alice, token:ci"
                            prop:value=move || who.get()
                            on:change=move |ev| {
                                before.set(None);
                                who.set(event_target_value(&ev));
                            }
                        />
                        <label for="audit-action">"Action"</label>
                        <input
                            id="audit-action"
                            type="search"
                            maxlength="256"
                            placeholder="retry, clean, sign-in"
                            prop:value=move || action.get()
                            on:change=move |ev| {
                                before.set(None);
                                action.set(event_target_value(&ev));
                            }
                        />
                        <label for="audit-since">"When"</label>
                        <select
                            id="audit-since"
                            on:change=move |ev| {
                                before.set(None);
                                since.set(event_target_value(&ev).parse().unwrap_or(0));
                            }
                        >
                            <option value="0" selected=true>"Any time"</option>
                            <option value="15">"Last 15 minutes"</option>
                            <option value="60">"Last hour"</option>
                            <option value="1440">"Last 24 hours"</option>
                            <option value="10080">"Last 7 days"</option>
                        </select>
                    </div>
                    <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                        {move || Suspend::new(async move {
                            kept.show(page.await, |page| table(page, before))
                        })}
                    </Transition>
                </section>
            }
        },
    )
}

fn table(page: AuditPage, before: RwSignal<Option<String>>) -> impl IntoView + use<> {
    let now = crate::model::time::now_ms();
    let older = page.next.clone();
    let paged = before.get_untracked().is_some();
    let count = page.entries.len();
    let rows = page
        .entries
        .into_iter()
        .map(|entry| {
            view! {
                <tr data-audit-id=entry.id.clone() data-action=entry.action.clone() data-who=entry.who.clone()>
                    <td title=crate::model::time::exact(entry.at)>{crate::model::time::relative(entry.at, now)}</td>
                    <td>{entry.who.clone()}</td>
                    <td>{entry.role.clone()}</td>
                    <td>{entry.via.clone()}</td>
                    <td>{entry.action.clone()}</td>
                    <td class="target">{target_cell(&entry.action, entry.target.as_deref().unwrap_or_default())}</td>
                    <td class="num">{entry.count.map(|c| c.to_string()).unwrap_or_default()}</td>
                    <td>{entry.outcome.clone()}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <p class="muted" role="status">
            {if count == 0 {
                "No entry matches.".to_string()
            } else if paged {
                format!("{count} older {}", if count == 1 { "entry" } else { "entries" })
            } else if count == 1 {
                "The newest entry (live)".to_string()
            } else {
                format!("The {count} newest entries (live)")
            }}
        </p>
        <nav class="pager" aria-label="Pages of the audit log">
            <button
                type="button"
                class="action"
                disabled=!paged
                on:click=move |_| before.set(None)
            >
                "Newest"
            </button>
            <button
                type="button"
                class="action"
                disabled=older.is_none()
                on:click=move |_| before.set(older.clone())
            >
                "Older"
            </button>
        </nav>
        <div class="table-wrap"><table class="jobs-table audit-table">
            <thead>
                <tr>
                    <th scope="col">"When"</th>
                    <th scope="col">"Who"</th>
                    <th scope="col">"Role"</th>
                    <th scope="col">"Signed in by"</th>
                    <th scope="col">"Action"</th>
                    <th scope="col">"On"</th>
                    <th scope="col">"Jobs"</th>
                    <th scope="col">"Outcome"</th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table></div>
    }
}

/// An entry's target, linked to what it names (the job, the queue, the scheduler) when it
/// names one.
fn target_cell(action: &str, target: &str) -> impl IntoView + use<> {
    use crate::model::admin::{AuditTarget, audit_target};
    let href = audit_target(action, target).map(|named| match named {
        AuditTarget::Job { queue, id } => super::job_link(&id, queue.as_deref()),
        AuditTarget::Queue(queue) => super::link(queue.as_deref(), None, None, 0, None),
        AuditTarget::Scheduler { queue, .. } => {
            format!(
                "{}#schedulers-title",
                super::link(Some(&queue), None, None, 0, None)
            )
        }
    });
    let text = target.to_string();
    match href {
        Some(href) => view! { <a href=href>{text}</a> }.into_any(),
        None => text.into_any(),
    }
}
