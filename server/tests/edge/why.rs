//! "Why isn't this job running?" per situation, and workers on several queues.

use super::harness::*;

/// "Why isn't this job running?", one situation at a time, on a queue another program fills
/// and a BullMQ worker of the engine serves: no worker, jobs ahead, delayed, queue paused,
/// rate-limited, finished (failed, with its reason), running, the global concurrency reached;
/// and on Sentinel's own queue, a job name no processor takes.
#[tokio::test]
async fn why_a_job_is_not_running_is_answered_per_situation() {
    let redis = RedisServer::start().await;
    let (router, _state, shutdown) = router(&redis, &[]).await;
    let opts = bullmq::QueueOptions::new()
        .connection(bullmq::options::RedisConnectionOptions::new().url(redis.url()))
        .prefix("bull".to_string());
    let engine = bullmq::Queue::with_options("why", opts).await.unwrap();
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
    let q = "bull%3Awhy";
    let fail = add(serde_json::json!({"fail": true})).await;
    let hold = add(serde_json::json!({"hold": true})).await;
    assert_eq!(why_codes(&router, &fail, q).await, ["no-worker"]);
    assert_eq!(
        why_codes(&router, &hold, q).await,
        ["no-worker", "jobs-ahead"]
    );
    let later = engine
        .add("work", serde_json::json!({}))
        .delay(Duration::from_secs(3600))
        .into_future()
        .await
        .unwrap()
        .id()
        .to_string();
    assert_eq!(why_codes(&router, &later, q).await[0], "delayed");
    engine.pause().await.unwrap();
    assert_eq!(why_codes(&router, &fail, q).await[0], "queue-paused");
    engine.resume().await.unwrap();
    engine.rate_limit(60_000).await.unwrap();
    assert!(
        why_codes(&router, &fail, q)
            .await
            .contains(&"rate-limited".to_string())
    );
    engine.remove_rate_limit_key().await.unwrap();
    let (status, _) = call(
        &router,
        request("GET", &format!("/admin/api/jobs/nope/why?queue={q}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A worker of the engine: the first job fails, the second is held while it runs.
    let release = Arc::new(tokio::sync::Notify::new());
    let held = release.clone();
    let worker = fail_or_hold_worker(&redis, "why", 1, held).await;
    let state = |id: String| {
        let engine = &engine;
        async move { format!("{:?}", engine.get_job_state(&id).await.unwrap()).to_lowercase() }
    };
    eventually(Duration::from_secs(10), "the held job to run", || {
        let (fail, hold) = (fail.clone(), hold.clone());
        async move {
            (state(fail).await == "failed" && state(hold).await == "active").then_some(())
        }
    })
    .await;
    assert_eq!(why_codes(&router, &fail, q).await, ["finished"]);
    let (_, report) = call(
        &router,
        request("GET", &format!("/admin/api/jobs/{fail}/why?queue={q}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert!(
        report["reasons"][0]["message"]
            .as_str()
            .unwrap()
            .contains("card declined"),
        "{report}"
    );
    assert_eq!(why_codes(&router, &hold, q).await, ["running"]);
    engine.set_global_concurrency(1).await.unwrap();
    let next = add(serde_json::json!({})).await;
    let codes = why_codes(&router, &next, q).await;
    assert!(
        codes.contains(&"concurrency-reached".to_string()),
        "{codes:?}"
    );
    assert!(!codes.contains(&"no-worker".to_string()), "{codes:?}");
    release.notify_one();
    let _ = worker.close(2000).await;

    // Sentinel's own queue: a job name no processor of Sentinel's takes.
    let home = bullmq::Queue::with_options(
        "sentinel-tasks",
        bullmq::QueueOptions::new()
            .connection(bullmq::options::RedisConnectionOptions::new().url(redis.url()))
            .prefix("sentinel".to_string()),
    )
    .await
    .unwrap();
    let email = home
        .add("sendEmail", serde_json::json!({}))
        .into_future()
        .await
        .unwrap()
        .id()
        .to_string();
    let codes = why_codes(&router, &email, "sentinel%3Asentinel-tasks").await;
    assert!(codes.contains(&"no-processor".to_string()), "{codes:?}");
    shutdown.cancel();
}

/// `SENTINEL_QUEUES`: one process's workers run two queues with one processor registry keyed
/// by job name. The built-in `longTask` and the test's `resize` run on either queue; a name with
/// no processor fails at once with the reason naming the names there are; a queue not named is
/// left alone; "why isn't it running" knows the registry on every queue the workers run.
#[tokio::test]
async fn workers_run_several_queues_by_job_name() {
    let redis = RedisServer::start().await;
    let processors = server::worker::processors::Processors::builtin(
        &Config::try_parse_from(["server", "--task-tick-ms=10"]).unwrap(),
    )
    .register("resize", Resize);
    let (router, state, shutdown) = router_running(
        &redis,
        &[
            "--role=all",
            "--task-tick-ms=10",
            "--queues=sentinel-tasks, images,images",
        ],
        Some(processors),
    )
    .await;
    assert_eq!(
        state.config.worker_queues(),
        ["sentinel-tasks", "images"],
        "trimmed, each once"
    );
    let engine = |name: &'static str| {
        let opts = bullmq::QueueOptions::new()
            .connection(bullmq::options::RedisConnectionOptions::new().url(redis.url()))
            .prefix("sentinel".to_string());
        bullmq::Queue::with_options(name, opts)
    };
    let images = engine("images").await.unwrap();
    let home = engine("sentinel-tasks").await.unwrap();
    let other = engine("elsewhere").await.unwrap();
    let add = |queue: &bullmq::Queue, name: &'static str, data: Value| {
        let queue = queue.clone();
        async move {
            queue
                .add(name, data)
                .into_future()
                .await
                .unwrap()
                .id()
                .to_string()
        }
    };
    let resized = add(&images, "resize", serde_json::json!({"w": 21})).await;
    let long = add(&images, "longTask", serde_json::json!({"seconds": 1})).await;
    let unknown = add(&images, "crop", serde_json::json!({})).await;
    let bad = add(&images, "resize", serde_json::json!({"w": "wide"})).await;
    let home_resize = add(&home, "resize", serde_json::json!({"w": 1})).await;
    let untouched = add(&other, "resize", serde_json::json!({"w": 1})).await;

    let finished = |queue: bullmq::Queue, id: String| async move {
        eventually(Duration::from_secs(20), "the job to finish", move || {
            let queue = queue.clone();
            let id = id.clone();
            async move {
                let job = queue.get_job(&id).await.ok().flatten()?;
                (job.finished_on().is_some()).then_some(job)
            }
        })
        .await
    };
    let job = finished(images.clone(), resized.clone()).await;
    let returned =
        |job: &bullmq::Job| -> Value { serde_json::from_str(job.returnvalue()).unwrap() };
    assert_eq!(
        returned(&job),
        serde_json::json!({"job": resized, "name": "resize", "w": 42})
    );
    assert!(
        matches!(job.progress(), bullmq::types::JobProgress::Object(p) if p == &serde_json::json!({"step": "scaling"})),
        "its progress written as BullMQ's updateProgress writes it: {:?}",
        job.progress()
    );
    let job = finished(images.clone(), long.clone()).await;
    assert_eq!(returned(&job)["message"], format!("Tâche {long} terminée"));
    let job = finished(images.clone(), unknown.clone()).await;
    assert_eq!(
        job.failed_reason(),
        r#"no processor for job name "crop" (this worker runs "longTask", "resize" jobs)"#
    );
    assert_eq!(job.attempts_made(), 1);
    let job = finished(images.clone(), bad).await;
    assert_eq!(job.failed_reason(), "w must be a number");
    let job = finished(home.clone(), home_resize).await;
    assert_eq!(returned(&job)["w"], 2);
    // A queue the workers are not told of keeps its job waiting, and "why" says no worker.
    assert_eq!(bullmq_state(&other, &untouched).await, "waiting");
    assert_eq!(
        why_codes(&router, &untouched, "sentinel%3Aelsewhere").await,
        ["no-worker"]
    );

    // "Why": on a queue the workers run, a name with no processor says so; a known name not.
    images.pause().await.unwrap();
    let waiting_crop = add(&images, "crop", serde_json::json!({})).await;
    let waiting_resize = add(&images, "resize", serde_json::json!({"w": 1})).await;
    let codes = why_codes(&router, &waiting_crop, "sentinel%3Aimages").await;
    assert!(codes.contains(&"no-processor".to_string()), "{codes:?}");
    let codes = why_codes(&router, &waiting_resize, "sentinel%3Aimages").await;
    assert!(!codes.contains(&"no-processor".to_string()), "{codes:?}");

    shutdown.cancel();
    let handed_back = state
        .sentinel
        .worker()
        .unwrap()
        .shutdown(Duration::from_secs(1))
        .await;
    assert_eq!(handed_back, 0);
}
