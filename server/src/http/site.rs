//! The web page: Leptos server rendering of `app`'s components, the server functions they call,
//! and the built WASM/JS/CSS under `/pkg`. The server functions reach the queue through
//! [`QueueBackend`], provided to them as context.

use std::sync::Arc;

use app::backend::{
    AdminBackend, BackendError, BoxFuture, SharedAdminBackend, SharedBackend, TaskBackend,
};
use app::{JobCounts, JobId, JobStatus};
use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::header::ACCEPT;
use axum::http::request::Parts;
use axum::http::{Method, Response, StatusCode};
use axum::routing::{any, get};
use leptos::config::LeptosOptions;
use leptos::nonce::Nonce;
use leptos::prelude::{provide_context, use_context};
use leptos_axum::{LeptosRoutes, generate_route_list, handle_server_fns_with_context};
use tower_http::services::ServeDir;

use super::built::{built_root, home_options, leptos_options};
use super::refusal::{page_not_found, refusal};
use crate::auth::{Principal, Role};
use crate::error::AppError;
use crate::http::state::AppState;

/// What every rendering and server function gets as context: the backend, and the nonce the
/// security headers named for this request (Leptos made one of its own just before; the policy
/// must name the one the page uses).
fn page_context(state: &AppState) -> impl Fn() + Clone + Send + Sync + 'static + use<> {
    let shared = Arc::new(QueueBackend {
        state: state.clone(),
    });
    let backend: SharedBackend = shared.clone();
    let admin: SharedAdminBackend = shared;
    let root = built_root(&state.config).map(app::head::BuiltRoot);
    move || {
        provide_context(backend.clone());
        provide_context(admin.clone());
        if let Some(root) = root.clone() {
            provide_context(root);
        }
        provide_context(app::head::Preloaded::default());
        if let Some(nonce) =
            use_context::<Parts>().and_then(|parts| parts.extensions.get::<Nonce>().cloned())
        {
            provide_context(nonce);
        }
    }
}

/// Whether a request that matched no route wants the styled "page not found" page (a browser
/// asking for a page) rather than the API's JSON 404.
pub fn wants_page(request: &Request<Body>) -> bool {
    let path = request.uri().path();
    let api = ["/api/", "/tasks/", "/admin/api/", "/pkg/", "/openapi.json"]
        .iter()
        .any(|prefix| path.starts_with(prefix));
    let html = request
        .headers()
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    !api && html && (request.method() == Method::GET || request.method() == Method::HEAD)
}

/// The context of a page rendered outside `leptos_routes` (which adds the options itself): the
/// page's context and Leptos's options.
fn rendering_context(
    state: &AppState,
    options: LeptosOptions,
) -> impl Fn() + Clone + Send + Sync + 'static + use<> {
    let page = page_context(state);
    move || {
        page();
        provide_context(options.clone());
    }
}

/// What a request to `/` renders with: its address's query and the data read for it.
#[derive(Clone)]
struct HomeRequest {
    query: app::HomeQuery,
    data: app::api::HomePageData,
}

