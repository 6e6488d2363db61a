//! Operating the queue: job options on enqueue, cancel (of each state, and of a job running on
//! another process than the one asked), timeouts, job logs, and the admin API's reads and
//! actions. Real server processes on a real Redis.

use std::time::Duration;

use serde_json::{Value, json};
use support::{RedisServer, Sentinel, SentinelOptions, eventually};

const LONG: Duration = Duration::from_secs(20);

async fn post_json(url: &str, body: Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(url)
        .json(&body)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn post(url: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(url)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn get(url: &str) -> (u16, Value) {
    support::get_json(url).await
}

async fn enqueue_with(server: &Sentinel, body: Value) -> String {
    let (status, answer) = post_json(&server.url("/tasks/enqueue"), body.clone()).await;
    assert_eq!(status, 201, "{body} → {answer}");
    answer["id"].as_str().expect("an id").to_string()
}

async fn detail(server: &Sentinel, id: &str) -> Value {
    let (status, job) = get(&server.url(&format!("/admin/api/jobs/{id}"))).await;
    assert_eq!(status, 200, "{job}");
    job
}

#[tokio::test]
async fn each_option_is_taken_and_each_bad_value_is_refused_by_name() {
    let redis = RedisServer::start().await;
    let server = Sentinel::start("sentinel", &redis.url(), SentinelOptions::default()).await;
    server.wait_ready().await;
    let url = server.url("/tasks/enqueue");

    let bad = [
        (json!({"seconds": 1, "delay": -5}), "delay"),
        (json!({"seconds": 1, "delay": "soon"}), "delay"),
        (json!({"seconds": 1, "priority": 3_000_000}), "priority"),
        (json!({"seconds": 1, "attempts": 0}), "attempts"),
        (json!({"seconds": 1, "attempts": 1000}), "attempts"),
        (
            json!({"seconds": 1, "backoff": {"type": "linear", "delay": 10}}),
            "backoff.type",
        ),
        (
            json!({"seconds": 1, "backoff": {"type": "fixed", "delay": -1}}),
            "backoff.delay",
        ),
        (json!({"seconds": 1, "jobId": "a:b"}), "jobId"),
        (json!({"seconds": 1, "jobId": "123"}), "jobId"),
        (json!({"seconds": 1, "timeoutMs": 0}), "timeoutMs"),
    ];
    for (body, field) in bad {
        let (status, answer) = post_json(&url, body.clone()).await;
        assert_eq!(status, 400, "{body} → {answer}");
        assert_eq!(answer["field"], field, "{body} → {answer}");
        assert_eq!(answer["error"], "invalid_option", "{answer}");
    }
    // The query takes the simple ones too.
    let (status, answer) = post(&format!("{url}?seconds=1&priority=x")).await;
    assert_eq!(
        (status, answer["field"].as_str()),
        (400, Some("priority")),
        "{answer}"
    );

    // delay → delayed, with when it becomes due.
    let delayed = enqueue_with(&server, json!({"seconds": 1, "delay": 60_000})).await;
    let (_, status) = server.status(&delayed).await;
    assert_eq!(status["state"], "delayed", "{status}");
    let due = status["delayedUntil"].as_u64().expect("delayedUntil");
    let queued = status["timestamp"].as_u64().expect("timestamp");
    assert!((59_000..=61_000).contains(&(due - queued)), "{status}");

    // priority, attempts, backoff: stored as BullMQ stores them.
    let prioritized = enqueue_with(
        &server,
        json!({"seconds": 1, "priority": 5, "attempts": 3, "backoff": {"type": "exponential", "delay": 100}, "delay": 60_000}),
    )
    .await;
    let job = detail(&server, &prioritized).await;
    assert_eq!(job["opts"]["attempts"], 3, "{job}");
    assert_eq!(job["opts"]["priority"], 5, "{job}");
    assert_eq!(
        job["opts"]["backoff"],
        json!({"type": "exponential", "delay": 100}),
        "{job}"
    );

    // jobId: a second add returns the existing job (an Idempotency-Key beside it changes
    // nothing); an empty one is refused.
    let first = enqueue_with(&server, json!({"seconds": 1, "jobId": "order-17"})).await;
    let again = enqueue_with(&server, json!({"seconds": 5, "jobId": "order-17"})).await;
    assert_eq!((first.as_str(), again.as_str()), ("order-17", "order-17"));
    let both = reqwest::Client::new()
        .post(&url)
        .header("idempotency-key", "k1")
        .json(&json!({"seconds": 1, "jobId": "order-17"}))
        .send()
        .await
        .unwrap();
    assert_eq!(both.status(), 201);
    let (status, answer) = post_json(&url, json!({"seconds": 1, "jobId": ""})).await;
    assert_eq!(
        (status, answer["field"].as_str()),
        (400, Some("jobId")),
        "{answer}"
    );
    server.wait_state("order-17", "completed", LONG).await;
    let job = detail(&server, "order-17").await;
    assert_eq!(job["data"]["seconds"], 1, "the first add's job: {job}");
}

#[tokio::test]
async fn timeouts_stop_the_job_and_retry_while_attempts_remain() {
    let redis = RedisServer::start().await;
    let server = Sentinel::start("sentinel", &redis.url(), SentinelOptions::default()).await;
    server.wait_ready().await;
    // 40 ticks of 50 ms = 2 s, stopped after 300 ms.
    let once = enqueue_with(&server, json!({"seconds": 40, "timeoutMs": 300})).await;
    let twice = enqueue_with(
        &server,
        json!({"seconds": 40, "timeoutMs": 300, "attempts": 2}),
    )
    .await;
    let status = server.wait_state(&once, "failed", LONG).await;
    assert_eq!(status["failedReason"], "timed out after 300 ms", "{status}");
    assert_eq!(status["attemptsMade"], 1, "{status}");
    let progress = status["progress"]["step"].as_u64().unwrap_or(0);
    assert!(progress < 40, "stopped before the end: {status}");
    let status = server.wait_state(&twice, "failed", LONG).await;
    assert_eq!(status["failedReason"], "timed out after 300 ms", "{status}");
    assert_eq!(status["attemptsMade"], 2, "retried once: {status}");
}

#[tokio::test]
async fn a_server_wide_timeout_applies_to_jobs_that_give_none() {
    let redis = RedisServer::start().await;
    let opts = SentinelOptions {
        env: vec![("JOB_TIMEOUT_MS".into(), "250".into())],
        ..SentinelOptions::default()
    };
    let server = Sentinel::start("sentinel", &redis.url(), opts).await;
    server.wait_ready().await;
    let id = server.enqueue(40).await;
    let status = server.wait_state(&id, "failed", LONG).await;
    assert_eq!(status["failedReason"], "timed out after 250 ms", "{status}");
}

#[tokio::test]
async fn cancel_takes_a_job_out_of_each_state_and_stops_one_running_on_another_process() {
    let redis = RedisServer::start().await;
    // The web process takes the cancel; the job runs on a worker process.
    let web = Sentinel::start("web", &redis.url(), SentinelOptions::for_role("web")).await;
    let worker = Sentinel::start(
        "worker",
        &redis.url(),
        SentinelOptions {
            tick_ms: 200,
            ..SentinelOptions::for_role("worker")
        },
    )
    .await;
    web.wait_ready().await;
    worker.wait_ready().await;
    let cancel = |id: &str| {
        let url = web.url(&format!("/admin/api/jobs/{id}/cancel"));
        async move { post(&url).await }
    };

    let delayed = enqueue_with(&web, json!({"seconds": 1, "delay": 60_000})).await;
    let (status, answer) = cancel(&delayed).await;
    assert_eq!(
        (status, answer["result"].as_str()),
        (200, Some("done")),
        "{answer}"
    );
    assert_eq!(
        web.status(&delayed).await.0,
        404,
        "a cancelled delayed job is gone"
    );

    // Running: attempts left, yet it ends failed "cancelled" within a tick, not retried.
    let running = enqueue_with(&web, json!({"seconds": 50, "attempts": 3})).await;
    eventually(LONG, "the job to run", || async {
        let (_, status) = web.status(&running).await;
        (status["progress"]["step"].as_u64().unwrap_or(0) >= 1).then_some(())
    })
    .await;
    let asked = std::time::Instant::now();
    let (status, answer) = cancel(&running).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["result"], "requested", "{answer}");
    let status = web.wait_state(&running, "failed", LONG).await;
    let took = asked.elapsed();
    assert_eq!(status["failedReason"], "cancelled", "{status}");
    assert_eq!(status["attemptsMade"], 1, "not retried: {status}");
    assert!(took < Duration::from_millis(1500), "stopped after {took:?}");
    let step = status["progress"]["step"].as_u64().unwrap_or(0);
    assert!(step < 50, "{status}");

    // Finished: 409 with the state.
    let (status, answer) = cancel(&running).await;
    assert_eq!(status, 409, "{answer}");
    assert_eq!(answer["state"], "failed", "{answer}");
    // Unknown: 404.
    assert_eq!(cancel("no-such-job").await.0, 404);
}

#[tokio::test]
async fn each_tick_is_logged_and_the_admin_api_lists_shows_and_acts() {
    let redis = RedisServer::start().await;
    let server = Sentinel::start("sentinel", &redis.url(), SentinelOptions::default()).await;
    server.wait_ready().await;
    let done = server.enqueue(3).await;
    server.wait_state(&done, "completed", LONG).await;
    let job = detail(&server, &done).await;
    assert_eq!(
        job["logs"],
        json!(["tick 1/3", "tick 2/3", "tick 3/3"]),
        "{job}"
    );
    assert_eq!(job["logCount"], 3);
    assert_eq!(job["state"], "completed");
    assert_eq!(job["name"], "longTask");
    assert!(
        job["processedBy"]
            .as_str()
            .unwrap_or("")
            .starts_with("sentinel@"),
        "{job}"
    );
    assert!(
        job["finishedOn"].as_u64() >= job["processedOn"].as_u64(),
        "{job}"
    );

    // A delayed job cannot be retried but can be promoted; once completed it can be retried.
    let bad = enqueue_with(
        &server,
        json!({"seconds": 1, "jobId": "later", "delay": 60_000}),
    )
    .await;
    let (status, answer) = post(&server.url(&format!("/admin/api/jobs/{bad}/retry"))).await;
    assert_eq!(
        (status, answer["state"].as_str()),
        (409, Some("delayed")),
        "{answer}"
    );
    let (status, answer) = post(&server.url(&format!("/admin/api/jobs/{bad}/promote"))).await;
    assert_eq!(status, 200, "{answer}");
    server.wait_state(&bad, "completed", LONG).await;
    let (status, answer) = post(&server.url(&format!("/admin/api/jobs/{bad}/retry"))).await;
    assert_eq!(status, 200, "{answer}");
    eventually(LONG, "the retried job to complete again", || async {
        let job = detail(&server, &bad).await;
        (job["state"] == "completed" && job["attemptsStarted"].as_u64() >= Some(2)).then_some(())
    })
    .await;

    // Lists: by state, paged, newest first for finished jobs, with the total.
    for _ in 0..4 {
        let id = server.enqueue(1).await;
        server.wait_state(&id, "completed", LONG).await;
    }
    let (status, page) = get(&server.url("/admin/api/jobs?state=completed&size=2&page=0")).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["total"], 6, "{page}");
    let jobs = page["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 2);
    assert!(
        jobs[0]["finishedOn"].as_u64() >= jobs[1]["finishedOn"].as_u64(),
        "{page}"
    );
    assert_eq!(jobs[0]["state"], "completed");
    let (_, last) = get(&server.url("/admin/api/jobs?state=completed&size=2&page=2")).await;
    assert_eq!(last["jobs"].as_array().unwrap().len(), 2, "{last}");
    let (_, beyond) = get(&server.url("/admin/api/jobs?state=completed&size=2&page=3")).await;
    assert_eq!(beyond["jobs"], json!([]), "{beyond}");
    let (_, found) = get(&server.url(&format!("/admin/api/jobs?q=id:{done}"))).await;
    assert_eq!(
        (found["total"].as_u64(), found["jobs"][0]["id"].as_str()),
        (Some(1), Some(done.as_str())),
        "{found}"
    );
    for (query, field) in [
        ("state=nope", "state"),
        ("size=101", "size"),
        ("page=x", "page"),
        ("q=foo:x", "q"),
    ] {
        let (status, answer) = get(&server.url(&format!("/admin/api/jobs?{query}"))).await;
        assert_eq!(
            (status, answer["field"].as_str()),
            (400, Some(field)),
            "{query}: {answer}"
        );
    }

    // Remove; clean with a dry run first.
    let (status, _) = post(&server.url(&format!("/admin/api/jobs/{done}/remove"))).await;
    assert_eq!(status, 200);
    assert_eq!(server.status(&done).await.0, 404);
    let clean = server.url("/admin/api/queue/clean");
    let (status, dry) = post_json(&clean, json!({"state": "completed", "dryRun": true})).await;
    assert_eq!((status, dry["count"].as_u64()), (200, Some(5)), "{dry}");
    let (_, still) = get(&server.url("/admin/api/jobs?state=completed")).await;
    assert_eq!(still["total"], 5, "a dry run removes nothing");
    let (_, cleaned) = post_json(&clean, json!({"state": "completed", "limit": 3})).await;
    assert_eq!(cleaned["count"], 3, "{cleaned}");
    let (_, left) = get(&server.url("/admin/api/jobs?state=completed")).await;
    assert_eq!(left["total"], 2, "{left}");
    let (status, answer) = post_json(&clean, json!({"state": "waiting"})).await;
    assert_eq!(
        (status, answer["field"].as_str()),
        (400, Some("state")),
        "{answer}"
    );

    // Pause: nothing runs; resume: it runs.
    let (status, _) = post(&server.url("/admin/api/queue/pause")).await;
    assert_eq!(status, 200);
    let held = server.enqueue(1).await;
    let (_, page) = get(&server.url("/admin/api/jobs?state=waiting")).await;
    assert!(
        page["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|j| j["id"] == held.as_str()),
        "{page}"
    );
    let (status, _) = post(&server.url("/admin/api/queue/resume")).await;
    assert_eq!(status, 200);
    server.wait_state(&held, "completed", LONG).await;

    // Workers: this process, with its concurrency and busy slots.
    let (status, list) = get(&server.url("/admin/api/workers")).await;
    assert_eq!(status, 200, "{list}");
    let ours = list["workers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["kind"] == "sentinel")
        .cloned()
        .unwrap_or_else(|| panic!("no Sentinel worker listed: {list}"));
    assert_eq!(ours["concurrency"], 3, "{ours}");
    assert_eq!(ours["pid"], server.pid(), "{ours}");
    assert!(ours["busy"].as_u64().is_some(), "{ours}");

    // Metrics: the jobs of this test, counted per minute with run time percentiles (written
    // once a second by the worker).
    let report = eventually(LONG, "the metrics to count the jobs", || async {
        let (_, report) = get(&server.url("/admin/api/metrics?minutes=5")).await;
        (report["total"]["completed"].as_u64() >= Some(8)).then_some(report)
    })
    .await;
    assert_eq!(
        report["minutes"].as_array().map(Vec::len),
        Some(5),
        "{report}"
    );
    let p50 = report["total"]["runMs"]["p50"]
        .as_u64()
        .expect("a run time median");
    // One-tick tasks of 50 ms: the median's bucket is 50 ms to 62 ms.
    assert!((50..=70).contains(&p50), "{report}");
    let (status, answer) = get(&server.url("/admin/api/metrics?minutes=0")).await;
    assert_eq!(
        (status, answer["field"].as_str()),
        (400, Some("minutes")),
        "{answer}"
    );
}

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

/// Every page of a search, followed through its cursors: the ids, in order.
async fn all_pages(server: &Sentinel, q: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor = String::new();
    for _ in 0..1000 {
        let url = server.url(&format!(
            "/admin/api/jobs?size=100&q={}{cursor}",
            app::url::encode(q)
        ));
        let (status, page) = get(&url).await;
        assert_eq!(status, 200, "{page}");
        ids.extend(
            page["jobs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|j| j["id"].as_str().unwrap().to_string()),
        );
        match page["next"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => {
                assert_eq!(page["complete"], true, "{page}");
                return ids;
            }
        }
    }
    panic!("the search of {q:?} never ended");
}

async fn search(server: &Sentinel, query: &str) -> Value {
    let (status, page) = get(&server.url(&format!("/admin/api/jobs?{query}"))).await;
    assert_eq!(status, 200, "{query}: {page}");
    page
}

fn ids_of(page: &Value) -> Vec<String> {
    page["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn searches_find_jobs_by_name_data_and_failed_reason_through_the_index_and_a_bounded_scan() {
    let redis = RedisServer::start().await;
    let server = Sentinel::start(
        "sentinel",
        &redis.url(),
        SentinelOptions {
            env: vec![("SEARCH_INDEX_SWEEP_MS".into(), "200".into())],
            ..SentinelOptions::default()
        },
    )
    .await;
    server.wait_ready().await;
    let producer = support::producer_queue(&redis).await;
    // Five jobs of another producer fail at once: no processor for their name.
    let mails = (0..5)
        .map(|i| bullmq::BulkJob::new("sendEmail", json!({"to": format!("u{i}@x")})))
        .collect();
    producer.add_bulk(mails).await.expect("add jobs");
    eventually(LONG, "five failed jobs", || async {
        let (_, page) = get(&server.url("/admin/api/jobs?state=failed&size=1")).await;
        (page["total"].as_u64() == Some(5)).then_some(())
    })
    .await;
    assert_eq!(post(&server.url("/admin/api/queue/pause")).await.0, 200);
    // Sentinel's 30 (indexed) and 5,200 of the other producer's (not indexed), all waiting:
    // more than one request examines.
    let mut ours = Vec::new();
    for i in 0..30 {
        ours.push(enqueue_with(&server, json!({"seconds": 1 + i % 3})).await);
    }
    for chunk in 0..13 {
        let jobs = (0..400)
            .map(|i| {
                bullmq::BulkJob::new(
                    "report",
                    json!({"seconds": 2, "kind": "x", "n": chunk * 400 + i}),
                )
            })
            .collect();
        producer.add_bulk(jobs).await.expect("add jobs");
    }

    // By name, through the index: every one of ours on the first page. The other producer's
    // jobs are more than one request examines, so the total is "so far" and a cursor goes on.
    let page = search(&server, "q=name:longTask&size=100").await;
    let mut found = ids_of(&page);
    found.sort();
    let mut want = ours.clone();
    want.sort();
    assert_eq!(found, want, "{}", page["total"]);
    assert_eq!(
        (page["total"].as_u64(), &page["complete"]),
        (Some(30), &json!(false))
    );
    assert!(page["next"].is_string(), "{page}");
    assert!(
        page["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|j| j["state"] == "waiting")
    );
    assert_eq!(all_pages(&server, "name:longTask").await.len(), 30);
    // Narrowed to states that hold few jobs, the same search is whole at once.
    let few = search(&server, "q=name:sendEmail%20state:failed").await;
    assert_eq!(
        (few["total"].as_u64(), &few["complete"]),
        (Some(5), &json!(true)),
        "{few}"
    );

    // By a data field: our ten first (the index), then the other producer's (the scan), over
    // several requests; every match once.
    let first = search(&server, "q=data.seconds%3A2&size=20").await;
    let ours_with_2: Vec<&String> = ours
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 3 == 1)
        .map(|(_, id)| id)
        .collect();
    let head = ids_of(&first);
    assert!(
        head[..10].iter().all(|id| ours_with_2.contains(&id)),
        "{head:?}"
    );
    assert!(first["next"].is_string(), "{first}");
    let every = all_pages(&server, "data.seconds:2").await;
    let unique: std::collections::HashSet<&String> = every.iter().collect();
    assert_eq!((every.len(), unique.len()), (5210, 5210));

    // A search that matches nothing examines at most its budget per request and says so.
    let none = search(&server, "q=name:nothing").await;
    assert_eq!(
        (none["total"].as_u64(), &none["complete"]),
        (Some(0), &json!(false)),
        "{none}"
    );
    assert!(none["next"].is_string(), "{none}");
    assert!(all_pages(&server, "name:nothing").await.is_empty());

    // Two qualifiers; a nested path is matched by the scan.
    let reports = search(&server, "q=name:report%20data.kind:x&size=5").await;
    assert_eq!(reports["jobs"].as_array().unwrap().len(), 5);
    assert!(
        reports["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|j| j["name"] == "report")
    );

    // Words of the failed reason; failed jobs come first.
    let failed = search(&server, "q=state:failed%20PROCESSOR%20%22job%20name%22").await;
    assert_eq!(
        (failed["total"].as_u64(), &failed["complete"]),
        (Some(5), &json!(true)),
        "{failed}"
    );
    let words = search(&server, "q=processor%20sendEmail").await;
    assert_eq!(words["jobs"].as_array().unwrap().len(), 5, "{words}");
    assert!(
        words["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|j| j["state"] == "failed")
    );
    let no_words = search(&server, "q=state:failed%20timeout").await;
    assert_eq!(no_words["total"], 0, "{no_words}");

    // A bare word that is an id; an id with a qualifier it does not meet.
    let bare = search(&server, &format!("q={}", ours[0])).await;
    assert_eq!(ids_of(&bare), vec![ours[0].clone()], "{bare}");
    let mismatch = search(&server, &format!("q=id:{}%20name:report", ours[0])).await;
    assert_eq!(mismatch["total"], 0, "{mismatch}");

    // A bulk action on a search: the ten with seconds 3; their index entries go with them.
    let (status, started) = post_json(
        &server.url("/admin/api/jobs/bulk"),
        json!({"action": "remove", "q": "name:longTask data.seconds:3"}),
    )
    .await;
    assert_eq!(status, 202, "{started}");
    let run = started["bulk"].as_str().unwrap().to_string();
    let done = eventually(LONG, "the bulk remove to finish", || async {
        let (_, progress) = get(&server.url(&format!("/admin/api/bulk/{run}"))).await;
        (progress["finished"] == true).then_some(progress)
    })
    .await;
    assert_eq!(
        (done["total"].as_u64(), done["done"].as_u64()),
        (Some(10), Some(10)),
        "{done}"
    );
    assert_eq!(search(&server, "q=name:longTask").await["total"], 20);
    let mut redis_conn = redis.connection();
    let card = |conn: &mut redis::Connection, term: &str| -> u64 {
        redis::cmd("ZCARD")
            .arg(format!("sentinel:sentinel-tasks:idx:{term}"))
            .query(conn)
            .unwrap()
    };
    assert_eq!(card(&mut redis_conn, "data:seconds:3"), 0);
    assert_eq!(card(&mut redis_conn, "name:longTask"), 20);

    // A job removed behind our back (as BullMQ's retention does) leaves the index in the sweep,
    // whatever else was written there: a member that is not text, a registry line naming a key
    // that is not a sorted set.
    let _: () = redis::pipe()
        .cmd("ZADD")
        .arg("sentinel:sentinel-tasks:idx:name:longTask")
        .arg(1)
        .arg(&b"\xff\xfe not text"[..])
        .cmd("SET")
        .arg("sentinel:sentinel-tasks:idx:bogus")
        .arg("a string")
        .cmd("SADD")
        .arg("sentinel:sentinel-tasks:idx:terms")
        .arg("sentinel:sentinel-tasks:idx:bogus")
        .arg(&b"\xff"[..])
        .query(&mut redis_conn)
        .unwrap();
    let gone = &ours[1];
    let _: () = redis::pipe()
        .cmd("DEL")
        .arg(format!("sentinel:sentinel-tasks:{gone}"))
        .cmd("LREM")
        .arg("sentinel:sentinel-tasks:wait")
        .arg(0)
        .arg(gone)
        .query(&mut redis_conn)
        .unwrap();
    eventually(LONG, "the sweep to drop the gone job", || {
        let n = card(&mut redis_conn, "name:longTask");
        async move { (n == 19).then_some(()) }
    })
    .await;

    // Refusals name the parameter.
    for (query, field) in [
        ("q=foo:x", "q"),
        ("q=state:nope", "q"),
        ("q=%22open", "q"),
        ("q=x&cursor=zzz", "cursor"),
    ] {
        let (status, answer) = get(&server.url(&format!("/admin/api/jobs?{query}"))).await;
        assert_eq!(
            (status, answer["field"].as_str()),
            (400, Some(field)),
            "{query}: {answer}"
        );
    }
}

#[tokio::test]
async fn a_jobs_log_keeps_its_last_thousand_lines_and_each_tick_is_a_progress_event() {
    let redis = RedisServer::start().await;
    let server = Sentinel::start(
        "sentinel",
        &redis.url(),
        SentinelOptions {
            tick_ms: 1,
            ..SentinelOptions::default()
        },
    )
    .await;
    server.wait_ready().await;
    let mut conn = redis.connection();
    let before: String = redis::cmd("XADD")
        .arg("sentinel:sentinel-tasks:events")
        .arg("*")
        .arg("event")
        .arg("marker")
        .query(&mut conn)
        .unwrap();
    let id = server.enqueue(1005).await;
    server.wait_state(&id, "completed", LONG).await;

    let job = detail(&server, &id).await;
    assert_eq!(job["logCount"], 1000, "{}", job["logCount"]);
    let logs = job["logs"].as_array().unwrap();
    assert_eq!(logs.first(), Some(&json!("tick 806/1005")));
    assert_eq!(logs.last(), Some(&json!("tick 1005/1005")));
    let key = format!("sentinel:sentinel-tasks:{id}:logs");
    let oldest: String = redis::cmd("LINDEX")
        .arg(&key)
        .arg(0)
        .query(&mut conn)
        .unwrap();
    assert_eq!(
        oldest, "tick 6/1005",
        "the oldest lines are the ones dropped"
    );

    // Every tick is a BullMQ `progress` event for this job, in order, carrying the progress.
    let entries: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
        .arg("sentinel:sentinel-tasks:events")
        .arg(format!("({before}"))
        .arg("+")
        .query(&mut conn)
        .unwrap();
    let steps: Vec<u64> = entries
        .iter()
        .filter_map(|(_, fields)| {
            let field = |name: &str| {
                fields
                    .iter()
                    .find(|(key, _)| key == name)
                    .map(|(_, value)| value.as_str())
            };
            (field("event") == Some("progress") && field("jobId") == Some(id.as_str()))
                .then(|| field("data"))
                .flatten()
                .and_then(|data| serde_json::from_str::<Value>(data).ok())
                .and_then(|data| data["step"].as_u64())
        })
        .collect();
    assert_eq!(steps, (1..=1005).collect::<Vec<_>>());
    let progress: String = redis::cmd("HGET")
        .arg(format!("sentinel:sentinel-tasks:{id}"))
        .arg("progress")
        .query(&mut conn)
        .unwrap();
    let progress: Value = serde_json::from_str(&progress).unwrap();
    assert_eq!(progress["step"], 1005, "{progress}");

    // The job's page lists its events from the stream: the last 200 of them, in order.
    let history = job["history"].as_array().unwrap();
    assert_eq!(history.len(), 200, "{}", job["historyTotal"]);
    let total = job["historyTotal"].as_u64().unwrap();
    // added, waiting, active, 1,005 ticks, completed.
    assert!(total >= 1009, "{total}");
    assert_eq!(job["historyPartial"], false);
    let last = &history[199];
    assert_eq!(last["event"], "completed", "{last}");
    assert_eq!(history[198]["event"], "progress");
    assert_eq!(history[198]["detail"], "1005/1005");
    assert_eq!(history[0]["detail"], "807/1005");
    let times: Vec<u64> = history.iter().map(|e| e["at"].as_u64().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "oldest first");

    // Other writers' entries about the job are read within bounds: an unsendable name, a huge
    // progress value.
    let _: String = redis::cmd("XADD")
        .arg("sentinel:sentinel-tasks:events")
        .arg("*")
        .arg("event")
        .arg("progress")
        .arg("jobId")
        .arg(&id)
        .arg("data")
        .arg(format!("\"{}\"", "x".repeat(100_000)))
        .query(&mut conn)
        .unwrap();
    let _: String = redis::cmd("XADD")
        .arg("sentinel:sentinel-tasks:events")
        .arg("*")
        .arg("event")
        .arg("bad\nname")
        .arg("jobId")
        .arg(&id)
        .query(&mut conn)
        .unwrap();
    // A progress object whose step is long (within the stream's field limit).
    let _: String = redis::cmd("XADD")
        .arg("sentinel:sentinel-tasks:events")
        .arg("*")
        .arg("event")
        .arg("progress")
        .arg("jobId")
        .arg(&id)
        .arg("data")
        .arg(json!({"step": "9".repeat(6000), "total": 1}).to_string())
        .query(&mut conn)
        .unwrap();
    let job = detail(&server, &id).await;
    let history = job["history"].as_array().unwrap();
    let long_step = &history[history.len() - 1];
    assert_eq!(long_step["event"], "progress", "{long_step}");
    assert!(
        long_step["detail"].as_str().map_or(0, str::len) <= 300,
        "{long_step}"
    );
    let history = &history[..history.len() - 1];
    let huge = &history[history.len() - 2];
    assert_eq!(huge["event"], "progress", "{huge}");
    assert!(huge["detail"].as_str().map_or(0, str::len) <= 300, "{huge}");
    assert_eq!(history[history.len() - 1]["event"], "(unnamed)");
}
