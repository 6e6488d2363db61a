//! The audit log over HTTP: every action on record once whichever edge, admins only read it.

use super::harness::*;

#[tokio::test]
async fn every_action_is_on_record_once_whichever_edge_and_only_admins_read_it() {
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
    let as_who = |who: &str, method: &str, path: &str, kind: &str, body: &str| {
        request(method, path)
            .header("authorization", format!("Bearer {}", token(who)))
            .header("content-type", kind)
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    const JSON: &str = "application/json";
    const FORM: &str = "application/x-www-form-urlencoded";
    let (_, added) = call(
        &router,
        as_who(
            "op",
            "POST",
            "/tasks/enqueue",
            JSON,
            r#"{"seconds": 1, "delay": 600000}"#,
        ),
    )
    .await;
    let id = added["id"].as_str().unwrap().to_string();
    // Through the admin API and through the dashboard's server functions alike.
    let steps = [
        as_who(
            "op",
            "POST",
            &format!("/admin/api/jobs/{id}/promote"),
            JSON,
            "",
        ),
        as_who("op", "POST", "/api/admin/queue", FORM, "action=pause"),
        as_who("op", "POST", "/admin/api/queue/resume", JSON, ""),
        as_who(
            "op",
            "POST",
            "/admin/api/jobs/bulk",
            JSON,
            &format!(r#"{{"action": "remove", "ids": ["{id}"]}}"#),
        ),
        as_who(
            "op",
            "POST",
            "/admin/api/queue/clean",
            JSON,
            r#"{"state": "completed", "olderThanMs": 0}"#,
        ),
        as_who(
            "op",
            "POST",
            "/admin/api/queue/clean",
            JSON,
            r#"{"state": "failed", "olderThanMs": 0, "dryRun": true}"#,
        ),
    ];
    for step in steps {
        let path = step.uri().to_string();
        let (status, body) = call(&router, step).await;
        assert!(status.is_success(), "{path}: {status} {body}");
    }
    // The bulk run's entry is completed with its final counts when the run ends (a second
    // entry of its action, whenever that is among the others).
    let page = eventually(
        Duration::from_secs(10),
        "the bulk run's closing entry",
        || {
            let router = router.clone();
            async move {
                let (status, page) =
                    call(&router, as_who("boss", "GET", "/admin/api/audit", JSON, "")).await;
                assert_eq!(status, 200, "{page}");
                (page["entries"].as_array().unwrap().len() == 6).then_some(page)
            }
        },
    )
    .await;
    let (closing, entries): (Vec<&Value>, Vec<&Value>) = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .partition(|e| e["outcome"].as_str().unwrap().starts_with("finished"));
    assert_eq!(closing.len(), 1, "{page}");
    assert_eq!(
        (closing[0]["action"].as_str(), closing[0]["count"].as_u64()),
        (Some("bulk:remove"), Some(1))
    );
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    // Newest first; the dry run changed nothing and is not there.
    assert_eq!(
        actions,
        ["clean", "bulk:remove", "resume", "pause", "promote"],
        "{page}"
    );
    for entry in page["entries"].as_array().unwrap() {
        assert_eq!(entry["who"], "token:op", "{entry}");
        assert_eq!(entry["role"], "operator", "{entry}");
        assert_eq!(entry["via"], "bearer", "{entry}");
        assert!(entry["at"].as_u64().unwrap() > 1_700_000_000_000, "{entry}");
    }
    let promote = entries[4];
    assert_eq!(promote["target"], id.as_str());
    assert_eq!(promote["outcome"], "done");
    // Filters and paging.
    let (_, only) = call(
        &router,
        as_who(
            "boss",
            "GET",
            "/admin/api/audit?action=pause&who=token:op",
            JSON,
            "",
        ),
    )
    .await;
    assert_eq!(only["entries"].as_array().unwrap().len(), 1, "{only}");
    let (_, first) = call(
        &router,
        as_who("boss", "GET", "/admin/api/audit?limit=2", JSON, ""),
    )
    .await;
    let next = first["next"].as_str().expect("more to read").to_string();
    let (_, rest) = call(
        &router,
        as_who(
            "boss",
            "GET",
            &format!("/admin/api/audit?limit=10&before={next}"),
            JSON,
            "",
        ),
    )
    .await;
    assert_eq!(rest["entries"].as_array().unwrap().len(), 4, "{rest}");
    // Nobody but an admin reads it.
    for who in ["sub", "view", "op"] {
        let (status, _) = call(&router, as_who(who, "GET", "/admin/api/audit", JSON, "")).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{who}");
    }
    let (status, _) = call(
        &router,
        request("GET", "/admin/api/audit")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = call(
        &router,
        as_who("boss", "GET", "/admin/api/audit?before=yesterday", JSON, ""),
    )
    .await;
    assert_eq!(
        (status.as_u16(), body["field"].as_str()),
        (400, Some("before"))
    );
    // The first id there can be has nothing before it (no Redis error).
    let (status, body) = call(
        &router,
        as_who("boss", "GET", "/admin/api/audit?before=00-00", JSON, ""),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["entries"], serde_json::json!([]));
    // Signing in and out are on record too.
    let signed_in = router
        .clone()
        .oneshot(
            request("POST", "/signin")
                .header("content-type", FORM)
                .body(Body::from(format!("token={}", token("view"))))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    let cookie = signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let out = request("POST", "/signout")
        .header("cookie", &cookie)
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        router.clone().oneshot(out).await.unwrap().status(),
        StatusCode::SEE_OTHER
    );
    let (_, sessions) = call(
        &router,
        as_who("boss", "GET", "/admin/api/audit?who=token:view", JSON, ""),
    )
    .await;
    let seen: Vec<(&str, &str)> = sessions["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["via"].as_str().unwrap()))
        .collect();
    assert_eq!(
        seen,
        [("sign-out", "session"), ("sign-in", "session")],
        "{sessions}"
    );
    // What others write to the stream is read back as untrusted: an entry that is not ours is
    // skipped, a huge field cut, a count that is not a number absent.
    let mut conn = redis.connection();
    let huge = "w".repeat(10_000);
    let _: () = redis::pipe()
        .cmd("XADD")
        .arg("sentinel:sentinel-tasks:audit")
        .arg("*")
        .arg("color")
        .arg("blue")
        .cmd("XADD")
        .arg("sentinel:sentinel-tasks:audit")
        .arg("*")
        .arg("who")
        .arg(&huge)
        .arg("action")
        .arg("retry")
        .arg("count")
        .arg("lots")
        .query(&mut conn)
        .unwrap();
    let (status, page) = call(
        &router,
        as_who("boss", "GET", "/admin/api/audit?limit=1", JSON, ""),
    )
    .await;
    assert_eq!(status, 200, "{page}");
    let newest = &page["entries"][0];
    assert_eq!(newest["who"].as_str().unwrap().len(), 512, "cut");
    assert_eq!(newest["count"], Value::Null, "{newest}");
    let (_, all) = call(
        &router,
        as_who("boss", "GET", "/admin/api/audit?limit=200", JSON, ""),
    )
    .await;
    // The 5 actions and the bulk run's closing entry, sign-in, sign-out and the huge one; not
    // the foreign entry.
    assert_eq!(all["entries"].as_array().unwrap().len(), 9, "{all}");
    shutdown.cancel();
}

/// A re-read of the tokens file is on the audit log as Sentinel's own action, with the number
/// of tokens; a broken file as a refusal.
#[tokio::test]
async fn token_file_reloads_are_on_record() {
    let redis = RedisServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (router, tokens, shutdown) = guarded_router(&redis, dir.path()).await;
    let boss = tokens
        .iter()
        .find(|(n, _)| n == "boss")
        .map(|(_, t)| t.clone())
        .unwrap();
    let (_, line) =
        server::auth::tokens::create("late", "viewer".parse().unwrap()).expect("a token");
    let file = dir.path().join("tokens");
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str(&line);
    text.push('\n');
    std::fs::write(&file, &text).unwrap();
    let entry = eventually(Duration::from_secs(10), "the reload on record", || {
        let router = router.clone();
        let request = request("GET", "/admin/api/audit?action=tokens%3Areload")
            .header("authorization", format!("Bearer {boss}"))
            .body(Body::empty())
            .unwrap();
        async move {
            let (_, page) = call(&router, request).await;
            page["entries"].as_array()?.first().cloned()
        }
    })
    .await;
    assert_eq!(entry["who"], "system", "{entry}");
    assert_eq!(entry["count"], 5, "{entry}");
    assert_eq!(entry["via"], "system", "{entry}");
    shutdown.cancel();
}
