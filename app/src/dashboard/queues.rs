//! Every BullMQ queue on the Redis (`/admin/queues`): found by the server without registering
//! anything, each with its counts, what finished in the last hour, its oldest waiting job's
//! age and its workers; each opens the dashboard's views for that queue (`/admin?queue=`).

use leptos::prelude::*;
use leptos_meta::Title;

use super::api::{admin_queues, error_text, my_admin_access};
use super::live::{self, Feed};
use super::{denied, header};
use crate::admin::{AdminAccess, QueueList, QueueSummary};

/// The queues page.
#[component]
pub fn QueuesPage() -> impl IntoView {
    let tick = RwSignal::new(0u64);
    let feed = RwSignal::new(Feed::Starting);
    live::start(tick, feed, None, false);
    let no_queue = Memo::new(|_| None::<String>);
    let access = Resource::new(|| (), |_| my_admin_access());
    let rescan = RwSignal::new(false);
    let queues = Resource::new(
        move || (tick.get(), rescan.get()),
        |(_, rescan)| admin_queues(rescan),
    );
    let filter = RwSignal::new(String::new());
    let hydrated = super::hydrated_mark();
    view! {
        <Title text="Queues · Sentinel"/>
        <main class="page admin" data-hydrated=move || hydrated.get().to_string()>
            {header(feed, no_queue)}
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match access.await {
                        Ok(AdminAccess::None) => denied(None),
                        Err(error) => denied(Some(error_text(&error))),
                        Ok(_) => view! {
                            <section class="panel queues" aria-labelledby="queues-title">
                                <h2 id="queues-title">"Queues"</h2>
                                <div class="queue-tools">
                                    <label for="queue-filter">"Filter"</label>
                                    <input
                                        id="queue-filter"
                                        type="search"
                                        maxlength="200"
                                        placeholder="name or prefix"
                                        prop:value=move || filter.get()
                                        on:input=move |ev| filter.set(event_target_value(&ev))
                                    />
                                    <button
                                        type="button"
                                        class="action"
                                        on:click=move |_| {
                                            rescan.set(true);
                                            tick.update(|t| *t += 1);
                                        }
                                    >
                                        "Look for new queues now"
                                    </button>
                                </div>
                                <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                                    {move || Suspend::new(async move {
                                        let read = queues.await;
                                        // One rescan per click.
                                        rescan.set(false);
                                        match read {
                                            Err(error) => view! { <p class="error" role="alert">{error_text(&error)}</p> }.into_any(),
                                            Ok(list) => table(list, filter).into_any(),
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

/// The dashboard's address for `queue` (Sentinel's own queue has no parameter).
fn queue_link(queue: &QueueSummary, home: &str) -> String {
    let text = format!("{}:{}", queue.prefix, queue.name);
    if text == home {
        "/admin".to_string()
    } else {
        format!("/admin?queue={}", crate::url::encode(&text))
    }
}

fn table(list: QueueList, filter: RwSignal<String>) -> impl IntoView + use<> {
    let now = crate::time::now_ms() as u64;
    let total = list.queues.len();
    let incomplete = (!list.complete).then(|| {
        view! {
            <p class="muted">
                "The scan stopped at its budget: more queues may exist (narrow it with SENTINEL_DISCOVER_PREFIXES)."
            </p>
        }
    });
    let home = list.home.clone();
    let rows = list
        .queues
        .into_iter()
        .map(|queue| {
            let href = queue_link(&queue, &home);
            let key = format!("{}:{}", queue.prefix, queue.name).to_lowercase();
            let shown = move || {
                let wanted = filter.get().trim().to_lowercase();
                wanted.is_empty() || key.contains(&wanted)
            };
            let counts = &queue.counts;
            let oldest = queue
                .oldest_waiting_at
                .map(|at| crate::time::duration_words(now.saturating_sub(at)))
                .unwrap_or_else(|| "–".to_string());
            let name = queue.name.clone();
            view! {
                <tr class:hidden=move || !shown() data-queue=format!("{}:{}", queue.prefix, queue.name)>
                    <td><a href=href>{name}</a></td>
                    <td>{queue.prefix.clone()}</td>
                    <td>
                        {if queue.paused {
                            view! { <span class="badge paused">"Paused"</span> }.into_any()
                        } else {
                            view! { <span class="badge running">"Running"</span> }.into_any()
                        }}
                    </td>
                    <td class="num" data-count="waiting">{counts.waiting + counts.paused}</td>
                    <td class="num" data-count="active">{counts.active}</td>
                    <td class="num" data-count="delayed">{counts.delayed}</td>
                    <td class="num" data-count="prioritized">{counts.prioritized}</td>
                    <td class="num" data-count="failed">{counts.failed}</td>
                    <td class="num" data-count="completed">{counts.completed}</td>
                    <td class="num">{format!("{} done, {} failed", queue.completed_last_hour, queue.failed_last_hour)}</td>
                    <td>{oldest}</td>
                    <td class="num" data-count="workers">{queue.workers}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <p class="muted" role="status">
            {format!("{total} {} on this Redis", if total == 1 { "queue" } else { "queues" })}
        </p>
        {incomplete}
        <table class="jobs-table queues-table">
            <thead>
                <tr>
                    <th scope="col">"Queue"</th>
                    <th scope="col">"Prefix"</th>
                    <th scope="col">"State"</th>
                    <th scope="col">"Waiting"</th>
                    <th scope="col">"Active"</th>
                    <th scope="col">"Delayed"</th>
                    <th scope="col">"Prioritized"</th>
                    <th scope="col">"Failed"</th>
                    <th scope="col">"Completed"</th>
                    <th scope="col">"Last hour"</th>
                    <th scope="col">"Oldest waiting"</th>
                    <th scope="col">"Workers"</th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
    }
}
