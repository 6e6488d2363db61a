//! The attacks an outsider tried (issue 20), each fed to a real server process on a real Redis:
//! the refusal is asserted, then that the queue still works (enqueue, run, status, counts,
//! readiness).

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::access::{SECRET, auth_opts, client, tokens_file};
use support::{RedisServer, Sentinel, SentinelOptions, SseClient, eventually, producer_queue};

const LONG: Duration = Duration::from_secs(20);

/// The queue's own key names, as the server's OpenAPI description lists them (from its `keys`
/// module).
async fn reserved_names(server: &Sentinel) -> Vec<String> {
    let (status, doc) = support::get_json(&server.url("/openapi.json")).await;
    assert_eq!(status, 200);
    let names: Vec<String> = doc
        .pointer("/components/schemas/EnqueueBody/properties/jobId/not/anyOf/0/enum")
        .and_then(Value::as_array)
        .expect("the jobId schema lists the reserved names")
        .iter()
        .filter_map(|n| n.as_str().map(str::to_owned))
        .collect();
    for must in [
        "wait", "active", "marker", "failed", "pc", "cancel", "workers", "meta", "idx", "owner",
    ] {
        assert!(
            names.iter().any(|n| n == must),
            "{must} missing from {names:?}"
        );
    }
    names
}

