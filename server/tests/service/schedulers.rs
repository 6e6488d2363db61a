//! Scheduler ids follow the custom job id rules: BullMQ names a scheduler's hash
//! `repeat:<id>` and its jobs `repeat:<id>:<ms>`, so an id with `:` would write over another
//! scheduler's job, and a queue key name would address the queue's own bookkeeping.

use server::error::AppError;

use super::*;

#[tokio::test]
async fn a_scheduler_id_with_a_colon_or_a_key_name_is_refused_naming_id() {
    let redis = RedisServer::start().await;
    let (sentinel, _, stop) = service(&redis, &[]).await;
    let local = Principal::open();
    let every = app::admin::SchedulerRequest {
        every: Some(60_000),
        ..Default::default()
    };
    sentinel
        .upsert_scheduler(&local, None, "s1", &every)
        .await
        .unwrap();
    for id in ["s1:1801389600000", "a:b", "wait", "meta", "events"] {
        match sentinel.upsert_scheduler(&local, None, id, &every).await {
            Err(AppError::InvalidOption(refused)) => assert_eq!(refused.field, "id", "{id}"),
            other => panic!("{id}: {other:?}"),
        }
    }
    let list = sentinel.schedulers(&local, None).await.unwrap();
    let ids: Vec<&str> = list.schedulers.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["s1"]);
    stop.cancel();
}
