//! Alert conditions against a real Redis, and the report against foreign values.

use super::harness::*;

/// Each alert condition read from a real Redis holds in its situation and not otherwise: no
/// worker, the oldest waiting job's age, failures in the last minute, a job active too long, a
/// `stalled` event, Redis's eviction policy. `now` is moved forward where time must pass.
#[tokio::test]
async fn each_alert_condition_holds_in_its_situation_and_not_otherwise() {
    use server::service::alerts::rules;
    let redis = RedisServer::start().await;
    let (_router, state, shutdown) = router(&redis, &[]).await;
    let file = rules::parse(
        r#"
[[rules]]
name = "no-worker"
when = "no_worker"
queue = "bull:watched"
[[rules]]
name = "old"
when = "oldest_waiting"
seconds = 60
queue = "bull:watched"
[[rules]]
name = "failing"
when = "failures"
per_minute = 1
queue = "bull:watched"
[[rules]]
name = "failing-share"
when = "failures"
percent = 50
queue = "bull:watched"
[[rules]]
name = "stuck"
when = "stuck"
seconds = 60
queue = "bull:watched"
[[rules]]
name = "stalled"
when = "stalled"
seconds = 60
queue = "bull:watched"
[[rules]]
name = "redis"
when = "redis"
"#,
        false,
    )
    .expect("a valid file");
    let rule = |name: &str| file.rules.iter().find(|r| r.name == name).unwrap().clone();
    let seen = |name: &'static str, ahead_ms: u64| {
        let state = state.clone();
        let rule = rule(name);
        async move {
            state
                .sentinel
                .check_rule(&rule, server::clock::now_ms() + ahead_ms)
                .await
                .expect("checked")
        }
    };
    // No queue yet: nothing holds, and the detail says why.
    let none = seen("no-worker", 0).await;
    assert!(
        !none.holds && none.detail.contains("no BullMQ queue"),
        "{none:?}"
    );

    let opts = bullmq::QueueOptions::new()
        .connection(bullmq::options::RedisConnectionOptions::new().url(redis.url()))
        .prefix("bull".to_string());
    let engine = bullmq::Queue::with_options("watched", opts).await.unwrap();
    let add = |data: serde_json::Value| {
        let engine = &engine;
        async move {
            engine
                .add("work", data)
                .into_future()
                .await
                .unwrap()
                .id()
                .to_string()
        }
    };
    let hold = add(serde_json::json!({"hold": true})).await;
    let no_worker = seen("no-worker", 0).await;
    assert!(no_worker.holds, "{no_worker:?}");
    assert!(!seen("old", 0).await.holds);
    let old = seen("old", 120_000).await;
    assert!(
        old.holds && old.detail.contains("has waited 2 min"),
        "{old:?}"
    );

    // Redis: noeviction, then not.
    assert!(!seen("redis", 0).await.holds);
    let mut conn = redis.connection();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory-policy")
        .arg("allkeys-lru")
        .query(&mut conn)
        .unwrap();
    let evicting = seen("redis", 0).await;
    assert!(
        evicting.holds && evicting.detail.contains("allkeys-lru"),
        "{evicting:?}"
    );
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory-policy")
        .arg("noeviction")
        .query(&mut conn)
        .unwrap();

    // A worker: two jobs fail, the held one runs.
    let fail_one = add(serde_json::json!({"fail": true})).await;
    let fail_two = add(serde_json::json!({"fail": true})).await;
    let release = Arc::new(tokio::sync::Notify::new());
    let held = release.clone();
    let worker = fail_or_hold_worker(&redis, "watched", 3, held).await;
    let job_state = |id: String| {
        let engine = &engine;
        async move { format!("{:?}", engine.get_job_state(&id).await.unwrap()).to_lowercase() }
    };
    eventually(Duration::from_secs(10), "two failed, one running", || {
        let (a, b, h) = (fail_one.clone(), fail_two.clone(), hold.clone());
        async move {
            (job_state(a).await == "failed"
                && job_state(b).await == "failed"
                && job_state(h).await == "active")
                .then_some(())
        }
    })
    .await;
    let attached = seen("no-worker", 0).await;
    assert!(!attached.holds, "{attached:?}");
    let failing = seen("failing", 0).await;
    assert!(
        failing.holds && failing.detail.starts_with("2 of 2 jobs"),
        "{failing:?}"
    );
    assert!(seen("failing-share", 0).await.holds);
    // Ten minutes on, those failures are out of the minute.
    assert!(!seen("failing", 600_000).await.holds);
    assert!(!seen("failing-share", 600_000).await.holds);
    // The held job: running for seconds now, stuck two minutes on.
    assert!(!seen("stuck", 0).await.holds);
    let stuck = seen("stuck", 120_000).await;
    assert!(
        stuck.holds && stuck.detail.contains(&format!("job {hold} ")),
        "{stuck:?}"
    );

    // A `stalled` event, as BullMQ's stalled-jobs check writes it.
    assert!(!seen("stalled", 0).await.holds);
    let _: String = redis::cmd("XADD")
        .arg("bull:watched:events")
        .arg("*")
        .arg("event")
        .arg("stalled")
        .arg("jobId")
        .arg(&hold)
        .query(&mut conn)
        .unwrap();
    let stalled = seen("stalled", 0).await;
    assert!(
        stalled.holds && stalled.detail.contains(&format!("job {hold} ")),
        "{stalled:?}"
    );
    assert!(!seen("stalled", 600_000).await.holds);

    release.notify_waiters();
    drop(worker);
    shutdown.cancel();
}

