//! The search section: a queue with a million waiting jobs Sentinel added (indexed) and some
//! another producer added before them (not indexed, so behind the million in a scan); each
//! search's first page timed over HTTP, with the Redis CPU it cost and the index's memory.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bullmq::BulkJob;
use serde_json::{Value, json};
use support::{RedisServer, Sentinel, SentinelOptions};

pub async fn bench(jobs: usize, foreign: usize, runs: usize) {
    println!("Search ({jobs} waiting jobs added by Sentinel, {foreign} by another producer)");
    let redis = RedisServer::start().await;
    // A web process: no worker, so every job stays waiting.
    let server = Arc::new(
        Sentinel::start(
            "search-bench",
            &redis.url(),
            SentinelOptions {
                role: "web",
                env: vec![("RUST_LOG".into(), "warn".into())],
                ..SentinelOptions::for_role("web")
            },
        )
        .await,
    );
    server.wait_ready().await;
    let producer = support::producer_queue(&redis).await;
    let mut added = 0;
    while added < foreign {
        let n = 1000.min(foreign - added);
        let batch = (0..n)
            .map(|i| BulkJob::new("report", json!({"kind": "monthly", "n": added + i})))
            .collect();
        producer.add_bulk(batch).await.expect("add jobs");
        added += n;
    }
    let mut conn = redis.connection();
    let memory = |conn: &mut redis::Connection| -> u64 {
        let info: String = redis::cmd("INFO").arg("memory").query(conn).unwrap();
        info.lines()
            .find_map(|l| l.strip_prefix("used_memory:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    let before = memory(&mut conn);
    let http = reqwest::Client::new();
    let started = Instant::now();
    let url = server.url("/tasks/enqueue");
    let (_, wall, errors) = super::load(jobs, 64, move |i| {
        let http = http.clone();
        let url = url.clone();
        async move {
            http.post(&url)
                .json(&json!({"seconds": 1 + i % 60}))
                .send()
                .await
                .is_ok_and(|r| r.status().as_u16() == 201)
        }
    })
    .await;
    assert_eq!(errors, 0, "every enqueue answered 201");
    let after = memory(&mut conn);
    let index_bytes: u64 = ["name:longTask"]
        .iter()
        .map(|t| format!("sentinel:sentinel-tasks:idx:{t}"))
        .chain((1..=60).map(|s| format!("sentinel:sentinel-tasks:idx:data:seconds:{s}")))
        .map(|key| {
            redis::cmd("MEMORY")
                .arg("USAGE")
                .arg(key)
                .arg("SAMPLES")
                .arg(0)
                .query::<Option<u64>>(&mut conn)
                .unwrap()
                .unwrap_or(0)
        })
        .sum();
    println!(
        "  enqueued {jobs} in {:.1} s ({:.0}/s); Redis memory +{:.0} MiB, of which the search index {:.0} MiB ({:.0} bytes a job)",
        wall.as_secs_f64(),
        jobs as f64 / wall.as_secs_f64(),
        (after - before) as f64 / 1048576.0,
        index_bytes as f64 / 1048576.0,
        index_bytes as f64 / jobs as f64,
    );
    let _ = started;
    let http = reqwest::Client::new();
    let middle = jobs / 2 + foreign;
    for q in [
        "name:longTask".to_string(),
        "data.seconds:7".to_string(),
        "data.seconds:7 state:waiting".to_string(),
        "name:longTask data.seconds:59".to_string(),
        format!("id:{middle}"),
        format!("{middle}"),
        "name:report".to_string(),
        "data.kind:monthly".to_string(),
        "\"no processor\"".to_string(),
        "name:nothing".to_string(),
    ] {
        let url = server.url(&format!(
            "/admin/api/jobs?size=20&q={}",
            app::url::encode(&q)
        ));
        let cpu_before = super::redis_cpu(&mut conn);
        let mut times = Vec::with_capacity(runs);
        let mut page = Value::Null;
        for _ in 0..runs {
            let t = Instant::now();
            let response = http.get(&url).send().await.unwrap();
            assert!(response.status().is_success(), "{q}: {}", response.status());
            page = response.json().await.unwrap();
            times.push(t.elapsed());
        }
        let cpu = super::redis_cpu(&mut conn) - cpu_before;
        times.sort();
        println!(
            "  {q:<32} first page {:>6.1} ms p50, {:>6.1} ms max; Redis CPU {:>5.1} ms; {} jobs, total {}{}",
            super::ms(super::percentile(&times, 0.5)),
            super::ms(*times.last().unwrap_or(&Duration::ZERO)),
            cpu * 1000.0 / runs as f64,
            page["jobs"].as_array().map_or(0, Vec::len),
            page["total"],
            if page["complete"] == true {
                ""
            } else {
                " so far (cursor to go on)"
            },
        );
    }
    producer.close().await;
}
