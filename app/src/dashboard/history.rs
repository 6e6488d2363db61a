//! A queue's charts over a range the operator picks (`?range=1h|24h|7d|90d`): throughput, wait
//! and run time, read from the history Sentinel keeps for every queue on the Redis (its own and
//! other programs'), refreshed every few seconds and kept on screen through an outage.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::api::admin_history;
use super::chart;
use super::kept::Kept;
use super::live::Live;
use crate::model::admin::{History, HistoryRange};

/// How often the charts are read again (ms): the collector writes every few seconds.
#[cfg(feature = "hydrate")]
const REFRESH_MS: u64 = 5000;

/// The address of this page with `range` instead of the current one (other parameters kept).
fn range_link(query: &leptos_router::params::ParamsMap, range: HistoryRange) -> String {
    let mut parts: Vec<String> = query
        .into_iter()
        .filter(|(key, _)| key.as_ref() != "range")
        .map(|(key, value)| {
            format!(
                "{}={}",
                crate::model::url::encode(key),
                crate::model::url::encode(value)
            )
        })
        .collect();
    if range != HistoryRange::default() {
        parts.push(format!("range={}", range.as_str()));
    }
    if parts.is_empty() {
        "/admin".to_string()
    } else {
        format!("/admin?{}", parts.join("&"))
    }
}

/// A read of the history.
pub type HistoryRead = Resource<Result<History, ServerFnError>>;

/// The history of `queue` (Sentinel's own when `None`) over the range the URL names, read
/// again every few seconds; made once per page (outside the frame's content, which is drawn
/// again as the caller's access is known: a resource made there would be read once per
/// drawing).
pub fn history_read(queue: Memo<Option<String>>) -> (HistoryRead, Memo<HistoryRange>) {
    let query = use_query_map();
    let range = Memo::new(move |_| {
        query
            .get()
            .get("range")
            .and_then(|r| HistoryRange::parse(&r))
            .unwrap_or_default()
    });
    // Moves every few seconds in the browser (0 on the server and at hydration, so both agree).
    let slot = RwSignal::new(0u64);
    #[cfg(feature = "hydrate")]
    {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, Ordering};
        let alive = Arc::new(AtomicBool::new(true));
        let still = alive.clone();
        on_cleanup(move || still.store(false, Ordering::Relaxed));
        leptos::task::spawn_local(async move {
            loop {
                gloo_timers::future::TimeoutFuture::new(REFRESH_MS as u32).await;
                if !alive.load(Ordering::Relaxed) {
                    return;
                }
                slot.update(|s| *s += 1);
            }
        });
    }
    let history = Resource::new(
        move || (queue.get(), range.get(), slot.get()),
        |(queue, range, _)| admin_history(queue, range),
    );
    (history, range)
}

/// The charts of a history read by [`history_read`].
#[component]
pub fn HistoryCharts(history: HistoryRead, range: Memo<HistoryRange>, live: Live) -> impl IntoView {
    let query = use_query_map();
    let kept = Kept::new(live);
    let ranges = move || {
        let current = range.get();
        let query = query.get();
        HistoryRange::ALL
            .into_iter()
            .map(|r| {
                let label = match r {
                    HistoryRange::Hour => "1 hour",
                    HistoryRange::Day => "24 hours",
                    HistoryRange::Week => "7 days",
                    HistoryRange::Quarter => "90 days",
                };
                view! {
                    <a href=range_link(&query, r) aria-current=(r == current).then_some("true") data-range=r.as_str()>
                        {label}
                    </a>
                }
            })
            .collect_view()
    };
    view! {
        <nav class="ranges" aria-label="Chart range">
            <span class="muted">"History:"</span>
            {ranges}
        </nav>
        <Transition fallback=|| view! { <p class="loading">"Loading the history…"</p> }>
            {move || Suspend::new(async move { kept.show(history.await, charts) })}
        </Transition>
    }
}

fn charts(history: History) -> impl IntoView {
    let range = history.range;
    if history.since.is_none() {
        return view! {
            <p class="muted" data-history="none">
                "No history yet for this queue: Sentinel's collector reads every queue's events every few seconds, and draws what finished from then on."
            </p>
        }
        .into_any();
    }
    let lost = (!history.lost_at.is_empty()).then(|| {
        let first = history.lost_at.first().copied().unwrap_or(0);
        view! {
            <p class="warning" role="status" data-history-lost=history.lost_at.len()>
                {format!(
                    "Events were lost before Sentinel read them in {} (first at {}): the queue's events stream was trimmed first, so the counts there are low.",
                    crate::model::text::plural(history.lost_at.len() as u64, "period", "periods"),
                    crate::model::time::clock(first),
                )}
            </p>
        }
    });
    let totals = format!(
        "{} completed and {} failed in the last {}.",
        history.total.completed,
        history.total.failed,
        range.span_words()
    );
    view! {
        {lost}
        <p class="muted" data-history-total=format!("{}/{}", history.total.completed, history.total.failed)>{totals}</p>
        <div class="charts">
            {chart::throughput(&history.points, range)}
            {chart::percentiles("Wait time", &history.points, range, |m| m.wait_ms)}
            {chart::percentiles("Run time", &history.points, range, |m| m.run_ms)}
        </div>
    }
    .into_any()
}
