//! The queues section: every BullMQ queue on the Redis, as `/admin/queues` shows them. Many
//! queues under three prefixes hold the jobs between them; then the list's read is timed (a
//! new scan, and the counts alone), the page's first view (server-rendered HTML), and the
//! Redis commands per second that open queues pages cost (each reads the list every 2 s, as the
//! page does; the reads are shared per process).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bullmq::BulkJob;
use serde_json::json;
use support::{RedisServer, Sentinel, SentinelOptions};

fn times_line(what: &str, times: &mut [Duration]) {
    times.sort();
    println!(
        "  {what}: {:.1} ms p50, {:.1} ms max",
        super::ms(super::percentile(times, 0.5)),
        super::ms(*times.last().unwrap()),
    );
}

pub async fn bench(queues: usize, jobs: usize, runs: usize) {
    println!("Queues page ({queues} queues under 3 prefixes, {jobs} jobs in all)");
    let redis = RedisServer::start().await;
    let started = Instant::now();
    let per_queue = jobs / queues.max(1);
    for i in 0..queues {
        let prefix = ["bull", "svc", "{tagged}"][i % 3];
        let opts = bullmq::QueueOptions::new()
            .connection(bullmq::options::RedisConnectionOptions::new().url(redis.url()))
            .prefix(prefix);
        let queue = bullmq::Queue::with_options(&format!("orders-{i}"), opts)
            .await
            .expect("open a queue");
        let batch = (0..per_queue)
            .map(|n| BulkJob::new("work", json!({ "n": n })))
            .collect();
        queue.add_bulk(batch).await.expect("add jobs");
        queue.close().await;
    }
    println!("  made them in {:.1} s", started.elapsed().as_secs_f64());
    let server = Arc::new(
        Sentinel::start(
            "queues-bench",
            &redis.url(),
            SentinelOptions {
                env: vec![("RUST_LOG".into(), "warn".into())],
                ..SentinelOptions::for_role("web")
            },
        )
        .await,
    );
    server.wait_ready().await;
    let http = reqwest::Client::new();
    let timed = |path: &'static str| {
        let http = http.clone();
        let url = server.url(path);
        async move {
            let t = Instant::now();
            let response = http
                .get(&url)
                .header("accept", "text/html")
                .send()
                .await
                .unwrap();
            assert!(response.status().is_success(), "{path}");
            let body = response.text().await.unwrap();
            (t.elapsed(), body)
        }
    };
    let (_, body) = timed("/admin/api/queues?rescan=true").await;
    let listed: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(
        listed["total"].as_u64().unwrap() >= queues as u64,
        "every queue found"
    );
    let mut scans = Vec::new();
    let mut reads = Vec::new();
    let mut pages = Vec::new();
    for _ in 0..runs {
        scans.push(timed("/admin/api/queues?rescan=true").await.0);
        // Past the shared one-second copy: the counts are read again, the scan reused.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        reads.push(timed("/admin/api/queues").await.0);
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let (took, html) = timed("/admin/queues").await;
        assert!(html.contains("orders-"), "the page lists the queues");
        pages.push(took);
    }
    times_line(
        "the list with a new scan (GET /admin/api/queues?rescan=true)",
        &mut scans,
    );
    times_line(
        "the list, counts read again (GET /admin/api/queues)",
        &mut reads,
    );
    times_line(
        "the page's first view (GET /admin/queues, whole HTML)",
        &mut pages,
    );

    let mut conn = redis.connection();
    for pages in [0usize, 1, 20] {
        let stop = Arc::new(AtomicBool::new(false));
        let mut readers = Vec::new();
        for _ in 0..pages {
            let server = server.clone();
            let stop = stop.clone();
            readers.push(tokio::spawn(async move {
                let http = reqwest::Client::new();
                while !stop.load(Ordering::Relaxed) {
                    let _ = http
                        .post(server.url("/api/admin/queues"))
                        .header("content-type", "application/x-www-form-urlencoded")
                        .body("rescan=false")
                        .send()
                        .await;
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
            }));
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
        let (before, every_before, t) = (
            super::dashboards::commands(&mut conn),
            every_command(&mut conn),
            Instant::now(),
        );
        // A minute: a rescan (every 30 s) and the summaries' full read (every 60 s) fall in it.
        tokio::time::sleep(Duration::from_secs(60)).await;
        let per_second =
            (super::dashboards::commands(&mut conn) - before) as f64 / t.elapsed().as_secs_f64();
        let every_per_second =
            (every_command(&mut conn) - every_before) as f64 / t.elapsed().as_secs_f64();
        stop.store(true, Ordering::Relaxed);
        for reader in readers {
            let _ = reader.await;
        }
        let each = if pages > 0 {
            format!(", {:.0} per page", per_second / pages as f64)
        } else {
            String::new()
        };
        println!(
            "  {pages:>2} queues pages open (first page of 50, read every 2 s): Redis {per_second:.0} commands/s{each} ({every_per_second:.0}/s counting those inside scripts)"
        );
    }
}

/// Every command Redis ran, those called inside scripts included (`INFO commandstats`).
fn every_command(conn: &mut redis::Connection) -> u64 {
    let stats: String = redis::cmd("INFO").arg("commandstats").query(conn).unwrap();
    stats
        .lines()
        .filter_map(|l| l.split_once(":calls="))
        .filter_map(|(_, rest)| rest.split(',').next()?.parse::<u64>().ok())
        .sum()
}
