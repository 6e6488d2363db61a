//! Sentinel under hostile and careless input, against real server processes and a real Redis:
//! foreign stream entries, huge and slow requests at the socket, stalled clients, an evicting
//! Redis. The edge's rules that need no process (key-named ids, bad `Last-Event-ID`s, retried
//! requests, each route's 413) are tested in-process in `server/tests/edge.rs`.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{
    RedisServer, Sentinel, SentinelOptions, SseClient, get_json, progress_of, raw_exchange, rss_kib,
};

const LONG: Duration = Duration::from_secs(20);

fn with_env(mut opts: SentinelOptions, env: &[(&str, &str)]) -> SentinelOptions {
    opts.env
        .extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    opts
}

fn xadd(redis: &RedisServer, fields: &[(&str, &str)]) -> String {
    let mut cmd = redis::cmd("XADD");
    cmd.arg("sentinel:sentinel-tasks:events").arg("*");
    for (k, v) in fields {
        cmd.arg(*k).arg(*v);
    }
    cmd.query(&mut redis.connection()).expect("XADD")
}

#[tokio::test]
async fn foreign_event_names_with_line_breaks_break_no_stream() {
    let redis = RedisServer::start().await;
    let server = Sentinel::start("sentinel", &redis.url(), SentinelOptions::default()).await;
    server.wait_ready().await;

    let mut live = SseClient::connect(&server.url("/tasks/stream"), None).await;
    let before = xadd(&redis, &[("event", "marker"), ("jobId", "0")]);
    xadd(&redis, &[("event", "bad\nname"), ("jobId", "1")]);
    xadd(&redis, &[("event", "bad\rname"), ("jobId", "2")]);
    xadd(
        &redis,
        &[
            ("event", "data: injected\n\nevent: completed"),
            ("jobId", "3"),
        ],
    );
    let id = server.enqueue(2).await;

    // A live client still gets the next job's progress, and nothing forged.
    let events = live.collect_until(LONG, |e| e.is("completed", &id)).await;
    assert_eq!(progress_of(&events, &id).len(), 2, "{events:#?}");
    assert!(
        events
            .iter()
            .all(|e| !e.event.contains("name") && e.data["jobId"] != "3"),
        "{events:#?}"
    );

    // So does a client resuming from before the bad entries.
    let mut resumed = SseClient::connect(&server.url("/tasks/stream"), Some(&before)).await;
    let events = resumed
        .collect_until(LONG, |e| e.is("completed", &id))
        .await;
    assert_eq!(progress_of(&events, &id).len(), 2, "{events:#?}");
    assert!(!server.log().contains("panicked"), "{}", server.log());
}

#[tokio::test]
async fn oversized_event_fields_are_cut() {
    let redis = RedisServer::start().await;
    let opts = with_env(SentinelOptions::default(), &[("MAX_FIELD_BYTES", "1024")]);
    let server = Sentinel::start("sentinel", &redis.url(), opts).await;
    server.wait_ready().await;
    let mut live = SseClient::connect(&server.url("/tasks/stream"), None).await;
    let huge = "x".repeat(1 << 20);
    xadd(
        &redis,
        &[
            ("event", "failed"),
            ("jobId", "77"),
            ("failedReason", &huge),
        ],
    );
    let event = live
        .collect_until(LONG, |e| e.is("failed", "77"))
        .await
        .pop()
        .unwrap();
    let reason = event.data["failedReason"].as_str().unwrap();
    assert!(reason.len() <= 1024, "{} bytes forwarded", reason.len());
    assert_eq!(event.data["truncated"], json!(["failedReason"]));
}

