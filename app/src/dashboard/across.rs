//! The search across queues on the dashboard: the jobs a search finds in every queue the
//! caller may see (`/admin?in=all&q=…`), each naming its queue and linking to its page; and,
//! under a search of one queue that found nothing, where else it finds jobs.

use leptos::prelude::*;

use crate::model::text::plural;

use super::api::admin_search;
use super::kept::Kept;
use super::live::Live;
use super::{job_link, link, state_cell};
use crate::model::admin::{AcrossPage, AcrossQuery, FoundJob, QueueMatches};

/// The address of the search across queues for `q` (from `cursor`), with `queue` in view.
pub fn across_link(queue: Option<&str>, q: &str, cursor: Option<&str>) -> String {
    let mut link = format!("/admin?in=all&q={}", crate::model::url::encode(q));
    if let Some(queue) = queue {
        link.push_str(&format!("&queue={}", crate::model::url::encode(queue)));
    }
    if let Some(cursor) = cursor {
        link.push_str(&format!("&cursor={}", crate::model::url::encode(cursor)));
    }
    link
}

/// The queues with matches, each linking to the search `q` in that queue alone.
fn per_queue(matches: &[QueueMatches], q: &str) -> impl IntoView + use<> {
    matches
        .iter()
        .filter(|m| m.matches > 0)
        .map(|m| {
            let more = if m.complete { "" } else { "+" };
            view! {
                <li>
                    <a href=link(Some(&m.queue), None, Some(q), 0, None) data-queue=m.queue.clone()>{m.queue.clone()}</a>
                    " "<span class="count">{format!("{}{more}", m.matches)}</span>
                </li>
            }
        })
        .collect_view()
}

/// The line above the results.
fn summary(page: &AcrossPage) -> String {
    let searched = page.queues.len() as u64;
    let found: u64 = page.queues.iter().map(|q| q.matches).sum();
    let with = page.queues.iter().filter(|q| q.matches > 0).count() as u64;
    let queues = plural(page.of, "queue", "queues");
    if page.complete && page.jobs.is_empty() && found == 0 {
        return format!("No job matches in any of the {queues} searched.");
    }
    let matches = plural(found, "match", "matches");
    let place = plural(with, "queue", "queues");
    if page.complete {
        format!("{matches} in {place}.")
    } else {
        format!(
            "{matches} in {place} so far ({searched} of {queues} searched in this step; More goes on)."
        )
    }
}

/// The jobs a search finds across queues.
#[component]
pub fn Across(live: Live, asked: Memo<AcrossQuery>) -> impl IntoView {
    // Read once per search (a page of it may examine 5,000 jobs): not again on each event.
    let kept = Kept::new(live);
    let found = Resource::new(move || asked.get(), admin_search);
    view! {
        <Transition fallback=|| view! { <p class="loading">"Searching every queue…"</p> }>
            {move || Suspend::new(async move {
                let asked = asked.get_untracked();
                kept.show(found.await, move |page| results(page, &asked))
            })}
        </Transition>
    }
}

fn results(page: AcrossPage, asked: &AcrossQuery) -> impl IntoView + use<> {
    let line = summary(&page);
    let per_queue = per_queue(&page.queues, &asked.q);
    let following = page
        .next
        .as_deref()
        .map(|next| across_link(asked.queue.as_deref(), &asked.q, Some(next)));
    let restart = asked
        .cursor
        .is_some()
        .then(|| across_link(asked.queue.as_deref(), &asked.q, None));
    let rows = page.jobs.into_iter().map(row).collect_view();
    view! {
        <p class="muted" aria-live="polite" data-across="summary">{line}</p>
        <ul class="per-queue" aria-label="Matches per queue">{per_queue}</ul>
        <div class="table-wrap">
            <table class="job-table across">
                <thead>
                    <tr>
                        <th scope="col">"Queue"</th>
                        <th scope="col">"Id"</th>
                        <th scope="col">"Name"</th>
                        <th scope="col">"State"</th>
                        <th scope="col">"Created"</th>
                        <th scope="col" class="num">"Attempts"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
        <nav class="pager" aria-label="Pages">
            {restart.map(|href| view! { <a href=href>"First page"</a> })}
            {following.map(|href| view! { <a href=href rel="next">"More"</a> })}
        </nav>
    }
}

fn row(found: FoundJob) -> impl IntoView {
    let FoundJob { queue, listed } = found;
    let state = listed.state;
    let job = listed.job;
    let href = job_link(&job.id, Some(&queue));
    view! {
        <tr data-id=job.id.clone() data-queue=queue.clone() data-state=state.as_str()>
            <td><a href=link(Some(&queue), None, None, 0, None)>{queue.clone()}</a></td>
            <td class="id"><a href=href title=job.id.clone()>{crate::model::text::shown_id(&job.id)}</a></td>
            <td>{job.name.clone()}</td>
            {state_cell(state, job.failed_reason.clone())}
            <td>{super::when(job.timestamp)}</td>
            <td class="num">{job.attempts_made}</td>
        </tr>
    }
}

/// Under a search of one queue that found nothing: where else the search finds jobs (one
/// bounded search across queues), or that it finds none anywhere it looked.
///
/// Read in the browser only, once the page runs: the server renders nothing here, so the
/// first render (often a page loaded whole) hydrates as it was sent.
#[component]
pub fn Elsewhere(q: String, queue: Option<String>) -> impl IntoView {
    let running = RwSignal::new(false);
    Effect::new(move |_| running.set(true));
    move || running.get().then(|| elsewhere(q.clone(), queue.clone()))
}

fn elsewhere(q: String, queue: Option<String>) -> impl IntoView {
    // Shown when the queue in view (searched first) has no match: every queue with one is
    // another queue.
    let asked = AcrossQuery {
        q: q.clone(),
        cursor: None,
        size: crate::model::admin::MAX_PAGE_SIZE as u64,
        queue: queue.clone(),
        only_in_view: false,
    };
    let found = Resource::new(move || asked.clone(), admin_search);
    view! {
        <Transition fallback=|| ()>
            {move || {
                let q = q.clone();
                Suspend::new(async move {
                    let page = found.await.ok()?;
                    let every = across_link(None, &q, None);
                    Some(if page.queues.iter().all(|m| m.matches == 0) {
                        view! {
                            <p class="muted" data-elsewhere="none">
                                {if page.complete { "No other queue has a match either." } else { "No match in the other queues searched so far." }}
                                " "<a href=every>"Search every queue"</a>
                            </p>
                        }.into_any()
                    } else {
                        let links = per_queue(&page.queues, &q);
                        view! {
                            <div class="elsewhere" data-elsewhere="some" role="status">
                                <p>"Matches in other queues:"</p>
                                <ul class="per-queue">{links}</ul>
                                <p><a href=every>"See them all"</a></p>
                            </div>
                        }.into_any()
                    })
                })
            }}
        </Transition>
    }
}
