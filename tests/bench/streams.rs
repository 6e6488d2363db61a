//! Event streams under load: the server's memory with many reading and many stalled clients
//! during a burst of events, enqueue latency while clients replay the whole stream, and how
//! fast an idle server exits on SIGTERM.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use support::{RedisServer, Sentinel, SentinelOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const EVENTS_KEY: &str = "sentinel:sentinel-tasks:events";

fn web_opts() -> SentinelOptions {
    SentinelOptions {
        role: "web",
        env: vec![
            ("RUST_LOG".into(), "warn".into()),
            ("MAX_SSE_STREAMS".into(), "20000".into()),
            ("MAX_SSE_STREAMS_PER_CLIENT".into(), "20000".into()),
        ],
        ..SentinelOptions::default()
    }
}

async fn open_stream(
    addr: &str,
    last_event_id: Option<&str>,
    recv_buffer: Option<u32>,
) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    if let Some(size) = recv_buffer {
        socket.set_recv_buffer_size(size).expect("recv buffer");
    }
    let mut conn = socket
        .connect(addr.parse().expect("addr"))
        .await
        .expect("connect");
    let resume = last_event_id
        .map(|id| format!("Last-Event-ID: {id}\r\n"))
        .unwrap_or_default();
    conn.write_all(
        format!("GET /tasks/stream HTTP/1.1\r\nHost: localhost\r\n{resume}\r\n").as_bytes(),
    )
    .await
    .expect("request");
    conn
}

/// Reads a stream until `marker` has been seen `want` times or the stream ends; returns the
/// count seen.
async fn read_until(
    mut conn: TcpStream,
    marker: &'static [u8],
    want: usize,
    limit: Duration,
) -> usize {
    let mut seen = 0;
    let mut buf = vec![0u8; 64 * 1024];
    let mut carry: Vec<u8> = Vec::new();
    let deadline = tokio::time::Instant::now() + limit;
    while seen < want {
        let n = match tokio::time::timeout_at(deadline, conn.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => n,
            _ => break,
        };
        carry.extend_from_slice(&buf[..n]);
        let mut start = 0;
        while let Some(pos) = carry[start..]
            .windows(marker.len())
            .position(|w| w == marker)
        {
            seen += 1;
            start += pos + marker.len();
        }
        carry.drain(..start.max(carry.len().saturating_sub(marker.len())));
    }
    seen
}

/// RSS and peak RSS of `pid`, in KiB.
fn rss_kib(pid: u32) -> (u64, u64) {
    let (rss, peak) = super::rss_mib(pid);
    ((rss * 1024.0) as u64, (peak * 1024.0) as u64)
}

