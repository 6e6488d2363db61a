//! The page: the HTML shell, the app with its single route, and the home page (form, counts,
//! task list, live indicator).
//!
//! The route renders with `SsrMode::Async`: the server waits for the counts and settings and
//! sends finished HTML, so the page (and its form) works before the WASM loads, and without
//! JavaScript at all.

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::hooks::use_query_map;
use leptos_router::{SsrMode, StaticSegment};

use crate::api::{EnqueueTask, get_page_settings, my_tasks, queue_counts, task_statuses};
use crate::counts::CountsPanel;
use crate::live::{LiveIndicator, LiveMode};
use crate::tasks::{TaskList, TaskStore};
use crate::types::{EnqueueOutcome, JobCounts};

/// Default of the Seconds field.
pub const DEFAULT_SECONDS: u64 = 10;

/// The whole HTML document, rendered by the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light"/>
                <link rel="icon" href="data:,"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The app: metadata and the router.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="sentinel" href="/pkg/sentinel.css"/>
        <Title text="Sentinel"/>
        <Router>
            <Routes fallback=|| view! { <main class="page"><h1>"Page not found"</h1><a href="/">"Back to Sentinel"</a></main> }>
                <Route path=StaticSegment("") view=HomePage ssr=SsrMode::Async/>
            </Routes>
        </Router>
    }
}

/// The home page.
#[component]
pub fn HomePage() -> impl IntoView {
    let query = use_query_map();
    let (query_task, query_error, query_seconds) =
        query.with_untracked(|q| (q.get("task"), q.get("error"), q.get("seconds")));

    let settings = Resource::new(|| (), |_| get_page_settings());
    let server_counts = Resource::new(|| (), |_| queue_counts());
    // With access control on, the list follows the identity: the owner's recent tasks come
    // from the server, whatever this browser stored.
    let owned = Resource::new(|| (), |_| async { my_tasks().await.unwrap_or_default() });
    let initial_tasks = Resource::new(
        move || query_task.clone(),
        |id| async move {
            match id {
                Some(id) => task_statuses(vec![id]).await.unwrap_or_default(),
                None => Vec::new(),
            }
        },
    );

    let store = TaskStore::default();
    let mode = RwSignal::new(LiveMode::Off);
    let live_counts = RwSignal::new(None::<JobCounts>);
    let hydrated = RwSignal::new(false);
    let enqueue = ServerAction::<EnqueueTask>::new();

    let message = Signal::derive(move || match enqueue.value().get() {
        Some(Ok(EnqueueOutcome::Rejected { message })) => Some(message),
        Some(Err(error)) => Some(format!("Could not enqueue: {error}")),
        Some(Ok(EnqueueOutcome::Enqueued { .. })) => None,
        // No answer in this page yet: show what a no-JavaScript post was told, if anything.
        None => query_error.clone(),
    });

    #[cfg(feature = "hydrate")]
    let live_targets = crate::live::Targets {
        store,
        mode,
        counts: live_counts,
    };

    // The browser side: restore the user's tasks, start live updates.
    Effect::new(move |_| {
        hydrated.set(true);
        #[cfg(feature = "hydrate")]
        {
            store.add_older(&crate::storage::load());
            crate::storage::save(&store.ids());
            crate::live::start(live_targets);
        }
    });
    // A task enqueued from this page joins the top of the list.
    Effect::new(move |_| {
        if let Some(Ok(EnqueueOutcome::Enqueued { id })) = enqueue.value().get() {
            store.add_newest(&id);
            #[cfg(feature = "hydrate")]
            {
                crate::storage::save(&store.ids());
                leptos::task::spawn_local(crate::live::refresh(live_targets));
            }
        }
    });

    let first_value = query_seconds.unwrap_or_else(|| DEFAULT_SECONDS.to_string());
    view! {
        <main class="page" data-hydrated=move || hydrated.get().to_string()>
            <header class="top">
                <h1>"Sentinel"</h1>
                <LiveIndicator mode/>
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        settings.await.ok().filter(|s| s.auth).map(|s| {
                            let who = s.who.clone().unwrap_or_default();
                            let role = s.role.clone().unwrap_or_default();
                            view! {
                                <form class="who" method="post" action="/signout">
                                    <span>{format!("{who} ({role})")}</span>
                                    " "
                                    <button type="submit" class="link">"Sign out"</button>
                                </form>
                            }
                        })
                    })}
                </Suspense>
            </header>
            <p class="lede">"Run a long task and watch it progress."</p>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || {
                    let first_value = first_value.clone();
                    Suspend::new(async move {
                        let max = settings.await.map(|s| s.max_seconds).unwrap_or(3600);
                        view! { <EnqueueForm action=enqueue max message first_value/> }
                    })
                }}
            </Suspense>
            <div class="columns">
                <Suspense fallback=|| view! { <p>"Loading tasks…"</p> }>
                    {move || Suspend::new(async move {
                        store.add_older(&owned.await);
                        for view in initial_tasks.await {
                            store.add_newest(&view.id);
                            store.set_view(view);
                        }
                        view! { <TaskList store/> }
                    })}
                </Suspense>
                <Suspense fallback=|| view! { <p>"Loading counts…"</p> }>
                    {move || Suspend::new(async move {
                        let can_see = settings.await.map(|s| s.can_see_counts).unwrap_or(false);
                        let rendered = server_counts.await.ok().flatten();
                        let counts = Signal::derive(move || live_counts.get().or(rendered));
                        can_see.then(|| view! { <CountsPanel counts/> })
                    })}
                </Suspense>
            </div>
        </main>
    }
}

/// The Seconds form. Posts to the enqueue server function; without JavaScript the browser
/// posts it as a plain form and the server redirects back with the outcome.
#[component]
fn EnqueueForm(
    action: ServerAction<EnqueueTask>,
    max: u64,
    message: Signal<Option<String>>,
    first_value: String,
) -> impl IntoView {
    view! {
        <ActionForm action>
            <div class="field">
                <label for="seconds">"Seconds"</label>
                <input
                    id="seconds"
                    name="seconds"
                    type="number"
                    inputmode="numeric"
                    min="1"
                    max=max.to_string()
                    step="1"
                    required
                    value=first_value
                    aria-describedby="seconds-help seconds-error"
                    aria-invalid=move || message.get().is_some().to_string()
                />
                <button type="submit">"Enqueue"</button>
            </div>
            <p id="seconds-help" class="help">{format!("A whole number from 1 to {max}.")}</p>
            <p id="seconds-error" class="field-error" role="alert">{move || message.get()}</p>
        </ActionForm>
    }
}