#[tokio::test]
async fn a_resume_point_older_than_the_stream_gets_a_reset_event() {
    let redis = RedisServer::start().await;
    let server = Sentinel::start("sentinel", &redis.url(), SentinelOptions::default()).await;
    server.wait_ready().await;
    let first = xadd(&redis, &[("event", "marker"), ("jobId", "1")]);
    for n in 0..20 {
        xadd(&redis, &[("event", "marker"), ("jobId", &n.to_string())]);
    }
    let _: i64 = redis::cmd("XTRIM")
        .arg("sentinel:sentinel-tasks:events")
        .arg("MAXLEN")
        .arg(5)
        .query(&mut redis.connection())
        .unwrap();
    let mut resumed = SseClient::connect(&server.url("/tasks/stream"), Some(&first)).await;
    let event = resumed.next_within(LONG).await.expect("an event");
    assert_eq!(event.event, "reset", "{event:?}");

    // The largest id there is, and an id from the future, are gaps too (never a 5xx).
    for id in [
        "18446744073709551615-18446744073709551615",
        "99999999999999-0",
    ] {
        let mut client = SseClient::connect(&server.url("/tasks/stream"), Some(id)).await;
        let event = client.next_within(LONG).await.expect("an event");
        assert_eq!(event.event, "reset", "{id}: {event:?}");
    }

    // A client further behind than the replay bound gets a reset after the bound.
    let bounded = with_env(
        SentinelOptions::default(),
        &[("SSE_MAX_REPLAY_EVENTS", "3")],
    );
    let small = Sentinel::start("bounded", &redis.url(), bounded).await;
    small.wait_ready().await;
    let oldest: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
        .arg("sentinel:sentinel-tasks:events")
        .arg("-")
        .arg("+")
        .arg("COUNT")
        .arg(1)
        .query::<redis::streams::StreamRangeReply>(&mut redis.connection())
        .unwrap()
        .ids
        .into_iter()
        .map(|entry| (entry.id, Vec::new()))
        .collect();
    let mut client = SseClient::connect(&small.url("/tasks/stream"), Some(&oldest[0].0)).await;
    let mut names = Vec::new();
    for _ in 0..4 {
        names.push(client.next_within(LONG).await.expect("an event").event);
    }
    assert_eq!(names, ["marker", "marker", "marker", "reset"]);
}

#[tokio::test]
async fn foreign_jobs_fail_at_once_and_never_hold_a_slot() {
    let redis = RedisServer::start().await;
    let opts = SentinelOptions {
        concurrency: 1,
        ..SentinelOptions::default()
    };
    let server = Sentinel::start("sentinel", &redis.url(), opts).await;
    server.wait_ready().await;

    let queue = support::producer_queue(&redis).await;
    let huge = "7".repeat(1 << 20);
    let mut ids = Vec::new();
    for (name, data) in [
        ("longTask", json!({"seconds": 1e300})),
        ("longTask", json!({"seconds": huge})),
        ("longTask", json!({"seconds": 2.5})),
        ("longTask", json!({"seconds": -3})),
        ("longTask", json!({"other": 1})),
        ("sendEmail", json!({"seconds": 1})),
    ] {
        let job = queue.add(name, data).into_future().await.unwrap();
        ids.push(job.id().to_string());
    }
    let normal = server.enqueue(1).await;
    let started = Instant::now();
    for id in &ids {
        let failed = server
            .wait_state(id, "failed", Duration::from_secs(5))
            .await;
        let reason = failed["failedReason"].as_str().unwrap();
        assert!(reason.len() <= 1024, "{id}: {} bytes", reason.len());
        assert!(!reason.contains(&"7".repeat(100)), "echoes the value");
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let (_, last) = server.status(ids.last().unwrap()).await;
    assert!(
        last["failedReason"]
            .as_str()
            .unwrap()
            .contains("no processor for job name \"sendEmail\""),
        "{last}"
    );
    server.wait_state(&normal, "completed", LONG).await;
    queue.close().await;
}

/// Sends a chunked body of `total` bytes to `path` and returns the answer and the bytes the
/// server let us write before answering.
async fn post_chunked(server: &Sentinel, path: &str, total: usize) -> (String, usize) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut socket = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    let chunk = vec![b' '; 64 * 1024];
    let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
    framed.extend_from_slice(&chunk);
    framed.extend_from_slice(b"\r\n");
    let mut sent = 0;
    while sent < total {
        if socket.write_all(&framed).await.is_err() {
            break;
        }
        sent += chunk.len();
        // Stop writing once an answer is there.
        let mut peek = [0u8; 1];
        if let Ok(Ok(n)) =
            tokio::time::timeout(Duration::from_millis(0), socket.peek(&mut peek)).await
            && n > 0
        {
            break;
        }
    }
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), socket.read_to_end(&mut answer)).await;
    (String::from_utf8_lossy(&answer).into_owned(), sent)
}

