//! Every BullMQ queue on the Redis (`/admin/queues`): found by the server without registering
//! anything, each with its counts, what finished in the last hour, its oldest waiting job's
//! age and its workers; each opens the dashboard's views for that queue (`/admin?queue=`).

use leptos::prelude::*;

use super::api::admin_queues;
use super::frame::{Live, frame};
use super::kept::Kept;
use crate::model::admin::{QUEUES_PER_PAGE, QueueColumn, QueueList, QueueSummary};

/// The queues page.
#[component]
pub fn QueuesPage() -> impl IntoView {
    let live = Live::start(None, false);
    let tick = live.tick;
    let kept = Kept::new(live);
    let no_queue = Memo::new(|_| None::<String>);
    let rescan = RwSignal::new(false);
    let filter = RwSignal::new(String::new());
    let offset = RwSignal::new(0u32);
    // What needs a look first; any column sorts the page shown.
    let sort = RwSignal::new((QueueColumn::Health, false));
    // Only the page shown is read (the server reads the queues of that page alone).
    let queues = Resource::new(
        move || (tick.get(), rescan.get(), filter.get(), offset.get()),
        |(_, rescan, filter, offset)| {
            admin_queues(rescan, Some(filter), Some(offset), Some(QUEUES_PER_PAGE))
        },
    );
    frame(
        || "Queues · Sentinel".to_string(),
        no_queue,
        live,
        move |_access| {
            view! {
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
                            on:input=move |ev| {
                                offset.set(0);
                                filter.set(event_target_value(&ev));
                            }
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
                            let filtered = !filter.get_untracked().trim().is_empty();
                            kept.show(read, |list| table(list, offset, filtered, sort))
                        })}
                    </Transition>
                </section>
            }
        },
    )
}

/// The dashboard's address for `queue` (Sentinel's own queue has no parameter).
fn queue_link(queue: &QueueSummary, home: &str) -> String {
    let text = format!("{}:{}", queue.prefix, queue.name);
    if text == home {
        "/admin".to_string()
    } else {
        format!("/admin?queue={}", crate::model::url::encode(&text))
    }
}

/// A column's header: a button that sorts by it (again: the other way), and `aria-sort`.
fn sort_header(
    label: &'static str,
    column: QueueColumn,
    sort: RwSignal<(QueueColumn, bool)>,
) -> impl IntoView {
    let state = move || match sort.get() {
        (by, true) if by == column => "ascending",
        (by, false) if by == column => "descending",
        _ => "none",
    };
    view! {
        <th scope="col" aria-sort=state>
            <button
                type="button"
                class="sort"
                on:click=move |_| {
                    sort.update(|(by, ascending)| {
                        if *by == column {
                            *ascending = !*ascending;
                        } else {
                            // Names read A to Z; numbers and troubles biggest first.
                            *by = column;
                            *ascending = matches!(column, QueueColumn::Name | QueueColumn::Prefix);
                        }
                    })
                }
            >
                {label}
                <span aria-hidden="true">
                    {move || match state() {
                        "ascending" => " ▲",
                        "descending" => " ▼",
                        _ => "",
                    }}
                </span>
            </button>
        </th>
    }
}

/// The state cell: what needs a look, or running or paused.
fn health_cell(queue: &QueueSummary, now: u64) -> impl IntoView + use<> {
    use crate::model::admin::Trouble;
    let troubles = queue.troubles(now);
    let codes = troubles
        .iter()
        .map(|t| t.code())
        .collect::<Vec<_>>()
        .join(" ");
    let badge = match troubles.as_slice() {
        [] => view! { <span class="badge running">"Running"</span> }.into_any(),
        [Trouble::Paused] => view! { <span class="badge paused">"Paused"</span> }.into_any(),
        found => {
            let words = found
                .iter()
                .map(|t| t.words())
                .collect::<Vec<_>>()
                .join("; ");
            let title = words.clone();
            view! { <span class="badge trouble" title=title>"Needs a look: "{words}</span> }
                .into_any()
        }
    };
    view! { <td data-trouble=codes>{badge}</td> }
}

