//! Operating the queue: job options on enqueue, cancel (of each state, and of a job running on
//! another process than the one asked), timeouts, job logs, and the admin API's reads and
//! actions. Real server processes on a real Redis.

use std::time::Duration;

use serde_json::Value;
use support::Sentinel;

pub(super) const LONG: Duration = Duration::from_secs(20);

pub(super) async fn post_json(url: &str, body: Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(url)
        .json(&body)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

pub(super) async fn post(url: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(url)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

pub(super) async fn get(url: &str) -> (u16, Value) {
    support::get_json(url).await
}

pub(super) async fn enqueue_with(server: &Sentinel, body: Value) -> String {
    let (status, answer) = post_json(&server.url("/tasks/enqueue"), body.clone()).await;
    assert_eq!(status, 201, "{body} → {answer}");
    answer["id"].as_str().expect("an id").to_string()
}

pub(super) async fn detail(server: &Sentinel, id: &str) -> Value {
    let (status, job) = get(&server.url(&format!("/admin/api/jobs/{id}"))).await;
    assert_eq!(status, 200, "{job}");
    job
}

mod jobs;
mod metrics;
mod search;
