//! Metrics, bulk runs, a cancel across a cut line, foreign values in the statistics.

use std::time::Duration;

use serde_json::{Value, json};
use support::{RedisServer, Sentinel, SentinelOptions, eventually};

use super::*;

/// The venv's Python, where scripts/test installed the Prometheus project's parser.
fn python() -> std::path::PathBuf {
    match std::env::var_os("SCHEMATHESIS_BIN") {
        Some(bin) => std::path::PathBuf::from(bin).with_file_name("python"),
        None => std::path::PathBuf::from(std::env::var_os("HOME").expect("HOME"))
            .join(".local/share/sentinel-tools/venv/bin/python"),
    }
}

#[tokio::test]
async fn metrics_parse_as_prometheus_text_and_count_what_happened() {
    let redis = RedisServer::start().await;
    let server = Sentinel::start("sentinel", &redis.url(), SentinelOptions::default()).await;
    server.wait_ready().await;
    for _ in 0..2 {
        let id = server.enqueue(1).await;
        server.wait_state(&id, "completed", LONG).await;
    }
    let response = reqwest::get(server.url("/metrics")).await.unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("metrics.txt");
    std::fs::write(&file, &text).unwrap();
    // Every sample as [family, sample name, labels, value].
    let script = "import json, sys\n\
        from prometheus_client.openmetrics.parser import text_string_to_metric_families\n\
        out = []\n\
        for family in text_string_to_metric_families(open(sys.argv[1]).read()):\n\
        \x20   for s in family.samples:\n\
        \x20       out.append([family.name, s.name, s.labels, s.value])\n\
        print(json.dumps(out))\n";
    let output = std::process::Command::new(python())
        .arg("-c")
        .arg(script)
        .arg(&file)
        .output()
        .expect("python runs");
    assert!(
        output.status.success(),
        "the parser refused the text: {}\n{text}",
        String::from_utf8_lossy(&output.stderr)
    );
    let samples: Vec<(String, String, Value, f64)> =
        serde_json::from_slice(&output.stdout).expect("json");
    let value = |name: &str, labels: Value| {
        samples
            .iter()
            .filter(|(_, sample, l, _)| {
                sample == name
                    && labels
                        .as_object()
                        .unwrap()
                        .iter()
                        .all(|(k, v)| l.get(k) == Some(v))
            })
            .map(|s| s.3)
            .sum::<f64>()
    };
    assert_eq!(
        value(
            "sentinel_jobs_finished_total",
            json!({"name": "longTask", "outcome": "completed"})
        ),
        2.0,
        "{text}"
    );
    assert_eq!(
        value("sentinel_jobs", json!({"state": "completed"})),
        2.0,
        "{text}"
    );
    // Every queue on the Redis, labelled by prefix and name (here, Sentinel's own).
    let ours =
        |state: &str| json!({"prefix": "sentinel", "queue": "sentinel-tasks", "state": state});
    assert_eq!(
        value("sentinel_queue_jobs", ours("completed")),
        2.0,
        "{text}"
    );
    assert_eq!(
        value("sentinel_queue_finished_last_hour", ours("completed")),
        2.0,
        "{text}"
    );
    assert_eq!(
        value(
            "sentinel_queue_paused",
            json!({"prefix": "sentinel", "queue": "sentinel-tasks"})
        ),
        0.0,
        "{text}"
    );
    assert!(
        value(
            "sentinel_http_request_duration_seconds_count",
            json!({"route": "/tasks/enqueue", "status": "201", "method": "POST"})
        ) >= 2.0,
        "{text}"
    );
    assert!(
        value("sentinel_job_run_seconds_count", json!({})) >= 2.0,
        "{text}"
    );
    assert!(
        value("sentinel_redis_call_duration_seconds_count", json!({})) >= 1.0,
        "{text}"
    );
    assert!(
        samples.iter().any(|s| s.1 == "sentinel_sse_streams_open"),
        "{text}"
    );
    assert!(
        samples.iter().any(|s| s.1 == "sentinel_worker_busy_slots"),
        "{text}"
    );
}

