//! The page's calls to its server functions, made with the browser's `fetch`.
//!
//! Each call is what the function's generated stub sends: its arguments form-encoded (the
//! bodies are built in [`crate::home::api`], next to the functions, and unit-tested against the
//! server's own decoding), POSTed to the function's path, the JSON answer read as
//! [`JsonText`](crate::home::api::JsonText) reads it. The server side is the server function itself,
//! unchanged. The stubs' own transport (`server_fn`'s browser client: request and response
//! wrappers, streams, its error encoding) and `serde_qs` were about 16 KB gzip of the home
//! page's WASM for what these few lines do; the home page makes only these calls.

use leptos::server_fn::ServerFn;
use serde::de::DeserializeOwned;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// Why a call got no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallError {
    /// The request did not reach the server (network down, server stopped).
    Unreachable,
    /// The server answered with an error (or an answer that does not read).
    Failed,
}

/// Calls the server function `F` with its arguments form-encoded in `body`.
pub async fn call<F>(body: crate::model::url::Form) -> Result<F::Output, CallError>
where
    F: ServerFn,
    F::Output: DeserializeOwned,
{
    let text = post(F::PATH, &body.into_body()).await?;
    serde_json::from_str(&text).map_err(|_| CallError::Failed)
}

/// POSTs a form-encoded `body` to `path`; the answer's text, when its status is a success.
async fn post(path: &str, body: &str) -> Result<String, CallError> {
    let unreachable = |_: JsValue| CallError::Unreachable;
    let window = web_sys::window().ok_or(CallError::Unreachable)?;
    let headers = web_sys::Headers::new().map_err(unreachable)?;
    headers
        .set("Content-Type", "application/x-www-form-urlencoded")
        .map_err(unreachable)?;
    headers
        .set("Accept", "application/json")
        .map_err(unreachable)?;
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_headers(&headers);
    init.set_body(&JsValue::from_str(body));
    let response: web_sys::Response = JsFuture::from(window.fetch_with_str_and_init(path, &init))
        .await
        .map_err(unreachable)?
        .dyn_into()
        .map_err(unreachable)?;
    // A body cut off mid-way is as good as no answer.
    let text = JsFuture::from(response.text().map_err(unreachable)?)
        .await
        .map_err(unreachable)?
        .as_string()
        .ok_or(CallError::Unreachable)?;
    if response.ok() {
        Ok(text)
    } else {
        Err(CallError::Failed)
    }
}
