//! Any queue on the Redis over the admin API, and the queues list's cost.

use super::harness::*;

/// Every queue on the Redis through the admin API: listed with its counts and oldest waiting
/// job, its jobs listed and shown, acted on through the engine's scripts (promote, remove,
/// pause, clean), each action recorded with the queue; a queue that does not exist is a 404
/// naming `queue` and is not created by asking; a bad name is a 400.
#[tokio::test]
async fn any_queue_on_the_redis_is_listed_read_and_acted_on() {
    const JSON: &str = "application/json";
    let redis = RedisServer::start().await;
    let (router, _state, shutdown) = router(&redis, &[]).await;
    let (engine, ids) = foreign_queue(&redis, "bull", "emails").await;
    let get = |path: &str| request("GET", path).body(Body::empty()).unwrap();
    let post = |path: &str, body: &str| {
        request("POST", path)
            .header("content-type", JSON)
            .body(json(body))
            .unwrap()
    };
    let (status, list) = call(&router, get("/admin/api/queues?rescan=true")).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["home"], "sentinel:sentinel-tasks", "{list}");
    let emails = list["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["prefix"] == "bull" && q["name"] == "emails")
        .cloned()
        .unwrap_or_else(|| panic!("bull:emails listed: {list}"));
    assert_eq!(emails["counts"]["waiting"], 2, "{emails}");
    assert_eq!(emails["counts"]["delayed"], 1, "{emails}");
    assert_eq!(emails["workers"], 0, "{emails}");
    let oldest = emails["oldestWaitingAt"]
        .as_u64()
        .expect("an oldest waiting job");
    assert!(oldest <= server::clock::now_ms() && oldest > 0, "{emails}");

    let on = "queue=bull%3Aemails";
    let (status, page) = call(&router, get(&format!("/admin/api/jobs?{on}"))).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["total"], 3, "{page}");
    let (status, job) = call(&router, get(&format!("/admin/api/jobs/{}?{on}", ids[0]))).await;
    assert_eq!(status, StatusCode::OK, "{job}");
    assert_eq!(job["name"], "send", "{job}");
    // The same id on Sentinel's own queue is another job (there, none).
    let (status, _) = call(&router, get(&format!("/admin/api/jobs/{}", ids[0]))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, done) = call(
        &router,
        post(&format!("/admin/api/jobs/{}/promote?{on}", ids[2]), ""),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(
        bullmq_state(&engine, &ids[2]).await,
        "waiting",
        "promoted through the engine"
    );
    let (status, done) = call(
        &router,
        post(&format!("/admin/api/jobs/{}/remove?{on}", ids[0]), ""),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert!(engine.get_job(&ids[0]).await.unwrap().is_none(), "removed");
    let (status, _) = call(&router, post(&format!("/admin/api/queue/pause?{on}"), "")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        engine.is_paused().await.unwrap(),
        "the foreign queue is paused"
    );
    let (_, home) = call(&router, get("/admin/api/queues")).await;
    let paused: Vec<String> = home["queues"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|q| q["paused"] == true)
        .map(|q| {
            format!(
                "{}:{}",
                q["prefix"].as_str().unwrap(),
                q["name"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(paused, ["bull:emails"], "only that queue: {home}");
    let (status, _) = call(&router, post(&format!("/admin/api/queue/resume?{on}"), "")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!engine.is_paused().await.unwrap());
    let (status, cleaned) = call(
        &router,
        post(
            &format!("/admin/api/queue/clean?{on}"),
            r#"{"state": "completed", "olderThanMs": 0}"#,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{cleaned}");
    let (status, workers) = call(&router, get(&format!("/admin/api/workers?{on}"))).await;
    assert_eq!(status, StatusCode::OK, "{workers}");
    let (status, metrics) = call(&router, get(&format!("/admin/api/metrics?{on}"))).await;
    assert_eq!(status, StatusCode::OK, "{metrics}");

    // Each action is on record with its queue.
    let (_, audit) = call(&router, get("/admin/api/audit?action=promote")).await;
    assert_eq!(
        audit["entries"][0]["target"],
        format!("bull:emails {}", ids[2]),
        "{audit}"
    );

    // A queue that is not there: 404 naming it, and asking made nothing.
    let mut conn = redis.connection();
    for path in [
        "/admin/api/jobs?queue=bull%3Anope".to_string(),
        "/admin/api/jobs/1?queue=bull%3Anope".to_string(),
    ] {
        let (status, body) = call(&router, get(&path)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
        assert_eq!(body["field"], "queue", "{body}");
    }
    let (status, body) = call(
        &router,
        post("/admin/api/queue/pause?queue=bull%3Anope", ""),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let made: u64 = redis::cmd("EXISTS")
        .arg("bull:nope:meta")
        .query(&mut conn)
        .unwrap();
    assert_eq!(made, 0, "asking for a queue made none");
    for bad in ["nocolon", "bull%3A", "%3Aemails", "a%01%3Ab"] {
        let (status, body) = call(&router, get(&format!("/admin/api/jobs?queue={bad}"))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_eq!(body["field"], "queue", "{bad}: {body}");
    }
    shutdown.cancel();
}

/// The queues list is paged and filtered on the server, and a page costs Redis one command per
/// queue shown (its last event) plus one `CLIENT LIST` while nothing moves; a queue whose
/// events moved is read again in full, and shows the change.
#[tokio::test]
async fn the_queues_list_reads_only_its_page_and_only_what_moved() {
    let redis = RedisServer::start().await;
    let (router, state, shutdown) = router(
        &redis,
        &[
            "--discover-prefixes=bull",
            "--discovery-min-interval-ms=600000",
        ],
    )
    .await;
    let opts = || {
        bullmq::QueueOptions::new()
            .connection(bullmq::options::RedisConnectionOptions::new().url(redis.url()))
            .prefix("bull".to_string())
    };
    let mut engines = Vec::new();
    for n in 0..30 {
        let engine = bullmq::Queue::with_options(&format!("q{n:02}"), opts())
            .await
            .unwrap();
        engine
            .add("work", serde_json::json!({}))
            .into_future()
            .await
            .unwrap();
        engines.push(engine);
    }
    let list = |query: &str| {
        let router = router.clone();
        let path = format!("/admin/api/queues?{query}");
        async move { call(&router, request("GET", &path).body(Body::empty()).unwrap()).await }
    };
    let names = |page: &Value| -> Vec<String> {
        page["queues"]
            .as_array()
            .unwrap()
            .iter()
            .map(|q| q["name"].as_str().unwrap().to_string())
            .collect()
    };
    let (status, page) = list("rescan=true&limit=10").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(
        (page["total"].as_u64(), page["offset"].as_u64()),
        (Some(30), Some(0))
    );
    assert_eq!(
        names(&page),
        (0..10).map(|n| format!("q{n:02}")).collect::<Vec<_>>()
    );
    let (_, page) = list("offset=25&limit=10").await;
    assert_eq!(names(&page), ["q25", "q26", "q27", "q28", "q29"]);
    let (_, page) = list("filter=Q2").await;
    assert_eq!(page["total"], 10, "{page}");
    assert!(names(&page).iter().all(|n| n.starts_with("q2")));
    let (_, page) = list("").await;
    assert_eq!(names(&page).len(), 30, "50 a page by default");
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=ten", "limit"),
        ("offset=-1", "offset"),
        ("offset=1000001", "offset"),
        (&*format!("filter={}", "x".repeat(201)), "filter"),
        ("filter=%07", "filter"),
        ("rescan=maybe", "rescan"),
    ] {
        let (status, body) = list(query).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(body["field"], field, "{query}: {body}");
    }

    // Nothing moved: one XREVRANGE per queue of the page and one CLIENT LIST, nothing else
    // about the queues. A stream follows Sentinel's own events meanwhile: with none, the
    // event reader notes where that stream ends (an XREVRANGE) every 100 ms.
    let mut conn = redis.connection();
    let reads_before = command_calls(&mut conn, "xread");
    let follow = state
        .sentinel
        .follow(&server::auth::Principal::open())
        .await
        .expect("a stream");
    let _live = follow.hub.subscribe(CancellationToken::new());
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while command_calls(&mut conn, "xread") == reads_before {
        assert!(
            std::time::Instant::now() < deadline,
            "the reader never read"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let _: () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query(&mut conn)
        .unwrap();
    // A rescan within the least interval reads the scan another asker made (no SCAN) and the
    // page again (no shared page), not what did not move.
    let (_, page) = list("rescan=true&limit=10").await;
    assert_eq!(page["queues"][0]["counts"]["waiting"], 1);
    assert_eq!(command_calls(&mut conn, "xrevrange"), 10);
    assert_eq!(command_calls(&mut conn, "client|list"), 1);
    for read in ["llen", "zcard", "zcount", "lindex", "hexists", "scan"] {
        assert_eq!(command_calls(&mut conn, read), 0, "{read}");
    }

    // One queue moves (another program adds a job): that one is read in full, and shows it.
    engines[3]
        .add("work", serde_json::json!({}))
        .into_future()
        .await
        .unwrap();
    let _: () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query(&mut conn)
        .unwrap();
    // A rescan within the least interval reads the scan another asker made (no SCAN) and the
    // page again (no shared page), not what did not move.
    let (_, page) = list("rescan=true&limit=10").await;
    assert_eq!(page["queues"][3]["counts"]["waiting"], 2, "{page}");
    assert_eq!(page["queues"][2]["counts"]["waiting"], 1, "{page}");
    assert_eq!(
        command_calls(&mut conn, "zcount"),
        2,
        "one queue read in full"
    );
    shutdown.cancel();
}