/// What the alerts page reads back from Redis is not trusted: a rule state that is not JSON,
/// is oversized or has fields of the wrong type reads as at rest, a long detail is cut, and a
/// delivery entry that is not ours is skipped, a long outcome cut.
#[tokio::test]
async fn the_alerts_report_survives_foreign_values_in_its_keys() {
    let redis = RedisServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("alerts.toml");
    std::fs::write(&file, "[[rules]]\nname = \"r\"\nwhen = \"redis\"\n").unwrap();
    let flag = format!("--alerts-file={}", file.display());
    let (router, state, shutdown) = router(&redis, &[&flag]).await;
    state.sentinel.load_alerts().expect("the file reads");
    let mut conn = redis.connection();
    let report = || async {
        let (status, body) = call(
            &router,
            request("GET", "/admin/api/alerts")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    };
    let key = "sentinel:sentinel-tasks:alerts:state";
    let oversized = format!(r#"{{"firing": 5, "detail": "{}"}}"#, "x".repeat(100_000));
    for value in [
        "{not json",
        r#"{"firing": "soon"}"#,
        r#"{"firing": -3}"#,
        oversized.as_str(),
    ] {
        let _: () = redis::cmd("HSET")
            .arg(key)
            .arg("r")
            .arg(value)
            .query(&mut conn)
            .unwrap();
        let body = report().await;
        assert_eq!(body["rules"][0]["status"], "ok", "{value:.40}: {body}");
    }
    let long = format!(
        r#"{{"firing": 1700000000000, "detail": "{}"}}"#,
        "d".repeat(3000)
    );
    let _: () = redis::cmd("HSET")
        .arg(key)
        .arg("r")
        .arg(&long)
        .query(&mut conn)
        .unwrap();
    let body = report().await;
    assert_eq!(body["rules"][0]["status"], "firing", "{body}");
    assert_eq!(body["rules"][0]["detail"].as_str().unwrap().len(), 1024);

    let log = "sentinel:sentinel-tasks:alerts:log";
    let add = |fields: &[(&str, &str)]| {
        let mut cmd = redis::cmd("XADD");
        cmd.arg(log).arg("*");
        for (k, v) in fields {
            cmd.arg(*k).arg(*v);
        }
        let _: String = cmd.query(&mut redis.connection()).unwrap();
    };
    add(&[("rule", "r")]);
    add(&[
        ("rule", "r"),
        ("kind", "firing"),
        ("target", "t"),
        ("attempt", "many"),
        ("outcome", "sent"),
    ]);
    let huge = "y".repeat(100_000);
    add(&[
        ("rule", "r"),
        ("kind", "firing"),
        ("target", "t"),
        ("attempt", "1"),
        ("outcome", &huge),
    ]);
    let body = report().await;
    let deliveries = body["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 1, "{body:.400}");
    assert_eq!(deliveries[0]["outcome"].as_str().unwrap().len(), 1024);
    shutdown.cancel();
}
