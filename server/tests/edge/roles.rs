//! Each role against the main routes, over HTTP (the full table of every route and server
//! function is `policy.rs`).

use super::harness::*;

/// Moved from the cross-process suite (`tests/access.rs`): each role against each route.
#[tokio::test]
async fn each_role_against_each_route() {
    let redis = RedisServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (router, tokens, shutdown) = guarded_router(&redis, dir.path()).await;
    let token = |name: &str| {
        tokens
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t.clone())
    };
    let as_who = |method: &str, path: &str, bearer: Option<String>| {
        let mut builder = request(method, path);
        if let Some(token) = bearer {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        builder.body(Body::empty()).unwrap()
    };
    let (_, body) = call(
        &router,
        as_who("POST", "/tasks/enqueue?seconds=1", token("boss")),
    )
    .await;
    let boss_job = body["id"].as_str().unwrap().to_string();

    let status_path = format!("/tasks/status/{boss_job}");
    // (method, path, [nobody, submitter, viewer, operator, admin])
    let table: &[(&str, &str, [u16; 5])] = &[
        (
            "POST",
            "/tasks/enqueue?seconds=1",
            [401, 201, 403, 201, 201],
        ),
        ("GET", &status_path, [401, 404, 200, 200, 200]),
        ("GET", "/tasks/status/999999", [401, 404, 404, 404, 404]),
        ("GET", "/tasks/counts", [401, 403, 200, 200, 200]),
        ("GET", "/whoami", [401, 200, 200, 200, 200]),
        ("GET", "/healthz", [200; 5]),
        ("GET", "/readyz", [200; 5]),
        ("GET", "/openapi.json", [200; 5]),
        ("GET", "/metrics", [401, 403, 200, 200, 200]),
        ("GET", "/admin/api/jobs", [401, 403, 200, 200, 200]),
        ("POST", "/admin/api/queue/resume", [401, 403, 403, 200, 200]),
        // No body: operators get as far as the refusal of the missing fields.
        ("POST", "/admin/api/jobs/bulk", [401, 403, 403, 400, 400]),
        ("GET", "/admin/api/workers", [401, 403, 200, 200, 200]),
        ("GET", "/admin/api/queues", [401, 403, 200, 200, 200]),
        ("GET", "/admin/api/alerts", [401, 403, 403, 200, 200]),
        ("GET", "/admin/api/audit", [401, 403, 403, 403, 200]),
        (
            "POST",
            "/tasks/enqueue?seconds=1&onBehalfOf=user:carol",
            [401, 403, 403, 201, 201],
        ),
        ("POST", "/api/counts", [401, 200, 200, 200, 200]),
        ("POST", "/api/settings", [200; 5]),
        ("POST", "/api/listed", [401, 200, 200, 200, 200]),
        ("POST", "/api/home", [401, 200, 200, 200, 200]),
        ("GET", "/", [303, 200, 200, 200, 200]),
        // The event stream: opened, or refused without credentials.
        ("GET", "/tasks/stream", [401, 200, 200, 200, 200]),
    ];
    let who = [
        None,
        token("sub"),
        token("view"),
        token("op"),
        token("boss"),
    ];
    for (method, path, expected) in table {
        for (i, bearer) in who.iter().enumerate() {
            let (status, body) = call_head(&router, as_who(method, path, bearer.clone())).await;
            assert_eq!(
                status.as_u16(),
                expected[i],
                "{method} {path} as {}: {body}",
                ["nobody", "submitter", "viewer", "operator", "admin"][i]
            );
            match status.as_u16() {
                401 => assert_eq!(body["error"], "unauthorized", "{body}"),
                403 => assert_eq!(body["error"], "forbidden", "{body}"),
                _ => {}
            }
        }
    }
    // A forged or garbled session cookie is nobody.
    let forged = request("GET", "/tasks/counts")
        .header(
            "cookie",
            "sentinel_session=dGl8Ym9zc3x4eHh8OTk5OTk5OTk5OQ.AAAA",
        )
        .body(Body::empty())
        .unwrap();
    assert_eq!(call(&router, forged).await.0, 401);
    // A wrong token is a 401, never a fall-through to anonymous.
    let (status, _) = call(
        &router,
        as_who("GET", "/tasks/counts", Some("x".repeat(43))),
    )
    .await;
    assert_eq!(status, 401);
    shutdown.cancel();
}
