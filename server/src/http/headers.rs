//! Security headers on every answer: a Content-Security-Policy the page works under (its one
//! inline script, Leptos's hydration loader, carries a fresh nonce per request), no MIME
//! sniffing, no framing, no referrer to other sites; and caching rules for the built files.

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use leptos::nonce::Nonce;

/// The policy of an answer that is no page: it may load and run nothing, nor be framed (what a
/// JSON answer, an event stream or a built file needs; short, as it rides on every enqueue).
const NOT_A_PAGE: &str = "default-src 'none'; frame-ancestors 'none'";

/// What a page's policy depends on.
#[derive(Debug, Clone)]
pub struct HeaderSettings {
    connect: String,
    /// Where this build's files are named from (`/pkg/<hash>/`), if they are.
    immutable: Option<String>,
}

impl HeaderSettings {
    /// The settings for a server whose development live-reload socket is on `reload_port`
    /// (`cargo leptos watch`), if any.
    /// Files under `built_root` (`/pkg/<hash of the build>`) are answered as never changing.
    pub fn new(reload_port: Option<u32>, built_root: Option<String>) -> Self {
        let connect = match reload_port {
            Some(port) => format!("'self' ws://127.0.0.1:{port} ws://localhost:{port}"),
            None => "'self'".to_string(),
        };
        Self {
            connect,
            immutable: built_root.map(|root| format!("{root}/")),
        }
    }

    /// Whether `path` is one of this build's files under its build's address.
    pub fn is_immutable(&self, path: &str) -> bool {
        self.immutable
            .as_deref()
            .is_some_and(|root| path.starts_with(root))
    }
}

/// A page's policy: its own files, its inline script by `nonce`, and the WASM it compiles.
fn page_policy(nonce: &Nonce, connect: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; \
         connect-src {connect}; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; \
         form-action 'self'"
    )
}

/// Whether a request may be answered with a page (and so needs a nonce for its script): any
/// request but those to the API, the server functions, the built files and the probes (a
/// sign-in form's `POST` answers a page). Every other answer gets [`NOT_A_PAGE`].
fn may_be_a_page(request: &Request) -> bool {
    const NOT_PAGES: [&str; 8] = [
        "/tasks/",
        "/admin/api/",
        "/api/",
        "/pkg/",
        "/metrics",
        "/healthz",
        "/readyz",
        "/openapi.json",
    ];
    !NOT_PAGES
        .iter()
        .any(|p| request.uri().path().starts_with(p))
}

/// The edge's step before the route (`http/edge.rs`): a request that may be answered with a
/// page gets a fresh nonce, in its extensions for Leptos (`leptos::nonce::use_nonce`).
pub fn nonce_for(request: &mut Request) -> Option<Nonce> {
    let nonce = may_be_a_page(request).then(Nonce::new)?;
    request.extensions_mut().insert(nonce.clone());
    Some(nonce)
}

/// The edge's step after the route: the headers, with the page's policy naming `nonce` when the
/// request got one; built files (`/pkg/`) get their caching rule.
pub fn add(settings: &HeaderSettings, nonce: Option<&Nonce>, path: &str, response: &mut Response) {
    let built_file = path.starts_with("/pkg/");
    let answered = response.status().is_success();
    let not_a_page = HeaderValue::from_static(NOT_A_PAGE);
    let csp = match nonce {
        // A nonce and a port are printable ASCII; were it not so, the page would load nothing.
        Some(nonce) => {
            HeaderValue::from_str(&page_policy(nonce, &settings.connect)).unwrap_or(not_a_page)
        }
        None => not_a_page,
    };
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    if built_file && settings.is_immutable(path) && answered {
        // Under this build's own address (`/pkg/<hash>/`): another build has another one.
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=31536000, immutable"),
        );
    } else if built_file {
        // The plain names stay the same across builds: the browser keeps them and asks
        // again with If-Modified-Since (ServeDir answers 304 while unchanged).
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    }
}
