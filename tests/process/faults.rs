//! Faults around real processes: SIGTERM during a job, and kill -9 of a worker mid-job. The
//! proof that a job never ran on two workers at once is in its events: each run reports steps
//! 1, 2, 3, ... in order, so two overlapping runs would interleave their steps.

use std::time::Duration;

use serde_json::Value;
use support::{RedisServer, Sentinel, SentinelOptions, SseClient, SseEvent};

const LONG: Duration = Duration::from_secs(30);

fn worker_opts(tick_ms: u64) -> SentinelOptions {
    SentinelOptions {
        role: "worker",
        tick_ms,
        concurrency: 1,
        ..SentinelOptions::default()
    }
}

fn web_opts() -> SentinelOptions {
    SentinelOptions::for_role("web")
}

/// The job's events, in stream order.
fn events_of<'a>(events: &'a [SseEvent], id: &str) -> Vec<&'a SseEvent> {
    events.iter().filter(|e| e.data["jobId"] == id).collect()
}

fn step(event: &SseEvent) -> u64 {
    event.data["data"]["step"].as_u64().expect("progress step")
}

/// Splits the job's progress into runs (a run starts at each `active` event) and checks each
/// run counts up by one from 1, so no two runs overlapped.
fn runs(events: &[&SseEvent]) -> Vec<Vec<u64>> {
    let mut runs: Vec<Vec<u64>> = Vec::new();
    for event in events {
        match event.event.as_str() {
            "active" => runs.push(Vec::new()),
            "progress" => runs
                .last_mut()
                .expect("progress before any active event")
                .push(step(event)),
            _ => {}
        }
    }
    for run in &runs {
        let expected: Vec<u64> = (1..=run.len() as u64).collect();
        assert_eq!(run, &expected, "a run's steps interleave: {runs:?}");
    }
    runs
}

#[tokio::test]
async fn sigterm_hands_a_running_job_back_and_it_never_runs_twice_at_once() {
    let redis = RedisServer::start().await;
    let web = Sentinel::start("web", &redis.url(), web_opts()).await;
    web.wait_ready().await;
    let mut first = Sentinel::start(
        "worker-a",
        &redis.url(),
        SentinelOptions {
            grace_ms: 300,
            ..worker_opts(200)
        },
    )
    .await;
    first.wait_ready().await;

    let mut stream = SseClient::connect(&web.url("/tasks/stream"), None).await;
    let id = web.enqueue(10).await;
    let mut seen = stream.collect_until(LONG, |e| e.is("progress", &id)).await;

    // A second worker is ready to take over before the first one is told to stop.
    let second = Sentinel::start("worker-b", &redis.url(), worker_opts(50)).await;
    second.wait_ready().await;
    first.terminate();
    let exit = first.wait_exit(Duration::from_secs(15)).await;
    assert!(
        support::exited_cleanly(exit),
        "worker A exit: {exit:?}\n{}",
        first.log()
    );
    assert!(first.log().contains("handed back"), "{}", first.log());

    seen.extend(stream.collect_until(LONG, |e| e.is("completed", &id)).await);
    let mine = events_of(&seen, &id);
    let names: Vec<&str> = mine.iter().map(|e| e.event.as_str()).collect();
    let runs = runs(&mine);
    assert_eq!(runs.len(), 2, "one run on each worker: {names:?}");
    assert_eq!(
        runs[1].len(),
        10,
        "the second run did the whole task: {runs:?}"
    );
    // The hand-back (a `waiting` event after the first `active`) comes before the second run.
    let first_active = names.iter().position(|n| *n == "active").unwrap();
    let second_active = names.iter().rposition(|n| *n == "active").unwrap();
    assert!(
        names[first_active..second_active].contains(&"waiting"),
        "no hand-back between the runs: {names:?}"
    );
    let (code, status) = web.status(&id).await;
    assert_eq!(code, 200);
    assert_eq!(status["state"], "completed", "{status}");
    assert_eq!(status["result"]["message"], format!("Tâche {id} terminée"));
}

#[tokio::test]
async fn sigterm_lets_a_job_finish_within_the_grace() {
    let redis = RedisServer::start().await;
    let web = Sentinel::start("web", &redis.url(), web_opts()).await;
    web.wait_ready().await;
    let mut worker = Sentinel::start(
        "worker",
        &redis.url(),
        SentinelOptions {
            grace_ms: 10_000,
            ..worker_opts(100)
        },
    )
    .await;
    worker.wait_ready().await;
    let mut stream = SseClient::connect(&web.url("/tasks/stream"), None).await;
    let id = web.enqueue(5).await;
    let mut seen = stream.collect_until(LONG, |e| e.is("progress", &id)).await;
    worker.terminate();
    seen.extend(stream.collect_until(LONG, |e| e.is("completed", &id)).await);
    let exit = worker.wait_exit(Duration::from_secs(15)).await;
    assert!(support::exited_cleanly(exit), "{exit:?}");
    let mine = events_of(&seen, &id);
    assert_eq!(runs(&mine), vec![vec![1, 2, 3, 4, 5]]);
    let completed = mine.last().unwrap();
    assert_eq!(
        completed.data["returnvalue"]["message"],
        format!("Tâche {id} terminée")
    );
}