#[tokio::test]
async fn a_huge_body_gets_413_on_every_post_route_and_memory_stays_flat() {
    let redis = RedisServer::start().await;
    let server = Sentinel::start("sentinel", &redis.url(), SentinelOptions::default()).await;
    server.wait_ready().await;
    let before = rss_kib(server.pid());
    // Every route's 413 is checked in-process (`server/tests/edge.rs`); here the transport
    // with a real socket and the process's memory, on the task API and the page's call.
    for path in ["/tasks/enqueue", "/api/home"] {
        let (answer, sent) = post_chunked(&server, path, 64 << 20).await;
        assert!(answer.starts_with("HTTP/1.1 413"), "{path}: {answer}");
        assert!(
            answer.contains("\"limit\":\"MAX_BODY_BYTES\""),
            "{path}: {answer}"
        );
        assert!(sent < 64 << 20, "{path}: the server read the whole body");
        // A declared length over the limit is refused before any byte of the body.
        let answer = raw_exchange(
            &server,
            format!("POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 67108864\r\n\r\n")
                .as_bytes(),
            Duration::from_secs(5),
        )
        .await;
        assert!(answer.starts_with("HTTP/1.1 413"), "{path}: {answer}");
    }
    let after = rss_kib(server.pid());
    assert!(
        after < before + 32 * 1024,
        "RSS grew from {before} KiB to {after} KiB"
    );
}

#[tokio::test]
async fn half_a_request_line_is_closed_and_a_slow_body_times_out() {
    let redis = RedisServer::start().await;
    let opts = with_env(
        SentinelOptions::default(),
        &[
            ("HEADER_READ_TIMEOUT_MS", "500"),
            ("REQUEST_TIMEOUT_MS", "700"),
        ],
    );
    let server = Sentinel::start("sentinel", &redis.url(), opts).await;
    server.wait_ready().await;
    let started = Instant::now();
    raw_exchange(&server, b"GET /tasks/cou", Duration::from_secs(10)).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "held open for {:?}",
        started.elapsed()
    );
    let answer = raw_exchange(
        &server,
        b"POST /tasks/enqueue HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"sec",
        Duration::from_secs(10),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("REQUEST_TIMEOUT_MS"), "{answer}");
}

#[tokio::test]
async fn connections_and_streams_are_capped_with_retry_after() {
    let redis = RedisServer::start().await;
    let opts = with_env(
        SentinelOptions::default(),
        &[
            ("MAX_SSE_STREAMS_PER_CLIENT", "2"),
            ("MAX_SSE_STREAMS", "3"),
            ("MAX_CONNECTIONS", "6"),
        ],
    );
    let server = Sentinel::start("sentinel", &redis.url(), opts).await;
    server.wait_ready().await;
    let _a = SseClient::connect(&server.url("/tasks/stream"), None).await;
    let _b = SseClient::connect(&server.url("/tasks/stream"), None).await;
    let third = reqwest::get(server.url("/tasks/stream")).await.unwrap();
    assert_eq!(third.status(), 429);
    assert_eq!(third.headers()["retry-after"], "2");
    let body: Value = third.json().await.unwrap();
    assert_eq!(body["limit"], "MAX_SSE_STREAMS_PER_CLIENT");

    // Connections: hold the rest open, the next one is refused with 503.
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(tokio::net::TcpStream::connect(server.addr()).await.unwrap());
    }
    let answer = raw_exchange(
        &server,
        b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n",
        Duration::from_secs(5),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("MAX_CONNECTIONS"), "{answer}");
    drop(held);
}

