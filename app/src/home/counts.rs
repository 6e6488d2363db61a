//! The counts panel: jobs per state, server-rendered, then kept live by the page.

use leptos::prelude::*;

use crate::model::types::JobCounts;

/// The panel. `counts` is `None` until known.
#[component]
pub fn CountsPanel(#[prop(into)] counts: Signal<Option<JobCounts>>) -> impl IntoView {
    let cell = move |pick: fn(&JobCounts) -> u64| {
        move || {
            counts
                .get()
                .map_or("–".to_string(), |c| pick(&c).to_string())
        }
    };
    view! {
        <section class="counts" aria-labelledby="counts-title">
            <h2 id="counts-title">"Queue"</h2>
            <dl>
                <div data-state="waiting"><dt>"waiting"</dt><dd>{cell(|c| c.waiting + c.prioritized)}</dd></div>
                <div data-state="active"><dt>"active"</dt><dd>{cell(|c| c.active)}</dd></div>
                <div data-state="delayed"><dt>"delayed"</dt><dd>{cell(|c| c.delayed)}</dd></div>
                <div data-state="completed"><dt>"completed"</dt><dd>{cell(|c| c.completed)}</dd></div>
                <div data-state="failed"><dt>"failed"</dt><dd>{cell(|c| c.failed)}</dd></div>
            </dl>
        </section>
    }
}