#[tokio::test]
async fn kill_9_mid_job_and_another_worker_finishes_it() {
    let redis = RedisServer::start().await;
    let web = Sentinel::start("web", &redis.url(), web_opts()).await;
    web.wait_ready().await;
    let short_locks = |tick_ms| SentinelOptions {
        lock_ms: 1000,
        stalled_ms: 500,
        ..worker_opts(tick_ms)
    };
    let mut doomed = Sentinel::start("worker-a", &redis.url(), short_locks(200)).await;
    doomed.wait_ready().await;
    let mut stream = SseClient::connect(&web.url("/tasks/stream"), None).await;
    let id = web.enqueue(10).await;
    let mut seen = stream.collect_until(LONG, |e| e.is("progress", &id)).await;

    let survivor = Sentinel::start("worker-b", &redis.url(), short_locks(50)).await;
    survivor.wait_ready().await;
    doomed.kill9();

    seen.extend(stream.collect_until(LONG, |e| e.is("completed", &id)).await);
    let mine = events_of(&seen, &id);
    let names: Vec<&str> = mine.iter().map(|e| e.event.as_str()).collect();
    assert!(
        names.contains(&"stalled"),
        "the lost job was detected as stalled: {names:?}"
    );
    let runs = runs(&mine);
    assert_eq!(runs.len(), 2, "{names:?}");
    assert_eq!(runs[1].len(), 10, "{runs:?}");
    let status: Value = web.wait_state(&id, "completed", LONG).await;
    assert_eq!(status["result"]["message"], format!("Tâche {id} terminée"));
}

/// The job's entries in the queue's Redis event stream, as (event name, fields).
fn stream_events_of(redis: &RedisServer, id: &str) -> Vec<String> {
    let reply: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
        .arg("sentinel:sentinel-tasks:events")
        .arg("-")
        .arg("+")
        .query(&mut redis.connection())
        .expect("XRANGE");
    reply
        .ids
        .iter()
        .filter(|entry| entry.get::<String>("jobId").as_deref() == Some(id))
        .filter_map(|entry| entry.get::<String>("event"))
        .collect()
}

#[tokio::test]
async fn redis_restarting_at_the_last_tick_completes_the_job_once() {
    // Short locks, so that a job left active by a lost final write would be run again
    // within the test's time.
    let redis = RedisServer::start().await;
    let worker = Sentinel::start(
        "worker",
        &redis.url(),
        SentinelOptions {
            lock_ms: 4000,
            stalled_ms: 500,
            ..worker_opts(600)
        },
    )
    .await;
    worker.wait_ready().await;
    let queue = support::producer_queue(&redis).await;
    let job = queue
        .add("longTask", serde_json::json!({"seconds": 2}))
        .into_future()
        .await
        .unwrap();
    let id = job.id().to_string();
    queue.close().await;
    // Wait for the first tick, then make Redis refuse every queue script (an ACL change: every
    // BullMQ write is a script) across the last tick and the final write, then allow them
    // again. Stopping Redis would not do: the last progress write then waits for Redis to
    // come back, and the final write finds it healthy.
    support::eventually(LONG, "the first tick", || async {
        stream_events_of(&redis, &id)
            .contains(&"progress".to_string())
            .then_some(())
    })
    .await;
    let acl = |rule: &[&str]| {
        let _: () = redis::cmd("ACL")
            .arg("SETUSER")
            .arg("default")
            .arg(rule)
            .query(&mut redis.connection())
            .expect("ACL SETUSER");
    };
    acl(&["-eval", "-evalsha", "-eval_ro", "-evalsha_ro"]);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    acl(&["+@all"]);

    let names = support::eventually(LONG, "the job to complete", || async {
        let names = stream_events_of(&redis, &id);
        names.contains(&"completed".to_string()).then_some(names)
    })
    .await;
    // Long enough for a stalled re-run to show (the lock is 4 s, the check every 0.5 s).
    tokio::time::sleep(Duration::from_millis(4500)).await;
    let names_after = stream_events_of(&redis, &id);
    let count = |name: &str| names_after.iter().filter(|n| *n == name).count();
    assert_eq!(
        count("active"),
        1,
        "run again: {names_after:?} (at completion: {names:?})"
    );
    assert_eq!(count("completed"), 1, "{names_after:?}");
    assert!(
        worker
            .log()
            .contains("failed to move job to completed, retrying"),
        "the final write never failed, so this proved nothing:\n{}",
        worker.log()
    );
}