/// The home page's data for a request to `/`, read before the page renders (the page then
/// renders at once, and carries the data for the browser: see `app::home_shell`): the
/// `home_data` server function's body, run with the request's context (who asks, their
/// cookies). A part that cannot be read is left empty by it; a failure as a whole gives the
/// fallback.
async fn home_data_for(
    rendering: &(impl Fn() + Clone + Send + Sync + 'static),
    parts: &Parts,
    task: Option<String>,
) -> app::api::HomePageData {
    use leptos::prelude::Owner;
    use leptos::reactive::computed::ScopedFuture;
    let owner = Owner::new();
    let read = owner.with(|| {
        // The request first: the page's context reads its nonce from it.
        provide_context(parts.clone());
        rendering();
        ScopedFuture::new(app::api::home_data(task))
    });
    read.await
        .unwrap_or_else(|_| app::api::HomePageData::fallback())
}

/// The "page not found" page, rendered by the app's fallback route, with status 404.
pub fn not_found_page(
    state: &AppState,
) -> impl Fn(Request<Body>) -> BoxFuture<'static, Response<Body>> + Clone + Send + Sync + 'static {
    let options = leptos_options(&state.config);
    let context = rendering_context(state, options.clone());
    let render = leptos_axum::render_app_to_stream_with_context(context, move || {
        app::shell(options.clone())
    });
    move |request| {
        let render = render.clone();
        Box::pin(async move {
            let mut response = render(request).await;
            *response.status_mut() = StatusCode::NOT_FOUND;
            response
        })
    }
}

/// The page's routes, the server functions and the static files.
pub fn router(state: AppState) -> Router {
    let options = leptos_options(&state.config);
    let context = page_context(&state);
    let server_fns = {
        let context = context.clone();
        move |request: Request<Body>| handle_server_fns_with_context(context.clone(), request)
    };
    let pkg = format!("{}/{}", options.site_root, options.site_pkg_dir);
    let root = built_root(&state.config);
    // `/` is the home page's own app (see `app::home_shell`); the router's list keeps the rest.
    let routes: Vec<_> = generate_route_list(app::App)
        .into_iter()
        .filter(|route| route.path() != "/")
        .collect();
    let home = {
        let rendering = rendering_context(&state, options.clone());
        let options = home_options(&options);
        // Built once; each request brings its query and data in its extensions (see below).
        let render = leptos_axum::render_app_async_with_context(
            {
                let rendering = rendering.clone();
                move || {
                    rendering();
                    if let Some(page) = use_context::<Parts>()
                        .and_then(|parts| parts.extensions.get::<HomeRequest>().cloned())
                    {
                        provide_context(page.query);
                        provide_context(page.data);
                    }
                }
            },
            move || app::home_shell(options.clone()),
        );
        move |request: Request<Body>| {
            let rendering = rendering.clone();
            let render = render.clone();
            async move {
                let (mut parts, body) = request.into_parts();
                let query = parts
                    .uri
                    .query()
                    .map(app::HomeQuery::parse)
                    .unwrap_or_default();
                let data = home_data_for(&rendering, &parts, query.task.clone()).await;
                parts.extensions.insert(HomeRequest { query, data });
                render(Request::from_parts(parts, body)).await
            }
        }
    };
    let mut router = Router::new();
    if let Some(root) = root {
        // This build's files under their build's address, kept for good by browsers.
        router = router.nest_service(
            &format!("{root}/{}", options.site_pkg_dir),
            ServeDir::new(&pkg).precompressed_br().precompressed_gzip(),
        );
    }
    router
        .route("/api/{*fn_name}", any(server_fns))
        .route("/", get(move |request: Request<Body>| home(request)))
        .leptos_routes_with_context(&options, routes, context, {
            let options = options.clone();
            move || app::shell(options.clone())
        })
        .nest_service(
            "/pkg",
            ServeDir::new(pkg).precompressed_br().precompressed_gzip(),
        )
        // Server functions answer from here and from the routes `leptos_routes` adds for them.
        .layer(axum::middleware::map_response(bad_arguments_are_400))
        .with_state(options)
}

/// A server function's error that comes from its request (arguments that do not decode:
/// repeated or malformed fields, a body of another kind) answers 400, not the 500 `server_fn`
/// gives every error. The body stays as `server_fn` wrote it (the page's stubs decode it from
/// any 4xx or 5xx).
async fn bad_arguments_are_400(response: Response<Body>) -> Response<Body> {
    /// Error bodies read at most (ours are a line; a longer one is answered as an empty 500).
    const MAX_ERROR_BYTES: usize = 64 * 1024;
    if response.status() != StatusCode::INTERNAL_SERVER_ERROR
        || !response.headers().contains_key("serverfnerror")
    {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) =
        http_body_util::BodyExt::collect(http_body_util::Limited::new(body, MAX_ERROR_BYTES))
            .await
            .map(http_body_util::Collected::to_bytes)
    else {
        return Response::from_parts(parts, Body::empty());
    };
    if bytes.starts_with(b"Args|") || bytes.starts_with(b"Deserialization|") {
        parts.status = StatusCode::BAD_REQUEST;
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// The service, as the server functions see it: each function is one call of the service
/// for the request's caller (who may do what is the service's to check) and its error in the
/// page's words.
struct QueueBackend {
    state: AppState,
}

/// Entries per page of the dashboard's audit log.
const AUDIT_PAGE: usize = 50;

/// The cookie that lists the tasks a browser enqueued without JavaScript.
const REMEMBERED_COOKIE: &str = "sentinel_tasks";
/// Most tasks it lists (well under the 4 KB a cookie may hold, even with long ids).
const MAX_REMEMBERED: usize = 10;

/// Reads the remembered ids from the cookie's value (percent-encoded ids joined by `|`),
/// keeping only ids that can name a job.
fn remembered_in(value: &str) -> Vec<String> {
    value
        .split('|')
        .filter_map(app::url::decode)
        .filter(|id| JobId::parse(id).is_ok())
        .take(MAX_REMEMBERED)
        .collect()
}

impl QueueBackend {
    fn sentinel(&self) -> &crate::service::Sentinel {
        &self.state.sentinel
    }

    /// Who the page request being served is for, if anyone.
    fn principal(&self) -> Option<Principal> {
        use_context::<Parts>().and_then(|parts| parts.extensions.get::<Principal>().cloned())
    }

    /// Who the page request being served is for, or `401`.
    fn caller(&self) -> Result<Principal, BackendError> {
        self.principal()
            .ok_or_else(|| refusal(AppError::Unauthorized))
    }
}

impl TaskBackend for QueueBackend {
    fn max_seconds(&self) -> u64 {
        self.state.config.max_seconds
    }

    fn viewer(&self) -> app::backend::Viewer {
        let principal = self.principal();
        app::backend::Viewer {
            auth: self.state.access.enabled,
            who: principal.as_ref().map(|p| p.owner.to_string()),
            role: principal.as_ref().map(|p| p.role.as_str().to_string()),
            can_see_counts: principal
                .as_ref()
                .is_some_and(|p| self.sentinel().sees_counts(p)),
        }
    }

    fn tick_ms(&self) -> u64 {
        self.state.config.task_tick_ms
    }

    fn new_key(&self) -> String {
        let mut bytes = [0u8; 16];
        // Without randomness the form still works; it only loses its double-post guard.
        if getrandom::fill(&mut bytes).is_err() {
            return String::new();
        }
        app::url::hex(bytes)
    }

    fn enqueue(
        &self,
        seconds: u64,
        key: Option<String>,
        options: app::options::TaskOptions,
    ) -> BoxFuture<'_, Result<String, BackendError>> {
        Box::pin(async move {
            let who = self.caller()?;
            let request = crate::service::enqueue::EnqueueRequest {
                seconds,
                options: &options,
                idempotency_key: key.as_deref(),
            };
            self.sentinel()
                .enqueue(&who, request)
                .await
                .map_err(refusal)
        })
    }

    fn queue_reachable(&self) -> BoxFuture<'_, bool> {
        Box::pin(self.sentinel().queue_reachable())
    }

    fn remembered(&self) -> Vec<String> {
        use_context::<Parts>()
            .and_then(|parts| {
                crate::auth::session::cookie(&parts.headers, REMEMBERED_COOKIE).map(remembered_in)
            })
            .unwrap_or_default()
    }

    fn remember(&self, id: &str) {
        let Some(parts) = use_context::<Parts>() else {
            return;
        };
        let mut ids = vec![id.to_string()];
        ids.extend(self.remembered().into_iter().filter(|known| known != id));
        ids.truncate(MAX_REMEMBERED);
        let value: Vec<String> = ids.iter().map(|id| app::url::encode(id)).collect();
        let cookie = crate::auth::session::set_cookie(
            REMEMBERED_COOKIE,
            &value.join("|"),
            7 * 24 * 3600,
            self.state.access.secure_cookies(&parts),
        );
        if let (Some(response), Ok(value)) = (
            use_context::<leptos_axum::ResponseOptions>(),
            axum::http::HeaderValue::from_str(&cookie),
        ) {
            response.append_header(axum::http::header::SET_COOKIE, value);
        }
    }

    fn statuses(
        &self,
        ids: Vec<JobId>,
    ) -> BoxFuture<'_, Result<Vec<Option<JobStatus>>, BackendError>> {
        Box::pin(async move {
            let who = self.caller()?;
            self.sentinel().statuses(&who, &ids).await.map_err(refusal)
        })
    }

    fn my_tasks(&self) -> BoxFuture<'_, Result<Vec<String>, BackendError>> {
        Box::pin(async move {
            let who = self.caller()?;
            self.sentinel().my_tasks(&who).await.map_err(refusal)
        })
    }

    fn retry(&self, id: JobId) -> BoxFuture<'_, Result<(), BackendError>> {
        Box::pin(async move {
            let who = self.caller()?;
            self.sentinel()
                .retry_task(&who, &id)
                .await
                .map(|_| ())
                .map_err(refusal)
        })
    }

    fn is_plain_form_post(&self) -> bool {
        use_context::<Parts>()
            .and_then(|parts| {
                parts
                    .headers
                    .get(ACCEPT)
                    .and_then(|v| v.to_str().ok())
                    .map(|accept| accept.contains("text/html"))
            })
            .unwrap_or(false)
    }

    fn redirect(&self, path: &str) {
        leptos_axum::redirect(path);
    }

    fn counts(&self) -> BoxFuture<'_, Result<Option<JobCounts>, BackendError>> {
        Box::pin(async move {
            let who = self.caller()?;
            self.sentinel().counts(&who).await.map_err(refusal)
        })
    }
}

