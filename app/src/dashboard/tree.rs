//! A flow's tree on a job's page (`?tree=<page>`): from the topmost parent the caller may see
//! down every level, depth first, 1,000 nodes a page, each node linked to its own page (where
//! the tree follows), its state, what it means for its parent, and a failed child its parent
//! waits for marked as what keeps that parent from ever finishing.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::api::admin_flow;
use super::kept::Kept;
use super::live::Live;
use super::state_title;
use crate::model::admin::{Dependency, FlowTree, TREE_PAGE_NODES, TreeNode};
use crate::model::text::plural;

/// The page of the tree the URL asks for (`?tree=<page>`), if it asks for the tree.
pub fn tree_param() -> Memo<Option<u32>> {
    let query = use_query_map();
    Memo::new(move |_| {
        query
            .get()
            .get("tree")
            .and_then(|t| t.trim().parse::<u32>().ok())
    })
}

/// The address of job `id` of `queue` with its flow's tree at `page`.
pub fn tree_link(id: &str, queue: &str, page: u32) -> String {
    format!("{}&tree={page}", super::job_link(id, Some(queue)))
}

fn role_words(dependency: Option<Dependency>) -> &'static str {
    match dependency {
        None => "the flow's top",
        Some(Dependency::Pending) => "its parent waits for it",
        Some(Dependency::Processed) => "done; its parent has the result",
        Some(Dependency::Ignored) => "failed; its parent goes on without it",
        Some(Dependency::Unsuccessful) => "failed; it failed its parent",
    }
}

fn node_row(node: TreeNode) -> impl IntoView {
    let TreeNode {
        job,
        depth,
        dependency,
        children_total,
        children_walked,
        blocks_parent,
        focus,
    } = node;
    // Indented by a class (the page's CSP allows no inline style): 12 levels, deeper ones at 12.
    let indent = format!("depth-{}", depth.min(12));
    let children = match (children_total, children_walked) {
        (0, _) => String::new(),
        (all, walked) if walked < all => format!("{walked} of {all} children shown"),
        (all, _) => plural(all, "child", "children"),
    };
    let blocks = blocks_parent.then(|| {
        view! { <span class="reason" data-blocks="true">"Its parent will never finish: retry it"</span> }
    });
    view! {
        <tr
            data-id=job.id.clone()
            data-queue=job.queue.clone()
            data-state=job.state.as_str()
            data-depth=depth
            aria-current=focus.then_some("true")
            class:focus=focus
        >
            <td class=indent>
                <a href=tree_link(&job.id, &job.queue, 0)>{job.id.clone()}</a>
                <span class="muted">{format!(" {}", job.queue)}</span>
            </td>
            <td>{job.name.clone().unwrap_or_else(|| "–".to_string())}</td>
            <td>
                <span class=format!("state state-{}", job.state.as_str())>{state_title(job.state)}</span>
                {blocks}
            </td>
            <td>{role_words(dependency)}</td>
            <td class="num">{children}</td>
        </tr>
    }
}

fn tree_view(tree: FlowTree, id: String, queue: String) -> impl IntoView {
    let pages = tree.pages();
    let page = tree.page;
    let first = page as usize * TREE_PAGE_NODES + 1;
    let last = first + tree.nodes.len().saturating_sub(1);
    let mut summary = format!(
        "{} in this flow{}; showing {first}–{last}, depth first.",
        plural(tree.total, "job", "jobs"),
        if tree.complete {
            ""
        } else {
            " (as far as the walk went: it stops at 20,000 jobs, 32 levels or 20,000 children of one job)"
        },
    );
    if tree.hidden > 0 {
        summary.push_str(&format!(
            " {} in queues you may not see (not shown, nor what is under them).",
            plural(tree.hidden, "job is", "jobs are")
        ));
    }
    if tree.above_hidden {
        summary.push_str(" Its top has a parent in a queue you may not see.");
    }
    let nav = (pages > 1).then(|| {
        let previous = (page > 0).then(|| {
            view! { <a href=tree_link(&id, &queue, page - 1) rel="prev">"← Previous 1,000"</a> }
        });
        let next = (page + 1 < pages).then(|| {
            view! { <a href=tree_link(&id, &queue, page + 1) rel="next">"Next 1,000 →"</a> }
        });
        view! {
            <nav class="pager" aria-label="Tree pages">
                {previous}
                <span>{format!("Page {} of {pages}", page + 1)}</span>
                {next}
            </nav>
        }
    });
    let rows = tree.nodes.into_iter().map(node_row).collect_view();
    view! {
        <p class="muted" data-tree-total=tree.total data-tree-complete=tree.complete.to_string()>{summary}</p>
        <div class="table-wrap">
            <table class="job-table tree">
                <thead>
                    <tr>
                        <th scope="col">"Job"</th>
                        <th scope="col">"Name"</th>
                        <th scope="col">"State"</th>
                        <th scope="col">"For its parent"</th>
                        <th scope="col" class="num">"Children"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
        {nav}
    }
}

/// A read of a flow's tree (`None`: the URL does not ask for it).
pub type TreeRead = Resource<Result<Option<FlowTree>, ServerFnError>>;

/// The flow's tree around job `id` of `queue`, when the URL asks for it (`?tree=<page>`); made
/// once per page, outside the frame's content (see `history::history_read`).
pub fn tree_read(id: Memo<String>, queue: Memo<Option<String>>) -> TreeRead {
    let page = tree_param();
    Resource::new(
        move || (id.get(), queue.get(), page.get()),
        |(id, queue, page)| async move {
            match page {
                Some(page) => admin_flow(id, queue, page).await.map(Some),
                None => Ok(None),
            }
        },
    )
}

/// The tree a [`tree_read`] read.
#[component]
pub fn FlowTreePanel(
    tree: TreeRead,
    id: Memo<String>,
    queue: Memo<Option<String>>,
    live: Live,
) -> impl IntoView {
    let kept = Kept::new(live);
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                let read = tree.await;
                if matches!(read, Ok(None)) {
                    return ().into_any();
                }
                let id = id.get_untracked();
                let queue = queue.get_untracked().unwrap_or_default();
                view! {
                    <section class="panel flow-tree" aria-labelledby="tree-title">
                        <h3 id="tree-title">"The whole flow"</h3>
                        {kept.show(read.map(Option::unwrap_or_default), move |t| tree_view(t, id, queue))}
                    </section>
                }
                .into_any()
            })}
        </Transition>
    }
}
