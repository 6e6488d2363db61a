//! Interop with the real `bullmq` npm package (6.7.0, pinned in tests/interop/package-lock.json):
//! a Node producer's job is run by Sentinel's worker, and a job enqueued over Sentinel's HTTP API
//! is run by a Node worker while Sentinel reports its progress and result.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use support::{RedisServer, Sentinel, SentinelOptions, SseClient, progress_of, workspace_root};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const LONG: Duration = Duration::from_secs(30);

fn interop_dir() -> PathBuf {
    let dir = workspace_root().join("tests/interop");
    assert!(
        dir.join("node_modules/bullmq/package.json").exists(),
        "tests/interop/node_modules is missing: run `npm ci --prefix tests/interop` (scripts/test does)"
    );
    dir
}

/// Runs the Node peer `script` with `args` to its end and parses the one JSON line it prints.
async fn node_json(script: &str, args: &[&str]) -> Value {
    let output = tokio::time::timeout(
        LONG,
        Command::new("node")
            .arg(interop_dir().join(script))
            .args(args)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the Node peer finished in time")
    .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{script} failed: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(stdout.trim()).expect("the Node peer prints JSON")
}

#[tokio::test]
async fn a_node_producers_job_runs_on_sentinel_and_node_sees_progress_and_result() {
    let redis = RedisServer::start().await;
    let worker = Sentinel::start(
        "sentinel-worker",
        &redis.url(),
        SentinelOptions::for_role("worker"),
    )
    .await;
    worker.wait_ready().await;

    let seen = node_json("producer.mjs", &[&redis.url(), "3"]).await;
    let id = seen["jobId"].as_str().expect("job id");
    assert_eq!(
        seen["progress"],
        json!([
            {"step": 1, "total": 3, "info": "tick 1/3"},
            {"step": 2, "total": 3, "info": "tick 2/3"},
            {"step": 3, "total": 3, "info": "tick 3/3"},
        ])
    );
    assert_eq!(
        seen["returnvalue"]["message"],
        format!("Tâche {id} terminée")
    );
    assert!(seen["returnvalue"]["elapsedMs"].as_u64().unwrap() >= 150);
}

/// `SENTINEL_QUEUES`: a worker process runs a second queue's jobs too; a Node producer on that
/// queue sees its progress and result as on Sentinel's own.
#[tokio::test]
async fn a_worker_for_several_queues_runs_a_node_producers_job_on_each() {
    let redis = RedisServer::start().await;
    let mut options = SentinelOptions::for_role("worker");
    options.env.push((
        "SENTINEL_QUEUES".to_string(),
        "sentinel-tasks,reports".to_string(),
    ));
    let worker = Sentinel::start("sentinel-worker", &redis.url(), options).await;
    worker.wait_ready().await;
    for queue in ["reports", "sentinel-tasks"] {
        let seen = node_json("producer.mjs", &[&redis.url(), "2", queue]).await;
        let id = seen["jobId"].as_str().expect("job id");
        assert_eq!(
            seen["progress"].as_array().unwrap().len(),
            2,
            "{queue}: {seen}"
        );
        assert_eq!(
            seen["returnvalue"]["message"],
            format!("Tâche {id} terminée"),
            "{queue}"
        );
    }
}

#[tokio::test]
async fn a_task_enqueued_over_http_runs_on_a_node_worker_and_sentinel_reports_it() {
    let redis = RedisServer::start().await;
    let web = Sentinel::start(
        "sentinel-web",
        &redis.url(),
        SentinelOptions::for_role("web"),
    )
    .await;
    web.wait_ready().await;

    let mut node = Command::new("node")
        .arg(interop_dir().join("worker.mjs"))
        .arg(redis.url())
        .arg("1")
        .arg("50")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs");
    let mut lines = BufReader::new(node.stdout.take().unwrap()).lines();
    let ready = tokio::time::timeout(LONG, lines.next_line())
        .await
        .expect("the Node worker started in time")
        .expect("read the Node worker's output");
    assert_eq!(ready.as_deref(), Some("ready"));

    let mut stream = SseClient::connect(&web.url("/tasks/stream"), None).await;
    let id = web.enqueue(3).await;
    let events = stream.collect_until(LONG, |e| e.is("completed", &id)).await;
    assert_eq!(
        progress_of(&events, &id),
        vec![
            json!({"step": 1, "total": 3, "info": "tick 1/3"}),
            json!({"step": 2, "total": 3, "info": "tick 2/3"}),
            json!({"step": 3, "total": 3, "info": "tick 3/3"}),
        ]
    );
    let completed = events.last().unwrap();
    assert_eq!(completed.data["returnvalue"]["by"], "node");

    let status = web.wait_state(&id, "completed", LONG).await;
    assert_eq!(status["result"]["by"], "node", "{status}");
    assert_eq!(status["result"]["message"], format!("Tâche {id} terminée"));
    assert_eq!(
        status["progress"],
        json!({"step": 3, "total": 3, "info": "tick 3/3"})
    );

    let exit = tokio::time::timeout(LONG, node.wait())
        .await
        .expect("the Node worker exits after its job")
        .unwrap();
    assert!(exit.success());
}

#[tokio::test]
async fn foreign_node_jobs_fail_at_once_and_a_good_one_still_completes() {
    let redis = RedisServer::start().await;
    let worker = Sentinel::start(
        "sentinel-worker",
        &redis.url(),
        SentinelOptions {
            concurrency: 1,
            ..SentinelOptions::for_role("worker")
        },
    )
    .await;
    worker.wait_ready().await;

    let ends: Vec<Value> =
        serde_json::from_value(node_json("foreign.mjs", &[&redis.url()]).await).expect("a list");
    let (bad, good) = ends.split_at(3);
    for end in bad {
        assert_eq!(end["state"], "failed", "{end}");
        let reason = end["failedReason"].as_str().unwrap();
        assert!(reason.len() <= 1024, "{} bytes of reason", reason.len());
        // Refused, never retried, whatever attempts the producer asked for.
        assert_eq!(end["attemptsMade"], 1, "{end}");
        assert!(end["ms"].as_u64().unwrap() < 2000, "{end}");
    }
    assert!(
        bad[2]["failedReason"]
            .as_str()
            .unwrap()
            .contains("no processor for job name \"sendEmail\""),
        "{}",
        bad[2]
    );
    assert_eq!(good[0]["state"], "completed", "{}", good[0]);
}

#[tokio::test]
async fn node_reads_sentinels_job_logs_and_each_side_sees_the_others_actions() {
    let redis = RedisServer::start().await;
    let server = Sentinel::start("sentinel", &redis.url(), SentinelOptions::default()).await;
    server.wait_ready().await;
    let http = reqwest::Client::new();
    let url = redis.url();

    // Sentinel's tick log, as Node's Queue.getJobLogs reads it.
    let id = server.enqueue(3).await;
    server.wait_state(&id, "completed", LONG).await;
    let logs = node_json("operate.mjs", &["logs", &url, &id]).await;
    assert_eq!(
        logs,
        serde_json::json!({"logs": ["tick 1/3", "tick 2/3", "tick 3/3"], "count": 3})
    );

    // Sentinel pauses: Node sees it.
    let paused = http
        .post(server.url("/admin/api/queue/pause"))
        .send()
        .await
        .unwrap();
    assert_eq!(paused.status(), 200);
    let seen = node_json("operate.mjs", &["paused", &url]).await;
    assert_eq!(seen["paused"], true, "{seen}");

    // Node resumes, adds a delayed job and removes another: Sentinel sees all three.
    let acted = node_json("operate.mjs", &["act", &url]).await;
    let delayed = acted["delayed"].as_str().expect("an id").to_string();
    let removed = acted["removed"].as_str().expect("an id").to_string();
    let (status, job) = server.status(&delayed).await;
    assert_eq!(
        (status, job["state"].as_str()),
        (200, Some("delayed")),
        "{job}"
    );
    assert_eq!(server.status(&removed).await.0, 404);
    // Node's job is found by a search of its name and data (by the scan: it is not indexed).
    let invoice = acted["invoice"].as_str().expect("an id").to_string();
    for q in [
        "name:invoice%20data.customer:%22acme%20corp%22",
        "data.total:12.50%20state:delayed",
    ] {
        let found: Value = http
            .get(server.url(&format!("/admin/api/jobs?q={q}")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            (found["total"].as_u64(), found["jobs"][0]["id"].as_str()),
            (Some(1), Some(invoice.as_str())),
            "{q}: {found}"
        );
    }
    let resumed = server.enqueue(1).await;
    server.wait_state(&resumed, "completed", LONG).await;

    // Node promotes the delayed job: Sentinel runs it; Sentinel cancels: Node cannot find it.
    node_json("operate.mjs", &["promote", &url, &delayed]).await;
    server.wait_state(&delayed, "completed", LONG).await;
    let later = http
        .post(server.url("/tasks/enqueue"))
        .json(&serde_json::json!({"seconds": 1, "delay": 60000}))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let cancelled = http
        .post(server.url(&format!("/admin/api/jobs/{later}/cancel")))
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), 200);
    let before = node_json("operate.mjs", &["exists", &url, &resumed]).await;
    assert_eq!(before["exists"], true, "{before}");
    let gone = node_json("operate.mjs", &["exists", &url, &later]).await;
    assert_eq!(
        gone["exists"], false,
        "the cancelled job is gone for Node too: {gone}"
    );
}

