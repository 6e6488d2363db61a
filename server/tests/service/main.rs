//! The service, tested without HTTP: what each operation does, who may do it, what it costs and
//! what it records, by calling [`server::Sentinel`]'s methods directly against a real
//! `redis-server` of the test's own. The HTTP edge's own rules (status codes, JSON bodies,
//! headers, limits on what enters) are `tests/edge/`.

#[path = "../common/mod.rs"]
mod common;

pub use common::command_calls;

mod alerts;
mod audit;
mod discovery;
mod edit;
mod flows;
mod foreign;
mod history;
mod limits;
mod memory;
mod quota;
mod schedulers;
mod search;
mod tasks;

use std::sync::Arc;

use server::auth::{Credential, Grant, Principal};
use server::{AppState, Sentinel};
use support::RedisServer;
use tokio_util::sync::CancellationToken;

/// The settings of a deployment with access control on (tokens file, session secret) and
/// these extra flags.
pub fn guarded(
    dir: &std::path::Path,
    names: &[(&str, &str)],
    extra: &[&str],
) -> (Vec<String>, Vec<(String, String)>) {
    let (tokens_flag, tokens) = common::tokens_file(dir, names);
    let mut flags = vec![
        "--auth=on".to_string(),
        tokens_flag,
        "--session-secret=a-test-session-secret-of-at-least-32-chars".to_string(),
    ];
    flags.extend(extra.iter().map(|f| f.to_string()));
    (flags, tokens)
}

/// A connected service with these flags.
pub async fn service(
    redis: &RedisServer,
    flags: &[String],
) -> (Sentinel, AppState, CancellationToken) {
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let (state, shutdown) = common::connected(redis, &flags, None).await;
    (state.sentinel.clone(), state, shutdown)
}

/// A principal holding `grant` (`operator`, `operator@billing-*`), as a bearer token's holder
/// is identified; `home` is Sentinel's own queue (`sentinel:sentinel-tasks` by default).
pub fn holder(owner: &str, grant: &str) -> Principal {
    let grant: Grant = grant.parse().expect("a grant");
    let home_hidden = !grant.queues.allows("sentinel", "sentinel-tasks");
    Principal {
        owner: Arc::from(owner),
        role: grant.role,
        credential: Credential::Bearer,
        network: None,
        queues: grant.queues,
        home_hidden,
    }
}

/// A BullMQ queue of another program: `name` under prefix `bull`, with `jobs` jobs waiting.
pub async fn other_queue(redis: &RedisServer, name: &str, jobs: usize) -> bullmq::Queue {
    let opts = bullmq::QueueOptions::new()
        .connection(bullmq::options::RedisConnectionOptions::new().url(redis.url()))
        .prefix("bull".to_string());
    let queue = bullmq::Queue::with_options(name, opts)
        .await
        .expect("a queue");
    for n in 0..jobs {
        queue
            .add("charge", serde_json::json!({ "n": n }))
            .into_future()
            .await
            .expect("an add");
    }
    queue
}

/// Pause (`true`) or resume.
pub fn pause_if(paused: bool) -> app::admin::QueueAction {
    if paused {
        app::admin::QueueAction::Pause
    } else {
        app::admin::QueueAction::Resume
    }
}

/// What "the queue still works" means after an attack: a task is enqueued and read back,
/// the counts and readiness answer.
pub async fn still_works(sentinel: &Sentinel, who: &Principal) {
    let options = app::options::TaskOptions::default();
    let request = server::service::enqueue::EnqueueRequest {
        seconds: 1,
        options: &options,
        idempotency_key: None,
    };
    let id = sentinel
        .enqueue(who, request)
        .await
        .expect("an enqueue after the attack");
    let id = app::JobId::parse(&id).unwrap();
    let status = sentinel.status(who, &id).await.expect("its status");
    assert!(
        matches!(
            status.state,
            app::JobState::Waiting | app::JobState::Active | app::JobState::Completed
        ),
        "{status:?}"
    );
    let ready = sentinel.readiness().await;
    assert!(ready.redis && ready.ready, "{:?}", ready.reason);
}
