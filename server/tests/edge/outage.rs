//! A Redis that stops answering: once the pulse's ping has gone unanswered, every read of the
//! dashboard and the API is refused at once with `503 queue_unreachable` naming since when
//! (never a 500, never a request waiting out its timeout, never an old cached answer passed
//! off as fresh), the server functions likewise; readiness says so; the first answered ping
//! brings everything back.

use super::harness::*;

#[tokio::test]
async fn while_redis_does_not_answer_reads_are_refused_at_once_and_come_back_with_it() {
    let redis = RedisServer::start().await;
    let (router, state, shutdown) = router(&redis, &[]).await;
    let get = |path: &str| request("GET", path).body(Body::empty()).unwrap();
    let server_fn = |path: &str| {
        request("POST", path)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::empty())
            .unwrap()
    };
    const READS: [&str; 4] = [
        "/admin/api/jobs?state=waiting",
        "/admin/api/queues",
        "/admin/api/workers",
        "/tasks/counts",
    ];
    for path in READS {
        let (status, body) = call(&router, get(path)).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
    let (status, _) = call(&router, server_fn("/api/admin/overview")).await;
    assert_eq!(status, StatusCode::OK);

    redis.pause();
    // The pulse's loop pings every second and counts Redis down after two missed pings in a
    // row; here the test pings twice itself.
    for _ in 0..server::events::pulse::MISSES_FOR_DOWN {
        state.sentinel.beat(Duration::from_millis(200)).await;
    }
    let started = std::time::Instant::now();
    for path in READS {
        let (status, body) = call(&router, get(path)).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{path}: {body}");
        assert_eq!(body["error"], "queue_unreachable", "{path}: {body}");
        assert!(body["since"].as_u64().is_some(), "{path}: {body}");
    }
    // The dashboard's server functions: 503 too (not the 500 of any server function error),
    // the overview included although a cached copy of it is at hand.
    let response = router
        .clone()
        .oneshot(server_fn("/api/admin/overview"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    // At once: no request waited for Redis (each call's own limit is seconds).
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "refusals took {:?}",
        started.elapsed()
    );
    let (status, ready) = call(&router, get("/readyz")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{ready}");

    redis.resume();
    state.sentinel.beat(Duration::from_secs(2)).await;
    for path in READS {
        let (status, body) = call(&router, get(path)).await;
        assert_eq!(status, StatusCode::OK, "{path} after the outage: {body}");
    }
    shutdown.cancel();
}
