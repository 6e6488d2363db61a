//! The pending quota on the enqueue's hot path: the reservation counts the owner's pending set
//! without reading each job, the job joins the owner's listing before the answer (written in
//! the writer's batch), and a set at its limit is pruned of jobs that are gone, so places come
//! back as jobs leave.

use super::*;

async fn enqueue(sentinel: &Sentinel, who: &Principal) -> Result<String, server::error::AppError> {
    let options = app::options::TaskOptions {
        delay_ms: Some(600_000),
        ..Default::default()
    };
    let request = server::service::enqueue::EnqueueRequest {
        seconds: 1,
        options: &options,
        idempotency_key: None,
    };
    sentinel.enqueue(who, request).await
}

#[tokio::test]
async fn places_are_listed_at_once_and_come_back_when_jobs_leave() {
    let redis = RedisServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (flags, _) = guarded(
        dir.path(),
        &[("sub", "submitter")],
        &[
            "--max-pending-per-owner=3",
            "--enqueue-rate-per-minute=1000",
        ],
    );
    let (sentinel, _, stop) = service(&redis, &flags).await;
    let sub = holder("token:sub", "submitter");
    let admin = holder("token:ops", "admin");

    let mut ids = Vec::new();
    for _ in 0..3 {
        let id = enqueue(&sentinel, &sub).await.expect("within the quota");
        // Read-your-writes: the answer comes after the job joined its owner's listing.
        let mine = sentinel.my_tasks(&sub).await.unwrap();
        assert_eq!(mine.first(), Some(&id), "{mine:?}");
        ids.push(id);
    }
    assert!(
        matches!(
            enqueue(&sentinel, &sub).await,
            Err(server::error::AppError::TooManyPending { .. })
        ),
        "the fourth waits for a place"
    );
    // One job leaves (an operator removes it): the full set is pruned and its place returns.
    let gone = app::JobId::parse(&ids[0]).unwrap();
    sentinel
        .act(&admin, None, &gone, app::admin::JobAction::Remove)
        .await
        .expect("a removal");
    let fourth = enqueue(&sentinel, &sub).await.expect("a place came back");
    assert!(
        matches!(
            enqueue(&sentinel, &sub).await,
            Err(server::error::AppError::TooManyPending { .. })
        ),
        "three pending again"
    );
    // Every accepted job exists; the listing has all four, newest first.
    let mine = sentinel.my_tasks(&sub).await.unwrap();
    assert_eq!(mine.first(), Some(&fourth));
    assert_eq!(mine.len(), 4, "{mine:?}");
    stop.cancel();
}
