//! The admin section: a bulk retry of many failed jobs (time, and the longest single Redis
//! call, from Redis's own SLOWLOG), and the Redis CPU one dashboard-style refresh costs (counts,
//! the first page of a state, workers, metrics) on a queue holding those jobs.

use std::time::{Duration, Instant};

use bullmq::BulkJob;
use serde_json::{Value, json};
use support::{RedisServer, Sentinel, SentinelOptions};

async fn get(http: &reqwest::Client, url: &str) -> Value {
    http.get(url).send().await.unwrap().json().await.unwrap()
}

async fn failed_total(http: &reqwest::Client, server: &Sentinel) -> u64 {
    get(http, &server.url("/admin/api/jobs?state=failed&size=1")).await["total"]
        .as_u64()
        .unwrap_or(0)
}

pub async fn bench(jobs: usize, refreshes: usize) {
    println!("Admin ({jobs} failed jobs)");
    let redis = RedisServer::start().await;
    let server = Sentinel::start(
        "admin-bench",
        &redis.url(),
        SentinelOptions {
            concurrency: 50,
            tick_ms: 0,
            ..SentinelOptions::default()
        },
    )
    .await;
    server.wait_ready().await;
    let http = reqwest::Client::new();
    let producer = support::producer_queue(&redis).await;
    // A job name Sentinel has no processor for fails at once: the quickest way to many
    // failed jobs.
    let started = Instant::now();
    let mut added = 0;
    while added < jobs {
        let n = 1000.min(jobs - added);
        let batch = (0..n)
            .map(|i| BulkJob::new("sendEmail", json!({"n": added + i})))
            .collect();
        producer.add_bulk(batch).await.expect("add jobs");
        added += n;
    }
    while failed_total(&http, &server).await < jobs as u64 {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!(
        "  made {jobs} failed jobs in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // Paused: the retried jobs stay waiting (what an operator does before a big retry).
    http.post(server.url("/admin/api/queue/pause"))
        .send()
        .await
        .unwrap();
    let mut conn = redis.connection();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("slowlog-log-slower-than")
        .arg(0)
        .query(&mut conn)
        .unwrap();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("slowlog-max-len")
        .arg(1_000_000)
        .query(&mut conn)
        .unwrap();
    let _: () = redis::cmd("SLOWLOG").arg("RESET").query(&mut conn).unwrap();
    let started = Instant::now();
    let run: Value = http
        .post(server.url("/admin/api/jobs/bulk"))
        .json(&json!({"action": "retry", "q": "state:failed"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = run["bulk"].as_str().expect("a run").to_string();
    let progress = loop {
        let progress = get(&http, &server.url(&format!("/admin/api/bulk/{id}"))).await;
        if progress["finished"] == true {
            break progress;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let took = started.elapsed();
    let log: Vec<(u64, u64, u64, Vec<String>)> = redis::cmd("SLOWLOG")
        .arg("GET")
        .arg(-1)
        .query::<Vec<redis::Value>>(&mut conn)
        .unwrap()
        .into_iter()
        .filter_map(|entry| match entry {
            redis::Value::Array(fields) => {
                let number = |i: usize| match fields.get(i) {
                    Some(redis::Value::Int(n)) => *n as u64,
                    _ => 0,
                };
                let args = match fields.get(3) {
                    Some(redis::Value::Array(args)) => args
                        .iter()
                        .take(2)
                        .map(|a| match a {
                            redis::Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
                            other => format!("{other:?}"),
                        })
                        .collect(),
                    _ => Vec::new(),
                };
                Some((number(0), number(1), number(2), args))
            }
            _ => None,
        })
        .collect();
    let longest = log.iter().max_by_key(|e| e.2);
    println!(
        "  bulk retry of {} failed jobs: {:.2} s ({} done); longest single Redis call meanwhile {:.1} ms ({})",
        progress["total"],
        took.as_secs_f64(),
        progress["done"],
        longest.map_or(0.0, |e| e.2 as f64 / 1000.0),
        longest.map_or(String::new(), |e| e.3.join(" ")),
    );

    // A dashboard refresh: counts, the first page of waiting jobs, workers, the last hour.
    let paths = [
        "/tasks/counts",
        "/admin/api/jobs?state=waiting&size=20",
        "/admin/api/workers",
        "/admin/api/metrics?minutes=60",
    ];
    let before = super::redis_cpu(&mut conn);
    let started = Instant::now();
    for _ in 0..refreshes {
        for path in paths {
            let response = http.get(server.url(path)).send().await.unwrap();
            assert!(response.status().is_success(), "{path}");
            let _ = response.bytes().await;
        }
    }
    let wall = started.elapsed();
    let cpu = super::redis_cpu(&mut conn) - before;
    println!(
        "  dashboard refresh (counts + first page + workers + metrics) with {jobs} waiting jobs: {:.2} ms Redis CPU and {:.2} ms wall each ({refreshes} refreshes)",
        cpu * 1000.0 / refreshes as f64,
        wall.as_secs_f64() * 1000.0 / refreshes as f64,
    );
    producer.close().await;
}
