//! A job's flow on its page: its parent (linked, any queue), its children with their states and
//! what each means for the parent, and, when a failed child keeps the parent waiting for ever,
//! that said first, with the child linked and a way to retry it.

use leptos::prelude::*;

use crate::model::text::plural;

use super::{job_link, state_title};
use crate::model::admin::{AdminAccess, Dependency, Family, FlowJob};

fn dependency_words(dependency: Dependency) -> &'static str {
    match dependency {
        Dependency::Pending => "the parent waits for it",
        Dependency::Processed => "done; the parent has its result",
        Dependency::Ignored => "failed; the parent goes on without it",
        Dependency::Unsuccessful => "failed; it failed the parent",
    }
}

fn job_anchor(job: &FlowJob) -> impl IntoView + use<> {
    view! {
        <a href=job_link(&job.id, Some(&job.queue))>{format!("{} {}", job.queue, job.id)}</a>
    }
}

fn state_pill(job: &FlowJob) -> impl IntoView + use<> {
    view! { <span class=format!("state state-{}", job.state.as_str())>{state_title(job.state)}</span> }
}

/// The flow panel, when the job is part of a flow.
pub fn flow_view(
    family: Family,
    tree_href: String,
    access: AdminAccess,
    notice: RwSignal<Option<(bool, String)>>,
    tick: RwSignal<u64>,
) -> Option<impl IntoView + use<>> {
    if family.is_empty() {
        return None;
    }
    let parent = family.parent.as_ref().map(|parent| {
        view! {
            <p data-flow="parent">"Parent: " {job_anchor(parent)} " " {state_pill(parent)}</p>
        }
    });
    let blocked = family.blocked_by.first().map(|child| {
        let retry = (access == AdminAccess::Operator).then(|| {
            let id = child.id.clone();
            let queue = child.queue.clone();
            view! {
                <button
                    type="button"
                    class="action"
                    aria-label=format!("Retry child job {}", child.id)
                    on:click=move |_| super::jobs::act(id.clone(), "retry", notice, tick, Some(queue.clone()))
                >
                    "Retry the child"
                </button>
            }
        });
        let reason = child
            .failed_reason
            .clone()
            .map(|r| format!(" ({})", crate::model::text::shorten(&r, 120)))
            .unwrap_or_default();
        let more = match family.blocked_by.len() {
            1 => String::new(),
            n => format!(" {} children failed this way.", n),
        };
        view! {
            <div class="banner never" role="alert" data-flow="never-finishes">
                <p>
                    "This job will never finish: its child " {job_anchor(child)} " failed" {reason}
                    ", and the flow did not say to fail, ignore or remove a failed child." {more}
                </p>
                {retry}
            </div>
        }
    });
    let shown = family.children.len() as u64;
    let mut count = plural(family.children_total, "child", "children");
    if shown < family.children_total.saturating_sub(family.hidden) {
        count.push_str(&format!(
            " ({shown} of them listed; the failed ones always)"
        ));
    }
    if family.hidden > 0 {
        count.push_str(&format!(
            "; {} in queues you may not see",
            plural(family.hidden, "job", "jobs")
        ));
    }
    let rows = family
        .children
        .iter()
        .map(|child| {
            view! {
                <tr data-id=child.job.id.clone() data-queue=child.job.queue.clone() data-state=child.job.state.as_str()>
                    <td>{child.job.queue.clone()}</td>
                    <td><a href=job_link(&child.job.id, Some(&child.job.queue))>{child.job.id.clone()}</a></td>
                    <td>{child.job.name.clone().unwrap_or_else(|| "–".to_string())}</td>
                    <td>{state_pill(&child.job)}</td>
                    <td>{dependency_words(child.dependency)}</td>
                </tr>
            }
        })
        .collect_view();
    let children = (family.children_total > 0 || family.hidden > 0).then(|| {
        view! {
            <p class="muted" data-flow="children">{count}</p>
            <div class="table-wrap">
                <table class="job-table children">
                    <thead>
                        <tr>
                            <th scope="col">"Queue"</th>
                            <th scope="col">"Id"</th>
                            <th scope="col">"Name"</th>
                            <th scope="col">"State"</th>
                            <th scope="col">"For the parent"</th>
                        </tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
        }
    });
    Some(view! {
        <section class="panel flow" aria-labelledby="flow-title">
            <h3 id="flow-title">"Flow"</h3>
            {blocked}
            {parent}
            {children}
            <p><a href=tree_href data-flow="tree">"The whole flow, as a tree"</a></p>
        </section>
    })
}
