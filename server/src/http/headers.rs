//! Security headers on every answer: a Content-Security-Policy the page works under (its one
//! inline script, Leptos's hydration loader, carries a fresh nonce per request), no MIME
//! sniffing, no framing, no referrer to other sites; and caching rules for the built files.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use leptos::nonce::Nonce;

/// What the policy depends on.
#[derive(Debug, Clone)]
pub struct HeaderSettings {
    /// `cargo leptos watch`'s live-reload socket port, when running in development.
    pub reload_port: Option<u32>,
}

/// Adds the headers; provides the request's nonce (for Leptos, through the request's
/// extensions) and names it in the policy.
pub async fn security_headers(
    State(settings): State<std::sync::Arc<HeaderSettings>>,
    mut request: Request,
    next: Next,
) -> Response {
    let nonce = Nonce::new();
    request.extensions_mut().insert(nonce.clone());
    let is_pkg = request.uri().path().starts_with("/pkg/");
    let mut response = next.run(request).await;
    let connect = match settings.reload_port {
        Some(port) => format!("'self' ws://127.0.0.1:{port} ws://localhost:{port}"),
        None => "'self'".to_string(),
    };
    let policy = format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src {connect}; object-src 'none'; \
         base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    );
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&policy) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
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
