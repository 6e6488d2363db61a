//! The frame every dashboard page shares: its title; the header (the queue shown, the way to
//! the other pages with the count of alert rules firing, a search across every queue, how live
//! the page is); a banner naming
//! the rules that fire; and the access check before the page's own content. A page is its
//! content as a function of what the caller may do, inside [`frame`].

use leptos::prelude::*;
use leptos_meta::Title;

use super::api::{admin_firing, error_text, my_admin_access};
use super::live::Feed;
pub use super::live::Live;
use crate::model::admin::{AdminAccess, FiringSummary};

/// The page for someone who may not see the dashboard.
fn denied(message: Option<String>) -> AnyView {
    view! {
        <section class="panel denied">
            <h2>"Viewers only"</h2>
            <p>
                {message.unwrap_or_else(|| {
                    "The dashboard is for viewers, operators and admins: sign in with one of those roles."
                        .to_string()
                })}
            </p>
            <p><a href="/">"Back to your tasks"</a></p>
        </section>
    }
    .into_any()
}

/// `true` once the page runs in the browser (tests wait for it).
fn hydrated_mark() -> RwSignal<bool> {
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    hydrated
}

/// The nav's link to the alerts page, with how many rules fire.
fn alerts_link(firing: Option<FiringSummary>) -> impl IntoView {
    let count = firing.map_or(0, |f| f.firing);
    let label = match count {
        0 => "Alerts".to_string(),
        n => format!("Alerts ({n} firing)"),
    };
    view! {
        <a href="/admin/alerts" class={if count > 0 { "firing" } else { "" }} data-firing=count>
            {label}
        </a>
    }
}

/// The banner naming what fires, linking to the alerts page.
fn banner(firing: Option<FiringSummary>) -> Option<impl IntoView> {
    let firing = firing.filter(|f| f.firing > 0)?;
    let names = firing.names.join(", ");
    let more = firing.firing.saturating_sub(firing.names.len() as u64);
    let words = match firing.firing {
        1 => format!("1 alert rule fires: {names}"),
        n if more > 0 => format!("{n} alert rules fire: {names} and {more} more"),
        n => format!("{n} alert rules fire: {names}"),
    };
    let unacknowledged = match firing.unacknowledged {
        0 => " (all acknowledged)".to_string(),
        n if n == firing.firing => String::new(),
        n => format!(" ({n} not acknowledged)"),
    };
    Some(view! {
        <p class="banner firing" role="status" data-banner="firing">
            {words}{unacknowledged}" "<a href="/admin/alerts">"See the alerts"</a>
        </p>
    })
}

/// The dashboard's header: the title, the queue shown, the nav, how live the page is (and,
/// while Redis or the server does not answer, since when and the last good read).
fn header(
    live: Live,
    queue: Memo<Option<String>>,
    firing: Resource<Result<FiringSummary, ServerFnError>>,
) -> impl IntoView {
    view! {
        <header class="admin-head">
            <h1><a href="/admin">"Sentinel dashboard"</a></h1>
            {move || queue.get().map(|q| {
                let shown = q.clone();
                view! { <span class="queue-name" data-queue=q>{shown}</span> }
            })}
            <leptos_router::components::Form method="GET" action="/admin" attr:class="find-all" attr:role="search">
                <input type="hidden" name="in" value="all"/>
                {move || queue.get().map(|q| view! { <input type="hidden" name="queue" value=q/> })}
                <input
                    type="search"
                    name="q"
                    maxlength="200"
                    required
                    aria-label="Search every queue"
                    placeholder="Search every queue"
                />
            </leptos_router::components::Form>
            <nav aria-label="Sentinel">
                <a href="/admin/queues">"Queues"</a>
                " "
                <Transition fallback=|| alerts_link(None)>
                    {move || Suspend::new(async move { alerts_link(firing.await.ok()) })}
                </Transition>
                " "
                <a href="/admin/audit">"Audit log"</a>
                " "
                <a href="/">"Tasks"</a>
            </nav>
            <span
                class=move || {
                    let state = if live.health.with(|h| h.down.is_some()) {
                        "down"
                    } else if live.feed.get() == Feed::Live {
                        "live"
                    } else {
                        "off"
                    };
                    format!("feed feed-{state}")
                }
                data-feed=move || {
                    if live.health.with(|h| h.down.is_some()) {
                        "down".to_string()
                    } else {
                        format!("{:?}", live.feed.get()).to_lowercase()
                    }
                }
                role="status"
            >
                {move || {
                    live.health
                        .get()
                        .words(live.now.get())
                        .unwrap_or_else(|| live.feed.get().words().to_string())
                }}
            </span>
        </header>
        <Transition fallback=|| ()>
            {move || Suspend::new(async move { banner(firing.await.ok()) })}
        </Transition>
    }
}

/// A dashboard page: `title`, the header for `queue`, and `content` for what the caller may do
/// (the page for someone who may not see the dashboard otherwise).
pub fn frame<T, C, V>(
    title: T,
    queue: Memo<Option<String>>,
    live: Live,
    content: C,
) -> impl IntoView
where
    T: Fn() -> String + Send + Sync + 'static,
    C: Fn(AdminAccess) -> V + Clone + Send + Sync + 'static,
    V: IntoView + 'static,
{
    frame_or_missing(title, queue, live, None, content)
}

/// The page a queue that is not there gets instead of its panels (said once, not by each).
fn missing_queue(text: String) -> AnyView {
    view! {
        <section class="panel missing" data-missing="queue">
            <h2>"No such queue"</h2>
            <p>{format!("There is {text}: the link may be mistyped, or the queue's keys were removed.")}</p>
            <p><a href="/admin/queues">"See the queues there are"</a></p>
        </section>
    }
    .into_any()
}

/// [`frame`], where `missing` (read once per queue asked) may say the queue in view is not
/// there: then that is the page, instead of `content`. Awaited in the frame's own read of
/// the caller's access, so the page's panels are drawn at the same depth either way (a
/// suspense of their own would make the server and the browser create their reads in a
/// different order, which breaks hydration).
pub fn frame_or_missing<T, C, V>(
    title: T,
    queue: Memo<Option<String>>,
    live: Live,
    missing: Option<Resource<Option<String>>>,
    content: C,
) -> impl IntoView
where
    T: Fn() -> String + Send + Sync + 'static,
    C: Fn(AdminAccess) -> V + Clone + Send + Sync + 'static,
    V: IntoView + 'static,
{
    let access = Resource::new(|| (), |_| my_admin_access());
    let firing = Resource::new(move || live.tick.get(), |_| admin_firing());
    let hydrated = hydrated_mark();
    view! {
        <Title text=move || crate::head::title_text(title())/>
        <main class="page admin" data-hydrated=move || hydrated.get().to_string()>
            <a class="skip-link" href="#content" on:click=super::skip_to("content")>"Skip to the content"</a>
            {header(live, queue, firing)}
            <div id="content" tabindex="-1">
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || {
                    let content = content.clone();
                    Suspend::new(async move {
                        let access = access.await;
                        let missing = match missing {
                            Some(missing) => missing.await,
                            None => None,
                        };
                        match access {
                            Ok(AdminAccess::None) => denied(None),
                            Err(error) => denied(Some(error_text(&error))),
                            Ok(_) if missing.is_some() => missing_queue(missing.unwrap_or_default()),
                            Ok(access) => content(access).into_any(),
                        }
                    })
                }}
            </Transition>
            </div>
        </main>
    }
}
