//! The Redis memory guard: past its share of `maxmemory`, every path that adds a job is
//! refused (`RedisFull`) before Redis itself refuses writes; a job already running finishes,
//! actions on existing jobs still work, readiness and the overview say why, the
//! `redis_memory` alert condition holds; with room again, everything works as before.

use std::time::Duration;

use server::error::AppError;

use super::*;

fn used_memory(conn: &mut redis::Connection) -> u64 {
    let info: String = redis::cmd("INFO").arg("memory").query(conn).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap()
}

#[tokio::test]
async fn a_nearly_full_redis_refuses_new_jobs_from_every_path_and_running_ones_finish() {
    let redis = RedisServer::start().await;
    // A process that runs jobs (ticks of 100 ms) and one that serves the API.
    let (worker, _, stop_worker) = service(
        &redis,
        &["--role=all".to_string(), "--task-tick-ms=100".to_string()],
    )
    .await;
    let (web, _, stop_web) = service(&redis, &[]).await;
    let local = Principal::open();
    let options = app::options::TaskOptions::default();
    let add = |via: &Sentinel, seconds: u64| {
        let via = via.clone();
        let options = options.clone();
        async move {
            let request = server::service::enqueue::EnqueueRequest {
                seconds,
                options: &options,
                idempotency_key: None,
            };
            via.enqueue(&Principal::open(), request).await
        }
    };
    let running = add(&web, 10).await.unwrap();
    let running = app::JobId::parse(&running).unwrap();
    support::eventually(Duration::from_secs(5), "the job to start", || {
        let web = web.clone();
        let running = running.clone();
        async move {
            let status = web.status(&Principal::open(), &running).await.ok()?;
            (status.state == app::JobState::Active).then_some(())
        }
    })
    .await;
    let upsert = app::admin::SchedulerRequest {
        every: Some(60_000),
        ..Default::default()
    };
    web.upsert_scheduler(&local, None, "hourly", &upsert)
        .await
        .unwrap();

    // Redis's maxmemory set so the guard's 90 % is passed while Redis still takes writes.
    let mut conn = redis.connection();
    let used = used_memory(&mut conn);
    // 0.9 of it is 97 % of what Redis uses now.
    let max = used * 100 / 93;
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg(max)
        .query(&mut conn)
        .unwrap();
    web.read_memory().await.unwrap();

    let full = |result: Result<String, AppError>| match result {
        Err(AppError::RedisFull { used, limit }) => assert!(used >= limit),
        other => panic!("expected redis_full, got {other:?}"),
    };
    full(add(&web, 1).await);
    full(web.run_scheduler(&local, None, "hourly").await);
    full(
        web.upsert_scheduler(&local, None, "another", &upsert)
            .await
            .map(|()| String::new()),
    );
    // Reads and actions on existing jobs still work; readiness and the overview say why.
    web.queue_action(&local, None, pause_if(false))
        .await
        .expect("an action on the queue");
    let ready = web.readiness().await;
    assert!(ready.ready, "still ready: it serves reads and runs jobs");
    assert!(
        ready
            .warning
            .as_deref()
            .is_some_and(|w| w.contains("new jobs are refused")),
        "{:?}",
        ready.warning
    );
    let overview = web.overview(&local, None).await.unwrap();
    assert!(
        overview.memory.is_some_and(|m| m.full),
        "{:?}",
        overview.memory
    );
    // The redis_memory alert condition holds (at 100 % of the guard's limit).
    let rules = server::service::alerts::rules::parse(
        "[[rules]]\nname = \"memory\"\nwhen = \"redis_memory\"\n",
        false,
    )
    .unwrap();
    let seen = web
        .check_rule(&rules.rules[0], server::clock::now_ms())
        .await
        .unwrap();
    assert!(
        seen.holds && seen.detail.contains("new jobs are refused"),
        "{seen:?}"
    );

    // The job that was running finishes.
    support::eventually(
        Duration::from_secs(20),
        "the running job to complete",
        || {
            let web = web.clone();
            let running = running.clone();
            async move {
                let status = web.status(&Principal::open(), &running).await.ok()?;
                (status.state == app::JobState::Completed).then_some(())
            }
        },
    )
    .await;

    // Room again: new jobs are taken, and run.
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg(0)
        .query(&mut conn)
        .unwrap();
    web.read_memory().await.unwrap();
    let again = add(&web, 1).await.expect("taken with room again");
    let again = app::JobId::parse(&again).unwrap();
    support::eventually(Duration::from_secs(10), "the new job to run", || {
        let worker = worker.clone();
        let again = again.clone();
        async move {
            let status = worker.status(&Principal::open(), &again).await.ok()?;
            (status.state == app::JobState::Completed).then_some(())
        }
    })
    .await;
    assert!(
        !web.check_rule(&rules.rules[0], server::clock::now_ms())
            .await
            .unwrap()
            .holds
    );
    stop_web.cancel();
    stop_worker.cancel();
}
