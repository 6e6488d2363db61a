//! The event stream: a job's events arrive live with parsed JSON; a client that reconnects with
//! `Last-Event-ID` gets exactly the events it missed, then live ones.

use std::time::Duration;

use serde_json::json;
use support::{RedisServer, Sentinel, SentinelOptions, SseClient, SseEvent, progress_of};

const LONG: Duration = Duration::from_secs(20);

fn is_completed(event: &SseEvent) -> bool {
    event.event == "completed"
}

#[tokio::test]
async fn a_jobs_events_arrive_live() {
    let redis = RedisServer::start().await;
    let server = Sentinel::start("sentinel", &redis.url(), SentinelOptions::default()).await;
    server.wait_ready().await;

    let mut all = SseClient::connect(&server.url("/tasks/stream"), None).await;
    let id = server.enqueue(3).await;
    let events = all.collect_until(LONG, is_completed).await;

    let mine: Vec<&SseEvent> = events
        .iter()
        .filter(|e| e.data["jobId"] == id.as_str())
        .collect();
    let names: Vec<&str> = mine.iter().map(|e| e.event.as_str()).collect();
    for expected in ["added", "waiting", "active", "progress", "completed"] {
        assert!(
            names.contains(&expected),
            "no {expected} event in {names:?}"
        );
    }
    assert_eq!(
        progress_of(&events, &id),
        vec![
            json!({"step": 1, "total": 3, "info": "tick 1/3"}),
            json!({"step": 2, "total": 3, "info": "tick 2/3"}),
            json!({"step": 3, "total": 3, "info": "tick 3/3"}),
        ]
    );
    let completed = mine.last().unwrap();
    assert_eq!(completed.event, "completed");
    assert_eq!(
        completed.data["returnvalue"]["message"],
        format!("Tâche {id} terminée")
    );
    // Every event carries its stream entry id, in increasing order.
    let ids: Vec<&str> = events
        .iter()
        .map(|e| e.id.as_deref().expect("SSE id"))
        .collect();
    let mut sorted = ids.clone();
    sorted.sort_by_key(|id| {
        let (ms, seq) = id.split_once('-').unwrap();
        (ms.parse::<u64>().unwrap(), seq.parse::<u64>().unwrap())
    });
    assert_eq!(ids, sorted);
}

#[tokio::test]
async fn reconnecting_with_last_event_id_yields_exactly_the_missed_events() {
    let redis = RedisServer::start().await;
    let server = Sentinel::start("sentinel", &redis.url(), SentinelOptions::default()).await;
    server.wait_ready().await;

    // A watcher that sees everything, as the reference.
    let mut reference = SseClient::connect(&server.url("/tasks/stream"), None).await;
    let first = server.enqueue(4).await;
    let seen = reference.collect_until(LONG, is_completed).await;
    let mine: Vec<&SseEvent> = seen
        .iter()
        .filter(|e| e.data["jobId"] == first.as_str())
        .collect();
    assert!(mine.len() >= 6, "{mine:#?}");

    // A client that dropped after its third event of the job comes back later.
    let cut = mine[2].id.clone().unwrap();
    let missed: Vec<&SseEvent> = seen
        .iter()
        .skip_while(|e| e.id.as_deref() != Some(cut.as_str()))
        .skip(1)
        .collect();
    assert!(!missed.is_empty());
    let mut resumed = SseClient::connect(&server.url("/tasks/stream"), Some(&cut)).await;
    let mut replayed = Vec::new();
    for _ in 0..missed.len() {
        replayed.push(
            resumed
                .next_within(Duration::from_secs(5))
                .await
                .expect("a missed event is replayed"),
        );
    }
    let replayed_refs: Vec<&SseEvent> = replayed.iter().collect();
    assert_eq!(replayed_refs, missed, "replay differs from what was missed");

    // Then live events follow, with no duplicate of the replay.
    let second = server.enqueue(1).await;
    let live = resumed
        .collect_until(LONG, |e| e.data["jobId"] == second.as_str())
        .await;
    let last_replayed = replayed.last().unwrap().id.clone();
    for event in &live {
        assert!(
            !replayed.iter().any(|e| e.id == event.id),
            "duplicate {event:?}"
        );
        assert!(
            stream_id(&event.id) > stream_id(&last_replayed),
            "out of order {event:?}"
        );
    }
    assert_eq!(live.last().unwrap().event, "added");
}

fn stream_id(id: &Option<String>) -> (u64, u64) {
    let (ms, seq) = id
        .as_deref()
        .expect("SSE id")
        .split_once('-')
        .expect("stream id");
    (ms.parse().unwrap(), seq.parse().unwrap())
}