/// Enqueue, run, status, counts and readiness all still work (`token`: a viewer's or more,
/// when access control is on).
async fn queue_still_works(server: &Sentinel, http: &reqwest::Client, token: Option<&str>) {
    let mut request = http
        .post(server.url("/tasks/enqueue"))
        .header("content-type", "application/json")
        .body(r#"{"seconds": 1}"#);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 201, "enqueue after the attack");
    let id = response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    eventually(LONG, "the task to complete", || {
        let mut request = http.get(server.url(&format!("/tasks/status/{id}")));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move {
            let status: Value = request.send().await.ok()?.json().await.ok()?;
            (status["state"] == "completed").then_some(())
        }
    })
    .await;
    let mut request = http.get(server.url("/tasks/counts"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200, "counts after the attack");
    let counts: Value = response.json().await.unwrap();
    assert!(
        counts["counts"]["completed"].as_u64().unwrap() >= 1,
        "{counts}"
    );
    let (status, ready) = support::get_json(&server.url("/readyz")).await;
    assert_eq!(status, 200, "{ready}");
}

#[tokio::test]
async fn a_job_id_naming_a_queue_key_is_refused_on_every_path() {
    let redis = RedisServer::start().await;
    let server = Sentinel::start("all", &redis.url(), SentinelOptions::default()).await;
    server.wait_ready().await;
    let http = client();
    let names = reserved_names(&server).await;
    let mut conn = redis.connection();
    let base = "sentinel:sentinel-tasks:";
    // The queue exists before the attack.
    server.enqueue(1).await;
    let counter = |conn: &mut redis::Connection| -> Option<String> {
        redis::cmd("GET")
            .arg(format!("{base}id"))
            .query(conn)
            .unwrap()
    };
    let counter_before = counter(&mut conn);
    for name in &names {
        // The HTTP API: a JSON body, and the query string.
        let body = http
            .post(server.url("/tasks/enqueue"))
            .header("content-type", "application/json")
            .body(json!({"seconds": 1, "jobId": name}).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(body.status(), 400, "body jobId={name}");
        let error: Value = body.json().await.unwrap();
        assert_eq!(error["error"], "invalid_option", "{error}");
        assert_eq!(error["field"], "jobId", "{error}");
        let query = http
            .post(server.url(&format!("/tasks/enqueue?seconds=1&jobId={name}")))
            .send()
            .await
            .unwrap();
        assert_eq!(query.status(), 400, "query jobId={name}");
        assert_eq!(query.json::<Value>().await.unwrap()["field"], "jobId");
        // The page's form and the dashboard's add-job form (one server function): refused
        // with the field named, never enqueued.
        let form = http
            .post(server.url("/api/enqueue"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(format!("seconds=1&key=k-{name}&job_id={name}"))
            .send()
            .await
            .unwrap();
        let text = form.text().await.unwrap();
        assert!(
            text.contains("Rejected") && text.contains("jobId"),
            "form job_id={name}: {text}"
        );
    }
    // Nothing reached Redis: every add bumps BullMQ's id counter, even with a custom id, and
    // no key of the queue's own names became a job's hash.
    assert_eq!(counter(&mut conn), counter_before, "an add reached Redis");
    let job_hashes = |conn: &mut redis::Connection| -> Vec<String> {
        names
            .iter()
            .filter(|n| !["meta", "workers"].contains(&n.as_str()))
            .filter(|n| {
                let kind: String = redis::cmd("TYPE")
                    .arg(format!("{base}{n}"))
                    .query(conn)
                    .unwrap();
                kind == "hash"
            })
            .cloned()
            .collect()
    };
    assert_eq!(job_hashes(&mut conn), Vec::<String>::new());
    queue_still_works(&server, &http, None).await;

    // The same with access control on, from an anonymous visitor (the attack as it was made).
    let mut opts = SentinelOptions::for_role("all");
    opts.env.extend(
        [
            ("SENTINEL_AUTH", "on"),
            ("SENTINEL_ANONYMOUS_ROLE", "submitter"),
            ("SENTINEL_SESSION_SECRET", SECRET),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    let guarded = Sentinel::start("guarded", &redis.url(), opts).await;
    guarded.wait_ready().await;
    for name in ["wait", "active", "failed", "cancel", "workers"] {
        let response = http
            .post(guarded.url("/tasks/enqueue"))
            .header("content-type", "application/json")
            .body(json!({"jobId": name}).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "anonymous jobId={name}");
    }
    assert_eq!(job_hashes(&mut conn), Vec::<String>::new());

    // A key broken by hand (not through Sentinel) makes the server not ready, naming it.
    let wait_key = format!("{base}wait");
    let _: () = redis::cmd("DEL").arg(&wait_key).query(&mut conn).unwrap();
    let _: () = redis::cmd("HSET")
        .arg(&wait_key)
        .arg("timestamp")
        .arg("1")
        .query(&mut conn)
        .unwrap();
    let (status, ready) = support::get_json(&server.url("/readyz")).await;
    assert_eq!(status, 503, "{ready}");
    assert!(
        ready["reason"].as_str().unwrap().contains(&wait_key),
        "{ready}"
    );
    assert_eq!(ready["brokenKey"], wait_key.as_str());
    let _: () = redis::cmd("DEL").arg(&wait_key).query(&mut conn).unwrap();
    queue_still_works(&server, &http, None).await;
}

#[tokio::test]
async fn anonymous_visitors_are_held_to_the_quotas_by_network() {
    let redis = RedisServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (file, tokens) = tokens_file(dir.path(), &[("ops", "admin")]);
    let server = Sentinel::start(
        "all",
        &redis.url(),
        auth_opts(
            "all",
            &file,
            &[
                ("SENTINEL_ANONYMOUS_ROLE", "submitter"),
                ("MAX_PENDING_PER_OWNER", "3"),
                ("ENQUEUE_RATE_PER_MINUTE", "5"),
            ],
        ),
    )
    .await;
    server.wait_ready().await;
    let mut answers = Vec::new();
    for i in 0..20 {
        // No cookie: a brand-new identity every time; a forged forwarded address from an
        // untrusted peer changes nothing.
        let response = client()
            .post(server.url("/tasks/enqueue"))
            .header("content-type", "application/json")
            .header("x-forwarded-for", format!("198.51.100.{i}"))
            .body(r#"{"seconds": 1, "delay": 600000}"#)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        answers.push((status, body["error"].as_str().unwrap_or("").to_string()));
    }
    let count = |status: u16, error: &str| {
        answers
            .iter()
            .filter(|a| a.0 == status && a.1 == error)
            .count()
    };
    assert_eq!(count(201, ""), 3, "{answers:?}");
    assert_eq!(count(429, "too_many_pending"), 2, "{answers:?}");
    assert_eq!(count(429, "rate_limited"), 15, "{answers:?}");
    queue_still_works(&server, &client(), Some(&tokens[0].1)).await;
}

#[tokio::test]
async fn the_pending_quota_holds_under_fifty_parallel_enqueues() {
    let redis = RedisServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (file, tokens) = tokens_file(dir.path(), &[("sub", "submitter"), ("ops", "admin")]);
    let server = Sentinel::start(
        "web",
        &redis.url(),
        auth_opts(
            "all",
            &file,
            &[
                ("MAX_PENDING_PER_OWNER", "10"),
                ("ENQUEUE_RATE_PER_MINUTE", "1000"),
            ],
        ),
    )
    .await;
    server.wait_ready().await;
    let http = client();
    let token = tokens[0].1.clone();
    let requests = (0..50).map(|_| {
        http.post(server.url("/tasks/enqueue"))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(r#"{"seconds": 1, "delay": 600000}"#)
            .send()
    });
    let answers = futures::future::join_all(requests).await;
    let statuses: Vec<u16> = answers
        .iter()
        .map(|a| a.as_ref().unwrap().status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        10,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        40,
        "{statuses:?}"
    );
    let (status, page) = {
        let response = http
            .get(server.url("/admin/api/jobs?state=delayed&size=100"))
            .bearer_auth(&tokens[1].1)
            .send()
            .await
            .unwrap();
        (response.status(), response.json::<Value>().await.unwrap())
    };
    assert_eq!(status, 200);
    assert_eq!(page["total"], 10, "exactly the accepted jobs exist");
    queue_still_works(&server, &http, Some(&tokens[1].1)).await;
}

#[tokio::test]
async fn a_reused_job_id_never_streams_to_the_removed_jobs_owner() {
    let redis = RedisServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (file, tokens) = tokens_file(
        dir.path(),
        &[
            ("bob", "submitter"),
            ("alice", "submitter"),
            ("ops", "admin"),
        ],
    );
    let server = Sentinel::start("all", &redis.url(), auth_opts("all", &file, &[])).await;
    server.wait_ready().await;
    let stream = |token: &str| {
        let auth = format!("Bearer {token}");
        let url = server.url("/tasks/stream?jobId=shared-1");
        async move { SseClient::connect_with(&url, &[("authorization", &auth)]).await }
    };
    let mut bob = stream(&tokens[0].1).await;
    let mut alice = stream(&tokens[1].1).await;
    // Bob's job `shared-1` (written as a Node producer would, with his owner in its data).
    let queue = producer_queue(&redis).await;
    let add = |owner: &'static str| {
        let queue = &queue;
        async move {
            queue
                .add("longTask", json!({"seconds": 1, "owner": owner}))
                .job_id("shared-1")
                .into_future()
                .await
                .unwrap()
        }
    };
    add("token:bob").await;
    bob.collect_until(LONG, |e| e.is("completed", "shared-1"))
        .await;
    // Removed, then the id given again, to Alice's job.
    let removed: bool = queue.remove("shared-1").await.unwrap();
    assert!(removed);
    add("token:alice").await;
    let seen = alice
        .collect_until(LONG, |e| e.is("completed", "shared-1"))
        .await;
    assert!(seen.iter().any(|e| e.is("added", "shared-1")), "{seen:#?}");
    // Bob's stream carries nothing of Alice's job: its next event, if any, is not about it.
    while let Some(event) = bob.next_within(Duration::from_millis(500)).await {
        assert!(
            !matches!(
                event.event.as_str(),
                "added" | "active" | "progress" | "completed"
            ),
            "Bob saw Alice's job: {event:?}"
        );
    }
    queue_still_works(&server, &client(), Some(&tokens[2].1)).await;
}

#[tokio::test]
async fn hostile_job_text_cannot_change_any_page_s_structure() {
    let redis = RedisServer::start().await;
    let server = Sentinel::start("all", &redis.url(), SentinelOptions::default()).await;
    server.wait_ready().await;
    let hostile = r#"</title><meta http-equiv=refresh content="0;url=//evil.example/">"#;
    let script = "</script><script>alert(1)</script>";
    let id = hostile;
    let key = format!("sentinel:sentinel-tasks:{id}");
    let mut conn = redis.connection();
    let _: () = redis::pipe()
        .cmd("HSET")
        .arg(&key)
        .arg("name")
        .arg(format!("{hostile}{script}"))
        .arg("data")
        .arg(json!({"seconds": 1, "x": script, "y": hostile}).to_string())
        .arg("opts")
        .arg("{}")
        .arg("timestamp")
        .arg("1700000000000")
        .arg("finishedOn")
        .arg("1700000001000")
        .arg("failedReason")
        .arg(format!("{hostile}{script}"))
        .arg("stacktrace")
        .arg(json!([script]).to_string())
        .cmd("ZADD")
        .arg("sentinel:sentinel-tasks:failed")
        .arg("1700000001000")
        .arg(id)
        .cmd("RPUSH")
        .arg(format!("{key}:logs"))
        .arg(format!("{hostile}{script}"))
        .query(&mut conn)
        .unwrap();
    let encoded: String = id
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let pages = [
        format!("/admin/jobs/{encoded}"),
        "/admin?state=failed".to_string(),
        format!("/admin?state=failed&q={encoded}"),
        format!("/?task={encoded}&error={encoded}"),
        format!("/no-such-page/{encoded}"),
    ];
    for page in pages {
        let html = support::get_text(&server.url(&page), &[("accept", "text/html")]).await;
        // The document's title is the head's only one (charts have titles of their own).
        let head = &html[..html.find("</head>").expect("a head")];
        assert_eq!(head.matches("<title").count(), 1, "{page}: one title");
        assert_eq!(head.matches("</title>").count(), 1, "{page}: one title end");
        let title = &head[head.find("<title").unwrap()..head.find("</title>").unwrap()];
        assert!(
            !title[1..].contains('<'),
            "{page}: markup inside the title: {title}"
        );
        assert_eq!(
            html.matches("<title").count(),
            html.matches("</title>").count(),
            "{page}: every title ends"
        );
        assert!(!html.contains("<meta http-equiv"), "{page}: injected meta");
        assert!(!html.contains("<script>alert"), "{page}: injected script");
        assert!(
            !html.contains("</script><script>"),
            "{page}: a script ended early"
        );
    }
    queue_still_works(&server, &client(), None).await;
}

#[tokio::test]
async fn a_foreign_host_name_is_refused_while_access_control_is_off() {
    let redis = RedisServer::start().await;
    let mut opts = SentinelOptions::default();
    opts.env
        .push(("SENTINEL_ALLOWED_HOSTS".into(), "sentinel.test".into()));
    let server = Sentinel::start("all", &redis.url(), opts).await;
    server.wait_ready().await;
    let http = client();
    let port = server.url("").rsplit(':').next().unwrap().to_string();
    let with_host = |method: &str, path: &str, host: String| {
        http.request(method.parse().unwrap(), server.url(path))
            .header("host", host)
            .send()
    };
    for (method, path) in [
        ("GET", "/"),
        ("GET", "/admin/api/jobs"),
        ("POST", "/admin/api/queue/pause"),
        ("GET", "/tasks/stream"),
    ] {
        let response = with_host(method, path, format!("evil.example:{port}"))
            .await
            .unwrap();
        assert_eq!(response.status(), 421, "{method} {path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["field"], "Host", "{body}");
    }
    let (_, paused) = support::get_json(&server.url("/admin/api/jobs?state=waiting")).await;
    assert!(paused["total"].is_number(), "{paused}");
    // Health stays open to probes; our own names are served.
    assert_eq!(
        with_host("GET", "/healthz", "evil.example".into())
            .await
            .unwrap()
            .status(),
        200
    );
    for host in [
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        "sentinel.test".into(),
    ] {
        assert_eq!(
            with_host("GET", "/whoami", host.clone())
                .await
                .unwrap()
                .status(),
            200,
            "{host}"
        );
    }
    queue_still_works(&server, &http, None).await;
}

#[tokio::test]
async fn custom_ids_are_each_owner_s_own() {
    let redis = RedisServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (file, tokens) = tokens_file(
        dir.path(),
        &[
            ("alice", "submitter"),
            ("bob", "submitter"),
            ("ops", "operator"),
        ],
    );
    let server = Sentinel::start("all", &redis.url(), auth_opts("all", &file, &[])).await;
    server.wait_ready().await;
    let http = client();
    let enqueue = |token: &str, job_id: &str| {
        http.post(server.url("/tasks/enqueue"))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(json!({"seconds": 1, "delay": 600000, "jobId": job_id}).to_string())
            .send()
    };
    let id_of = |response: reqwest::Response| async move {
        assert_eq!(response.status(), 201);
        response.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (alice, bob, ops) = (&tokens[0].1, &tokens[1].1, &tokens[2].1);
    let alices = id_of(enqueue(alice, "order-17").await.unwrap()).await;
    assert!(alices.starts_with("order-17@"), "{alices}");
    assert_eq!(
        id_of(enqueue(alice, "order-17").await.unwrap()).await,
        alices,
        "idempotent"
    );
    let bobs = id_of(enqueue(bob, "order-17").await.unwrap()).await;
    assert_ne!(bobs, alices, "Bob's order-17 is his own job");
    // Bob cannot learn of Alice's job, nor take it by giving its full id.
    let status = http
        .get(server.url(&format!("/tasks/status/{alices}")))
        .bearer_auth(bob)
        .send()
        .await
        .unwrap();
    assert_eq!(status.status(), StatusCode::NOT_FOUND);
    let forged = id_of(enqueue(bob, &alices).await.unwrap()).await;
    assert_ne!(forged, alices);
    let mine = http
        .get(server.url(&format!("/tasks/status/{alices}")))
        .bearer_auth(alice)
        .send()
        .await
        .unwrap();
    assert_eq!(mine.status(), 200, "Alice's job is still hers");
    // An operator adds the exact id asked for.
    assert_eq!(
        id_of(enqueue(ops, "exact-1").await.unwrap()).await,
        "exact-1"
    );
    queue_still_works(&server, &http, Some(ops)).await;
}

#[tokio::test]
async fn signing_out_ends_the_session_everywhere() {
    let redis = RedisServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (file, tokens) = tokens_file(dir.path(), &[("pat", "viewer"), ("ops", "admin")]);
    let first = Sentinel::start("all", &redis.url(), auth_opts("all", &file, &[])).await;
    let second = Sentinel::start("web2", &redis.url(), auth_opts("web", &file, &[])).await;
    first.wait_ready().await;
    second.wait_ready().await;
    let http = client();
    let signed_in = http
        .post(first.url("/signin"))
        .form(&[("token", tokens[0].1.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 303);
    let cookie = signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let whoami = |server: &Sentinel| {
        http.get(server.url("/whoami"))
            .header("cookie", &cookie)
            .send()
    };
    assert_eq!(whoami(&first).await.unwrap().status(), 200);
    assert_eq!(whoami(&second).await.unwrap().status(), 200);
    let out = http
        .post(first.url("/signout"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 303);
    // The copied cookie stops working at once here, and within a second or two elsewhere.
    assert_eq!(whoami(&first).await.unwrap().status(), 401);
    eventually(
        Duration::from_secs(5),
        "the other process to honour the sign-out",
        || {
            let answer = whoami(&second);
            async move { (answer.await.ok()?.status() == 401).then_some(()) }
        },
    )
    .await;
    // Signing in again works.
    let again = http
        .post(first.url("/signin"))
        .form(&[("token", tokens[0].1.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 303);
    queue_still_works(&first, &http, Some(&tokens[1].1)).await;
}

#[tokio::test]
async fn bulk_runs_are_bounded_per_process_and_forbidden_functions_answer_403() {
    let mut redis = RedisServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (file, tokens) = tokens_file(dir.path(), &[("ops", "operator"), ("view", "viewer")]);
    let server = Sentinel::start(
        "all",
        &redis.url(),
        // Bulk runs' rate per principal is counted in Redis, which this test freezes: off here,
        // to see the per-process cap alone.
        auth_opts(
            "all",
            &file,
            &[
                ("MAX_BULK_RUNS", "1"),
                ("SENTINEL_RATE_BULK_PER_MINUTE", "0"),
            ],
        ),
    )
    .await;
    server.wait_ready().await;
    let http = client();
    let (ops, view) = (&tokens[0].1, &tokens[1].1);
    for _ in 0..3 {
        let response = http
            .post(server.url("/tasks/enqueue"))
            .bearer_auth(ops)
            .header("content-type", "application/json")
            .body(r#"{"seconds": 1, "delay": 600000}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
    }
    let bulk = |q: &str| {
        http.post(server.url("/admin/api/jobs/bulk"))
            .bearer_auth(ops)
            .header("content-type", "application/json")
            .body(json!({"action": "promote", "q": q}).to_string())
            .send()
    };
    // Redis frozen: the first run cannot finish while the second is asked for.
    redis.pause();
    let first = bulk("name:longTask").await.unwrap();
    assert_eq!(first.status(), 202);
    let second = bulk("name:longTask").await.unwrap();
    assert_eq!(second.status(), 429);
    let error: Value = second.json().await.unwrap();
    assert_eq!(error["limit"], "MAX_BULK_RUNS", "{error}");
    redis.resume();
    let run = first.json::<Value>().await.unwrap()["bulk"]
        .as_str()
        .unwrap()
        .to_string();
    eventually(LONG, "the bulk run to finish", || {
        let request = http
            .get(server.url(&format!("/admin/api/bulk/{run}")))
            .bearer_auth(ops)
            .send();
        async move {
            let progress: Value = request.await.ok()?.json().await.ok()?;
            (progress["finished"] == true).then_some(progress)
        }
    })
    .await;
    assert_eq!(
        bulk("name:longTask").await.unwrap().status(),
        202,
        "the place is free again"
    );
    // A viewer calling an operator's server function: 403, as over the HTTP API.
    let response = http
        .post(server.url("/api/admin/queue"))
        .bearer_auth(view)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("action=pause")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let anonymous = http
        .post(server.url("/api/admin/overview"))
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    queue_still_works(&server, &http, Some(ops)).await;
    let _ = &mut redis;
}

#[tokio::test]
async fn event_streams_are_capped_per_network_and_a_64_is_one_client() {
    let redis = RedisServer::start().await;
    let mut opts = SentinelOptions::default();
    opts.env.extend(
        [
            ("SENTINEL_TRUSTED_PROXIES", "127.0.0.1"),
            ("MAX_SSE_STREAMS_PER_CLIENT", "2"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    let server = Sentinel::start("all", &redis.url(), opts).await;
    server.wait_ready().await;
    let url = server.url("/tasks/stream");
    // Through the (trusted) proxy, two addresses of one IPv6 /64 take its two places.
    let _a = SseClient::connect_with(&url, &[("x-forwarded-for", "2001:db8:0:7::1")]).await;
    let _b = SseClient::connect_with(&url, &[("x-forwarded-for", "2001:db8:0:7::ffff:2")]).await;
    let third = client()
        .get(&url)
        .header("x-forwarded-for", "2001:db8:0:7:a:b:c:d")
        .send()
        .await
        .unwrap();
    assert_eq!(third.status(), 429, "a third address of the same /64");
    let body: Value = third.json().await.unwrap();
    assert_eq!(body["limit"], "MAX_SSE_STREAMS_PER_CLIENT", "{body}");
    // Another /64 is another client.
    let _c = SseClient::connect_with(&url, &[("x-forwarded-for", "2001:db8:0:8::1")]).await;
    queue_still_works(&server, &client(), None).await;
}