#[tokio::test]
async fn every_node_queue_under_every_prefix_is_found_with_node_s_counts() {
    let redis = RedisServer::start().await;
    let mut options = SentinelOptions::for_role("web");
    // Rescans at most once a second (10 s by default), so the late queue's wait is short.
    options
        .env
        .push(("SENTINEL_DISCOVERY_MIN_INTERVAL_MS".into(), "1000".into()));
    let server = Sentinel::start("web", &redis.url(), options).await;
    server.wait_ready().await;
    // A hash named like a queue's meta that holds no queue settings is not a queue.
    let mut conn = redis.connection();
    let _: () = redis::cmd("HSET")
        .arg("other:thing:meta")
        .arg("color")
        .arg("blue")
        .query(&mut conn)
        .unwrap();
    let made = node_json(
        "queues.mjs",
        &[&redis.url(), "40", "bull", "svc", "{tagged}"],
    )
    .await;
    let made = made.as_array().expect("a list").clone();
    assert_eq!(made.len(), 120);
    let started = std::time::Instant::now();
    let found = support::eventually(Duration::from_secs(15), "the 120 queues", || {
        // One page holds them all (at most 500 a page; 50 by default).
        let url = server.url("/admin/api/queues?limit=500");
        async move {
            let (status, list) = support::get_json(&url).await;
            let queues = list["queues"].as_array()?.clone();
            (status == 200 && queues.len() >= 120 && list["total"].as_u64() >= Some(120))
                .then_some(list)
        }
    })
    .await;
    assert!(started.elapsed() < Duration::from_secs(15));
    assert_eq!(found["complete"], true, "{found}");
    let queues = found["queues"].as_array().unwrap();
    for node in &made {
        let mine = queues
            .iter()
            .find(|q| q["prefix"] == node["prefix"] && q["name"] == node["name"])
            .unwrap_or_else(|| panic!("{node} was not found"));
        assert_eq!(mine["paused"], node["paused"], "{node} vs {mine}");
        let states = node["counts"].as_object().expect("Node's counts");
        assert!(states.len() >= 6, "{node}");
        for state in states.keys() {
            assert_eq!(
                mine["counts"][state].as_u64(),
                node["counts"][state].as_u64(),
                "{state} of {}:{}: Node {} vs ours {}",
                node["prefix"],
                node["name"],
                node["counts"],
                mine["counts"]
            );
        }
    }
    assert!(!queues.iter().any(|q| q["prefix"] == "other"), "{found}");
    // A queue made after the last scan: listed on a rescan once the least interval between
    // scans has passed (however often a rescan is asked for before).
    node_json("queues.mjs", &[&redis.url(), "1", "late"]).await;
    let url = server.url("/admin/api/queues?rescan=true");
    support::eventually(
        Duration::from_secs(5),
        "the late queue to be listed",
        || {
            let url = url.clone();
            async move {
                let (status, list) = support::get_json(&url).await;
                assert_eq!(status, 200);
                list["queues"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|q| q["prefix"] == "late" && q["name"] == "orders-0")
                    .then_some(())
            }
        },
    )
    .await;
}