#[tokio::test]
async fn job_filter_and_bad_last_event_id() {
    let redis = RedisServer::start().await;
    let server = Sentinel::start("sentinel", &redis.url(), SentinelOptions::default()).await;
    server.wait_ready().await;

    let other = server.enqueue(1).await;
    let mine = server.enqueue(2).await;
    // Resume from the start of the stream, filtered to one job: only its events come.
    let url = server.url(&format!("/tasks/stream?jobId={mine}"));
    let mut filtered = SseClient::connect(&url, Some("0-0")).await;
    let events = filtered.collect_until(LONG, is_completed).await;
    assert!(
        events.iter().all(|e| e.data["jobId"] == mine.as_str()),
        "{events:#?}"
    );
    assert_ne!(other, mine);

    let response = reqwest::Client::new()
        .get(server.url("/tasks/stream"))
        .header("last-event-id", "yesterday")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_last_event_id");

    let response = reqwest::get(server.url("/tasks/stream?jobId=a:b"))
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn streams_end_on_shutdown() {
    let redis = RedisServer::start().await;
    let mut server = Sentinel::start("sentinel", &redis.url(), SentinelOptions::default()).await;
    server.wait_ready().await;
    let mut stream = SseClient::connect(&server.url("/tasks/stream"), None).await;
    server.terminate();
    // The stream closes instead of hanging on keep-alives.
    let ended = tokio::time::timeout(Duration::from_secs(10), stream.next_event()).await;
    assert!(matches!(ended, Ok(None)), "stream did not end: {ended:?}");
    let exit = server.wait_exit(Duration::from_secs(10)).await;
    assert!(support::exited_cleanly(exit), "{exit:?}");
}

#[tokio::test]
async fn a_slow_client_is_dropped_and_never_holds_back_the_others() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let redis = RedisServer::start().await;
    let server = Sentinel::start("web", &redis.url(), SentinelOptions::for_role("web")).await;
    server.wait_ready().await;

    // A client that opens the stream and then reads nothing, with a small receive buffer.
    let addr = server.url("").trim_start_matches("http://").to_string();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut slow = socket.connect(addr.parse().unwrap()).await.unwrap();
    slow.write_all(
        format!("GET /tasks/stream HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    )
    .await
    .unwrap();
    let mut fast = SseClient::connect(&server.url("/tasks/stream"), None).await;

    // Far more events than the slow client's socket buffers and the hub's channel can hold,
    // in bursts; each burst is read by the fast client before the next one is written.
    let queue = support::producer_queue(&redis).await;
    let (bursts, per_burst) = (40, 1000);
    for burst in 0..bursts {
        let jobs = (0..per_burst)
            .map(|i| {
                bullmq::BulkJob::new(
                    "longTask",
                    json!({"seconds": 1, "n": burst * per_burst + i}),
                )
            })
            .collect();
        queue.add_bulk(jobs).await.unwrap();
        // The fast client gets every `added` event of the burst (the crate may write a burst's
        // jobs in any order, so count them rather than wait for the last one).
        let mut burst_seen = 0;
        while burst_seen < per_burst {
            let event = fast
                .next_within(Duration::from_secs(20))
                .await
                .expect("the fast client keeps receiving");
            if event.event == "added" {
                burst_seen += 1;
            }
        }
    }
    let total = bursts * per_burst;

    // The slow client was cut off: reading now reaches the end of the stream, short of the total.
    let mut body = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), slow.read_to_end(&mut body))
        .await
        .expect("the server closed the slow client's stream")
        .unwrap();
    let received = String::from_utf8_lossy(&body)
        .matches("event: added")
        .count();
    assert!(
        received < total,
        "the slow client got all {received} events"
    );
    assert!(
        server.log().contains("dropping a slow event stream client"),
        "{}",
        server.log()
    );
    queue.close().await;
}

#[tokio::test]
async fn the_stream_says_whether_the_queue_answers() {
    let redis = RedisServer::start().await;
    let server = Sentinel::start("sentinel", &redis.url(), SentinelOptions::default()).await;
    server.wait_ready().await;
    let mut stream = SseClient::connect(&server.url("/tasks/stream"), None)
        .await
        .with_statuses();
    let status = |event: &SseEvent, queue: &str| {
        event.event == "status" && event.data["queue"] == queue && event.id.is_none()
    };
    // First thing on the stream: the queue answers.
    let first = stream.next_within(LONG).await.expect("a first event");
    assert!(status(&first, "up"), "{first:?}");
    // It is repeated while nothing else happens (a page notices a silent stream by its absence).
    let again = stream
        .next_within(Duration::from_secs(5))
        .await
        .expect("a repeat");
    assert!(status(&again, "up"), "{again:?}");

    // Redis hangs: the stream says so within a few seconds, and again when it is back.
    redis.pause();
    let started = std::time::Instant::now();
    let down = stream
        .collect_until(Duration::from_secs(6), |e| status(e, "down"))
        .await;
    let took = started.elapsed();
    redis.resume();
    assert!(
        took < Duration::from_secs(5),
        "noticed after {took:?}: {down:?}"
    );
    let since = down.last().unwrap().data["since"].as_u64().expect("since");
    assert!(since > 0);
    stream
        .collect_until(Duration::from_secs(5), |e| status(e, "up"))
        .await;
}
