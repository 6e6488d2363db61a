//! Foreign data degrades per item: an entry listed among a queue's jobs that is no job (a key
//! of another type, a hash that is no job, a name that can be no job id) is left out and
//! counted, the rest of the page answers, and the finding is logged at most once a minute.

use super::*;

#[tokio::test]
async fn a_wrong_typed_entry_in_the_wait_list_is_skipped_and_counted() {
    let (logs, _guard) = common::capture_logs();
    let redis = RedisServer::start().await;
    let (sentinel, _, stop) = service(&redis, &[]).await;
    let _payments = other_queue(&redis, "payments", 3).await;
    let mut conn = redis.connection();
    // A string where a job hash would be, a hash that is no job, and a reserved name.
    let _: () = redis::cmd("SET")
        .arg("bull:payments:intruder")
        .arg("x")
        .query(&mut conn)
        .unwrap();
    let _: () = redis::cmd("HSET")
        .arg("bull:payments:nojob")
        .arg("a")
        .arg("b")
        .query(&mut conn)
        .unwrap();
    for id in ["intruder", "nojob", "meta"] {
        let _: () = redis::cmd("LPUSH")
            .arg("bull:payments:wait")
            .arg(id)
            .query(&mut conn)
            .unwrap();
    }
    let local = Principal::open();
    let asked = app::admin::JobQuery {
        state: Some("waiting".into()),
        page: 0,
        size: 20,
        queue: Some("bull:payments".into()),
        ..Default::default()
    };
    for _ in 0..5 {
        let page = sentinel
            .find(&local, &asked)
            .await
            .expect("a page, not an error");
        assert_eq!(page.jobs.len(), 3, "{page:?}");
        assert_eq!(page.skipped, 3, "{page:?}");
    }
    // A search over the same list answers too.
    let searched = sentinel
        .find(
            &local,
            &app::admin::JobQuery {
                q: Some("name:charge".into()),
                ..asked.clone()
            },
        )
        .await
        .expect("a search, not an error");
    assert_eq!(searched.jobs.len(), 3, "{searched:?}");
    let logged = logs.text().matches("entries that are no jobs").count();
    assert_eq!(logged, 1, "logged once a minute: {}", logs.text());
    // The queue's counts and overview still answer.
    let overview = sentinel
        .overview(&local, Some("bull:payments"))
        .await
        .unwrap();
    assert_eq!(overview.counts.waiting, 6);
    stop.cancel();
}
