//! Sentinel's benchmark (a program, not a test): prints HTTP enqueue/status throughput and
//! latency, worker throughput for 20,000 one-tick jobs at several concurrencies, add→completed
//! latency, the server's RSS, and for each load the CPU seconds our process and Redis spent.
//!
//! It starts its own `redis-server` and release server processes on loopback; run it with
//! `scripts/bench` (which builds the release binary first).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bullmq::types::{KeepJobs, RemoveOnFinish};
use bullmq::{BulkJob, JobOptions, QueueEvent, QueueEvents, QueueEventsOptions};
use clap::Parser;
use serde_json::json;
use support::{RedisServer, Sentinel, SentinelOptions, workspace_root};
use tokio::sync::Semaphore;

#[derive(Debug, Parser)]
#[command(about = "Sentinel benchmark: starts its own Redis and servers on 127.0.0.1")]
struct Args {
    /// HTTP requests per endpoint.
    #[arg(long, default_value_t = 20_000)]
    requests: usize,
    /// Concurrent HTTP clients.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Jobs per worker-throughput run.
    #[arg(long, default_value_t = 20_000)]
    jobs: usize,
    /// Worker concurrencies to measure.
    #[arg(long, value_delimiter = ',', default_value = "1,10,50")]
    concurrency: Vec<usize>,
    /// Jobs in the add→completed latency run.
    #[arg(long, default_value_t = 2000)]
    latency_jobs: usize,
    /// Sections to run (http, worker, latency, streams, fanout, shutdown, admin, search,
    /// dashboard); all by default.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "http,worker,latency,streams,fanout,shutdown,admin,search,dashboard,queues"
    )]
    only: Vec<String>,
    /// Failed jobs made and retried in bulk, in the admin section.
    #[arg(long, default_value_t = 100_000)]
    failed_jobs: usize,
    /// Client counts of the fan-out section.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000")]
    fanout_clients: Vec<usize>,
    /// Events sent in the fan-out section (one every 100 ms).
    #[arg(long, default_value_t = 30)]
    fanout_events: usize,
    /// Waiting jobs Sentinel adds in the search section.
    #[arg(long, default_value_t = 1_000_000)]
    search_jobs: usize,
    /// Waiting jobs another producer adds first in the search section.
    #[arg(long, default_value_t = 10_000)]
    foreign_jobs: usize,
    /// Waiting jobs behind the dashboard's first view.
    #[arg(long, default_value_t = 1_000_000)]
    dashboard_jobs: usize,
    /// Queues on the Redis for the queues page's section.
    #[arg(long, default_value_t = 1000)]
    queue_count: usize,
    /// Jobs in all, spread over those queues.
    #[arg(long, default_value_t = 100_000)]
    queue_jobs: usize,
    /// Times each search (and each first view of the dashboard) is timed.
    #[arg(long, default_value_t = 20)]
    search_runs: usize,
    /// Dashboard refreshes measured in the admin section.
    #[arg(long, default_value_t = 200)]
    refreshes: usize,
    /// Event stream clients that read, in the streams section.
    #[arg(long, default_value_t = 1000)]
    readers: usize,
    /// Event stream clients that never read, in the streams section.
    #[arg(long, default_value_t = 100)]
    stalled: usize,
    /// Events in the burst of the streams section.
    #[arg(long, default_value_t = 20_000)]
    burst: usize,
    /// Also drain with a Node BullMQ worker (tests/interop/drain.mjs), for comparison.
    #[arg(long)]
    node: bool,
    /// Clients replaying the stream from its start while enqueue is measured.
    #[arg(long, default_value_t = 100)]
    replayers: usize,
}

/// CPU seconds and RSS of our process, CPU seconds of Redis.
struct Usage {
    server_cpu: f64,
    redis_cpu: f64,
}

