//! What discovery and `/metrics` cost is bounded whoever asks: one scan at a time for the whole
//! deployment, at most once per least interval however many ask for a rescan, the result shared
//! by every process; `/metrics` labels the busiest queues one by one and sums the rest.

use std::sync::atomic::{AtomicU64, Ordering};

use super::*;

fn scans(conn: &mut redis::Connection) -> u64 {
    command_calls(conn, "scan")
}

#[tokio::test]
async fn rescans_from_twenty_callers_on_two_processes_cost_one_scan() {
    let redis = RedisServer::start().await;
    for n in 0..20 {
        other_queue(&redis, &format!("q{n:02}"), 1).await;
    }
    let flags = ["--discovery-min-interval-ms=60000".to_string()];
    let (a, _, stop_a) = service(&redis, &flags).await;
    let (b, _, stop_b) = service(&redis, &flags).await;
    let mut conn = redis.connection();
    let _: () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query(&mut conn)
        .unwrap();
    let viewer = holder("token:v", "viewer");
    let asked = app::admin::QueueListQuery {
        rescan: true,
        limit: 50,
        ..Default::default()
    };
    let found = AtomicU64::new(0);
    let ask = |via: &Sentinel| {
        let via = via.clone();
        let viewer = viewer.clone();
        let asked = asked.clone();
        let found = &found;
        async move {
            for _ in 0..5 {
                let list = via.queues(&viewer, &asked).await.expect("a list");
                found.fetch_max(list.total, Ordering::Relaxed);
            }
        }
    };
    let callers: Vec<_> = (0..20)
        .map(|n| ask(if n % 2 == 0 { &a } else { &b }))
        .collect();
    futures::future::join_all(callers).await;
    // 21 queues (Sentinel's own has no meta yet; the 20 others), 100 rescans, one scan.
    assert!(found.load(Ordering::Relaxed) >= 20);
    let steps = scans(&mut conn);
    assert!(steps >= 1, "the first asker scans");
    let _: () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query(&mut conn)
        .unwrap();
    for _ in 0..20 {
        b.queues(&viewer, &asked).await.unwrap();
    }
    assert_eq!(scans(&mut conn), 0, "no scan within the least interval");
    stop_a.cancel();
    stop_b.cancel();
}

#[tokio::test]
async fn metrics_label_the_busiest_queues_and_sum_the_rest() {
    let redis = RedisServer::start().await;
    for n in 0..12 {
        other_queue(&redis, &format!("m{n:02}"), n + 1).await;
    }
    let (sentinel, state, stop) = service(&redis, &["--metrics-max-queues=5".to_string()]).await;
    let scrape = sentinel.scrape(None).await.unwrap();
    assert!(scrape.queues.len() >= 12);
    let text = state.metrics.encode(&scrape.queues, 5).unwrap();
    let labelled: std::collections::BTreeSet<&str> = text
        .lines()
        .filter(|l| l.starts_with("sentinel_queue_paused{"))
        .collect();
    assert_eq!(labelled.len(), 6, "five queues and the rest: {labelled:?}");
    assert!(text.contains(r#"queue="_other""#), "{text}");
    assert!(text.contains(r#"queue="m11""#), "the busiest is labelled");
    assert!(
        text.contains("sentinel_queue_summed 8") || text.contains("sentinel_queue_summed 7"),
        "{text}"
    );
    stop.cancel();
}
