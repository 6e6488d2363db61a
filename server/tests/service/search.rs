//! The search across queues: it finds jobs in every queue the caller's grant reaches (never in
//! another), names each one's queue, pages through all of them with its cursor without a
//! duplicate, shares one budget of examined jobs among the queues (a big queue makes an answer
//! incomplete, not slow), and refuses what it cannot read with the field named.

use std::collections::BTreeSet;

use app::admin::{AcrossPage, AcrossQuery};
use server::error::AppError;

use super::*;

fn asked(q: &str, size: u64) -> AcrossQuery {
    AcrossQuery {
        q: q.to_string(),
        size,
        ..Default::default()
    }
}

/// Adds `count` waiting jobs named `name` to `bull:<queue>` in one pipeline (as another
/// producer's jobs look to Sentinel).
fn add_raw(redis: &RedisServer, queue: &str, name: &str, from: usize, count: usize) {
    let mut conn = redis.connection();
    let mut pipe = redis::pipe();
    // What BullMQ writes on a queue's first add: the queue is found by it.
    pipe.cmd("HSET")
        .arg(format!("bull:{queue}:meta"))
        .arg("opts.maxLenEvents")
        .arg(10_000)
        .ignore();
    for n in from..from + count {
        let id = format!("raw-{n}");
        pipe.cmd("HSET")
            .arg(format!("bull:{queue}:{id}"))
            .arg("name")
            .arg(name)
            .arg("data")
            .arg(format!("{{\"n\":{n}}}"))
            .arg("opts")
            .arg("{}")
            .arg("timestamp")
            .arg(1_700_000_000_000u64 + n as u64)
            .ignore();
        pipe.cmd("LPUSH")
            .arg(format!("bull:{queue}:wait"))
            .arg(&id)
            .ignore();
    }
    let _: () = pipe.query(&mut conn).unwrap();
}

/// Every page of a search, from the start: the pages in order.
async fn every_page(sentinel: &Sentinel, who: &Principal, first: AcrossQuery) -> Vec<AcrossPage> {
    let mut pages = Vec::new();
    let mut asked = first;
    loop {
        let page = sentinel.search_across(who, &asked).await.expect("a page");
        let next = page.next.clone();
        pages.push(page);
        match next {
            Some(next) => asked.cursor = Some(next),
            None => return pages,
        }
        assert!(pages.len() < 50, "the search ends");
    }
}

#[tokio::test]
async fn finds_jobs_in_every_queue_the_grant_reaches_and_pages_through_them() {
    let redis = RedisServer::start().await;
    add_raw(&redis, "payments", "charge", 0, 30);
    add_raw(&redis, "emails", "send", 0, 5);
    add_raw(&redis, "billing-eu", "charge", 0, 3);
    let (sentinel, _, stop) = service(&redis, &[]).await;
    let viewer = holder("token:v", "viewer");

    // One page holds every match: each names its queue, the per-queue counts are exact.
    let page = sentinel
        .search_across(&viewer, &asked("name:charge", 100))
        .await
        .unwrap();
    assert!(page.complete, "{page:?}");
    assert_eq!(page.next, None);
    assert_eq!(page.jobs.len(), 33);
    let in_queue =
        |page: &AcrossPage, queue: &str| page.jobs.iter().filter(|j| j.queue == queue).count();
    assert_eq!(in_queue(&page, "bull:payments"), 30);
    assert_eq!(in_queue(&page, "bull:billing-eu"), 3);
    assert!(page.jobs.iter().all(|j| j.listed.job.name == "charge"));
    let counts: Vec<(String, u64)> = page
        .queues
        .iter()
        .map(|q| (q.queue.clone(), q.matches))
        .collect();
    assert!(counts.contains(&("bull:payments".into(), 30)), "{counts:?}");
    assert!(counts.contains(&("bull:emails".into(), 0)), "{counts:?}");
    assert!(
        page.of >= 4,
        "Sentinel's own and the three others: {}",
        page.of
    );

    // A blank search finds every job.
    let all = sentinel
        .search_across(&viewer, &asked("", 100))
        .await
        .unwrap();
    assert_eq!(all.jobs.len(), 38);
    assert!(all.complete);

    // Paging by 7: every match once, in the same order.
    let pages = every_page(&sentinel, &viewer, asked("name:charge", 7)).await;
    let seen: Vec<(String, String)> = pages
        .iter()
        .flat_map(|p| {
            p.jobs
                .iter()
                .map(|j| (j.queue.clone(), j.listed.job.id.clone()))
        })
        .collect();
    let unique: BTreeSet<_> = seen.iter().cloned().collect();
    assert_eq!(seen.len(), 33, "{seen:?}");
    assert_eq!(unique.len(), 33, "no job twice");
    assert!(pages.iter().all(|p| p.jobs.len() <= 7));

    // The queue in view comes first.
    let mut first_payments = asked("name:charge", 5);
    first_payments.queue = Some("bull:payments".into());
    let page = sentinel
        .search_across(&viewer, &first_payments)
        .await
        .unwrap();
    assert!(page.jobs.iter().all(|j| j.queue == "bull:payments"));
    assert_eq!(page.queues[0].queue, "bull:payments");

    // Only the queues in view: Sentinel's own and that one.
    first_payments.only_in_view = true;
    first_payments.size = 100;
    let page = sentinel
        .search_across(&viewer, &first_payments)
        .await
        .unwrap();
    assert_eq!(page.of, 2);
    assert_eq!(page.jobs.len(), 30);

    // An id names one job in each queue that has it.
    let page = sentinel
        .search_across(&viewer, &asked("id:raw-2", 100))
        .await
        .unwrap();
    let queues: BTreeSet<&str> = page.jobs.iter().map(|j| j.queue.as_str()).collect();
    assert_eq!(
        queues,
        BTreeSet::from(["bull:payments", "bull:emails", "bull:billing-eu"])
    );

    // A grant limited to billing-* reads no other queue, not even Sentinel's own.
    let billing = holder("token:b", "operator@billing-*");
    let page = sentinel
        .search_across(&billing, &asked("name:charge", 100))
        .await
        .unwrap();
    assert_eq!(page.of, 1, "{page:?}");
    assert_eq!(page.jobs.len(), 3);
    assert!(page.jobs.iter().all(|j| j.queue == "bull:billing-eu"));
    // Nor through a cursor naming another queue.
    let mut forged = asked("name:charge", 100);
    forged.cursor = Some("-@bull:payments".into());
    let refused = sentinel.search_across(&billing, &forged).await;
    assert!(
        matches!(&refused, Err(AppError::NoQueue { queue }) if queue == "bull:payments"),
        "{refused:?}"
    );
    stop.cancel();
}

