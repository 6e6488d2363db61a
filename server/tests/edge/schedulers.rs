//! Job schedulers over the admin API.

use super::harness::*;

/// Job schedulers of any queue through the admin API: created with a cron pattern and a time
/// zone (checked: a bad pattern, zone, period or data is a 400 naming the field), read back as
/// the engine (and so Node) reads them, listed with one made by another producer, paused (gone
/// from BullMQ with its next job, kept by Sentinel) and edited while paused, resumed, run now,
/// flagged late, removed; each change on the audit log. A hundred concurrent upserts of one
/// scheduler leave one scheduler and one next job.
#[tokio::test]
async fn schedulers_are_listed_created_paused_run_and_removed() {
    const JSON: &str = "application/json";
    let redis = RedisServer::start().await;
    let (router, _state, shutdown) = router(&redis, &[]).await;
    let (engine, _) = foreign_queue(&redis, "bull", "emails").await;
    let on = "queue=bull%3Aemails";
    let send = |method: &str, path: String, body: &str| {
        request(method, &path)
            .header("content-type", JSON)
            .body(json(body))
            .unwrap()
    };
    let (status, body) = call(
        &router,
        send(
            "PUT",
            format!("/admin/api/schedulers/nightly?{on}"),
            r#"{"pattern": "0 0 3 * * *", "tz": "Europe/Paris", "name": "report", "data": {"k": 1}}"#,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let made = engine
        .get_job_scheduler("nightly")
        .await
        .unwrap()
        .expect("the engine reads it");
    assert_eq!(made.pattern.as_deref(), Some("0 0 3 * * *"));
    assert_eq!(made.tz.as_deref(), Some("Europe/Paris"));
    assert_eq!(made.name, "report");
    // One made by another producer, through the engine.
    engine
        .upsert_job_scheduler(
            "every5",
            bullmq::job_scheduler::RepeatOptions {
                every: Some(5000),
                ..Default::default()
            },
            Some("ping"),
            Some(serde_json::json!({"x": true})),
            None,
        )
        .await
        .unwrap();
    let list = |router: axum::Router| async move {
        call(
            &router,
            request("GET", "/admin/api/schedulers?queue=bull%3Aemails")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .1
    };
    let listed = list(router.clone()).await;
    assert_eq!(listed["total"], 2, "{listed}");
    let find = |listed: &Value, id: &str| {
        listed["schedulers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("{id} listed: {listed}"))
    };
    let nightly = find(&listed, "nightly");
    assert!(
        nightly["next"].as_u64().unwrap() > server::clock::now_ms(),
        "{nightly}"
    );
    assert_eq!(nightly["late"], false);
    assert_eq!(nightly["data"]["k"], 1);
    assert_eq!(find(&listed, "every5")["every"], 5000);

    for (body, field) in [
        (r#"{"pattern": "every day at noon"}"#, "pattern"),
        (r#"{"pattern": "0 * * * *", "tz": "Mars/Olympus"}"#, "tz"),
        (r#"{"pattern": "0 * * * *", "every": 60000}"#, "every"),
        (r#"{"every": 10}"#, "every"),
        (r#"{"every": 60000, "tz": "UTC"}"#, "tz"),
        (r#"{"every": 60000, "data": [1]}"#, "data"),
        (r#"{"every": 60000, "limit": 0}"#, "limit"),
        (r#"{}"#, "pattern"),
        (r#"{"every": 60000, "color": "blue"}"#, "body"),
    ] {
        let (status, answer) = call(
            &router,
            send("PUT", format!("/admin/api/schedulers/bad?{on}"), body),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert_eq!(answer["field"], field, "{body}: {answer}");
    }
    assert!(engine.get_job_scheduler("bad").await.unwrap().is_none());

    // Pause: out of BullMQ with its next job; kept and listed as paused; edits stay paused.
    let next_jobs = |id: &'static str| {
        let mut conn = redis.connection();
        move || -> usize {
            // Its next job: delayed until due, or waiting when due at once (`every`).
            let mut jobs: Vec<String> = redis::cmd("ZRANGE")
                .arg("bull:emails:delayed")
                .arg(0)
                .arg(-1)
                .query(&mut conn)
                .unwrap();
            let waiting: Vec<String> = redis::cmd("LRANGE")
                .arg("bull:emails:wait")
                .arg(0)
                .arg(-1)
                .query(&mut conn)
                .unwrap();
            jobs.extend(waiting);
            jobs.iter()
                .filter(|job| job.starts_with(&format!("repeat:{id}:")))
                .count()
        }
    };
    let mut nightly_jobs = next_jobs("nightly");
    assert_eq!(nightly_jobs(), 1, "one next job");
    let (status, answer) = call(
        &router,
        send(
            "POST",
            format!("/admin/api/schedulers/nightly/pause?{on}"),
            "",
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["changed"], true);
    assert!(engine.get_job_scheduler("nightly").await.unwrap().is_none());
    assert_eq!(nightly_jobs(), 0, "its next job went with it");
    let (status, _) = call(
        &router,
        send(
            "PUT",
            format!("/admin/api/schedulers/nightly?{on}"),
            r#"{"pattern": "0 30 4 * * *", "tz": "Europe/Paris", "name": "report"}"#,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let paused = find(&list(router.clone()).await, "nightly");
    assert_eq!(paused["paused"], true, "{paused}");
    assert_eq!(paused["pattern"], "0 30 4 * * *", "{paused}");
    assert!(engine.get_job_scheduler("nightly").await.unwrap().is_none());
    let (status, answer) = call(
        &router,
        send(
            "POST",
            format!("/admin/api/schedulers/nightly/resume?{on}"),
            "",
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let back = engine
        .get_job_scheduler("nightly")
        .await
        .unwrap()
        .expect("back in BullMQ");
    assert_eq!(back.pattern.as_deref(), Some("0 30 4 * * *"));
    assert_eq!(nightly_jobs(), 1);

    // Run now: one job from the template, the schedule unchanged.
    let (status, answer) = call(
        &router,
        send("POST", format!("/admin/api/schedulers/every5/run?{on}"), ""),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let job = engine
        .get_job(answer["job"].as_str().unwrap())
        .await
        .unwrap()
        .expect("the job");
    assert_eq!(job.name(), "ping");
    assert_eq!(next_jobs("every5")(), 1);

    // A scheduler's jobs (ids `repeat:<scheduler>:<ms>`) are listed and shown like any other.
    let (_, delayed) = call(
        &router,
        request("GET", &format!("/admin/api/jobs?{on}&state=delayed"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    let scheduled = delayed["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|j| {
            j["id"]
                .as_str()
                .filter(|id| id.starts_with("repeat:nightly:"))
                .map(str::to_owned)
        })
        .unwrap_or_else(|| panic!("the scheduler's next job is listed: {delayed}"));
    assert_eq!(
        delayed["total"],
        delayed["jobs"].as_array().unwrap().len(),
        "{delayed}"
    );
    let (status, shown) = call(
        &router,
        request("GET", &format!("/admin/api/jobs/{scheduled}?{on}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    assert_eq!(shown["name"], "report", "{shown}");
    // No job is added with such an id (nor with any ':').
    let (status, refused) = call(
        &router,
        request("POST", "/tasks/enqueue?seconds=1")
            .header("content-type", JSON)
            .body(json(r#"{"jobId": "repeat:nightly:1"}"#))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");

    // Late: its next run is further in the past than its period (nobody took it).
    let mut conn = redis.connection();
    let _: () = redis::cmd("ZADD")
        .arg("bull:emails:repeat")
        .arg(server::clock::now_ms() - 20_000)
        .arg("every5")
        .query(&mut conn)
        .unwrap();
    assert_eq!(find(&list(router.clone()).await, "every5")["late"], true);

    let (status, _) = call(
        &router,
        send("DELETE", format!("/admin/api/schedulers/every5?{on}"), ""),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, answer) = call(
        &router,
        send("DELETE", format!("/admin/api/schedulers/every5?{on}"), ""),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    assert_eq!(answer["field"], "id");
    assert!(engine.get_job_scheduler("every5").await.unwrap().is_none());

    // A hundred concurrent upserts of one scheduler.
    let upserts = (0..100).map(|n| {
        let router = router.clone();
        let body = format!(r#"{{"every": 60000, "data": {{"n": {n}}}}}"#);
        async move {
            call(
                &router,
                request("PUT", "/admin/api/schedulers/race?queue=bull%3Aemails")
                    .header("content-type", JSON)
                    .body(Body::from(body))
                    .unwrap(),
            )
            .await
            .0
        }
    });
    let statuses = futures::future::join_all(upserts).await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    let schedulers: Vec<String> = redis::cmd("ZRANGE")
        .arg("bull:emails:repeat")
        .arg(0)
        .arg(-1)
        .query(&mut conn)
        .unwrap();
    assert_eq!(
        schedulers.iter().filter(|s| *s == "race").count(),
        1,
        "{schedulers:?}"
    );
    assert_eq!(next_jobs("race")(), 1, "one next job");

    let (_, audit) = call(
        &router,
        request("GET", "/admin/api/audit?action=scheduler%3Apause")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(
        audit["entries"][0]["target"], "bull:emails nightly",
        "{audit}"
    );
    shutdown.cancel();
}
