//! Bad input gets a JSON 4xx naming the field or the problem, never a 5xx.

use super::harness::*;

#[tokio::test]
async fn bad_input_gets_a_json_4xx_naming_the_field() {
    let redis = RedisServer::start().await;
    let (router, _state, shutdown) = router(&redis, &[]).await;
    let cases: &[(&str, &str, &str, u16, &str, &str)] = &[
        (
            "POST",
            "/tasks/enqueue?seconds=abc",
            "",
            400,
            "invalid_seconds",
            "seconds",
        ),
        (
            "POST",
            "/tasks/enqueue?seconds=0",
            "",
            400,
            "invalid_seconds",
            "seconds",
        ),
        (
            "POST",
            "/tasks/enqueue",
            r#"{"seconds": 2.5}"#,
            400,
            "invalid_seconds",
            "seconds",
        ),
        ("POST", "/tasks/enqueue", "[1]", 400, "invalid_body", "body"),
        (
            "POST",
            "/tasks/enqueue",
            r#"{"jobId": "wait"}"#,
            400,
            "invalid_option",
            "jobId",
        ),
        (
            "POST",
            "/tasks/enqueue",
            r#"{"jobId": "-5"}"#,
            400,
            "invalid_option",
            "jobId",
        ),
        (
            "POST",
            "/tasks/enqueue",
            r#"{"delay": -1}"#,
            400,
            "invalid_option",
            "delay",
        ),
        ("GET", "/tasks/status/a:b", "", 400, "invalid_id", "id"),
        (
            "GET",
            "/admin/api/jobs?state=nope",
            "",
            400,
            "invalid_option",
            "state",
        ),
        (
            "GET",
            "/admin/api/jobs?size=1000",
            "",
            400,
            "invalid_option",
            "size",
        ),
        (
            "GET",
            "/admin/api/metrics?minutes=0",
            "",
            400,
            "invalid_option",
            "minutes",
        ),
        (
            "GET",
            "/admin/api/queues?rescan=maybe",
            "",
            400,
            "invalid_option",
            "rescan",
        ),
        (
            "GET",
            "/admin/api/history?range=2h",
            "",
            400,
            "invalid_option",
            "range",
        ),
        (
            "GET",
            "/admin/api/jobs/1/flow?page=20",
            "",
            400,
            "invalid_option",
            "page",
        ),
        (
            "GET",
            "/admin/api/jobs/1/flow?page=-1",
            "",
            400,
            "invalid_option",
            "page",
        ),
        (
            "GET",
            "/admin/api/jobs/a:b/flow",
            "",
            400,
            "invalid_id",
            "id",
        ),
        ("POST", "/tasks/a:b/retry", "", 400, "invalid_id", "id"),
        (
            "PUT",
            "/admin/api/jobs/a:b/data",
            r#"{"seconds":1}"#,
            400,
            "invalid_id",
            "id",
        ),
        (
            "PUT",
            "/admin/api/jobs/1/data",
            r#"{"seconds":1"#,
            400,
            "invalid_option",
            "data",
        ),
        (
            "PUT",
            "/admin/api/jobs/1/data",
            r#"{"seconds":"many"}"#,
            400,
            "invalid_option",
            "data",
        ),
        (
            "POST",
            "/admin/api/jobs",
            r#"{"name":"charge","data":{"seconds":1}}"#,
            400,
            "invalid_option",
            "name",
        ),
        (
            "POST",
            "/admin/api/jobs",
            r#"{"name":"longTask","data":{"seconds":1},"opts":{"jobId":"1"}}"#,
            400,
            "invalid_option",
            "opts",
        ),
        (
            "POST",
            "/admin/api/jobs",
            r#"{"name":"longTask","data":{"seconds":1},"opts":[1]}"#,
            400,
            "invalid_option",
            "opts",
        ),
    ];
    for (method, path, body, status, error, field) in cases {
        let request = request(method, path)
            .header("content-type", "application/json")
            .body(json(body))
            .unwrap();
        let (got, answer) = call(&router, request).await;
        assert_eq!(got.as_u16(), *status, "{method} {path} {body}: {answer}");
        assert_eq!(answer["error"], *error, "{method} {path} {body}: {answer}");
        assert_eq!(answer["field"], *field, "{method} {path} {body}: {answer}");
    }
    // Lookups of an id that names a queue key, or no job at all: a plain 404.
    for path in [
        "/tasks/status/meta",
        "/tasks/status/nope",
        "/admin/api/jobs/wait",
        "/admin/api/jobs/wait/flow",
        "/admin/api/jobs/nope/flow",
    ] {
        let (got, answer) = call(&router, request("GET", path).body(Body::empty()).unwrap()).await;
        assert_eq!(got, StatusCode::NOT_FOUND, "{path}: {answer}");
        assert_eq!(answer["error"], "not_found");
    }
    // Changes to an id that names a queue key, or no job at all: a plain 404 too.
    for (method, path, body) in [
        ("POST", "/tasks/meta/retry", ""),
        ("POST", "/tasks/nope/retry", ""),
        ("PUT", "/admin/api/jobs/wait/data", r#"{"seconds":1}"#),
        ("PUT", "/admin/api/jobs/nope/data", r#"{"seconds":1}"#),
    ] {
        let request = request(method, path)
            .header("content-type", "application/json")
            .body(json(body))
            .unwrap();
        let (got, answer) = call(&router, request).await;
        assert_eq!(got, StatusCode::NOT_FOUND, "{method} {path}: {answer}");
        assert_eq!(answer["error"], "not_found");
    }
    // A route that is not there.
    let (got, answer) = call(
        &router,
        request("GET", "/nope").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(
        (got, answer["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    shutdown.cancel();
}

/// Moved from the cross-process suite (`tests/http_api.rs`): every refused value of the task
/// API answers a JSON 400 naming it, and nothing of it reaches Redis.
#[tokio::test]
async fn bad_input_gets_a_json_4xx_naming_the_problem() {
    let redis = RedisServer::start().await;
    let (router, _state, shutdown) = router(&redis, &["--max-seconds=100"]).await;
    let post = |path: String, body: Option<String>| {
        let mut builder = request("POST", &path);
        if body.is_some() {
            builder = builder.header("content-type", "application/json");
        }
        builder.body(Body::from(body.unwrap_or_default())).unwrap()
    };
    for raw in [
        "-1",
        "0",
        "abc",
        "1e9",
        "2.5",
        "",
        "101",
        "99999999999999999999999",
    ] {
        let (status, body) =
            call(&router, post(format!("/tasks/enqueue?seconds={raw}"), None)).await;
        assert_eq!(status, 400, "seconds={raw:?}");
        assert_eq!(body["error"], "invalid_seconds", "seconds={raw:?}: {body}");
        assert!(
            body["message"].as_str().unwrap().contains("seconds"),
            "seconds={raw:?}: {body}"
        );
    }
    for body in [
        serde_json::json!({"seconds": 2.5}),
        serde_json::json!({"seconds": -3}),
        serde_json::json!({"seconds": "x"}),
    ] {
        let (status, answer) = call(
            &router,
            post("/tasks/enqueue".into(), Some(body.to_string())),
        )
        .await;
        assert_eq!(status, 400, "body {body}");
        assert_eq!(answer["error"], "invalid_seconds", "body {body}: {answer}");
    }
    let (status, answer) = call(
        &router,
        post("/tasks/enqueue".into(), Some("{not json".into())),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(answer["error"], "invalid_body");

    // Nothing was enqueued by any of that.
    let (_, counts) = call(
        &router,
        request("GET", "/tasks/counts").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(counts["counts"]["waiting"], 0, "{counts}");

    let (code, body) = call(
        &router,
        request("GET", "/tasks/status/424242")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(code, 404);
    assert_eq!(
        body,
        serde_json::json!({"error": "not_found", "id": "424242"})
    );

    let long_id = "9".repeat(300);
    for bad_id in ["a:b", "sentinel-tasks:1", long_id.as_str()] {
        let (code, body) = call(
            &router,
            request("GET", &format!("/tasks/status/{bad_id}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(code, 400, "id {bad_id:?}");
        assert_eq!(body["error"], "invalid_id", "id {bad_id:?}: {body}");
    }
    // An id that looks like a key name reaches no Redis key.
    let mut conn = redis.connection();
    let keys: Vec<String> = redis::cmd("KEYS").arg("*a:b*").query(&mut conn).unwrap();
    assert!(keys.is_empty(), "{keys:?}");

    let (code, body) = call(
        &router,
        request("GET", "/no/such/route")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(code, 404);
    assert_eq!(body["error"], "not_found");
    shutdown.cancel();
}

/// Moved from the cross-process suite (`tests/hardening.rs`): a job id spelled like one of the
/// queue's keys is a job that does not exist, and a bad `Last-Event-ID` is a 400 naming it.
#[tokio::test]
async fn key_named_ids_and_bad_last_event_ids_get_4xx_only() {
    let redis = RedisServer::start().await;
    let (router, _state, shutdown) = router(&redis, &[]).await;
    let (got, answer) = call(
        &router,
        request("POST", "/tasks/enqueue?seconds=1")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(got, StatusCode::CREATED, "{answer}");
    for name in [
        "meta",
        "events",
        "id",
        "wait",
        "completed",
        "failed",
        "active",
        "delayed",
        "marker",
        "prioritized",
        "stalled-check",
        "paused",
        "limiter",
        "audit",
    ] {
        let (got, body) = call(
            &router,
            request("GET", &format!("/tasks/status/{name}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(got, StatusCode::NOT_FOUND, "{name}: {body}");
        assert_eq!(body["error"], "not_found", "{name}: {body}");
    }
    let long = "9".repeat(50);
    for bad in ["yesterday", "1-2-3", "-1", "1-", &long, "1 -2", "0x10-0"] {
        let (got, body) = call_head(
            &router,
            request("GET", "/tasks/stream")
                .header("last-event-id", bad)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(got, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(body["field"], "Last-Event-ID", "{bad}");
    }
    shutdown.cancel();
}
