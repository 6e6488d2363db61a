//! The people's side of the service: a waiting task says when an operator paused its queue,
//! and a person runs their own failed task again (not another's, not one that has not failed,
//! not as a viewer), audited like the dashboard's retry; the queue's events are read only while
//! someone follows them.

use std::time::Duration;

use app::{JobId, JobState};
use server::error::AppError;

use super::*;

/// A worker of the crate on Sentinel's own queue that fails every job it takes.
async fn failing_worker(redis: &RedisServer) -> bullmq::Worker {
    let opts = bullmq::WorkerOptions::default()
        .connection(bullmq::options::RedisConnectionOptions::new().url(redis.url()))
        .prefix("sentinel")
        .concurrency(2);
    bullmq::Worker::with_options(
        "sentinel-tasks",
        |_job: bullmq::Job, _token| async move {
            Err::<serde_json::Value, _>(bullmq::Error::ProcessingError("card declined".into()))
        },
        opts,
    )
    .await
    .expect("a worker")
}

/// Polls `id`'s state as `who` sees it until it is `want` (10 s at most).
async fn until_state(sentinel: &Sentinel, who: &Principal, id: &JobId, want: JobState) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let state = sentinel.status(who, id).await.expect("its status").state;
        if state == want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{id} stayed {state:?}, not {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn add(sentinel: &Sentinel, who: &Principal) -> JobId {
    let options = app::options::TaskOptions::default();
    let request = server::service::enqueue::EnqueueRequest {
        seconds: 1,
        options: &options,
        idempotency_key: None,
    };
    let id = sentinel.enqueue(who, request).await.expect("an enqueue");
    JobId::parse(&id).unwrap()
}

#[tokio::test]
async fn a_person_retries_their_own_failed_task_and_nobody_else_s() {
    let redis = RedisServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (flags, _) = guarded(
        dir.path(),
        &[
            ("sub", "submitter"),
            ("other", "submitter"),
            ("look", "viewer"),
        ],
        &[],
    );
    let (sentinel, _, stop) = service(&redis, &flags).await;
    let sub = holder("token:sub", "submitter");
    let other = holder("token:other", "submitter");
    let viewer = holder("token:look", "viewer");
    let op = holder("token:op", "operator");

    // A waiting task in a paused queue says so; resumed, it does not.
    sentinel
        .queue_action(&op, None, pause_if(true))
        .await
        .expect("paused");
    let held = add(&sentinel, &sub).await;
    let status = sentinel.status(&sub, &held).await.unwrap();
    assert_eq!(status.state, JobState::Waiting);
    assert_eq!(status.queue_paused, Some(true), "{status:?}");
    // Not failed: a retry is a conflict naming the state, and changes nothing.
    match sentinel.retry_task(&sub, &held).await {
        Err(AppError::Conflict { state, .. }) => assert_eq!(state, JobState::Waiting),
        other => panic!("expected a conflict, got {other:?}"),
    }

    let worker = failing_worker(&redis).await;
    sentinel
        .queue_action(&op, None, pause_if(false))
        .await
        .expect("resumed");
    until_state(&sentinel, &sub, &held, JobState::Failed).await;
    let failed = add(&sentinel, &sub).await;
    until_state(&sentinel, &sub, &failed, JobState::Failed).await;
    worker.close(5_000).await.expect("the worker stops");

    // Another submitter's task is answered as one that does not exist; a viewer may not add
    // work at all.
    assert!(matches!(
        sentinel.retry_task(&other, &failed).await,
        Err(AppError::NotFound { .. })
    ));
    assert!(matches!(
        sentinel.retry_task(&viewer, &failed).await,
        Err(AppError::Forbidden)
    ));
    assert_eq!(
        sentinel.status(&sub, &failed).await.unwrap().state,
        JobState::Failed
    );

    // Its owner's retry puts it back in line, and the audit log says who.
    let outcome = sentinel.retry_task(&sub, &failed).await.expect("retried");
    assert_eq!(outcome.action, "retry");
    let status = sentinel.status(&sub, &failed).await.unwrap();
    assert_eq!(status.state, JobState::Waiting, "{status:?}");
    assert_eq!(status.queue_paused, None);
    let admin = holder("token:admin", "admin");
    let log = sentinel
        .audit_page(&admin, &app::admin::AuditQuery::default(), 50)
        .await
        .expect("the audit log");
    // A queue's `meta` another program wrote as another type: the waiting task's status still
    // reads, and does not claim a pause.
    let mut conn = redis.connection();
    let meta = "sentinel:sentinel-tasks:meta";
    let _: () = redis::cmd("DEL").arg(meta).query(&mut conn).unwrap();
    let _: () = redis::cmd("SET")
        .arg(meta)
        .arg("x".repeat(100_000))
        .query(&mut conn)
        .unwrap();
    let status = sentinel.status(&sub, &failed).await.expect("a status");
    assert_eq!(status.state, JobState::Waiting);
    assert_eq!(status.queue_paused, None, "{status:?}");
    let _: () = redis::cmd("DEL").arg(meta).query(&mut conn).unwrap();
    assert!(
        log.entries.iter().any(|e| e.action == "retry"
            && e.who == "token:sub"
            && e.target.as_deref() == Some(failed.as_str())),
        "{:?}",
        log.entries
    );
    stop.cancel();
}

/// With nobody following, the queue's events are not read (under an enqueue load reading them
/// was most of the server's work): the reader only notes where the stream ends. A stream that
/// joins gets the events from its joining on, at once.
#[tokio::test]
async fn the_queue_s_events_are_read_only_while_a_stream_follows() {
    let redis = RedisServer::start().await;
    let (sentinel, _state, shutdown) = service(&redis, &[]).await;
    let who = Principal::open();
    let mut conn = redis.connection();
    // The reader found the stream's end (one XREVRANGE) and has noted it again since.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while command_calls(&mut conn, "xrevrange") < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the reader never started"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let before = command_calls(&mut conn, "xread");
    for _ in 0..200 {
        add(&sentinel, &who).await;
    }
    // Nothing to wait for when nothing is to happen: three of the reader's idle polls.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        command_calls(&mut conn, "xread"),
        before,
        "the stream was read with nobody following"
    );

    let follow = sentinel.follow(&who).await.expect("a stream");
    let mut live = follow
        .hub
        .subscribe(tokio_util::sync::CancellationToken::new());
    let id = add(&sentinel, &who).await;
    let mut seen = Vec::new();
    let found = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let mut batch = Vec::new();
            live.next_batch(&mut batch, 100).await.expect("not lagging");
            seen.extend(batch.iter().filter_map(|e| e.job_id.clone()));
            if seen.iter().any(|job| job == id.as_str()) {
                return;
            }
        }
    })
    .await;
    assert!(found.is_ok(), "the new job's events did not come: {seen:?}");
    assert!(command_calls(&mut conn, "xread") > before);
    shutdown.cancel();
}

