//! Enqueue's edge rules: on another's behalf, idempotency keys.

use super::harness::*;

/// An operator enqueues for another owner: the job is that owner's (its status is theirs to
/// read, not another submitter's), the audit log records who did it for whom; a submitter
/// asking the same is refused, and a malformed owner is a 400 naming `onBehalfOf`.
#[tokio::test]
async fn an_operator_enqueues_on_another_s_behalf_and_it_is_on_record() {
    let redis = RedisServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (router, tokens, shutdown) = guarded_router(&redis, dir.path()).await;
    let token = |name: &str| {
        tokens
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t.clone())
            .unwrap()
    };
    let as_who = |who: &str, method: &str, path: &str, body: &str| {
        request(method, path)
            .header("authorization", format!("Bearer {}", token(who)))
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    let (status, added) = call(
        &router,
        as_who(
            "op",
            "POST",
            "/tasks/enqueue",
            r#"{"seconds": 1, "delay": 600000, "onBehalfOf": "token:sub"}"#,
        ),
    )
    .await;
    assert_eq!(status, 201, "{added}");
    let id = added["id"].as_str().unwrap().to_string();
    // The submitter it was made for reads it as theirs; the job's data names them.
    let (status, job) = call(
        &router,
        as_who("sub", "GET", &format!("/tasks/status/{id}"), ""),
    )
    .await;
    assert_eq!(status, 200, "{job}");
    let mut conn = redis.connection();
    let data: String = redis::cmd("HGET")
        .arg(format!("sentinel:sentinel-tasks:{id}"))
        .arg("data")
        .query(&mut conn)
        .unwrap();
    assert!(data.contains(r#""owner":"token:sub""#), "{data}");
    // On record: who (the operator), for whom, which job.
    let (status, page) = call(
        &router,
        as_who(
            "boss",
            "GET",
            "/admin/api/audit?action=enqueue%3Aon-behalf",
            "",
        ),
    )
    .await;
    assert_eq!(status, 200, "{page}");
    let entries = page["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{page}");
    assert_eq!(entries[0]["who"], "token:op", "{page}");
    assert_eq!(entries[0]["role"], "operator", "{page}");
    assert_eq!(entries[0]["target"], "for token:sub", "{page}");
    assert_eq!(entries[0]["outcome"], format!("added job {id}"), "{page}");
    // A submitter may not; a malformed owner is named.
    let (status, body) = call(
        &router,
        as_who(
            "sub",
            "POST",
            "/tasks/enqueue",
            r#"{"seconds": 1, "onBehalfOf": "token:op"}"#,
        ),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    let too_long = format!(r#""user:{}""#, "a".repeat(101));
    for bad in [
        r#""alice""#,
        r#""anon:x""#,
        r#""user:a b""#,
        "7",
        too_long.as_str(),
    ] {
        let (status, body) = call(
            &router,
            as_who(
                "op",
                "POST",
                "/tasks/enqueue",
                &format!(r#"{{"seconds": 1, "onBehalfOf": {bad}}}"#),
            ),
        )
        .await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(body["field"], "onBehalfOf", "{bad}: {body}");
    }
    // The dashboard's alerts and audit pages read through server functions with the same
    // roles as the API: alerts for operators and up, the audit log for admins.
    for (path, who, expected) in [
        ("/api/admin/alerts", "view", 403),
        ("/api/admin/alerts", "op", 200),
        ("/api/admin/audit", "op", 403),
        ("/api/admin/audit", "boss", 200),
    ] {
        let asked = request("POST", path)
            .header("authorization", format!("Bearer {}", token(who)))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::empty())
            .unwrap();
        let (status, body) = call(&router, asked).await;
        assert_eq!(status.as_u16(), expected, "{path} as {who}: {body}");
    }
    // The dashboard's audit reads take hostile filters as the API does: a bad `before` is a
    // 400, huge or odd filters are cut and simply match nothing.
    let huge = "w".repeat(5000);
    for (body, expected) in [
        ("before=yesterday".to_string(), 400),
        (format!("who={huge}&action=%00%01"), 200),
        ("since_minutes=18446744073709551615".to_string(), 200),
    ] {
        let asked = request("POST", "/api/admin/audit")
            .header("authorization", format!("Bearer {}", token("boss")))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(body.clone()))
            .unwrap();
        let (status, answer) = call(&router, asked).await;
        assert_eq!(status.as_u16(), expected, "{body}: {answer}");
    }
    // Still only the one entry: refusals before the add are not enqueues.
    let (_, page) = call(
        &router,
        as_who(
            "boss",
            "GET",
            "/admin/api/audit?action=enqueue%3Aon-behalf",
            "",
        ),
    )
    .await;
    assert_eq!(page["entries"].as_array().unwrap().len(), 1, "{page}");
    shutdown.cancel();
}

/// Moved from the cross-process suite (`tests/hardening.rs`): a retried enqueue with the same
/// `Idempotency-Key` gives the same job; a key over the limit is a 400 naming the header.
#[tokio::test]
async fn the_same_idempotency_key_gives_the_same_job() {
    let redis = RedisServer::start().await;
    let (router, _state, shutdown) = router(&redis, &[]).await;
    let post = |key: &str| {
        request("POST", "/tasks/enqueue?seconds=3")
            .header("idempotency-key", key)
            .body(Body::empty())
            .unwrap()
    };
    let (_, first) = call(&router, post("order-42")).await;
    let (_, again) = call(&router, post("order-42")).await;
    let (_, other) = call(&router, post("order-43")).await;
    assert!(first["id"].is_string(), "{first}");
    assert_eq!(first["id"], again["id"]);
    assert_ne!(first["id"], other["id"]);
    let (_, counts) = call(
        &router,
        request("GET", "/tasks/counts").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(counts["counts"]["waiting"], 2, "{counts}");
    let (got, body) = call(&router, post(&"x".repeat(300))).await;
    assert_eq!(got, StatusCode::BAD_REQUEST);
    assert_eq!(body["field"], "Idempotency-Key");
    shutdown.cancel();
}