/// Sentinel's admin API acts on another program's queue through BullMQ's own scripts, and Node
/// BullMQ sees each action: retry a failed job, remove a completed one, promote a delayed one,
/// pause the queue, a bulk removal.
#[tokio::test]
async fn actions_on_a_node_queue_are_seen_by_node() {
    let redis = RedisServer::start().await;
    let server = Sentinel::start("web", &redis.url(), SentinelOptions::for_role("web")).await;
    server.wait_ready().await;
    let made = node_json("payments.mjs", &["make", &redis.url()]).await;
    let id = |key: &str| made[key].as_str().expect("an id").to_string();
    let (failed, completed, delayed) = (id("failed"), id("completed"), id("delayed"));
    let on = "queue=bull%3Apayments";
    let http = reqwest::Client::new();
    let post = |path: String, body: &'static str| {
        http.post(server.url(&path))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    for (job, action) in [
        (&failed, "retry"),
        (&completed, "remove"),
        (&delayed, "promote"),
    ] {
        let answer = post(format!("/admin/api/jobs/{job}/{action}?{on}"), "")
            .await
            .unwrap();
        assert_eq!(answer.status(), 200, "{action}: {:?}", answer.text().await);
    }
    let answer = post(format!("/admin/api/queue/pause?{on}"), "")
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let node = node_json(
        "payments.mjs",
        &["read", &redis.url(), &failed, &completed, &delayed],
    )
    .await;
    assert_eq!(node["paused"], true, "{node}");
    assert_eq!(node["states"][&failed], "waiting", "retried: {node}");
    assert_eq!(node["states"][&completed], "unknown", "removed: {node}");
    assert_eq!(node["states"][&delayed], "waiting", "promoted: {node}");
    // Sentinel's own queue is untouched.
    let (_, queues) = support::get_json(&server.url("/admin/api/queues?rescan=true")).await;
    let paused: Vec<&Value> = queues["queues"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|q| q["paused"] == true)
        .collect();
    assert_eq!(paused.len(), 1, "{queues}");
    assert_eq!(paused[0]["name"], "payments", "{queues}");
    // A bulk removal of both waiting jobs, followed to its end.
    let started: Value = post(
        format!("/admin/api/jobs/bulk?{on}"),
        r#"{"action": "remove", "q": "state:waiting"}"#,
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let bulk = started["bulk"].as_str().expect("a bulk run").to_string();
    support::eventually(LONG, "the bulk removal to end", || {
        let url = server.url(&format!("/admin/api/bulk/{bulk}"));
        async move {
            let (_, progress) = support::get_json(&url).await;
            (progress["finished"] == true).then_some(())
        }
    })
    .await;
    let node = node_json("payments.mjs", &["read", &redis.url(), &failed, &delayed]).await;
    assert_eq!(node["states"][&failed], "unknown", "{node}");
    assert_eq!(node["states"][&delayed], "unknown", "{node}");
}

/// Job schedulers both ways: one made by Node is listed by Sentinel as Node made it; one made
/// by Sentinel is read by Node; and Sentinel's upsert writes the same Redis data as Node's
/// `upsertJobScheduler` for the same definition (the scheduler's hash and its next job).
#[tokio::test]
async fn schedulers_made_by_node_and_by_sentinel_are_read_by_the_other() {
    let redis = RedisServer::start().await;
    let server = Sentinel::start("web", &redis.url(), SentinelOptions::for_role("web")).await;
    server.wait_ready().await;
    node_json("schedulers.mjs", &["make", &redis.url()]).await;
    let (status, listed) =
        support::get_json(&server.url("/admin/api/schedulers?queue=bull%3Acrons")).await;
    assert_eq!(status, 200, "{listed}");
    let node_made = listed["schedulers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "node-made")
        .cloned()
        .unwrap_or_else(|| panic!("node-made listed: {listed}"));
    assert_eq!(node_made["every"], 60000, "{node_made}");
    assert_eq!(node_made["name"], "tick", "{node_made}");
    assert_eq!(node_made["data"]["from"], "node", "{node_made}");
    assert!(node_made["next"].as_u64().is_some(), "{node_made}");

    let answer = reqwest::Client::new()
        .put(server.url("/admin/api/schedulers/ours?queue=bull%3Acrons"))
        .header("content-type", "application/json")
        .body(r#"{"pattern": "0 0 * * * *", "tz": "UTC", "name": "hourly", "data": {"from": "x"}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200, "{:?}", answer.text().await);
    let read = node_json("schedulers.mjs", &["read", &redis.url(), "ours", "twin"]).await;
    assert_eq!(read["ours"]["pattern"], "0 0 * * * *", "{read}");
    assert_eq!(read["ours"]["tz"], "UTC", "{read}");
    assert_eq!(read["ours"]["name"], "hourly", "{read}");
    assert_eq!(
        read["ours"]["template"]["data"],
        json!({"from": "x"}),
        "{read}"
    );
    assert_eq!(read["ours"]["next"], read["twin"]["next"], "{read}");

    // The same Redis data as Node's for the same definition.
    let mut conn = redis.connection();
    let hash =
        |conn: &mut redis::Connection, key: String| -> std::collections::BTreeMap<String, String> {
            redis::cmd("HGETALL").arg(key).query(conn).unwrap()
        };
    let ours = hash(&mut conn, "bull:crons:repeat:ours".into());
    let twin = hash(&mut conn, "bull:crons:repeat:twin".into());
    assert_eq!(ours, twin, "the schedulers' hashes");
    let next = read["twin"]["next"].as_u64().expect("a next run");
    let our_job = hash(&mut conn, format!("bull:crons:repeat:ours:{next}"));
    let twin_job = hash(&mut conn, format!("bull:crons:repeat:twin:{next}"));
    let fields = |job: &std::collections::BTreeMap<String, String>| -> Vec<String> {
        job.keys().cloned().collect()
    };
    assert_eq!(
        fields(&our_job),
        fields(&twin_job),
        "{our_job:?} vs {twin_job:?}"
    );
    for field in ["name", "data", "priority"] {
        assert_eq!(
            our_job.get(field),
            twin_job.get(field),
            "{field}: {our_job:?} vs {twin_job:?}"
        );
    }
    // Due at the same time (each delay counts from its own add, milliseconds apart).
    let due = |job: &std::collections::BTreeMap<String, String>| -> u64 {
        job["timestamp"].parse::<u64>().unwrap() + job["delay"].parse::<u64>().unwrap()
    };
    assert_eq!(due(&our_job), due(&twin_job));
    // The same options but for the job's own id and times, and `prevMillis`, which Node adds
    // and the engine does not (noted in patches/README.md: the next run is computed from the
    // scheduler's hash either way).
    let opts = |job: &std::collections::BTreeMap<String, String>| -> Value {
        let mut opts: Value = serde_json::from_str(&job["opts"]).unwrap();
        for own in ["jobId", "repeatJobKey", "timestamp", "delay", "prevMillis"] {
            opts.as_object_mut().unwrap().remove(own);
        }
        opts
    };
    assert_eq!(
        opts(&our_job),
        opts(&twin_job),
        "{our_job:?} vs {twin_job:?}"
    );
    // A scheduler made by Sentinel keeps repeating on Node's workers.
    let answer = reqwest::Client::new()
        .put(server.url("/admin/api/schedulers/fast?queue=bull%3Acrons"))
        .header("content-type", "application/json")
        .body(r#"{"every": 1000, "name": "beat"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let ran = node_json("schedulers.mjs", &["run", &redis.url(), "fast"]).await;
    assert_eq!(ran["done"].as_array().map(Vec::len), Some(3), "{ran}");
}
