//! Changing a job's data (BullMQ's `updateData`): an operator changes a waiting job's data on
//! any queue; on Sentinel's own queue the data stays a task's and keeps its owner, and the
//! search finds the job by its new data; a running job keeps its data (409); refusals name
//! `data`; a viewer may not; every change is audited.

use std::sync::Arc;
use std::time::Duration;

use app::{JobId, JobState};
use server::error::AppError;

use super::*;

fn field_of(refused: Result<impl std::fmt::Debug, AppError>) -> &'static str {
    match refused {
        Err(AppError::InvalidOption(e)) => e.field,
        other => panic!("expected a refused field, got {other:?}"),
    }
}

#[tokio::test]
async fn an_operator_changes_a_waiting_job_s_data_and_nothing_else() {
    let redis = RedisServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (flags, _) = guarded(
        dir.path(),
        &[("op", "operator"), ("sub", "submitter"), ("look", "viewer")],
        &[],
    );
    let (sentinel, _, stop) = service(&redis, &flags).await;
    let op = holder("token:op", "operator");
    let sub = holder("token:sub", "submitter");
    let viewer = holder("token:look", "viewer");
    let admin = holder("token:admin", "admin");

    // A submitter's task, waiting (no worker in a web process).
    let options = app::options::TaskOptions::default();
    let request = server::service::enqueue::EnqueueRequest {
        seconds: 3,
        options: &options,
        idempotency_key: None,
    };
    let id = JobId::parse(&sentinel.enqueue(&sub, request).await.unwrap()).unwrap();

    // Changed: the seconds and a new field; the owner stays the submitter's whatever the new
    // data says.
    let outcome = sentinel
        .edit_data(
            &op,
            None,
            &id,
            r#"{"seconds": 5, "note": "rush", "owner": "token:op"}"#,
        )
        .await
        .expect("changed");
    assert_eq!(outcome.action, "edit-data");
    let job = sentinel
        .job(&op, None, &id)
        .await
        .unwrap()
        .expect("the job");
    assert_eq!(job.data["seconds"], 5);
    assert_eq!(job.data["note"], "rush");
    assert_eq!(job.data["owner"], "token:sub", "{}", job.data);
    assert_eq!(sentinel.status(&sub, &id).await.unwrap().seconds, Some(5));
    // The search finds it by its new data.
    let found = sentinel
        .find(
            &op,
            &app::admin::JobQuery {
                q: Some("data.note:rush".to_string()),
                size: 20,
                ..Default::default()
            },
        )
        .await
        .expect("a search");
    assert_eq!(found.jobs.len(), 1, "{found:?}");

    // Refusals name `data`, and change nothing.
    assert_eq!(
        field_of(sentinel.edit_data(&op, None, &id, "{not json").await),
        "data"
    );
    assert_eq!(
        field_of(
            sentinel
                .edit_data(&op, None, &id, r#"{"note": "no seconds"}"#)
                .await
        ),
        "data"
    );
    assert_eq!(
        field_of(sentinel.edit_data(&op, None, &id, r#"[1, 2]"#).await),
        "data"
    );
    let big = format!(r#"{{"seconds": 1, "blob": "{}"}}"#, "x".repeat(64 * 1024));
    assert_eq!(
        field_of(sentinel.edit_data(&op, None, &id, &big).await),
        "data"
    );
    assert!(matches!(
        sentinel
            .edit_data(&viewer, None, &id, r#"{"seconds": 1}"#)
            .await,
        Err(AppError::Forbidden)
    ));
    assert!(matches!(
        sentinel
            .edit_data(
                &op,
                None,
                &JobId::parse("no-such-job").unwrap(),
                r#"{"seconds": 1}"#
            )
            .await,
        Err(AppError::NotFound { .. })
    ));
    assert_eq!(
        sentinel.job(&op, None, &id).await.unwrap().unwrap().data["seconds"],
        5
    );

    // Another program's queue: any JSON it likes.
    let _billing = other_queue(&redis, "billing", 1).await;
    let queue = Some("bull:billing");
    let node_id = JobId::parse("1").unwrap();
    sentinel
        .edit_data(&op, queue, &node_id, r#"{"n": 9, "retry": true}"#)
        .await
        .expect("changed on another queue");
    let job = sentinel.job(&op, queue, &node_id).await.unwrap().unwrap();
    assert_eq!(job.data, serde_json::json!({"n": 9, "retry": true}));

    // A running job keeps its data: its worker read the old one.
    let held = Arc::new(tokio::sync::Notify::new());
    let worker = {
        let held = held.clone();
        let opts = bullmq::WorkerOptions::default()
            .connection(bullmq::options::RedisConnectionOptions::new().url(redis.url()))
            .prefix("bull");
        bullmq::Worker::with_options(
            "billing",
            move |_job: bullmq::Job, _token| {
                let held = held.clone();
                async move {
                    held.notified().await;
                    Ok(serde_json::Value::Null)
                }
            },
            opts,
        )
        .await
        .unwrap()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while sentinel
        .job(&op, queue, &node_id)
        .await
        .unwrap()
        .unwrap()
        .state
        != JobState::Active
    {
        assert!(tokio::time::Instant::now() < deadline, "the job never ran");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    match sentinel
        .edit_data(&op, queue, &node_id, r#"{"n": 10}"#)
        .await
    {
        Err(AppError::Conflict { state, .. }) => assert_eq!(state, JobState::Active),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(
        sentinel
            .job(&op, queue, &node_id)
            .await
            .unwrap()
            .unwrap()
            .data["n"],
        9
    );
    held.notify_one();
    worker.close(5_000).await.unwrap();

    // Each attempt is on the audit log, refusals included.
    let log = sentinel
        .audit_page(&admin, &app::admin::AuditQuery::default(), 50)
        .await
        .unwrap();
    let edits = log
        .entries
        .iter()
        .filter(|e| e.action == "edit-data")
        .count();
    assert!(edits >= 7, "{:?}", log.entries);
    stop.cancel();
}

#[tokio::test]
async fn a_copy_is_a_job_of_its_own_on_any_queue_added_for_its_caller() {
    let redis = RedisServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (flags, _) = guarded(dir.path(), &[("op", "operator"), ("look", "viewer")], &[]);
    let (sentinel, _, stop) = service(&redis, &flags).await;
    let op = holder("token:op", "operator");
    let viewer = holder("token:look", "viewer");

    // Sentinel's own queue: a task, owned by whoever adds the copy, with its options.
    let id = sentinel
        .add_copy(
            &op,
            None,
            "longTask",
            r#"{"seconds": 4, "owner": "token:someone-else"}"#,
            r#"{"attempts": 3, "delay": 60000}"#,
        )
        .await
        .expect("added");
    let job = sentinel
        .job(&op, None, &JobId::parse(&id).unwrap())
        .await
        .unwrap()
        .expect("the copy");
    assert_eq!(job.state, JobState::Delayed);
    assert_eq!(job.data["seconds"], 4);
    assert_eq!(job.data["owner"], "token:op", "{}", job.data);
    assert_eq!(job.opts["attempts"], 3);
    // What a task is not, refused naming the field.
    for (name, data, options, field) in [
        ("charge", r#"{"seconds": 1}"#, "", "name"),
        ("longTask", r#"{"n": 1}"#, "", "data"),
        ("longTask", r#"{"seconds": 1}"#, r#"{"jobId": "x"}"#, "opts"),
        (
            "longTask",
            r#"{"seconds": 1}"#,
            r#"{"attempts": 0}"#,
            "attempts",
        ),
    ] {
        let refused = sentinel.add_copy(&op, None, name, data, options).await;
        assert_eq!(field_of(refused), field, "{name} {data} {options}");
    }
    assert!(matches!(
        sentinel
            .add_copy(&viewer, None, "longTask", r#"{"seconds": 1}"#, "")
            .await,
        Err(AppError::Forbidden)
    ));

    // Another program's queue: its own name and any data, as its producers add them.
    let billing = other_queue(&redis, "billing", 1).await;
    let copy = sentinel
        .add_copy(
            &op,
            Some("bull:billing"),
            "charge",
            r#"{"customer": "c7", "cents": 1200}"#,
            r#"{"priority": 2}"#,
        )
        .await
        .expect("added to another queue");
    let job = billing
        .get_job(&copy)
        .await
        .unwrap()
        .expect("Node's view of it");
    assert_eq!(job.name(), "charge");
    assert_eq!(job.data()["customer"], "c7");
    stop.cancel();
}
