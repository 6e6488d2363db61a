//! Security headers on every answer: a Content-Security-Policy the page works under (its one
//! inline script, Leptos's hydration loader, carries a fresh nonce per request), no MIME
//! sniffing, no framing, no referrer to other sites; and caching rules for the built files.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use leptos::nonce::Nonce;

/// What the policy depends on, and the policy of answers that are no page (made once).
#[derive(Debug, Clone)]
pub struct HeaderSettings {
    connect: String,
    static_policy: HeaderValue,
}

impl HeaderSettings {
    /// The settings for a server whose development live-reload socket is on `reload_port`
    /// (`cargo leptos watch`), if any.
    pub fn new(reload_port: Option<u32>) -> Self {
        let connect = match reload_port {
            Some(port) => format!("'self' ws://127.0.0.1:{port} ws://localhost:{port}"),
            None => "'self'".to_string(),
        };
        let static_policy = HeaderValue::from_str(&policy(None, &connect))
            .unwrap_or(HeaderValue::from_static("default-src 'self'"));
        Self {
            connect,
            static_policy,
        }
    }
}

fn policy(nonce: Option<&Nonce>, connect: &str) -> String {
    let scripts = match nonce {
        Some(nonce) => format!("'self' 'nonce-{nonce}' 'wasm-unsafe-eval'"),
        None => "'self' 'wasm-unsafe-eval'".to_string(),
    };
    format!(
        "default-src 'self'; script-src {scripts}; style-src 'self'; img-src 'self' data:; \
         connect-src {connect}; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; \
         form-action 'self'"
    )
}

/// Whether a request may be answered with a page (and so needs a nonce for its script): a
/// `GET` or `HEAD` of anything but the API, the server functions and the built files. Every
/// other answer gets the same policy without a nonce, made once (the hot path: an enqueue).
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
    matches!(
        *request.method(),
        axum::http::Method::GET | axum::http::Method::HEAD
    ) && !NOT_PAGES
        .iter()
        .any(|p| request.uri().path().starts_with(p))
}

/// Adds the headers; provides the request's nonce (for Leptos, through the request's
/// extensions) and names it in the policy.
pub async fn security_headers(
    State(settings): State<std::sync::Arc<HeaderSettings>>,
    mut request: Request,
    next: Next,
) -> Response {
    let nonce = may_be_a_page(&request).then(Nonce::new);
    if let Some(nonce) = &nonce {
        request.extensions_mut().insert(nonce.clone());
    }
    let is_pkg = request.uri().path().starts_with("/pkg/");
    let mut response = next.run(request).await;
    let csp = match &nonce {
        Some(nonce) => HeaderValue::from_str(&policy(Some(nonce), &settings.connect))
            .unwrap_or_else(|_| settings.static_policy.clone()),
        None => settings.static_policy.clone(),
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
    if is_pkg {
        // The built files keep their names across builds: the browser keeps them and asks
        // again with If-Modified-Since (ServeDir answers 304 while unchanged).
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    }
    response
}