/// Enqueues made at one moment go to Redis in one pipeline: after Redis lost its scripts (a
/// restart, here `SCRIPT FLUSH`) every one of them still gets its own job, and a job id given
/// twice in the same moment is one job.
#[tokio::test]
async fn enqueues_sent_together_each_get_their_job_after_redis_lost_its_scripts() {
    let redis = RedisServer::start().await;
    let (sentinel, _state, shutdown) = service(&redis, &[]).await;
    let who = Principal::open();
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query(&mut redis.connection())
        .expect("scripts flushed");
    let options = app::options::TaskOptions {
        job_id: Some("same-order".into()),
        ..Default::default()
    };
    let together = (0..40).map(|n| {
        let (sentinel, who, options) = (&sentinel, &who, &options);
        async move {
            if n % 10 == 0 {
                let request = server::service::enqueue::EnqueueRequest {
                    seconds: 1,
                    options,
                    idempotency_key: None,
                };
                sentinel.enqueue(who, request).await.expect("an enqueue")
            } else {
                add(sentinel, who).await.to_string()
            }
        }
    });
    let ids = futures::future::join_all(together).await;
    let mut distinct: Vec<&String> = ids.iter().collect();
    distinct.sort();
    distinct.dedup();
    // 36 jobs of their own and one job for the four that gave the same id.
    assert_eq!(distinct.len(), 37, "{ids:?}");
    assert_eq!(ids.iter().filter(|id| *id == "same-order").count(), 4);
    for id in distinct {
        let id = JobId::parse(id).unwrap();
        let status = sentinel.status(&who, &id).await.expect("the job is there");
        assert_eq!(status.id, id.as_str());
    }
    shutdown.cancel();
}
