//! A role limited to queues sees no other queue on any surface.

use super::harness::*;

/// A role limited to queues (`operator@emails`) sees and acts on those only, everywhere the
/// admin API and the dashboard's server functions reach: the queues list, jobs, actions,
/// pause, and Sentinel's own queue is a 404 for it (as if absent). An unlimited viewer sees
/// every queue but acts on none.
#[tokio::test]
async fn a_role_limited_to_queues_sees_no_other_queue() {
    let redis = RedisServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (engine, ids) = foreign_queue(&redis, "bull", "emails").await;
    let _other = foreign_queue(&redis, "bull", "billing").await;
    let (op_token, op_line) =
        server::auth::tokens::create("limited", "operator".parse().unwrap()).expect("a token");
    let op_line = op_line.replacen(" operator ", " operator@emails|other:* ", 1);
    let (view_token, view_line) =
        server::auth::tokens::create("watcher", "viewer".parse().unwrap()).expect("a token");
    let path = dir.path().join("tokens");
    std::fs::write(&path, format!("{op_line}\n{view_line}\n")).unwrap();
    let flag = format!("--tokens-file={}", path.display());
    let (router, _state, shutdown) = router(
        &redis,
        &[
            "--auth=on",
            &flag,
            "--session-secret=a-test-session-secret-of-at-least-32-chars",
        ],
    )
    .await;
    let as_who = |token: &str, method: &str, path: &str| {
        request(method, path)
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(Body::empty())
            .unwrap()
    };
    let names = |list: &Value| -> Vec<String> {
        let mut names: Vec<String> = list["queues"]
            .as_array()
            .unwrap()
            .iter()
            .map(|q| {
                format!(
                    "{}:{}",
                    q["prefix"].as_str().unwrap(),
                    q["name"].as_str().unwrap()
                )
            })
            .collect();
        names.sort();
        names
    };
    let (status, list) = call(
        &router,
        as_who(&op_token, "GET", "/admin/api/queues?rescan=true"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(names(&list), ["bull:emails"], "{list}");
    let (_, all) = call(&router, as_who(&view_token, "GET", "/admin/api/queues")).await;
    assert!(names(&all).len() >= 2, "{all}");
    assert!(names(&all).contains(&"bull:billing".to_string()), "{all}");

    for (method, path) in [
        ("GET", "/admin/api/jobs?queue=bull%3Abilling".to_string()),
        ("GET", "/admin/api/jobs".to_string()),
        ("GET", "/admin/api/workers".to_string()),
        (
            "POST",
            "/admin/api/queue/pause?queue=bull%3Abilling".to_string(),
        ),
        ("POST", "/admin/api/queue/pause".to_string()),
        (
            "POST",
            format!("/admin/api/jobs/{}/remove?queue=bull%3Abilling", ids[0]),
        ),
    ] {
        let (status, body) = call(&router, as_who(&op_token, method, &path)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {body}");
        assert_eq!(body["field"], "queue", "{method} {path}: {body}");
    }
    assert!(!engine.is_paused().await.unwrap());
    let (status, body) = call(
        &router,
        as_who(
            &op_token,
            "POST",
            "/admin/api/queue/pause?queue=bull%3Aemails",
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        engine.is_paused().await.unwrap(),
        "its own queue it may pause"
    );
    // The viewer reads any queue and acts on none.
    let (status, _) = call(
        &router,
        as_who(&view_token, "GET", "/admin/api/jobs?queue=bull%3Abilling"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(
        &router,
        as_who(
            &view_token,
            "POST",
            "/admin/api/queue/resume?queue=bull%3Aemails",
        ),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Sentinel's own queue, outside its grant: its whole counts are refused, and a job of
    // someone else there is a job it cannot see.
    let (status, _) = call(&router, as_who(&op_token, "GET", "/tasks/counts")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, added) = call(
        &router,
        request("POST", "/tasks/enqueue?seconds=1&delay=600000")
            .header("authorization", format!("Bearer {view_token}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a viewer adds nothing: {added}"
    );
    let (_, mine) = call(
        &router,
        as_who(&op_token, "POST", "/tasks/enqueue?seconds=1&delay=600000"),
    )
    .await;
    let mine = mine["id"].as_str().expect("its own job").to_string();
    let (status, _) = call(
        &router,
        as_who(&op_token, "GET", &format!("/tasks/status/{mine}")),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "its own job");
    let (status, _) = call(
        &router,
        as_who(&view_token, "GET", &format!("/tasks/status/{mine}")),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the unlimited viewer sees every job"
    );
    // /metrics labels each queue; a limited caller's scrape holds only its queues.
    let scrape = |token: &str| {
        let router = router.clone();
        let request = as_who(token, "GET", "/metrics");
        async move {
            let response = router.oneshot(request).await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            String::from_utf8_lossy(&bytes).into_owned()
        }
    };
    let limited = scrape(&op_token).await;
    assert!(
        limited.contains(r#"sentinel_queue_paused{prefix="bull",queue="emails"} 1"#),
        "{limited}"
    );
    assert!(!limited.contains(r#"queue="billing""#), "{limited}");
    assert!(!limited.contains(r#"queue="sentinel-tasks""#), "{limited}");
    let all = scrape(&view_token).await;
    assert!(
        all.contains(r#"sentinel_queue_jobs{prefix="bull",queue="billing",state="delayed"} 1"#),
        "{all}"
    );
    // A page another caller just read (shared for a second) is never handed to one whose grant
    // does not reach its queue.
    let billing_page = "query[page]=0&query[size]=20&query[queue]=bull%3Abilling";
    let (status, page) = call(
        &router,
        request("POST", "/api/admin/jobs")
            .header("authorization", format!("Bearer {view_token}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(json(billing_page))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let (status, _) = call_head(
        &router,
        request("POST", "/api/admin/jobs")
            .header("authorization", format!("Bearer {op_token}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(json(billing_page))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not from the shared read");
    // The dashboard's server functions hold to the same limits.
    let form = |token: &str, path: &str, body: &str| {
        request("POST", path)
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(json(body))
            .unwrap()
    };
    let (status, _) = call_head(&router, form(&op_token, "/api/admin/overview", "")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "home queue hidden");
    let (status, overview) = call(
        &router,
        form(&op_token, "/api/admin/overview", "queue=bull%3Aemails"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{overview}");
    assert_eq!(overview["paused"], true, "{overview}");
    let (status, listed) = call(
        &router,
        form(&op_token, "/api/admin/queues", "rescan=false"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(names(&listed), ["bull:emails"], "{listed}");
    shutdown.cancel();
}
