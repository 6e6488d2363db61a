//! The page at `/` until the browser UI lands: what Sentinel is and how to use its API.

use axum::response::Html;

/// `GET /`.
pub async fn index() -> Html<&'static str> {
    Html(concat!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">",
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
        "<title>Sentinel</title></head><body><main><h1>Sentinel</h1>",
        "<p>Long-running tasks on a BullMQ queue.</p><ul>",
        "<li><code>POST /tasks/enqueue?seconds=N</code></li>",
        "<li><code>GET /tasks/status/:id</code></li>",
        "<li><code>GET /tasks/counts</code></li>",
        "<li><code>GET /tasks/stream</code> (Server-Sent Events)</li>",
        "</ul></main></body></html>"
    ))
}
