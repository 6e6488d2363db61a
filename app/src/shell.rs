//! The HTML documents and the router: the shell of every page but the home page (the app with
//! its router), the home page's own shell (the home page alone, its data written into the
//! head), and the page for an address nothing answers.

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::hooks::use_query_map;
use leptos_router::{ParamSegment, SsrMode, StaticSegment};

use crate::home::api::HomePageData;
use crate::home::page::{HOME_DATA_ID, HomeApp, HomePage, HomeQuery, home_data_json};

/// The whole HTML document of every page but the home page, rendered by the server: the app
/// with its router.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    document(options, (), App)
}

/// The home page's whole HTML document: the home page alone, without the router, so the
/// browser hydrates it with the home page's own small bundle (the router and the dashboard load
/// only on the dashboard's pages; see `frontend` and `home`). Its data comes with it: the
/// server provides the [`HomePageData`] as context (read before rendering) and writes it into
/// the head as JSON, where the browser reads it ([`HomeApp`]): no resource, no suspense, none
/// of their code in the home bundle. The stylesheet and title are plain elements here (the
/// browser never changes them), so the home bundle holds no `leptos_meta` either.
pub fn home_shell(options: LeptosOptions) -> impl IntoView {
    let data = use_context::<HomePageData>().unwrap_or_else(HomePageData::fallback);
    let head = view! {
        <link rel="stylesheet" id="sentinel" href="/pkg/sentinel.css"/>
        <title>"Sentinel"</title>
        <script id=HOME_DATA_ID type="application/json" inner_html=home_data_json(&data)></script>
    };
    document(options, head, HomeApp)
}

fn document<H: IntoView, V: IntoView>(
    options: LeptosOptions,
    head: H,
    body: impl FnOnce() -> V,
) -> impl IntoView {
    #[cfg(feature = "ssr")]
    let root = use_context::<crate::head::BuiltRoot>()
        .map(|r| r.0)
        .unwrap_or_default();
    #[cfg(not(feature = "ssr"))]
    let root = String::new();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                <link rel="icon" href="data:,"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options root/>
                <MetaTags/>
                {head}
            </head>
            <body>
                {body()}
            </body>
        </html>
    }
}

/// The app: metadata and the router (every page; the server renders `/` with [`HomeApp`]).
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    #[cfg(feature = "ssr")]
    crate::head::preload_split("whole_app_");
    view! {
        <Stylesheet id="sentinel" href="/pkg/sentinel.css"/>
        <Title text="Sentinel"/>
        <Router>
            <Routes fallback=NotFound>
                <Route path=StaticSegment("") view=HomeRoute ssr=SsrMode::Async/>
                <Route
                    path=StaticSegment("admin")
                    view=crate::dashboard::admin_view()
                    ssr=SsrMode::Async
                />
                <Route
                    path=(StaticSegment("admin"), StaticSegment("queues"))
                    view=crate::dashboard::queues_view()
                    ssr=SsrMode::Async
                />
                <Route
                    path=(StaticSegment("admin"), StaticSegment("alerts"))
                    view=crate::dashboard::alerts_view()
                    ssr=SsrMode::Async
                />
                <Route
                    path=(StaticSegment("admin"), StaticSegment("audit"))
                    view=crate::dashboard::audit_view()
                    ssr=SsrMode::Async
                />
                <Route
                    path=(StaticSegment("admin"), StaticSegment("jobs"), ParamSegment("id"))
                    view=crate::dashboard::job_view()
                    ssr=SsrMode::Async
                />
            </Routes>
        </Router>
    }
}

/// The home page inside the router (reached from the dashboard without a reload).
#[component]
fn HomeRoute() -> impl IntoView {
    let query = use_query_map()
        .with_untracked(|q| HomeQuery::new(q.get("task"), q.get("error"), q.get("seconds")));
    view! { <HomePage query/> }
}

/// Any path the page does not know (the server answers it with status 404).
#[component]
fn NotFound() -> impl IntoView {
    view! {
        <Title text="Page not found · Sentinel"/>
        <main class="page not-found">
            <h1>"Page not found"</h1>
            <p class="lede">"There is no page at this address. It may have been mistyped."</p>
            <p><a href="/">"Go to Sentinel's home page"</a></p>
        </main>
    }
}