#[tokio::test]
async fn one_budget_is_shared_by_the_queues_and_a_big_queue_makes_an_answer_go_on() {
    let redis = RedisServer::start().await;
    // `big` is searched before `payments` (the queues page's order): 6,000 jobs, none matching.
    add_raw(&redis, "big", "other", 0, 6_000);
    add_raw(&redis, "payments", "charge", 0, 4);
    let (sentinel, _, stop) = service(&redis, &[]).await;
    let viewer = holder("token:v", "viewer");

    let first = sentinel
        .search_across(&viewer, &asked("name:charge", 20))
        .await
        .unwrap();
    assert!(!first.complete, "5,000 jobs examined at most: {first:?}");
    assert!(first.jobs.is_empty());
    let next = first.next.clone().expect("a cursor");
    assert!(next.ends_with("@bull:big"), "{next}");
    assert!(
        !first.queues.iter().any(|q| q.queue == "bull:payments"),
        "not reached yet"
    );
    let pages = every_page(&sentinel, &viewer, asked("name:charge", 20)).await;
    let last = pages.last().unwrap();
    assert!(last.complete);
    let found: usize = pages.iter().map(|p| p.jobs.len()).sum();
    assert_eq!(found, 4);
    stop.cancel();
}

#[tokio::test]
async fn what_it_cannot_read_is_refused_naming_the_field() {
    let redis = RedisServer::start().await;
    let (sentinel, _, stop) = service(&redis, &[]).await;
    let viewer = holder("token:v", "viewer");
    let field_of = |result: Result<AcrossPage, AppError>| match result {
        Err(AppError::InvalidOption(e)) => e.field.to_string(),
        other => panic!("expected a refused field, got {other:?}"),
    };
    assert_eq!(
        field_of(
            sentinel
                .search_across(&viewer, &asked(&"x".repeat(201), 20))
                .await
        ),
        "q"
    );
    assert_eq!(
        field_of(sentinel.search_across(&viewer, &asked("x", 0)).await),
        "size"
    );
    let mut bad = asked("x", 20);
    bad.cursor = Some("nonsense".into());
    assert_eq!(
        field_of(sentinel.search_across(&viewer, &bad).await),
        "cursor"
    );
    let mut bad = asked("x", 20);
    bad.queue = Some("no-colon".into());
    assert_eq!(
        field_of(sentinel.search_across(&viewer, &bad).await),
        "queue"
    );
    // A submitter may not search the dashboard's jobs.
    let sub = holder("token:s", "submitter");
    assert!(matches!(
        sentinel.search_across(&sub, &asked("x", 20)).await,
        Err(AppError::Forbidden)
    ));
    stop.cancel();
}
