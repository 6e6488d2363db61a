//! Searches through the index and a bounded scan; a job's log.

use serde_json::{Value, json};
use support::{RedisServer, Sentinel, SentinelOptions, eventually};

use super::*;

/// Every page of a search, followed through its cursors: the ids, in order.
async fn all_pages(server: &Sentinel, q: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor = String::new();
    for _ in 0..1000 {
        let url = server.url(&format!(
            "/admin/api/jobs?size=100&q={}{cursor}",
            app::url::encode(q)
        ));
        let (status, page) = get(&url).await;
        assert_eq!(status, 200, "{page}");
        ids.extend(
            page["jobs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|j| j["id"].as_str().unwrap().to_string()),
        );
        match page["next"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => {
                assert_eq!(page["complete"], true, "{page}");
                return ids;
            }
        }
    }
    panic!("the search of {q:?} never ended");
}

async fn search(server: &Sentinel, query: &str) -> Value {
    let (status, page) = get(&server.url(&format!("/admin/api/jobs?{query}"))).await;
    assert_eq!(status, 200, "{query}: {page}");
    page
}

fn ids_of(page: &Value) -> Vec<String> {
    page["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn searches_find_jobs_by_name_data_and_failed_reason_through_the_index_and_a_bounded_scan() {
    let redis = RedisServer::start().await;
    let server = Sentinel::start(
        "sentinel",
        &redis.url(),
        SentinelOptions {
            env: vec![("SEARCH_INDEX_SWEEP_MS".into(), "200".into())],
            ..SentinelOptions::default()
        },
    )
    .await;
    server.wait_ready().await;
    let producer = support::producer_queue(&redis).await;
    // Five jobs of another producer fail at once: no processor for their name.
    let mails = (0..5)
        .map(|i| bullmq::BulkJob::new("sendEmail", json!({"to": format!("u{i}@x")})))
        .collect();
    producer.add_bulk(mails).await.expect("add jobs");
    eventually(LONG, "five failed jobs", || async {
        let (_, page) = get(&server.url("/admin/api/jobs?state=failed&size=1")).await;
        (page["total"].as_u64() == Some(5)).then_some(())
    })
    .await;
    assert_eq!(post(&server.url("/admin/api/queue/pause")).await.0, 200);
    // Sentinel's 30 (indexed) and 5,200 of the other producer's (not indexed), all waiting:
    // more than one request examines.
    let mut ours = Vec::new();
    for i in 0..30 {
        ours.push(enqueue_with(&server, json!({"seconds": 1 + i % 3})).await);
    }
    for chunk in 0..13 {
        let jobs = (0..400)
            .map(|i| {
                bullmq::BulkJob::new(
                    "report",
                    json!({"seconds": 2, "kind": "x", "n": chunk * 400 + i}),
                )
            })
            .collect();
        producer.add_bulk(jobs).await.expect("add jobs");
    }

    // By name, through the index: every one of ours on the first page. The other producer's
    // jobs are more than one request examines, so the total is "so far" and a cursor goes on.
    let page = search(&server, "q=name:longTask&size=100").await;
    let mut found = ids_of(&page);
    found.sort();
    let mut want = ours.clone();
    want.sort();
    assert_eq!(found, want, "{}", page["total"]);
    assert_eq!(
        (page["total"].as_u64(), &page["complete"]),
        (Some(30), &json!(false))
    );
    assert!(page["next"].is_string(), "{page}");
    assert!(
        page["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|j| j["state"] == "waiting")
    );
    assert_eq!(all_pages(&server, "name:longTask").await.len(), 30);
    // Narrowed to states that hold few jobs, the same search is whole at once.
    let few = search(&server, "q=name:sendEmail%20state:failed").await;
    assert_eq!(
        (few["total"].as_u64(), &few["complete"]),
        (Some(5), &json!(true)),
        "{few}"
    );

    // By a data field: our ten first (the index), then the other producer's (the scan), over
    // several requests; every match once.
    let first = search(&server, "q=data.seconds%3A2&size=20").await;
    let ours_with_2: Vec<&String> = ours
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 3 == 1)
        .map(|(_, id)| id)
        .collect();
    let head = ids_of(&first);
    assert!(
        head[..10].iter().all(|id| ours_with_2.contains(&id)),
        "{head:?}"
    );
    assert!(first["next"].is_string(), "{first}");
    let every = all_pages(&server, "data.seconds:2").await;
    let unique: std::collections::HashSet<&String> = every.iter().collect();
    assert_eq!((every.len(), unique.len()), (5210, 5210));

    // A search that matches nothing examines at most its budget per request and says so.
    let none = search(&server, "q=name:nothing").await;
    assert_eq!(
        (none["total"].as_u64(), &none["complete"]),
        (Some(0), &json!(false)),
        "{none}"
    );
    assert!(none["next"].is_string(), "{none}");
    assert!(all_pages(&server, "name:nothing").await.is_empty());

    // Two qualifiers; a nested path is matched by the scan.
    let reports = search(&server, "q=name:report%20data.kind:x&size=5").await;
    assert_eq!(reports["jobs"].as_array().unwrap().len(), 5);
    assert!(
        reports["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|j| j["name"] == "report")
    );

    // Words of the failed reason; failed jobs come first.
    let failed = search(&server, "q=state:failed%20PROCESSOR%20%22job%20name%22").await;
    assert_eq!(
        (failed["total"].as_u64(), &failed["complete"]),
        (Some(5), &json!(true)),
        "{failed}"
    );
    let words = search(&server, "q=processor%20sendEmail").await;
    assert_eq!(words["jobs"].as_array().unwrap().len(), 5, "{words}");
    assert!(
        words["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|j| j["state"] == "failed")
    );
    let no_words = search(&server, "q=state:failed%20timeout").await;
    assert_eq!(no_words["total"], 0, "{no_words}");

    // A bare word that is an id; an id with a qualifier it does not meet.
    let bare = search(&server, &format!("q={}", ours[0])).await;
    assert_eq!(ids_of(&bare), vec![ours[0].clone()], "{bare}");
    let mismatch = search(&server, &format!("q=id:{}%20name:report", ours[0])).await;
    assert_eq!(mismatch["total"], 0, "{mismatch}");

    // A bulk action on a search: the ten with seconds 3; their index entries go with them.
    let (status, started) = post_json(
        &server.url("/admin/api/jobs/bulk"),
        json!({"action": "remove", "q": "name:longTask data.seconds:3"}),
    )
    .await;
    assert_eq!(status, 202, "{started}");
    let run = started["bulk"].as_str().unwrap().to_string();
    let done = eventually(LONG, "the bulk remove to finish", || async {
        let (_, progress) = get(&server.url(&format!("/admin/api/bulk/{run}"))).await;
        (progress["finished"] == true).then_some(progress)
    })
    .await;
    assert_eq!(
        (done["total"].as_u64(), done["done"].as_u64()),
        (Some(10), Some(10)),
        "{done}"
    );
    assert_eq!(search(&server, "q=name:longTask").await["total"], 20);
    let mut redis_conn = redis.connection();
    let card = |conn: &mut redis::Connection, term: &str| -> u64 {
        redis::cmd("ZCARD")
            .arg(format!("sentinel:sentinel-tasks:idx:{term}"))
            .query(conn)
            .unwrap()
    };
    assert_eq!(card(&mut redis_conn, "data:seconds:3"), 0);
    assert_eq!(card(&mut redis_conn, "name:longTask"), 20);

    // A job removed behind our back (as BullMQ's retention does) leaves the index in the sweep,
    // whatever else was written there: a member that is not text, a registry line naming a key
    // that is not a sorted set.
    let _: () = redis::pipe()
        .cmd("ZADD")
        .arg("sentinel:sentinel-tasks:idx:name:longTask")
        .arg(1)
        .arg(&b"\xff\xfe not text"[..])
        .cmd("SET")
        .arg("sentinel:sentinel-tasks:idx:bogus")
        .arg("a string")
        .cmd("SADD")
        .arg("sentinel:sentinel-tasks:idx:terms")
        .arg("sentinel:sentinel-tasks:idx:bogus")
        .arg(&b"\xff"[..])
        .query(&mut redis_conn)
        .unwrap();
    let gone = &ours[1];
    let _: () = redis::pipe()
        .cmd("DEL")
        .arg(format!("sentinel:sentinel-tasks:{gone}"))
        .cmd("LREM")
        .arg("sentinel:sentinel-tasks:wait")
        .arg(0)
        .arg(gone)
        .query(&mut redis_conn)
        .unwrap();
    eventually(LONG, "the sweep to drop the gone job", || {
        let n = card(&mut redis_conn, "name:longTask");
        async move { (n == 19).then_some(()) }
    })
    .await;

    // Refusals name the parameter.
    for (query, field) in [
        ("q=foo:x", "q"),
        ("q=state:nope", "q"),
        ("q=%22open", "q"),
        ("q=x&cursor=zzz", "cursor"),
    ] {
        let (status, answer) = get(&server.url(&format!("/admin/api/jobs?{query}"))).await;
        assert_eq!(
            (status, answer["field"].as_str()),
            (400, Some(field)),
            "{query}: {answer}"
        );
    }
}

#[tokio::test]
async fn a_jobs_log_keeps_its_last_thousand_lines_and_each_tick_is_a_progress_event() {
    let redis = RedisServer::start().await;
    let server = Sentinel::start(
        "sentinel",
        &redis.url(),
        SentinelOptions {
            tick_ms: 1,
            ..SentinelOptions::default()
        },
    )
    .await;
    server.wait_ready().await;
    let mut conn = redis.connection();
    let before: String = redis::cmd("XADD")
        .arg("sentinel:sentinel-tasks:events")
        .arg("*")
        .arg("event")
        .arg("marker")
        .query(&mut conn)
        .unwrap();
    let id = server.enqueue(1005).await;
    server.wait_state(&id, "completed", LONG).await;

    let job = detail(&server, &id).await;
    assert_eq!(job["logCount"], 1000, "{}", job["logCount"]);
    let logs = job["logs"].as_array().unwrap();
    assert_eq!(logs.first(), Some(&json!("tick 806/1005")));
    assert_eq!(logs.last(), Some(&json!("tick 1005/1005")));
    let key = format!("sentinel:sentinel-tasks:{id}:logs");
    let oldest: String = redis::cmd("LINDEX")
        .arg(&key)
        .arg(0)
        .query(&mut conn)
        .unwrap();
    assert_eq!(
        oldest, "tick 6/1005",
        "the oldest lines are the ones dropped"
    );

    // Every tick is a BullMQ `progress` event for this job, in order, carrying the progress.
    let entries: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
        .arg("sentinel:sentinel-tasks:events")
        .arg(format!("({before}"))
        .arg("+")
        .query(&mut conn)
        .unwrap();
    let steps: Vec<u64> = entries
        .iter()
        .filter_map(|(_, fields)| {
            let field = |name: &str| {
                fields
                    .iter()
                    .find(|(key, _)| key == name)
                    .map(|(_, value)| value.as_str())
            };
            (field("event") == Some("progress") && field("jobId") == Some(id.as_str()))
                .then(|| field("data"))
                .flatten()
                .and_then(|data| serde_json::from_str::<Value>(data).ok())
                .and_then(|data| data["step"].as_u64())
        })
        .collect();
    assert_eq!(steps, (1..=1005).collect::<Vec<_>>());
    let progress: String = redis::cmd("HGET")
        .arg(format!("sentinel:sentinel-tasks:{id}"))
        .arg("progress")
        .query(&mut conn)
        .unwrap();
    let progress: Value = serde_json::from_str(&progress).unwrap();
    assert_eq!(progress["step"], 1005, "{progress}");

    // The job's page lists its events from the stream: the last 200 of them, in order.
    let history = job["history"].as_array().unwrap();
    assert_eq!(history.len(), 200, "{}", job["historyTotal"]);
    let total = job["historyTotal"].as_u64().unwrap();
    // added, waiting, active, 1,005 ticks, completed.
    assert!(total >= 1009, "{total}");
    assert_eq!(job["historyPartial"], false);
    let last = &history[199];
    assert_eq!(last["event"], "completed", "{last}");
    assert_eq!(history[198]["event"], "progress");
    assert_eq!(history[198]["detail"], "1005/1005");
    assert_eq!(history[0]["detail"], "807/1005");
    let times: Vec<u64> = history.iter().map(|e| e["at"].as_u64().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "oldest first");

    // Other writers' entries about the job are read within bounds: an unsendable name, a huge
    // progress value.
    let _: String = redis::cmd("XADD")
        .arg("sentinel:sentinel-tasks:events")
        .arg("*")
        .arg("event")
        .arg("progress")
        .arg("jobId")
        .arg(&id)
        .arg("data")
        .arg(format!("\"{}\"", "x".repeat(100_000)))
        .query(&mut conn)
        .unwrap();
    let _: String = redis::cmd("XADD")
        .arg("sentinel:sentinel-tasks:events")
        .arg("*")
        .arg("event")
        .arg("bad\nname")
        .arg("jobId")
        .arg(&id)
        .query(&mut conn)
        .unwrap();
    // A progress object whose step is long (within the stream's field limit).
    let _: String = redis::cmd("XADD")
        .arg("sentinel:sentinel-tasks:events")
        .arg("*")
        .arg("event")
        .arg("progress")
        .arg("jobId")
        .arg(&id)
        .arg("data")
        .arg(json!({"step": "9".repeat(6000), "total": 1}).to_string())
        .query(&mut conn)
        .unwrap();
    let job = detail(&server, &id).await;
    let history = job["history"].as_array().unwrap();
    let long_step = &history[history.len() - 1];
    assert_eq!(long_step["event"], "progress", "{long_step}");
    assert!(
        long_step["detail"].as_str().map_or(0, str::len) <= 300,
        "{long_step}"
    );
    let history = &history[..history.len() - 1];
    let huge = &history[history.len() - 2];
    assert_eq!(huge["event"], "progress", "{huge}");
    assert!(huge["detail"].as_str().map_or(0, str::len) <= 300, "{huge}");
    assert_eq!(history[history.len() - 1]["event"], "(unnamed)");
}