#[tokio::test]
async fn stalled_stream_clients_are_dropped_with_bounded_memory_and_shutdown_stays_prompt() {
    use tokio::io::AsyncWriteExt;
    let redis = RedisServer::start().await;
    let opts = with_env(
        SentinelOptions::for_role("web"),
        &[("MAX_SSE_STREAMS_PER_CLIENT", "64")],
    );
    let mut server = Sentinel::start("web", &redis.url(), opts).await;
    server.wait_ready().await;
    let mut stalled = Vec::new();
    for _ in 0..20 {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let mut conn = socket
            .connect(server.addr().parse().unwrap())
            .await
            .unwrap();
        conn.write_all(b"GET /tasks/stream HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await
            .unwrap();
        stalled.push(conn);
    }
    let mut reader = SseClient::connect(&server.url("/tasks/stream"), None).await;
    let base = rss_kib(server.pid());
    // 48 MiB of events (6,000 of 8 KiB) while the 20 clients read nothing.
    let payload = "y".repeat(8000);
    let mut conn = redis.connection();
    for batch in 0..60 {
        let mut pipe = redis::pipe();
        for n in 0..100 {
            pipe.cmd("XADD")
                .arg("sentinel:sentinel-tasks:events")
                .arg("*")
                .arg("event")
                .arg("marker")
                .arg("jobId")
                .arg(format!("{batch}-{n}"))
                .arg("note")
                .arg(&payload)
                .ignore();
        }
        let () = pipe.query(&mut conn).unwrap();
        // The reading client keeps up with every batch.
        reader
            .collect_until(LONG, |e| e.data["jobId"] == format!("{batch}-99"))
            .await;
    }
    let peak = rss_kib(server.pid());
    assert!(
        peak < base + 64 * 1024,
        "RSS went from {base} KiB to {peak} KiB with 20 stalled clients"
    );
    let log = server.log();
    assert!(log.contains("dropping a slow event stream client"), "{log}");

    let started = Instant::now();
    server.terminate();
    let exit = server.wait_exit(Duration::from_secs(10)).await;
    assert!(support::exited_cleanly(exit), "{exit:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5 + 3),
        "{:?}",
        started.elapsed()
    );
    drop(stalled);
}

#[tokio::test]
async fn an_idle_server_exits_promptly_on_sigterm() {
    let redis = RedisServer::start().await;
    let mut server = Sentinel::start("sentinel", &redis.url(), SentinelOptions::default()).await;
    server.wait_ready().await;
    let started = Instant::now();
    server.terminate();
    let exit = server.wait_exit(Duration::from_secs(10)).await;
    assert!(support::exited_cleanly(exit), "{exit:?}");
    // The benchmark reports the exact time; this only catches a return of the old ~1 s wait.
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn an_evicting_redis_is_not_ready() {
    let redis = RedisServer::start().await;
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory-policy")
        .arg("allkeys-lru")
        .query(&mut redis.connection())
        .unwrap();
    let server = Sentinel::start("sentinel", &redis.url(), SentinelOptions::default()).await;
    let body = support::eventually(LONG, "readyz to say why", || async {
        let (code, body) = get_json(&server.url("/readyz")).await;
        (code == 503 && body["evictionPolicy"] == "allkeys-lru").then_some(body)
    })
    .await;
    assert!(
        body["reason"].as_str().unwrap().contains("noeviction"),
        "{body}"
    );
    assert!(server.log().contains("maxmemory-policy is not noeviction"));
}