/// The dashboard's server functions: one call of the service each, as the admin API's
/// routes are.
impl AdminBackend for QueueBackend {
    fn admin_access(&self) -> app::admin::AdminAccess {
        match self.principal().map(|p| p.role) {
            Some(role) if role >= Role::Operator => app::admin::AdminAccess::Operator,
            Some(role) if role >= Role::Viewer => app::admin::AdminAccess::Viewer,
            _ => app::admin::AdminAccess::None,
        }
    }

    fn overview(
        &self,
        queue: Option<String>,
    ) -> BoxFuture<'_, Result<app::admin::Overview, BackendError>> {
        Box::pin(async move {
            let who = self.caller()?;
            self.sentinel()
                .overview(&who, queue.as_deref())
                .await
                .map_err(refusal)
        })
    }

    fn admin_queues(
        &self,
        asked: app::admin::QueueListQuery,
    ) -> BoxFuture<'_, Result<app::admin::QueueList, BackendError>> {
        Box::pin(async move {
            let who = self.caller()?;
            self.sentinel().queues(&who, &asked).await.map_err(refusal)
        })
    }

    fn admin_jobs(
        &self,
        query: app::admin::JobQuery,
    ) -> BoxFuture<'_, Result<app::admin::JobPage, BackendError>> {
        Box::pin(async move {
            let who = self.caller()?;
            self.sentinel()
                .find_shared(&who, &query)
                .await
                .map_err(refusal)
        })
    }

    fn admin_flow(
        &self,
        queue: Option<String>,
        id: JobId,
        page: u32,
    ) -> BoxFuture<'_, Result<app::admin::FlowTree, BackendError>> {
        Box::pin(async move {
            let who = self.caller()?;
            self.sentinel()
                .flow_tree(&who, queue.as_deref(), &id, page)
                .await
                .map_err(refusal)
        })
    }

    fn admin_history(
        &self,
        queue: Option<String>,
        range: app::admin::HistoryRange,
    ) -> BoxFuture<'_, Result<app::admin::History, BackendError>> {
        Box::pin(async move {
            let who = self.caller()?;
            self.sentinel()
                .history(&who, queue.as_deref(), range)
                .await
                .map_err(refusal)
        })
    }

    fn admin_search(
        &self,
        query: app::admin::AcrossQuery,
    ) -> BoxFuture<'_, Result<app::admin::AcrossPage, BackendError>> {
        Box::pin(async move {
            let who = self.caller()?;
            self.sentinel()
                .search_across(&who, &query)
                .await
                .map_err(refusal)
        })
    }

    fn admin_job(
        &self,
        queue: Option<String>,
        id: JobId,
    ) -> BoxFuture<'_, Result<Option<app::admin::JobDetail>, BackendError>> {
        Box::pin(async move {
            let who = self.caller()?;
            let found = self
                .sentinel()
                .job_shared(&who, queue.as_deref(), &id)
                .await
                .map_err(refusal)?;
            if found.is_none() {
                page_not_found();
            }
            Ok(found)
        })
    }

    fn admin_add_copy(
        &self,
        queue: Option<String>,
        name: String,
        data: String,
        opts: String,
    ) -> BoxFuture<'_, Result<String, BackendError>> {
        Box::pin(async move {
            let who = self.caller()?;
            self.sentinel()
                .add_copy(&who, queue.as_deref(), &name, &data, &opts)
                .await
                .map_err(refusal)
        })
    }

    fn admin_edit_data(
        &self,
        queue: Option<String>,
        id: JobId,
        data: String,
    ) -> BoxFuture<'_, Result<app::admin::ActionOutcome, BackendError>> {
        Box::pin(async move {
            let who = self.caller()?;
            self.sentinel()
                .edit_data(&who, queue.as_deref(), &id, &data)
                .await
                .map_err(refusal)
        })
    }

    fn admin_act(
        &self,
        queue: Option<String>,
        id: JobId,
        action: app::admin::JobAction,
    ) -> BoxFuture<'_, Result<app::admin::ActionOutcome, BackendError>> {
        Box::pin(async move {
            let who = self.caller()?;
            self.sentinel()
                .act(&who, queue.as_deref(), &id, action)
                .await
                .map_err(refusal)
        })
    }

    fn admin_queue(
        &self,
        queue: Option<String>,
        action: app::admin::QueueAction,
    ) -> BoxFuture<'_, Result<(), BackendError>> {
        Box::pin(async move {
            let who = self.caller()?;
            self.sentinel()
                .queue_action(&who, queue.as_deref(), action)
                .await
                .map_err(refusal)
        })
    }

    fn admin_bulk(
        &self,
        queue: Option<String>,
        action: app::admin::JobAction,
        ids: Vec<String>,
        q: Option<String>,
    ) -> BoxFuture<'_, Result<app::admin::BulkProgress, BackendError>> {
        Box::pin(async move {
            let who = self.caller()?;
            let ids = q.is_none().then_some(ids);
            let request =
                crate::service::jobs::BulkRequest::new(action, ids, q).map_err(refusal)?;
            self.sentinel()
                .start_bulk(&who, queue.as_deref(), request)
                .await
                .map_err(refusal)
        })
    }

    fn admin_clean(
        &self,
        queue: Option<String>,
        request: app::admin::CleanRequest,
    ) -> BoxFuture<'_, Result<app::admin::CleanOutcome, BackendError>> {
        Box::pin(async move {
            let who = self.caller()?;
            self.sentinel()
                .clean(&who, queue.as_deref(), &request)
                .await
                .map_err(refusal)
        })
    }

    fn admin_bulk_progress(
        &self,
        bulk: String,
    ) -> BoxFuture<'_, Result<Option<app::admin::BulkProgress>, BackendError>> {
        Box::pin(async move {
            let who = self.caller()?;
            self.sentinel()
                .bulk_progress(&who, &bulk)
                .await
                .map_err(refusal)
        })
    }

    fn admin_why(
        &self,
        queue: Option<String>,
        id: JobId,
    ) -> BoxFuture<'_, Result<Option<app::admin::WhyReport>, BackendError>> {
        Box::pin(async move {
            let who = self.caller()?;
            self.sentinel()
                .why(&who, queue.as_deref(), &id)
                .await
                .map_err(refusal)
        })
    }

    fn alerts(&self) -> BoxFuture<'_, Result<app::admin::AlertsReport, BackendError>> {
        Box::pin(async move {
            let who = self.caller()?;
            self.sentinel().alerts_report(&who).await.map_err(refusal)
        })
    }

    fn firing(&self) -> BoxFuture<'_, Result<app::admin::FiringSummary, BackendError>> {
        Box::pin(async move {
            let who = self.caller()?;
            self.sentinel().firing(&who).await.map_err(refusal)
        })
    }

    fn ack_alert(
        &self,
        rule: String,
        minutes: Option<u64>,
    ) -> BoxFuture<'_, Result<(), BackendError>> {
        Box::pin(async move {
            let who = self.caller()?;
            let request = app::admin::AckRequest { minutes };
            self.sentinel()
                .ack_alert(&who, &rule, &request)
                .await
                .map_err(refusal)
        })
    }

    fn audit(
        &self,
        who: Option<String>,
        action: Option<String>,
        since_minutes: Option<u64>,
        before: Option<String>,
    ) -> BoxFuture<'_, Result<app::admin::AuditPage, BackendError>> {
        Box::pin(async move {
            let caller = self.caller()?;
            let since = since_minutes
                .filter(|m| *m > 0)
                .map(|m| crate::clock::now_ms().saturating_sub(m.min(10_000_000) * 60_000));
            let asked = crate::service::audit::query(
                who.as_deref(),
                action.as_deref(),
                since,
                None,
                before.as_deref(),
            )
            .map_err(refusal)?;
            self.sentinel()
                .audit_page(&caller, &asked, AUDIT_PAGE)
                .await
                .map_err(refusal)
        })
    }

    fn schedulers(
        &self,
        queue: Option<String>,
    ) -> BoxFuture<'_, Result<app::admin::SchedulerList, BackendError>> {
        Box::pin(async move {
            let who = self.caller()?;
            self.sentinel()
                .schedulers(&who, queue.as_deref())
                .await
                .map_err(refusal)
        })
    }

    fn scheduler_upsert(
        &self,
        queue: Option<String>,
        id: String,
        request: app::admin::SchedulerRequest,
    ) -> BoxFuture<'_, Result<(), BackendError>> {
        Box::pin(async move {
            let who = self.caller()?;
            self.sentinel()
                .upsert_scheduler(&who, queue.as_deref(), &id, &request)
                .await
                .map_err(refusal)
        })
    }

    fn scheduler_act(
        &self,
        queue: Option<String>,
        id: String,
        action: app::admin::SchedulerAction,
    ) -> BoxFuture<'_, Result<String, BackendError>> {
        Box::pin(async move {
            let who = self.caller()?;
            self.sentinel()
                .scheduler_action(&who, queue.as_deref(), &id, action)
                .await
                .map_err(refusal)
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_hostile_task_cookie_yields_only_job_ids_and_at_most_ten() {
        assert_eq!(super::remembered_in("7|a%20b|%E2%9C%93"), ["7", "a b", "✓"]);
        // Malformed escapes, ids that name no job, empty parts: dropped.
        assert_eq!(super::remembered_in("%zz|a%3Ab||%0A|%FF|8"), ["8"]);
        let many: Vec<String> = (0..500).map(|i| i.to_string()).collect();
        assert_eq!(
            super::remembered_in(&many.join("|")).len(),
            super::MAX_REMEMBERED
        );
        let huge = "x".repeat(100_000);
        assert!(
            super::remembered_in(&huge).is_empty(),
            "a 100 KB id is no job id"
        );
    }
}