fn xadd_burst(redis: &RedisServer, count: usize) {
    let mut conn = redis.connection();
    for chunk in 0..count.div_ceil(1000) {
        let mut pipe = redis::pipe();
        for n in 0..1000.min(count - chunk * 1000) {
            let data = format!(r#"{{"step":{n},"total":1000,"info":"tick {n}/1000"}}"#);
            pipe.cmd("XADD")
                .arg(EVENTS_KEY)
                .arg("*")
                .arg("event")
                .arg("progress")
                .arg("jobId")
                .arg((chunk * 1000 + n).to_string())
                .arg("data")
                .arg(data)
                .ignore();
        }
        let () = pipe.query(&mut conn).expect("XADD burst");
    }
}

/// Memory with `readers` reading and `stalled` stalled clients under a burst; enqueue p99
/// while `replayers` replay the stream from its start.
pub async fn bench(readers: usize, stalled: usize, burst: usize, replayers: usize) {
    println!("Event streams");
    let redis = RedisServer::start().await;
    let server = Sentinel::start("bench-web", &redis.url(), web_opts()).await;
    server.wait_ready().await;
    let addr = server.addr();
    let (idle_rss, _) = rss_kib(server.pid());

    let mut reading = Vec::new();
    let done = Arc::new(AtomicUsize::new(0));
    for _ in 0..readers {
        let conn = open_stream(&addr, None, None).await;
        let done = done.clone();
        reading.push(tokio::spawn(async move {
            let seen = read_until(conn, b"event: progress", burst, Duration::from_secs(300)).await;
            if seen == burst {
                done.fetch_add(1, Ordering::Relaxed);
            }
            seen
        }));
    }
    let mut stalled_conns = Vec::new();
    for _ in 0..stalled {
        stalled_conns.push(open_stream(&addr, None, Some(4096)).await);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (connected_rss, _) = rss_kib(server.pid());
    let started = Instant::now();
    xadd_burst(&redis, burst);
    let mut complete = 0;
    let mut sampled_peak = 0;
    for task in reading {
        let (rss, _) = rss_kib(server.pid());
        sampled_peak = sampled_peak.max(rss);
        if task.await.unwrap_or(0) == burst {
            complete += 1;
        }
    }
    let delivered = started.elapsed();
    let (after_rss, hwm) = rss_kib(server.pid());
    // The stalled clients' connections: closed by the server (EOF or reset) or still open.
    let mut closed = 0;
    for mut conn in stalled_conns {
        let mut buf = vec![0u8; 1 << 20];
        let mut ended = false;
        while let Ok(Ok(n)) =
            tokio::time::timeout(Duration::from_millis(200), conn.read(&mut buf)).await
        {
            if n == 0 {
                ended = true;
                break;
            }
        }
        if ended {
            closed += 1;
        }
    }
    println!(
        "  {readers} reading + {stalled} stalled clients, burst of {burst} events: every event reached {complete}/{readers} readers in {:.2} s; {closed}/{stalled} stalled streams closed by the server",
        delivered.as_secs_f64()
    );
    println!(
        "    server RSS: idle {:.1} MiB, with the clients {:.1} MiB ({:.1} KiB per client), peak {:.1} MiB (sampled {:.1} MiB), after {:.1} MiB",
        idle_rss as f64 / 1024.0,
        connected_rss as f64 / 1024.0,
        (connected_rss.saturating_sub(idle_rss)) as f64 / (readers + stalled) as f64,
        hwm as f64 / 1024.0,
        sampled_peak as f64 / 1024.0,
        after_rss as f64 / 1024.0
    );
    drop(server);

    // Enqueue latency alone, then while clients replay the retained stream from its start.
    let server = Sentinel::start("bench-web", &redis.url(), web_opts()).await;
    server.wait_ready().await;
    let http = reqwest::Client::new();
    let enqueue_url = server.url("/tasks/enqueue?seconds=1");
    let measure = |label: &'static str| {
        let http = http.clone();
        let url = enqueue_url.clone();
        async move {
            let (latencies, wall, errors) = super::load(3000, 16, move |_| {
                let http = http.clone();
                let url = url.clone();
                async move {
                    http.post(&url)
                        .send()
                        .await
                        .is_ok_and(|r| r.status() == 201)
                }
            })
            .await;
            super::print_load(label, &latencies, wall, errors);
        }
    };
    measure("enqueue, no replay").await;
    let retained: usize = redis::cmd("XLEN")
        .arg(EVENTS_KEY)
        .query(&mut redis.connection())
        .expect("XLEN");
    let mut replaying = Vec::new();
    for _ in 0..replayers {
        let conn = open_stream(&server.addr(), Some("0-1"), None).await;
        replaying.push(tokio::spawn(read_until(
            conn,
            b"\nid: ",
            usize::MAX,
            Duration::from_secs(20),
        )));
    }
    measure("enqueue while replaying").await;
    let (rss, hwm) = rss_kib(server.pid());
    for task in replaying {
        task.abort();
    }
    println!(
        "    {replayers} clients replaying {retained} retained events from the start; server RSS {:.1} MiB, peak {:.1} MiB",
        rss as f64 / 1024.0,
        hwm as f64 / 1024.0
    );
}

/// How long an idle server takes to exit after SIGTERM.
pub async fn shutdown_bench() {
    println!("Shutdown");
    let redis = RedisServer::start().await;
    let mut times = Vec::new();
    for _ in 0..5 {
        let mut server = Sentinel::start("bench", &redis.url(), SentinelOptions::default()).await;
        server.wait_ready().await;
        let started = Instant::now();
        server.terminate();
        server.wait_exit(Duration::from_secs(30)).await;
        times.push(started.elapsed());
    }
    times.sort();
    println!(
        "  idle server (role all), SIGTERM to exit, 5 runs: min {:.0} ms, median {:.0} ms, max {:.0} ms",
        super::ms(times[0]),
        super::ms(times[2]),
        super::ms(times[4])
    );
}

/// Fan-out: for each client count, the server's memory per connected client and how long each
/// event takes to reach every client (one event every `every`, `events` of them, to `clients`
/// streams that all read).
pub async fn fanout_bench(counts: &[usize], events: usize, every: Duration) {
    println!(
        "Fan-out ({events} events, one every {} ms)",
        every.as_millis()
    );
    for &clients in counts {
        let redis = RedisServer::start().await;
        let server = Sentinel::start("bench-fanout", &redis.url(), web_opts()).await;
        server.wait_ready().await;
        let addr = server.addr();
        let (idle_rss, _) = rss_kib(server.pid());
        let mut readers = Vec::with_capacity(clients);
        for _ in 0..clients {
            let conn = open_stream(&addr, None, None).await;
            readers.push(tokio::spawn(arrivals(
                conn,
                events,
                Duration::from_secs(120),
            )));
        }
        // Every stream answered and idle: what they hold.
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let (connected_rss, _) = rss_kib(server.pid());
        let mut sent = Vec::with_capacity(events);
        let mut conn = redis.connection();
        for n in 0..events {
            let data = format!(r#"{{"step":{n},"total":{events},"info":"tick {n}/{events}"}}"#);
            sent.push(Instant::now());
            let _: String = redis::cmd("XADD")
                .arg(EVENTS_KEY)
                .arg("*")
                .arg("event")
                .arg("progress")
                .arg("jobId")
                .arg("fanout")
                .arg("data")
                .arg(data)
                .query(&mut conn)
                .expect("XADD");
            tokio::time::sleep(every).await;
        }
        let mut lags: Vec<Duration> = Vec::with_capacity(clients * events);
        let mut complete = 0;
        for reader in readers {
            let seen = reader.await.unwrap_or_default();
            if seen.len() == events {
                complete += 1;
            }
            lags.extend(
                seen.iter()
                    .zip(&sent)
                    .map(|(got, sent)| got.saturating_duration_since(*sent)),
            );
        }
        lags.sort();
        println!(
            "  {clients:>6} clients: {:.1} KiB of server memory per client (RSS idle {:.1} MiB, connected {:.1} MiB); every event reached {complete}/{clients}; delivery lag p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            connected_rss.saturating_sub(idle_rss) as f64 / clients as f64,
            idle_rss as f64 / 1024.0,
            connected_rss as f64 / 1024.0,
            super::ms(super::percentile(&lags, 0.5)),
            super::ms(super::percentile(&lags, 0.99)),
            super::ms(*lags.last().unwrap_or(&Duration::ZERO)),
        );
    }
}

/// The arrival time of each `progress` event on a stream, until `want` of them or `limit`.
async fn arrivals(mut conn: TcpStream, want: usize, limit: Duration) -> Vec<Instant> {
    const MARKER: &[u8] = b"event: progress";
    let mut seen = Vec::with_capacity(want);
    let mut buf = vec![0u8; 4096];
    let mut carry: Vec<u8> = Vec::new();
    let deadline = tokio::time::Instant::now() + limit;
    while seen.len() < want {
        let n = match tokio::time::timeout_at(deadline, conn.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => n,
            _ => break,
        };
        let now = Instant::now();
        carry.extend_from_slice(&buf[..n]);
        let mut start = 0;
        while let Some(pos) = carry[start..]
            .windows(MARKER.len())
            .position(|w| w == MARKER)
        {
            seen.push(now);
            start += pos + MARKER.len();
        }
        carry.drain(..start.max(carry.len().saturating_sub(MARKER.len())));
    }
    seen
}