fn clock_ticks() -> f64 {
    let out = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output();
    out.ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

fn process_cpu(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after the ')'.
    (ticks(11) + ticks(12)) / clock_ticks()
}

fn rss_mib(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (kib("VmRSS:") / 1024.0, kib("VmHWM:") / 1024.0)
}

fn redis_cpu(conn: &mut redis::Connection) -> f64 {
    let info: String = redis::cmd("INFO")
        .arg("cpu")
        .query(conn)
        .unwrap_or_default();
    info.lines()
        .filter(|l| l.starts_with("used_cpu_sys:") || l.starts_with("used_cpu_user:"))
        .filter_map(|l| {
            l.split_once(':')
                .and_then(|(_, v)| v.trim().parse::<f64>().ok())
        })
        .sum()
}

fn usage(pid: u32, conn: &mut redis::Connection) -> Usage {
    Usage {
        server_cpu: process_cpu(pid),
        redis_cpu: redis_cpu(conn),
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn report_cpu(before: &Usage, after: &Usage, wall: Duration) {
    let server = after.server_cpu - before.server_cpu;
    let redis = after.redis_cpu - before.redis_cpu;
    println!(
        "    cpu: worker {server:.2} s ({:.0}% of a core), redis {redis:.2} s ({:.0}% of a core)",
        100.0 * server / wall.as_secs_f64(),
        100.0 * redis / wall.as_secs_f64()
    );
}

/// Runs `requests` calls of `call` with `clients` at a time; returns latencies and wall time.
async fn load<F, Fut>(requests: usize, clients: usize, call: F) -> (Vec<Duration>, Duration, usize)
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send + 'static,
{
    let call = Arc::new(call);
    let gate = Arc::new(Semaphore::new(clients));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(requests);
    for i in 0..requests {
        let permit = gate.clone().acquire_owned().await.expect("semaphore open");
        let call = call.clone();
        tasks.push(tokio::spawn(async move {
            let _permit = permit;
            let t = Instant::now();
            let ok = call(i).await;
            (t.elapsed(), ok)
        }));
    }
    let mut latencies = Vec::with_capacity(requests);
    let mut errors = 0;
    for task in tasks {
        let (latency, ok) = task.await.expect("load task");
        latencies.push(latency);
        if !ok {
            errors += 1;
        }
    }
    let wall = started.elapsed();
    latencies.sort();
    (latencies, wall, errors)
}

fn print_load(name: &str, latencies: &[Duration], wall: Duration, errors: usize) {
    println!(
        "  {name}: {} requests in {:.2} s = {:.0} req/s; latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; errors {errors}",
        latencies.len(),
        wall.as_secs_f64(),
        latencies.len() as f64 / wall.as_secs_f64(),
        ms(percentile(latencies, 0.5)),
        ms(percentile(latencies, 0.99)),
        ms(percentile(latencies, 1.0)),
    );
}

fn job_options() -> JobOptions {
    let keep = || {
        Some(RemoveOnFinish::Options(KeepJobs {
            age: Some(3600),
            count: Some(100),
            limit: None,
        }))
    };
    JobOptions {
        attempts: Some(1),
        remove_on_complete: keep(),
        remove_on_fail: keep(),
        ..JobOptions::default()
    }
}

fn bench_opts(role: &'static str, concurrency: usize) -> SentinelOptions {
    SentinelOptions {
        role,
        tick_ms: 0,
        concurrency,
        env: vec![("RUST_LOG".into(), "warn".into())],
        ..SentinelOptions::default()
    }
}

async fn http_bench(args: &Args) {
    let redis = RedisServer::start().await;
    let mut conn = redis.connection();
    let server = Sentinel::start("bench-web", &redis.url(), bench_opts("web", 1)).await;
    server.wait_ready().await;
    let pid = server.pid();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients)
        .build()
        .expect("http client");
    println!(
        "HTTP ({} clients, in-process Rust load generator on the same 2 cores)",
        args.clients
    );

    let enqueue_url = server.url("/tasks/enqueue?seconds=5");
    let before = usage(pid, &mut conn);
    let client = http.clone();
    let (latencies, wall, errors) = load(args.requests, args.clients, move |_| {
        let client = client.clone();
        let url = enqueue_url.clone();
        async move { matches!(client.post(url).send().await, Ok(r) if r.status() == 201) }
    })
    .await;
    let after = usage(pid, &mut conn);
    print_load("POST /tasks/enqueue", &latencies, wall, errors);
    report_cpu(&before, &after, wall);

    let base = server.url("/tasks/status/");
    let requests = args.requests;
    let before = usage(pid, &mut conn);
    let client = http.clone();
    let (latencies, wall, errors) = load(requests, args.clients, move |i| {
        let client = client.clone();
        let url = format!("{base}{}", i % requests + 1);
        async move { matches!(client.get(url).send().await, Ok(r) if r.status() == 200) }
    })
    .await;
    let after = usage(pid, &mut conn);
    print_load("GET /tasks/status/:id", &latencies, wall, errors);
    report_cpu(&before, &after, wall);
    let (rss, peak) = rss_mib(pid);
    println!("  sentinel RSS after HTTP load: {rss:.1} MiB (peak {peak:.1} MiB)");
}

/// Who drains the queue in a worker run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Drainer {
    /// Sentinel's worker process.
    Sentinel,
    /// A Node BullMQ worker (tests/interop/drain.mjs), for comparison.
    Node,
}

async fn worker_bench(args: &Args, concurrency: usize, drainer: Drainer) {
    let redis = RedisServer::start().await;
    let mut conn = redis.connection();
    let queue = support::producer_queue(&redis).await;
    for chunk in (0..args.jobs).collect::<Vec<_>>().chunks(1000) {
        let jobs = chunk
            .iter()
            .map(|_| BulkJob::with_options("longTask", json!({"seconds": 1}), job_options()))
            .collect();
        queue.add_bulk(jobs).await.expect("add jobs");
    }
    // The drainer starts on a paused queue and the clock starts when it is ready: neither
    // its start-up (Node loading its modules, Sentinel connecting) nor jobs it took before
    // the first reading count.
    queue.pause().await.expect("pause the queue");
    let mut node = None;
    let mut server = None;
    let pid = match drainer {
        Drainer::Sentinel => {
            let started = Sentinel::start(
                "bench-worker",
                &redis.url(),
                bench_opts("worker", concurrency),
            )
            .await;
            let pid = started.pid();
            server = Some(started);
            pid
        }
        Drainer::Node => {
            let mut child = std::process::Command::new("node")
                .arg(workspace_root().join("tests/interop/drain.mjs"))
                .arg(redis.url())
                .arg(concurrency.to_string())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .expect("node runs (npm ci in tests/interop first)");
            let pid = child.id();
            // drain.mjs prints "ready" once its worker is connected.
            let stdout = child.stdout.take().expect("node's stdout");
            let ready = tokio::task::spawn_blocking(move || {
                use std::io::BufRead;
                std::io::BufReader::new(stdout)
                    .lines()
                    .map_while(Result::ok)
                    .any(|line| line.trim() == "ready")
            });
            let ready = tokio::time::timeout(Duration::from_secs(60), ready)
                .await
                .expect("node's worker ready within 60 s")
                .expect("reading node's stdout");
            assert!(ready, "node's worker exited before it was ready");
            node = Some(child);
            pid
        }
    };
    let before = usage(pid, &mut conn);
    queue.resume().await.expect("resume the queue");
    let started = Instant::now();
    loop {
        let (waiting, active): (u64, u64) = redis::pipe()
            .cmd("LLEN")
            .arg("sentinel:sentinel-tasks:wait")
            .cmd("LLEN")
            .arg("sentinel:sentinel-tasks:active")
            .query(&mut conn)
            .expect("count jobs");
        if waiting == 0 && active == 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "worker run took over 10 minutes"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let wall = started.elapsed();
    let after = usage(pid, &mut conn);
    let failed: u64 = redis::cmd("ZCARD")
        .arg("sentinel:sentinel-tasks:failed")
        .query(&mut conn)
        .unwrap_or(0);
    let who = match drainer {
        Drainer::Sentinel => "sentinel",
        Drainer::Node => "node bullmq",
    };
    let per_thousand = |cpu: f64| 1000.0 * cpu / args.jobs as f64 * 1000.0;
    println!(
        "  {who}, concurrency {concurrency:>3}: {} jobs in {:.2} s = {:.0} jobs/s (failed: {failed}); per 1,000 jobs: worker CPU {:.0} ms, Redis CPU {:.0} ms; Redis busy {:.0}%",
        args.jobs,
        wall.as_secs_f64(),
        args.jobs as f64 / wall.as_secs_f64(),
        per_thousand(after.server_cpu - before.server_cpu),
        per_thousand(after.redis_cpu - before.redis_cpu),
        100.0 * (after.redis_cpu - before.redis_cpu) / wall.as_secs_f64(),
    );
    report_cpu(&before, &after, wall);
    let (rss, peak) = rss_mib(pid);
    println!("    worker RSS {rss:.1} MiB (peak {peak:.1} MiB)");
    if let Some(mut child) = node {
        let _ = child.kill();
        let _ = child.wait();
    }
    drop(server);
    queue.close().await;
}

async fn latency_bench(args: &Args) {
    let redis = RedisServer::start().await;
    let mut conn = redis.connection();
    let server = Sentinel::start("bench-worker", &redis.url(), bench_opts("worker", 10)).await;
    server.wait_ready().await;
    let pid = server.pid();
    let queue = support::producer_queue(&redis).await;
    let events = QueueEvents::with_options(
        "sentinel-tasks",
        QueueEventsOptions {
            connection: bullmq::options::RedisConnectionOptions::new().url(redis.url()),
            prefix: "sentinel".into(),
            ..QueueEventsOptions::default()
        },
    )
    .await
    .expect("queue events");
    let before = usage(pid, &mut conn);
    let started = Instant::now();
    let mut added = std::collections::HashMap::new();
    let mut latencies = Vec::with_capacity(args.latency_jobs);
    // Paced at 500 jobs/s so the figure is latency, not queueing.
    let mut pace = tokio::time::interval(Duration::from_millis(2));
    for _ in 0..args.latency_jobs {
        pace.tick().await;
        let job = queue
            .add("longTask", json!({"seconds": 1}))
            .options(job_options())
            .await
            .expect("add");
        added.insert(job.id().to_string(), Instant::now());
        while let Some(entry) = events.try_next_event().await {
            if let QueueEvent::Completed { job_id, .. } = entry.event
                && let Some(t) = added.get(&job_id)
            {
                latencies.push(t.elapsed());
            }
        }
    }
    while latencies.len() < args.latency_jobs {
        let entry = tokio::time::timeout(Duration::from_secs(30), events.next_event())
            .await
            .expect("completions keep coming")
            .expect("events open");
        if let QueueEvent::Completed { job_id, .. } = entry.event
            && let Some(t) = added.get(&job_id)
        {
            latencies.push(t.elapsed());
        }
    }
    let wall = started.elapsed();
    let after = usage(pid, &mut conn);
    latencies.sort();
    println!(
        "  add→completed over {} jobs at 500/s (concurrency 10, tick 0): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        latencies.len(),
        ms(percentile(&latencies, 0.5)),
        ms(percentile(&latencies, 0.99)),
        ms(percentile(&latencies, 1.0))
    );
    report_cpu(&before, &after, wall);
    events.close().await;
    queue.close().await;
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    if std::env::var_os("SENTINEL_SERVER_BIN").is_none() {
        let release = workspace_root().join("target/release/server");
        assert!(
            release.exists(),
            "build the release server first: cargo build --release -p server"
        );
        support::set_server_binary(release);
    }
    println!(
        "Sentinel benchmark (2-core machine; Redis, Sentinel and the load generator share it)"
    );
    let run = |section: &str| args.only.iter().any(|s| s == section);
    if run("http") {
        http_bench(&args).await;
    }
    if run("worker") {
        println!(
            "Worker throughput ({} jobs of one 0 ms tick each)",
            args.jobs
        );
        for &concurrency in &args.concurrency {
            worker_bench(&args, concurrency, Drainer::Sentinel).await;
            if args.node {
                worker_bench(&args, concurrency, Drainer::Node).await;
            }
        }
    }
    if run("latency") {
        println!("Latency");
        latency_bench(&args).await;
    }
    if run("streams") {
        streams::bench(args.readers, args.stalled, args.burst, args.replayers).await;
    }
    if run("fanout") {
        streams::fanout_bench(
            &args.fanout_clients,
            args.fanout_events,
            Duration::from_millis(100),
        )
        .await;
    }
    if run("shutdown") {
        streams::shutdown_bench().await;
    }
    if run("admin") {
        admin::bench(args.failed_jobs, args.refreshes).await;
    }
    if run("search") {
        search::bench(args.search_jobs, args.foreign_jobs, args.search_runs).await;
    }
    if run("dashboard") {
        dashboards::bench(args.dashboard_jobs, args.search_runs).await;
    }
    if run("queues") {
        queues::bench(args.queue_count, args.queue_jobs, args.search_runs).await;
    }
}

mod admin;
mod dashboards;
mod queues;
mod search;
mod streams;