#[tokio::test]
async fn bulk_actions_run_in_chunks_and_report_progress() {
    let redis = RedisServer::start().await;
    let server = Sentinel::start("sentinel", &redis.url(), SentinelOptions::default()).await;
    server.wait_ready().await;
    // 2,000 jobs no Sentinel worker runs: each fails at once.
    let producer = support::producer_queue(&redis).await;
    const JOBS: u64 = 2000;
    for chunk in 0..(JOBS / 500) {
        let jobs = (0..500)
            .map(|i| bullmq::BulkJob::new("sendEmail", json!({"n": chunk * 500 + i})))
            .collect();
        producer.add_bulk(jobs).await.expect("add jobs");
    }
    eventually(Duration::from_secs(60), "every job to fail", || async {
        let (_, page) = get(&server.url("/admin/api/jobs?state=failed&size=1")).await;
        (page["total"].as_u64() == Some(JOBS)).then_some(())
    })
    .await;
    // Paused, so the retried jobs stay waiting where we can count them.
    assert_eq!(post(&server.url("/admin/api/queue/pause")).await.0, 200);

    let bulk = server.url("/admin/api/jobs/bulk");
    let (status, started) = post_json(&bulk, json!({"action": "retry", "q": "state:failed"})).await;
    assert_eq!(status, 202, "{started}");
    let run = started["bulk"].as_str().expect("a run id").to_string();
    let done = eventually(
        Duration::from_secs(60),
        "the bulk retry to finish",
        || async {
            let (_, progress) = get(&server.url(&format!("/admin/api/bulk/{run}"))).await;
            (progress["finished"] == true).then_some(progress)
        },
    )
    .await;
    assert_eq!(
        (done["total"].as_u64(), done["done"].as_u64()),
        (Some(JOBS), Some(JOBS)),
        "{done}"
    );
    assert_eq!(done["error"], Value::Null, "{done}");
    let (_, failed) = get(&server.url("/admin/api/jobs?state=failed&size=1")).await;
    assert_eq!(failed["total"], 0, "{failed}");
    let (_, waiting) = get(&server.url("/admin/api/jobs?state=waiting&size=10")).await;
    assert_eq!(waiting["total"], JOBS, "{waiting}");

    // By ids: cancel ten waiting jobs (removed); an unknown id is skipped.
    let mut ids: Vec<Value> = waiting["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].clone())
        .collect();
    ids.push(json!("no-such-job"));
    let (status, started) = post_json(&bulk, json!({"action": "cancel", "ids": ids})).await;
    assert_eq!(status, 202, "{started}");
    let run = started["bulk"].as_str().unwrap().to_string();
    let done = eventually(LONG, "the bulk cancel to finish", || async {
        let (_, progress) = get(&server.url(&format!("/admin/api/bulk/{run}"))).await;
        (progress["finished"] == true).then_some(progress)
    })
    .await;
    assert_eq!(
        (done["done"].as_u64(), done["skipped"].as_u64()),
        (Some(10), Some(1)),
        "{done}"
    );
    let (_, waiting) = get(&server.url("/admin/api/jobs?state=waiting&size=1")).await;
    assert_eq!(waiting["total"], JOBS - 10, "{waiting}");

    // Refusals name the field.
    for (body, field) in [
        (json!({"action": "explode", "ids": ["1"]}), "action"),
        (json!({"action": "retry", "ids": []}), "ids"),
        (json!({"action": "retry", "ids": ["a:b"]}), "ids"),
        (json!({"action": "retry", "q": "foo:x"}), "q"),
        (json!({"action": "retry"}), "ids"),
    ] {
        let (status, answer) = post_json(&bulk, body.clone()).await;
        assert_eq!(
            (status, answer["field"].as_str()),
            (400, Some(field)),
            "{body} → {answer}"
        );
    }
    assert_eq!(get(&server.url("/admin/api/bulk/nope")).await.0, 404);
    // Its own body limit, named when hit (a declared length over it is refused before any byte).
    let answer = support::raw_exchange(
        &server,
        b"POST /admin/api/jobs/bulk HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1100000\r\n\r\n",
        LONG,
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("MAX_BULK_BODY_BYTES"), "{answer}");
}

#[tokio::test]
async fn a_cancel_asked_while_the_workers_line_is_cut_stops_the_job_when_it_is_back() {
    let redis = RedisServer::start().await;
    let proxy = support::CuttableProxy::start(redis.port()).await;
    let web = Sentinel::start("web", &redis.url(), SentinelOptions::for_role("web")).await;
    // The worker reaches Redis only through the proxy.
    let worker = Sentinel::start(
        "worker",
        &proxy.url(),
        SentinelOptions {
            tick_ms: 200,
            ..SentinelOptions::for_role("worker")
        },
    )
    .await;
    web.wait_ready().await;
    worker.wait_ready().await;
    let id = enqueue_with(&web, json!({"seconds": 100})).await;
    eventually(LONG, "the job to run", || async {
        let (_, status) = web.status(&id).await;
        (status["progress"]["step"].as_u64().unwrap_or(0) >= 1).then_some(())
    })
    .await;

    proxy.cut();
    let (status, answer) = post(&web.url(&format!("/admin/api/jobs/{id}/cancel"))).await;
    assert_eq!(
        (status, answer["result"].as_str()),
        (200, Some("requested")),
        "{answer}"
    );
    // Cut off, the worker cannot see the cancel: the job stays active (its lock lasts 30 s).
    let cut_at = std::time::Instant::now();
    while cut_at.elapsed() < Duration::from_millis(1500) {
        let (_, status) = web.status(&id).await;
        assert_eq!(status["state"], "active", "{status}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    proxy.restore();
    let status = web.wait_state(&id, "failed", LONG).await;
    assert_eq!(status["failedReason"], "cancelled", "{status}");
    assert_eq!(status["attemptsMade"], 1, "{status}");
}

#[tokio::test]
async fn foreign_values_in_the_stats_and_worker_hashes_are_skipped() {
    let redis = RedisServer::start().await;
    let server = Sentinel::start("sentinel", &redis.url(), SentinelOptions::default()).await;
    server.wait_ready().await;
    let id = server.enqueue(1).await;
    server.wait_state(&id, "completed", LONG).await;
    let mut conn = redis.connection();
    let minute = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
        / 60_000;
    let stats = format!("sentinel:sentinel-tasks:stats:{minute}");
    let workers = "sentinel:sentinel-tasks:workers";
    let _: () = redis::pipe()
        .cmd("HSET")
        .arg(&stats)
        .arg("completed")
        .arg("lots")
        .ignore()
        .cmd("HSET")
        .arg(&stats)
        .arg("w99999999999")
        .arg(5)
        .ignore()
        .cmd("HSET")
        .arg(&stats)
        .arg("r4294967296")
        .arg(5)
        .ignore()
        .cmd("HSET")
        .arg(&stats)
        .arg(vec![0xffu8, 0xfe])
        .arg(vec![0xffu8])
        .ignore()
        .cmd("HSET")
        .arg(workers)
        .arg("intruder")
        .arg("not json")
        .ignore()
        .cmd("HSET")
        .arg(workers)
        .arg("old")
        .arg(r#"{"host":"h","pid":1,"concurrency":1,"busy":0,"seenAt":1}"#)
        .ignore()
        .cmd("HSET")
        .arg(workers)
        .arg("x".repeat(100_000))
        .arg(r#"{"host":"h","pid":1,"concurrency":1,"busy":0,"seenAt":99999999999999}"#)
        .ignore()
        .query(&mut conn)
        .unwrap();
    let (status, report) = get(&server.url("/admin/api/metrics?minutes=2")).await;
    assert_eq!(status, 200, "{report}");
    assert!(
        report["total"]["waitMs"]["p99"].as_u64() < Some(1_000_000),
        "{report}"
    );
    let (status, list) = get(&server.url("/admin/api/workers")).await;
    assert_eq!(status, 200, "{list}");
    let names: Vec<&str> = list["workers"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|w| w["name"].as_str())
        .collect();
    assert!(
        !names.contains(&"intruder") && !names.contains(&"old"),
        "{names:?}"
    );
    assert!(names.iter().all(|n| n.len() <= 256), "names are cut");
}
