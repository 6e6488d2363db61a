//! The dashboard section: the first view of `/admin` (server-rendered HTML: overview and the
//! first page of jobs) on a queue of many waiting jobs, and the Redis commands per second that
//! open dashboards cost. A dashboard is simulated as the page behaves: its event stream open,
//! and while events arrive, one read of the overview and one of its page of jobs a second (the
//! same server functions the page calls).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bullmq::BulkJob;
use serde_json::json;
use support::{RedisServer, Sentinel, SentinelOptions};

/// Commands Redis has processed so far.
pub fn commands(conn: &mut redis::Connection) -> u64 {
    let info: String = redis::cmd("INFO").arg("stats").query(conn).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("total_commands_processed:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

pub async fn bench(waiting: usize, runs: usize) {
    println!("Dashboard");
    first_view(waiting, runs).await;
    for n in [0, 1, 20] {
        commands_per_second(n).await;
    }
}

async fn first_view(waiting: usize, runs: usize) {
    let redis = RedisServer::start().await;
    let server = Sentinel::start(
        "dashboard-bench",
        &redis.url(),
        SentinelOptions {
            env: vec![("RUST_LOG".into(), "warn".into())],
            ..SentinelOptions::for_role("web")
        },
    )
    .await;
    server.wait_ready().await;
    let producer = support::producer_queue(&redis).await;
    let started = Instant::now();
    let mut added = 0;
    while added < waiting {
        let n = 2000.min(waiting - added);
        let batch = (0..n)
            .map(|i| BulkJob::new("longTask", json!({"seconds": 1 + (added + i) % 60})))
            .collect();
        producer.add_bulk(batch).await.expect("add jobs");
        added += n;
    }
    println!(
        "  added {waiting} waiting jobs in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let http = reqwest::Client::new();
    for path in [
        "/admin",
        "/admin?state=waiting",
        "/admin?q=data.seconds%3A7",
    ] {
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs {
            // Past the server's shared one-second copy: each view is read from Redis.
            tokio::time::sleep(Duration::from_millis(1100)).await;
            let t = Instant::now();
            let response = http
                .get(server.url(path))
                .header("accept", "text/html")
                .send()
                .await
                .unwrap();
            assert!(response.status().is_success(), "{path}");
            let body = response.text().await.unwrap();
            assert!(
                body.contains("job-table"),
                "{path}: the first page is in the HTML"
            );
            times.push(t.elapsed());
        }
        times.sort();
        println!(
            "  first view of {path} (whole HTML, read from Redis) with {waiting} waiting: {:.1} ms p50, {:.1} ms max",
            super::ms(super::percentile(&times, 0.5)),
            super::ms(*times.last().unwrap()),
        );
    }
    producer.close().await;
}

async fn commands_per_second(dashboards: usize) {
    let redis = RedisServer::start().await;
    let server = Arc::new(
        Sentinel::start(
            "dashboard-load",
            &redis.url(),
            SentinelOptions {
                tick_ms: 100,
                concurrency: 4,
                env: vec![
                    ("RUST_LOG".into(), "warn".into()),
                    // Every simulated dashboard comes from this one address.
                    ("MAX_SSE_STREAMS_PER_CLIENT".into(), "100".into()),
                ],
                ..SentinelOptions::default()
            },
        )
        .await,
    );
    server.wait_ready().await;
    let stop = Arc::new(AtomicBool::new(false));
    // The same steady work each time: a one-second task every 100 ms.
    let producer = {
        let server = server.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            while !stop.load(Ordering::Relaxed) {
                let _ = http
                    .post(server.url("/tasks/enqueue"))
                    .json(&json!({"seconds": 10}))
                    .send()
                    .await;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let mut readers = Vec::new();
    for _ in 0..dashboards {
        let server = server.clone();
        let stop = stop.clone();
        readers.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut stream =
                support::sse::SseClient::connect(&server.url("/tasks/stream"), None).await;
            let mut last_read = Instant::now();
            let mut dirty = false;
            while !stop.load(Ordering::Relaxed) {
                if let Some(_event) = stream.next_within(Duration::from_millis(200)).await {
                    dirty = true;
                }
                if dirty && last_read.elapsed() >= Duration::from_secs(1) {
                    dirty = false;
                    last_read = Instant::now();
                    let _ = http.post(server.url("/api/admin/overview")).send().await;
                    let _ = http
                        .post(server.url("/api/admin/jobs"))
                        .header("content-type", "application/x-www-form-urlencoded")
                        .body("query[page]=0&query[size]=20")
                        .send()
                        .await;
                }
            }
        }));
    }
    let mut conn = redis.connection();
    // Settle, then measure ten seconds.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (before, t) = (commands(&mut conn), Instant::now());
    tokio::time::sleep(Duration::from_secs(10)).await;
    let per_second = (commands(&mut conn) - before) as f64 / t.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let _ = producer.await;
    for reader in readers {
        let _ = reader.await;
    }
    println!(
        "  {dashboards:>2} dashboards open (a 10 s task enqueued every 100 ms): Redis {per_second:.0} commands/s"
    );
}
