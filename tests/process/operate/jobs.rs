//! Options, timeouts, cancel, and the admin API listing, showing and acting on jobs.

use std::time::Duration;

use serde_json::json;
use support::{RedisServer, Sentinel, SentinelOptions, eventually};

use super::*;

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
