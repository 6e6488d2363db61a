//! Sentinel on a real three-node Redis Cluster, with a hash-tagged prefix: a task is enqueued,
//! run, followed over SSE and reported, across the cluster.

use std::time::Duration;

use serde_json::json;
use support::{RedisCluster, Sentinel, SentinelOptions, SseClient, progress_of};

const LONG: Duration = Duration::from_secs(30);

#[tokio::test]
async fn a_task_runs_and_streams_on_a_redis_cluster() {
    let cluster = RedisCluster::start().await;
    let opts = SentinelOptions {
        env: vec![
            ("REDIS_CLUSTER_NODES".into(), cluster.nodes()),
            ("SENTINEL_PREFIX".into(), "{sentinel}".into()),
        ],
        ..SentinelOptions::default()
    };
    let server = Sentinel::start("sentinel", "redis://127.0.0.1:1/0", opts).await;
    server.wait_ready().await;

    let mut stream = SseClient::connect(&server.url("/tasks/stream"), None).await;
    let id = server.enqueue(3).await;
    let events = stream.collect_until(LONG, |e| e.is("completed", &id)).await;
    let steps: Vec<_> = progress_of(&events, &id)
        .iter()
        .map(|p| p["step"].clone())
        .collect();
    assert_eq!(steps, vec![json!(1), json!(2), json!(3)]);

    let done = server.wait_state(&id, "completed", LONG).await;
    assert_eq!(done["result"]["message"], format!("Tâche {id} terminée"));
    let (code, counts) = support::get_json(&server.url("/tasks/counts")).await;
    assert_eq!(code, 200);
    assert_eq!(counts["counts"]["completed"], 1, "{counts}");

    // Every queue on every node is found: queues under prefixes whose hash tags put them on
    // different nodes, with the counts BullMQ's own getCounts script gives.
    let seeds: Vec<String> = cluster.nodes().split(',').map(str::to_owned).collect();
    let mut made = Vec::new();
    for (i, prefix) in ["{a}", "{b}", "{c}", "{d}", "{e}", "{f}"]
        .iter()
        .enumerate()
    {
        let opts = bullmq::QueueOptions::new()
            .connection(
                bullmq::options::RedisConnectionOptions::new()
                    .url(seeds[0].clone())
                    .cluster_nodes(seeds.iter().cloned()),
            )
            .prefix(prefix.to_string());
        let queue = bullmq::Queue::with_options("orders", opts).await.unwrap();
        for n in 0..=i {
            queue
                .add("work", json!({ "n": n }))
                .into_future()
                .await
                .unwrap();
        }
        made.push((prefix.to_string(), queue.get_job_counts().await.unwrap()));
    }
    let (code, list) = support::get_json(&server.url("/admin/api/queues?rescan=true")).await;
    assert_eq!(code, 200, "{list}");
    for (prefix, counts) in made {
        let found = list["queues"]
            .as_array()
            .unwrap()
            .iter()
            .find(|q| q["prefix"] == prefix.as_str() && q["name"] == "orders")
            .unwrap_or_else(|| panic!("{prefix}:orders found: {list}"));
        assert_eq!(
            found["counts"]["waiting"].as_u64(),
            Some(counts.waiting),
            "{prefix}: {found}"
        );
    }
    assert_eq!(list["complete"], true, "{list}");

    // Workers are counted on whichever node holds their queue: a BullMQ worker on each queue
    // (their hash tags spread them over the three nodes), and Sentinel's own.
    let mut workers = Vec::new();
    for prefix in ["{a}", "{b}", "{c}", "{d}", "{e}", "{f}"] {
        let opts = bullmq::WorkerOptions::default()
            .connection(
                bullmq::options::RedisConnectionOptions::new()
                    .url(seeds[0].clone())
                    .cluster_nodes(seeds.iter().cloned()),
            )
            .prefix(prefix);
        let worker = bullmq::Worker::with_options(
            "orders",
            |_job: bullmq::Job, _token| async { Ok(serde_json::Value::Null) },
            opts,
        )
        .await
        .unwrap();
        workers.push(worker);
    }
    support::eventually(LONG, "every queue's worker counted", || {
        let url = server.url("/admin/api/queues?limit=500");
        async move {
            let (_, list) = support::get_json(&url).await;
            let queues = list["queues"].as_array()?.clone();
            let counted = |prefix: &str, name: &str| {
                queues
                    .iter()
                    .find(|q| q["prefix"] == prefix && q["name"] == name)
                    .and_then(|q| q["workers"].as_u64())
                    .unwrap_or(0)
            };
            let all = ["{a}", "{b}", "{c}", "{d}", "{e}", "{f}"]
                .iter()
                .all(|p| counted(p, "orders") >= 1)
                && counted("{sentinel}", "sentinel-tasks") >= 1;
            all.then_some(())
        }
    })
    .await;
    for worker in workers {
        let _ = worker.close(100).await;
    }
}

#[tokio::test]
async fn a_cluster_without_a_hash_tagged_prefix_is_refused_at_start() {
    let output = std::process::Command::new(support::server_binary())
        .env_clear()
        .env("REDIS_CLUSTER_NODES", "redis://127.0.0.1:7000")
        .env("SENTINEL_PREFIX", "sentinel")
        .output()
        .expect("run the server");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("SENTINEL_PREFIX"), "{stderr}");
}
