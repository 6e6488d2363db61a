//! Who may do what, against real server processes and a real Redis: each role against each
//! route, submitters kept apart, the tokens file re-read, quotas across two web processes, the
//! trusted proxy header, anonymous identities, safe defaults. Sign-in and the cross-site cookie
//! rules are tested in-process (`server/tests/edge/`).

use std::process::Command;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::access::{SECRET, auth_opts, client, tokens_file};
use support::{RedisServer, Sentinel, SentinelOptions, SseClient};

const LONG: Duration = Duration::from_secs(20);

async fn call(
    http: &reqwest::Client,
    method: &str,
    url: &str,
    token: Option<&str>,
) -> (StatusCode, Value) {
    let mut request = http.request(method.parse().unwrap(), url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_submitter_cannot_read_follow_or_guess_another_owners_jobs() {
    let redis = RedisServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (file, tokens) = tokens_file(dir.path(), &[("alice", "submitter"), ("bob", "submitter")]);
    let opts = auth_opts("all", &file, &[]);
    let server = Sentinel::start("sentinel", &redis.url(), opts).await;
    server.wait_ready().await;
    let (alice, bob) = (tokens[0].1.as_str(), tokens[1].1.as_str());
    let http = client();

    let mut bob_stream = SseClient::connect_with(
        &server.url("/tasks/stream"),
        &[("authorization", &format!("Bearer {bob}"))],
    )
    .await;
    let (_, body) = call(
        &http,
        "POST",
        &server.url("/tasks/enqueue?seconds=2"),
        Some(alice),
    )
    .await;
    let alices = body["id"].as_str().unwrap().to_string();
    let (_, body) = call(
        &http,
        "POST",
        &server.url("/tasks/enqueue?seconds=1"),
        Some(bob),
    )
    .await;
    let bobs = body["id"].as_str().unwrap().to_string();

    // Bob's stream carries his job's events and none of Alice's.
    let events = bob_stream
        .collect_until(LONG, |e| e.is("completed", &bobs))
        .await;
    assert!(
        events.iter().all(|e| e.data["jobId"] == bobs.as_str()),
        "{events:#?}"
    );
    // Alice's job reads as missing to Bob, exactly like a job that does not exist.
    let (status, body) = call(
        &http,
        "GET",
        &server.url(&format!("/tasks/status/{alices}")),
        Some(bob),
    )
    .await;
    let (missing_status, missing) =
        call(&http, "GET", &server.url("/tasks/status/424242"), Some(bob)).await;
    assert_eq!(
        (status, missing_status),
        (StatusCode::NOT_FOUND, StatusCode::NOT_FOUND)
    );
    assert_eq!(body["error"], missing["error"]);
    let (status, _) = call(
        &http,
        "GET",
        &server.url(&format!("/tasks/status/{alices}")),
        Some(alice),
    )
    .await;
    assert_eq!(status, 200);
    // The page's server functions: Bob's statuses call does not reveal Alice's job, and the
    // queue-wide counts are not his to see.
    let statuses = http
        .post(server.url("/api/statuses"))
        .bearer_auth(bob)
        .form(&[("ids[0]", alices.as_str()), ("ids[1]", bobs.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(statuses.status(), 200);
    let views: Value = statuses.json().await.unwrap();
    assert_eq!(views[0]["state"], Value::Null, "{views}");
    assert!(views[1]["state"].is_string(), "{views}");
    let counts: Value = http
        .post(server.url("/api/counts"))
        .bearer_auth(bob)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(counts, Value::Null);
    // And his own list follows him.
    let mine: Value = http
        .post(server.url("/api/listed"))
        .bearer_auth(bob)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&Value> = mine
        .as_array()
        .expect("a list")
        .iter()
        .map(|view| &view["id"])
        .collect();
    assert_eq!(ids, [&json!(bobs)], "{mine}");
    assert_eq!(views[0]["presence"], "Gone", "{views}");
}

#[tokio::test]
async fn a_token_removed_from_the_file_stops_working_within_two_seconds() {
    let redis = RedisServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (file, tokens) = tokens_file(dir.path(), &[("keep", "viewer"), ("drop", "viewer")]);
    let server = Sentinel::start("web", &redis.url(), auth_opts("web", &file, &[])).await;
    server.wait_ready().await;
    let http = client();
    let counts = server.url("/tasks/counts");
    assert_eq!(call(&http, "GET", &counts, Some(&tokens[1].1)).await.0, 200);
    let text = std::fs::read_to_string(&file).unwrap();
    let kept: String = text
        .lines()
        .filter(|l| !l.starts_with("drop "))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&file, kept).unwrap();
    let revoked_at = Instant::now();
    support::eventually(Duration::from_secs(2), "the token to be refused", || {
        let http = http.clone();
        let counts = counts.clone();
        let token = tokens[1].1.clone();
        async move { (call(&http, "GET", &counts, Some(&token)).await.0 == 401).then_some(()) }
    })
    .await;
    assert!(revoked_at.elapsed() < Duration::from_secs(2));
    assert_eq!(call(&http, "GET", &counts, Some(&tokens[0].1)).await.0, 200);
}

/// Sign-ins are limited per token across web processes: ten a minute (the default) whichever
/// process they reach, the eleventh a `429` page with `Retry-After`; another token signs in.
#[tokio::test]
async fn sign_ins_are_limited_per_token_across_two_web_processes() {
    let redis = RedisServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (file, tokens) = tokens_file(dir.path(), &[("pat", "submitter"), ("kim", "viewer")]);
    let one = Sentinel::start("web-1", &redis.url(), auth_opts("web", &file, &[])).await;
    let two = Sentinel::start("web-2", &redis.url(), auth_opts("web", &file, &[])).await;
    one.wait_ready().await;
    two.wait_ready().await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let sign_in = |server: &Sentinel, token: &str| {
        http.post(server.url("/signin"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("token={token}"))
            .send()
    };
    let pat = tokens[0].1.as_str();
    for n in 0..10 {
        let server = if n % 2 == 0 { &one } else { &two };
        assert_eq!(
            sign_in(server, pat).await.unwrap().status(),
            303,
            "sign-in {n}"
        );
    }
    let refused = sign_in(&two, pat).await.unwrap();
    assert_eq!(refused.status(), 429);
    let retry: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert!(refused.text().await.unwrap().contains("Too many sign-ins"));
    assert_eq!(sign_in(&one, &tokens[1].1).await.unwrap().status(), 303);
}

/// Both quotas of an owner hold across web processes: the enqueue rate and the jobs pending
/// are counted in Redis, so adding a web process does not multiply either.
#[tokio::test]
async fn quotas_hold_across_two_web_processes() {
    let redis = RedisServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (file, tokens) = tokens_file(dir.path(), &[("fast", "submitter"), ("busy", "submitter")]);
    let http = client();
    let enqueue = |server: &Sentinel, token: &str| {
        http.post(server.url("/tasks/enqueue?seconds=5"))
            .bearer_auth(token)
            .send()
    };
    // The rate: 3 a minute, whichever process takes them.
    let rate = [
        ("ENQUEUE_RATE_PER_MINUTE", "3"),
        ("MAX_PENDING_PER_OWNER", "100"),
    ];
    let one = Sentinel::start("web-1", &redis.url(), auth_opts("web", &file, &rate)).await;
    let two = Sentinel::start("web-2", &redis.url(), auth_opts("web", &file, &rate)).await;
    one.wait_ready().await;
    two.wait_ready().await;
    let fast = tokens[0].1.as_str();
    for server in [&one, &two, &one] {
        assert_eq!(enqueue(server, fast).await.unwrap().status(), 201);
    }
    let limited = enqueue(&two, fast).await.unwrap();
    assert_eq!(limited.status(), 429);
    let retry: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let body: Value = limited.json().await.unwrap();
    assert_eq!(body["error"], "rate_limited");
    assert_eq!(body["limit"], "ENQUEUE_RATE_PER_MINUTE");
    // The jobs pending: 4, whichever process added them.
    let pending = [
        ("ENQUEUE_RATE_PER_MINUTE", "100"),
        ("MAX_PENDING_PER_OWNER", "4"),
    ];
    let three = Sentinel::start("web-3", &redis.url(), auth_opts("web", &file, &pending)).await;
    let four = Sentinel::start("web-4", &redis.url(), auth_opts("web", &file, &pending)).await;
    three.wait_ready().await;
    four.wait_ready().await;
    let busy = tokens[1].1.as_str();
    for server in [&three, &four, &three, &four] {
        assert_eq!(enqueue(server, busy).await.unwrap().status(), 201);
    }
    let full = enqueue(&three, busy).await.unwrap();
    assert_eq!(full.status(), 429);
    assert!(full.headers().contains_key("retry-after"));
    let body: Value = full.json().await.unwrap();
    assert_eq!(body["error"], "too_many_pending", "{body}");
}

#[tokio::test]
async fn the_trusted_header_counts_only_from_a_trusted_proxy() {
    let redis = RedisServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (file, _) = tokens_file(dir.path(), &[("x", "viewer")]);
    let header = [
        ("SENTINEL_TRUSTED_USER_HEADER", "X-Forwarded-User"),
        ("SENTINEL_USER_ROLES", "alice=viewer,*=submitter"),
    ];
    let elsewhere = auth_opts(
        "web",
        &file,
        &[
            header[0],
            header[1],
            ("SENTINEL_TRUSTED_PROXIES", "10.1.2.3"),
        ],
    );
    let behind = auth_opts(
        "web",
        &file,
        &[
            header[0],
            header[1],
            ("SENTINEL_TRUSTED_PROXIES", "127.0.0.0/8"),
        ],
    );
    let untrusted = Sentinel::start("untrusted", &redis.url(), elsewhere).await;
    let trusted = Sentinel::start("trusted", &redis.url(), behind).await;
    let http = client();
    let ask = |server: &Sentinel, user: &str| {
        http.get(server.url("/whoami"))
            .header("x-forwarded-user", user)
            .send()
    };
    assert_eq!(ask(&untrusted, "alice").await.unwrap().status(), 401);
    let me: Value = ask(&trusted, "alice").await.unwrap().json().await.unwrap();
    assert_eq!(me, json!({"owner": "user:alice", "role": "viewer"}));
    let other: Value = ask(&trusted, "carol").await.unwrap().json().await.unwrap();
    assert_eq!(other["role"], "submitter");
    // A user name too long to be an owner is refused, not stored.
    assert_eq!(
        ask(&trusted, &"u".repeat(1000)).await.unwrap().status(),
        401
    );
}

#[tokio::test]
async fn anonymous_submitters_each_see_only_their_own_tasks() {
    let redis = RedisServer::start().await;
    let mut opts = SentinelOptions::for_role("web");
    opts.env.extend([
        ("SENTINEL_AUTH".to_string(), "on".to_string()),
        (
            "SENTINEL_ANONYMOUS_ROLE".to_string(),
            "submitter".to_string(),
        ),
        ("SENTINEL_SESSION_SECRET".to_string(), SECRET.to_string()),
        // Empty variables (a compose file passes them all through) count as unset.
        ("SENTINEL_TOKENS_FILE".to_string(), String::new()),
        ("SENTINEL_TRUSTED_USER_HEADER".to_string(), String::new()),
        ("SENTINEL_TRUSTED_PROXIES".to_string(), String::new()),
        ("SENTINEL_USER_ROLES".to_string(), String::new()),
    ]);
    let server = Sentinel::start("web", &redis.url(), opts).await;
    server.wait_ready().await;
    let first = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let second = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let enqueue = |http: &reqwest::Client| {
        http.post(server.url("/tasks/enqueue?seconds=1"))
            .header("content-type", "application/json")
            .send()
    };
    let response = enqueue(&first).await.unwrap();
    assert!(
        response.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .starts_with("sentinel_anon=")
    );
    let id: Value = response.json().await.unwrap();
    let id = id["id"].as_str().unwrap().to_string();
    let status =
        |http: &reqwest::Client| http.get(server.url(&format!("/tasks/status/{id}"))).send();
    assert_eq!(
        status(&first).await.unwrap().status(),
        200,
        "the same visitor, by its cookie"
    );
    assert_eq!(
        status(&second).await.unwrap().status(),
        404,
        "another visitor"
    );
    let who: Value = first
        .get(server.url("/whoami"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(who["owner"].as_str().unwrap().starts_with("anon:"), "{who}");
    assert_eq!(who["role"], "submitter");
}

#[tokio::test]
async fn unsafe_settings_refuse_to_start_and_secrets_stay_out_of_help() {
    // A public address with auth on by default and no way to sign in.
    let port = support::free_port();
    let output = Command::new(support::server_binary())
        .env_clear()
        .env("LEPTOS_SITE_ADDR", format!("0.0.0.0:{port}"))
        .env("REDIS_URL", "redis://127.0.0.1:1/0")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(
        said.contains("SENTINEL_TOKENS_FILE") && said.contains("SENTINEL_AUTH"),
        "{said}"
    );
    // A worker process on a public address needs no access settings: it serves only health.
    let redis = RedisServer::start().await;
    let mut worker = SentinelOptions::for_role("worker");
    worker.env.push((
        "LEPTOS_SITE_ADDR".into(),
        format!("0.0.0.0:{}", support::free_port()),
    ));
    let worker = Sentinel::start("worker", &redis.url(), worker).await;
    worker.wait_ready().await;
    // Auth on with tokens but no session secret.
    let dir = tempfile::tempdir().unwrap();
    let (file, _) = tokens_file(dir.path(), &[("x", "admin")]);
    let output = Command::new(support::server_binary())
        .env_clear()
        .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
        .env("SENTINEL_AUTH", "on")
        .env("SENTINEL_TOKENS_FILE", &file)
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("SENTINEL_SESSION_SECRET"));
    // --help never prints secrets from the environment.
    let output = Command::new(support::server_binary())
        .arg("--help")
        .env("REDIS_URL", "redis://:hunter2-password@db:6379/0")
        .env(
            "SENTINEL_SESSION_SECRET",
            "top-secret-session-key-of-32-chars!!",
        )
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(help.contains("REDIS_URL"), "{help}");
    assert!(
        !help.contains("hunter2") && !help.contains("top-secret"),
        "{help}"
    );
}

/// Calls a server function with a form body as `token`; answers the status and the body text.
async fn server_fn(
    http: &reqwest::Client,
    server: &Sentinel,
    name: &str,
    form: &str,
    token: &str,
) -> (u16, String) {
    let response = http
        .post(server.url(&format!("/api/{name}")))
        .bearer_auth(token)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

#[tokio::test]
async fn the_dashboards_server_functions_check_the_role_and_refuse_hostile_input() {
    let redis = RedisServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (file, tokens) = tokens_file(
        dir.path(),
        &[("sub", "submitter"), ("view", "viewer"), ("op", "operator")],
    );
    let server = Sentinel::start("web", &redis.url(), auth_opts("web", &file, &[])).await;
    server.wait_ready().await;
    let http = client();
    let token = |name: &str| {
        tokens
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t.clone())
            .unwrap()
    };
    // (function, form, [submitter, viewer, operator] may use it)
    let table: &[(&str, &str, [bool; 3])] = &[
        ("admin/overview", "", [false, true, true]),
        (
            "admin/jobs",
            "query[page]=0&query[size]=20",
            [false, true, true],
        ),
        ("admin/job", "id=1", [false, true, true]),
        ("admin/bulk-progress", "bulk=nope", [false, true, true]),
        ("admin/queue", "action=resume", [false, false, true]),
        (
            "admin/bulk",
            "action=retry&ids=&q=state%3Afailed",
            [false, false, true],
        ),
        (
            "admin/clean",
            "state=completed&older_than_minutes=0&dry_run=true",
            [false, false, true],
        ),
    ];
    for (name, form, allowed) in table {
        for (i, who) in ["sub", "view", "op"].iter().enumerate() {
            let (status, body) = server_fn(&http, &server, name, form, &token(who)).await;
            assert_eq!(
                (200..300).contains(&status),
                allowed[i],
                "{name} as {who}: {status} {body}"
            );
        }
    }
    // A viewer's forced action through the page's function is refused, and nothing moved.
    let (status, body) = server_fn(
        &http,
        &server,
        "admin/queue",
        "action=pause",
        &token("view"),
    )
    .await;
    assert!(status >= 400, "{status} {body}");
    let (_, overview) = server_fn(&http, &server, "admin/overview", "", &token("op")).await;
    assert!(overview.contains("\"paused\":false"), "{overview}");

    // Hostile input, as an operator: refused, the answer naming what was wrong.
    let op = token("op");
    let many_ids = (0..101)
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join("%0A");
    let long_q = "x".repeat(300);
    let huge_id = "7".repeat(10_000);
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "admin/jobs",
            "query[page]=0&query[size]=1000".into(),
            "size",
        ),
        (
            "admin/jobs",
            "query[page]=9999999&query[size]=20".into(),
            "page",
        ),
        (
            "admin/jobs",
            format!("query[page]=0&query[size]=20&query[q]={long_q}"),
            "q",
        ),
        (
            "admin/jobs",
            "query[page]=0&query[size]=20&query[q]=foo%3Abar".into(),
            "q",
        ),
        (
            "admin/jobs",
            "query[page]=0&query[size]=20&query[q]=x&query[cursor]=zzz".into(),
            "cursor",
        ),
        (
            "admin/jobs",
            "query[page]=0&query[size]=20&query[state]=nope".into(),
            "state",
        ),
        ("admin/job", "id=a%3Ab".into(), "id"),
        ("admin/job", format!("id={huge_id}"), "id"),
        ("admin/act", "id=1&action=explode".into(), "action"),
        ("admin/bulk", format!("action=retry&ids={many_ids}"), "ids"),
        ("admin/bulk", "action=explode&ids=&q=x".into(), "action"),
        (
            "admin/clean",
            "state=bogus&older_than_minutes=0&dry_run=true".into(),
            "state",
        ),
        (
            "admin/clean",
            format!("state=failed&older_than_minutes={}&dry_run=true", u64::MAX),
            "older than",
        ),
    ];
    for (name, form, names) in cases {
        let (status, body) = server_fn(&http, &server, name, &form, &op).await;
        assert!(
            status >= 400,
            "{name} {}: {status} {body}",
            &form[..form.len().min(80)]
        );
        assert!(
            body.to_lowercase().contains(names),
            "{name}: the refusal names {names:?}: {}",
            &body[..body.len().min(300)]
        );
    }
}