fn table(
    list: QueueList,
    offset: RwSignal<u32>,
    filtered: bool,
    sort: RwSignal<(QueueColumn, bool)>,
) -> impl IntoView + use<> {
    let now = crate::model::time::now_ms() as u64;
    let total = list.total;
    let first = list.offset;
    let shown = list.queues.len() as u32;
    let pager = (total > u64::from(QUEUES_PER_PAGE)).then(|| {
        let last = u64::from(first + shown);
        view! {
            <nav class="pager" aria-label="Pages of queues">
                <button
                    type="button"
                    class="action"
                    disabled=first == 0
                    on:click=move |_| offset.set(first.saturating_sub(QUEUES_PER_PAGE))
                >
                    "Previous"
                </button>
                <span data-page-range=format!("{}-{last}", first + 1)>
                    {format!("{}–{last} of {total}", first + 1)}
                </span>
                <button
                    type="button"
                    class="action"
                    disabled=last >= total
                    on:click=move |_| offset.set(first + QUEUES_PER_PAGE)
                >
                    "Next"
                </button>
            </nav>
        }
    });
    let incomplete = (!list.complete).then(|| {
        view! {
            <p class="muted">
                "The scan stopped at its budget: more queues may exist (narrow it with SENTINEL_DISCOVER_PREFIXES)."
            </p>
        }
    });
    let home = list.home.clone();
    let queues = list.queues;
    let rows = move || {
        let mut queues = queues.clone();
        let (by, ascending) = sort.get();
        by.sort(&mut queues, ascending, now);
        queues
        .into_iter()
        .map(|queue| {
            let href = queue_link(&queue, &home);
            let counts = &queue.counts;
            let oldest = queue
                .oldest_waiting_at
                .map(|at| crate::model::time::duration_words(now.saturating_sub(at)))
                .unwrap_or_else(|| "–".to_string());
            let name = queue.name.clone();
            view! {
                <tr data-queue=format!("{}:{}", queue.prefix, queue.name)>
                    <td><a href=href>{name}</a></td>
                    <td>{queue.prefix.clone()}</td>
                    {health_cell(&queue, now)}
                    <td class="num" data-count="waiting">{counts.waiting + counts.paused}</td>
                    <td class="num" data-count="active">{counts.active}</td>
                    <td class="num" data-count="delayed">{counts.delayed}</td>
                    <td class="num" data-count="prioritized">{counts.prioritized}</td>
                    <td class="num" data-count="waiting-children">{counts.waiting_children}</td>
                    <td class="num" data-count="failed">{counts.failed}</td>
                    <td class="num" data-count="completed">{counts.completed}</td>
                    <td class="num">{format!("{} done, {} failed", queue.completed_last_hour, queue.failed_last_hour)}</td>
                    <td>{oldest}</td>
                    <td class="num" data-count="workers">{queue.workers}</td>
                </tr>
            }
        })
        .collect_view()
    };
    view! {
        <p class="muted" role="status">
            {match (filtered, total == 1) {
                (false, true) => "1 queue on this Redis".to_string(),
                (false, false) => format!("{total} queues on this Redis"),
                (true, true) => "1 queue matches the filter".to_string(),
                (true, false) => format!("{total} queues match the filter"),
            }}
        </p>
        {incomplete}
        {pager}
        <div class="table-wrap"><table class="jobs-table queues-table">
            <thead>
                <tr>
                    {sort_header("Queue", QueueColumn::Name, sort)}
                    {sort_header("Prefix", QueueColumn::Prefix, sort)}
                    {sort_header("State", QueueColumn::Health, sort)}
                    {sort_header("Waiting", QueueColumn::Waiting, sort)}
                    {sort_header("Active", QueueColumn::Active, sort)}
                    {sort_header("Delayed", QueueColumn::Delayed, sort)}
                    {sort_header("Prioritized", QueueColumn::Prioritized, sort)}
                    {sort_header("Waiting for children", QueueColumn::WaitingChildren, sort)}
                    {sort_header("Failed", QueueColumn::Failed, sort)}
                    {sort_header("Completed", QueueColumn::Completed, sort)}
                    {sort_header("Last hour", QueueColumn::LastHourFailed, sort)}
                    {sort_header("Oldest waiting", QueueColumn::OldestWaiting, sort)}
                    {sort_header("Workers", QueueColumn::Workers, sort)}
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table></div>
    }
}
