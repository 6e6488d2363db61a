//! What every in-process test uses: a router on a Redis of the test's own, requests as `serve`
//! hands them over, answers read as JSON, and the foreign programs some tests need (queues of
//! another prefix, BullMQ workers of the engine).

pub use std::net::SocketAddr;

pub use crate::common::command_calls;

pub use std::sync::Arc;
pub use std::time::Duration;

pub use axum::body::Body;
pub use axum::extract::ConnectInfo;
pub use axum::http::{Request, StatusCode};
pub use clap::Parser;
pub use http_body_util::BodyExt;
pub use serde_json::Value;
pub use support::{RedisServer, eventually};
pub use tokio_util::sync::CancellationToken;
pub use tower::ServiceExt;

pub use server::{AppState, Config};

pub use crate::common::tokens_file;

/// A router with its state on `redis`, with these settings (flags, as the binary takes them);
/// returns once the services are connected.
pub async fn router(
    redis: &RedisServer,
    flags: &[&str],
) -> (axum::Router, AppState, CancellationToken) {
    router_running(redis, flags, None).await
}

/// [`router`], its workers (if the flags' role runs any) running `processors` by job name.
pub async fn router_running(
    redis: &RedisServer,
    flags: &[&str],
    processors: Option<server::worker::processors::Processors>,
) -> (axum::Router, AppState, CancellationToken) {
    let (state, shutdown) = crate::common::connected(redis, flags, processors).await;
    (server::app(state.clone()), state, shutdown)
}

/// A request from a loopback client, as `serve` would hand it to the router.
pub fn request(method: &str, path: &str) -> axum::http::request::Builder {
    Request::builder()
        .method(method)
        .uri(path)
        .header("host", "127.0.0.1:3001")
        .extension(ConnectInfo(
            "127.0.0.1:40000".parse::<SocketAddr>().unwrap(),
        ))
}

/// The status and the JSON body of an answer.
pub async fn call(router: &axum::Router, request: Request<Body>) -> (StatusCode, Value) {
    let response = router.clone().oneshot(request).await.expect("an answer");
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("a body")
        .to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

pub fn json(body: &str) -> Body {
    Body::from(body.to_string())
}

/// A router with access control on and a token per role (`sub`, `view`, `op`, `boss`); the
/// tokens by name.
pub async fn guarded_router(
    redis: &RedisServer,
    dir: &std::path::Path,
) -> (axum::Router, Vec<(String, String)>, CancellationToken) {
    let (tokens_flag, tokens) = tokens_file(
        dir,
        &[
            ("sub", "submitter"),
            ("view", "viewer"),
            ("op", "operator"),
            ("boss", "admin"),
        ],
    );
    let (router, _state, shutdown) = router(
        redis,
        &[
            "--auth=on",
            &tokens_flag,
            "--session-secret=a-test-session-secret-of-at-least-32-chars",
        ],
    )
    .await;
    (router, tokens, shutdown)
}

/// As [`call`], for answers that may be streams (the event stream never ends): the status, and
/// the body only when the answer is JSON.
pub async fn call_head(router: &axum::Router, request: Request<Body>) -> (StatusCode, Value) {
    let response = router.clone().oneshot(request).await.expect("an answer");
    let status = response.status();
    let json = response
        .headers()
        .get("content-type")
        .is_some_and(|kind| kind.as_bytes().starts_with(b"application/json"));
    if !json {
        return (status, Value::Null);
    }
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("a body")
        .to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// A body of `total` bytes sent in 64 KiB chunks; the counter says how much the router pulled.
pub fn counted_body(total: usize) -> (Body, Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::Ordering;
    let pulled = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = pulled.clone();
    let chunk = axum::body::Bytes::from(vec![b' '; 64 * 1024]);
    let stream = futures::stream::unfold(0usize, move |sent| {
        let chunk = chunk.clone();
        let counter = counter.clone();
        async move {
            if sent >= total {
                return None;
            }
            counter.fetch_add(chunk.len(), Ordering::Relaxed);
            Some((Ok::<_, std::io::Error>(chunk.clone()), sent + chunk.len()))
        }
    });
    (Body::from_stream(stream), pulled)
}

/// A BullMQ queue of another program on the test's Redis (`bull:emails`), made with the
/// engine as any producer makes one: two waiting jobs and one delayed; their ids.
pub async fn foreign_queue(
    redis: &RedisServer,
    prefix: &str,
    name: &str,
) -> (bullmq::Queue, Vec<String>) {
    let opts = bullmq::QueueOptions::new()
        .connection(bullmq::options::RedisConnectionOptions::new().url(redis.url()))
        .prefix(prefix.to_string());
    let queue = bullmq::Queue::with_options(name, opts)
        .await
        .expect("a queue");
    let mut ids = Vec::new();
    for n in 0..2 {
        let job = queue
            .add("send", serde_json::json!({ "n": n }))
            .into_future()
            .await
            .expect("an add");
        ids.push(job.id().to_string());
    }
    let later = queue
        .add("send", serde_json::json!({ "n": 2 }))
        .delay(Duration::from_secs(3600))
        .into_future()
        .await
        .expect("a delayed add");
    ids.push(later.id().to_string());
    (queue, ids)
}

/// A job's state as the engine reads it.
pub async fn bullmq_state(engine: &bullmq::Queue, id: &str) -> String {
    format!("{:?}", engine.get_job_state(id).await.unwrap()).to_lowercase()
}

/// The codes of a job's "why" answer, in order.
/// A worker of the `bullmq` crate on queue `bull:<name>`: a job with `"fail": true` fails
/// ("card declined"), one with `"hold": true` runs until `held` is notified, others complete.
pub async fn fail_or_hold_worker(
    redis: &RedisServer,
    name: &str,
    concurrency: usize,
    held: Arc<tokio::sync::Notify>,
) -> bullmq::Worker {
    let worker_opts = bullmq::WorkerOptions::default()
        .connection(bullmq::options::RedisConnectionOptions::new().url(redis.url()))
        .prefix("bull")
        .concurrency(concurrency);
    bullmq::Worker::with_options(
        name,
        move |job: bullmq::Job, _token| {
            let held = held.clone();
            async move {
                if job.data()["fail"] == true {
                    return Err(bullmq::Error::ProcessingError("card declined".into()));
                }
                if job.data()["hold"] == true {
                    held.notified().await;
                }
                Ok(serde_json::Value::Null)
            }
        },
        worker_opts,
    )
    .await
    .unwrap()
}

pub async fn why_codes(router: &axum::Router, id: &str, queue: &str) -> Vec<String> {
    let (status, report) = call(
        router,
        request("GET", &format!("/admin/api/jobs/{id}/why?queue={queue}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    report["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert!(!r["message"].as_str().unwrap().is_empty(), "{report}");
            r["code"].as_str().unwrap().to_string()
        })
        .collect()
}

/// A processor of the test's own: doubles `w`, reporting its progress on the way.
pub struct Resize;

impl server::worker::processors::Processor for Resize {
    fn run(
        &self,
        job: server::worker::processors::JobInput,
    ) -> server::worker::processors::Attempt {
        Box::pin(async move {
            let Some(w) = job.data["w"].as_u64() else {
                return Err(bullmq::Error::Unrecoverable("w must be a number".into()));
            };
            job.progress
                .write(&serde_json::json!({"step": "scaling"}), "scaling")
                .await
                .map_err(|e| bullmq::Error::ProcessingError(e.to_string()))?;
            Ok(serde_json::json!({ "job": job.id, "name": job.name, "w": w * 2 }))
        })
    }
}
