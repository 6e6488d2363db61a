//! The HTTP edge's rules, tested in-process: the router (`server::app`) is called with
//! `tower::ServiceExt::oneshot`, against a real `redis-server` of the test's own, with no server
//! process started. Status codes and JSON errors, limits, roles, cross-site refusals, the host
//! check, headers. What needs real processes (kill -9, SIGTERM, interop with Node, browsers,
//! containers) stays in the cross-process suites under `tests/`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use clap::Parser;
use http_body_util::BodyExt;
use serde_json::Value;
use support::{RedisServer, eventually};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use server::{AppState, Config};

/// A router with its state on `redis`, with these settings (flags, as the binary takes them);
/// returns once the services are connected.
async fn router(
    redis: &RedisServer,
    flags: &[&str],
) -> (axum::Router, AppState, CancellationToken) {
    router_running(redis, flags, None).await
}

/// [`router`], its workers (if the flags' role runs any) running `processors` by job name.
async fn router_running(
    redis: &RedisServer,
    flags: &[&str],
    processors: Option<server::worker::processors::Processors>,
) -> (axum::Router, AppState, CancellationToken) {
    let mut args = vec![
        "server".to_string(),
        format!("--redis-url={}", redis.url()),
        "--listen=127.0.0.1:3001".to_string(),
    ];
    if !flags.iter().any(|f| f.starts_with("--role")) {
        args.push("--role=web".to_string());
    }
    args.extend(flags.iter().map(|f| f.to_string()));
    let config = Config::try_parse_from(args).expect("settings");
    config.validate().expect("valid settings");
    let config = Arc::new(config);
    let shutdown = CancellationToken::new();
    let access = server::auth::Access::new(&config.auth, config.listen, true, shutdown.clone())
        .expect("access settings");
    let mut state = AppState::new(config, shutdown.clone(), access);
    if let Some(processors) = processors {
        state.processors = processors;
    }
    tokio::spawn(server::boot::connector::connect(state.clone()));
    let connected = state.clone();
    eventually(
        Duration::from_secs(10),
        "the services to connect",
        move || {
            let ready = connected.services().is_some();
            async move { ready.then_some(()) }
        },
    )
    .await;
    (server::app(state.clone()), state, shutdown)
}

/// A request from a loopback client, as `serve` would hand it to the router.
fn request(method: &str, path: &str) -> axum::http::request::Builder {
    Request::builder()
        .method(method)
        .uri(path)
        .header("host", "127.0.0.1:3001")
        .extension(ConnectInfo(
            "127.0.0.1:40000".parse::<SocketAddr>().unwrap(),
        ))
}

/// The status and the JSON body of an answer.
async fn call(router: &axum::Router, request: Request<Body>) -> (StatusCode, Value) {
    let response = router.clone().oneshot(request).await.expect("an answer");
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("a body")
        .to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn json(body: &str) -> Body {
    Body::from(body.to_string())
}

#[tokio::test]
async fn bad_input_gets_a_json_4xx_naming_the_field() {
    let redis = RedisServer::start().await;
    let (router, _state, shutdown) = router(&redis, &[]).await;
    let cases: &[(&str, &str, &str, u16, &str, &str)] = &[
        (
            "POST",
            "/tasks/enqueue?seconds=abc",
            "",
            400,
            "invalid_seconds",
            "seconds",
        ),
        (
            "POST",
            "/tasks/enqueue?seconds=0",
            "",
            400,
            "invalid_seconds",
            "seconds",
        ),
        (
            "POST",
            "/tasks/enqueue",
            r#"{"seconds": 2.5}"#,
            400,
            "invalid_seconds",
            "seconds",
        ),
        ("POST", "/tasks/enqueue", "[1]", 400, "invalid_body", "body"),
        (
            "POST",
            "/tasks/enqueue",
            r#"{"jobId": "wait"}"#,
            400,
            "invalid_option",
            "jobId",
        ),
        (
            "POST",
            "/tasks/enqueue",
            r#"{"jobId": "-5"}"#,
            400,
            "invalid_option",
            "jobId",
        ),
        (
            "POST",
            "/tasks/enqueue",
            r#"{"delay": -1}"#,
            400,
            "invalid_option",
            "delay",
        ),
        ("GET", "/tasks/status/a:b", "", 400, "invalid_id", "id"),
        (
            "GET",
            "/admin/api/jobs?state=nope",
            "",
            400,
            "invalid_option",
            "state",
        ),
        (
            "GET",
            "/admin/api/jobs?size=1000",
            "",
            400,
            "invalid_option",
            "size",
        ),
        (
            "GET",
            "/admin/api/metrics?minutes=0",
            "",
            400,
            "invalid_option",
            "minutes",
        ),
        (
            "GET",
            "/admin/api/queues?rescan=maybe",
            "",
            400,
            "invalid_option",
            "rescan",
        ),
    ];
    for (method, path, body, status, error, field) in cases {
        let request = request(method, path)
            .header("content-type", "application/json")
            .body(json(body))
            .unwrap();
        let (got, answer) = call(&router, request).await;
        assert_eq!(got.as_u16(), *status, "{method} {path} {body}: {answer}");
        assert_eq!(answer["error"], *error, "{method} {path} {body}: {answer}");
        assert_eq!(answer["field"], *field, "{method} {path} {body}: {answer}");
    }
    // Lookups of an id that names a queue key, or no job at all: a plain 404.
    for path in [
        "/tasks/status/meta",
        "/tasks/status/nope",
        "/admin/api/jobs/wait",
    ] {
        let (got, answer) = call(&router, request("GET", path).body(Body::empty()).unwrap()).await;
        assert_eq!(got, StatusCode::NOT_FOUND, "{path}: {answer}");
        assert_eq!(answer["error"], "not_found");
    }
    // A route that is not there.
    let (got, answer) = call(
        &router,
        request("GET", "/nope").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(
        (got, answer["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    shutdown.cancel();
}

#[tokio::test]
async fn limits_and_headers_hold_on_every_answer() {
    let redis = RedisServer::start().await;
    let (router, _state, shutdown) = router(&redis, &["--max-body-bytes=1024"]).await;
    let big = "x".repeat(2048);
    for path in ["/tasks/enqueue", "/api/enqueue", "/admin/api/queue/clean"] {
        let (got, answer) = call(
            &router,
            request("POST", path)
                .header("content-type", "application/json")
                .body(json(&big))
                .unwrap(),
        )
        .await;
        assert_eq!(got, StatusCode::PAYLOAD_TOO_LARGE, "{path}");
        assert_eq!(answer["limit"], "MAX_BODY_BYTES", "{path}: {answer}");
    }
    let response = router
        .clone()
        .oneshot(request("GET", "/healthz").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let headers = response.headers();
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    // A form or text body across sites cannot enqueue for a browser.
    let (got, answer) = call(
        &router,
        request("POST", "/tasks/enqueue")
            .header("content-type", "text/plain")
            .body(json("seconds=1"))
            .unwrap(),
    )
    .await;
    assert_eq!(got, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{answer}");
    shutdown.cancel();
}

#[tokio::test]
async fn a_foreign_host_gets_421_while_access_control_is_off() {
    let redis = RedisServer::start().await;
    let (router, _state, shutdown) = router(&redis, &[]).await;
    let foreign = |method: &str, path: &str| {
        Request::builder()
            .method(method)
            .uri(path)
            .header("host", "rebind.example:3001")
            .extension(ConnectInfo(
                "127.0.0.1:40000".parse::<SocketAddr>().unwrap(),
            ))
            .body(Body::empty())
            .unwrap()
    };
    for (method, path) in [
        ("GET", "/"),
        ("POST", "/admin/api/queue/pause"),
        ("GET", "/tasks/counts"),
    ] {
        let (got, answer) = call(&router, foreign(method, path)).await;
        assert_eq!(got, StatusCode::MISDIRECTED_REQUEST, "{method} {path}");
        assert_eq!(answer["field"], "Host");
    }
    let (got, _) = call(&router, foreign("GET", "/readyz")).await;
    assert_eq!(got, StatusCode::OK, "probes are answered on any host");
    shutdown.cancel();
}

#[tokio::test]
async fn roles_and_cross_site_cookies_are_checked_before_anything_runs() {
    let redis = RedisServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens");
    // `server token create`'s line format, with digests of known tokens.
    let token = |name: &str| format!("{name}-{}", "t".repeat(40));
    let digest = |token: &str| {
        use sha2::Digest;
        app::url::hex(sha2::Sha256::digest(token.as_bytes()))
    };
    let lines: String = ["submitter", "viewer", "operator"]
        .iter()
        .map(|role| format!("{role} {role} sha256:{}\n", digest(&token(role))))
        .collect();
    std::fs::write(&file, lines).unwrap();
    let tokens_flag = format!("--tokens-file={}", file.display());
    let (router, _state, shutdown) = router(
        &redis,
        &[
            "--auth=on",
            &tokens_flag,
            "--session-secret=a-test-session-secret-of-at-least-32-chars",
        ],
    )
    .await;
    // (method, path, body, whether [submitter, viewer, operator] may)
    let routes: &[(&str, &str, &str, [bool; 3])] = &[
        ("GET", "/tasks/counts", "", [false, true, true]),
        ("GET", "/admin/api/jobs", "", [false, true, true]),
        ("POST", "/admin/api/queue/pause", "", [false, false, true]),
        // A viewer is read-only.
        (
            "POST",
            "/tasks/enqueue",
            r#"{"seconds": 1, "delay": 600000}"#,
            [true, false, true],
        ),
    ];
    let order = ["submitter", "viewer", "operator"];
    for (method, path, body, may) in routes {
        let (got, answer) = call(
            &router,
            request(method, path)
                .header("content-type", "application/json")
                .body(json(body))
                .unwrap(),
        )
        .await;
        assert_eq!(
            got,
            StatusCode::UNAUTHORIZED,
            "{path} without a token: {answer}"
        );
        for (rank, role) in order.iter().enumerate() {
            let allowed = may[rank];
            let (got, answer) = call(
                &router,
                request(method, path)
                    .header("authorization", format!("Bearer {}", token(role)))
                    .header("content-type", "application/json")
                    .body(json(body))
                    .unwrap(),
            )
            .await;
            if allowed {
                assert!(got.is_success(), "{role} {method} {path}: {got} {answer}");
            } else {
                assert_eq!(
                    got,
                    StatusCode::FORBIDDEN,
                    "{role} {method} {path}: {answer}"
                );
                assert_eq!(answer["error"], "forbidden");
            }
        }
    }
    // A viewer's dashboard function for operators: 403, not 500.
    let (got, _) = call(
        &router,
        request("POST", "/api/admin/pause")
            .header("authorization", format!("Bearer {}", token("viewer")))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(json("paused=true"))
            .unwrap(),
    )
    .await;
    assert_eq!(got, StatusCode::FORBIDDEN);
    // A cookie-carrying state change from another site is refused before it runs.
    let (got, answer) = call(
        &router,
        request("POST", "/admin/api/queue/pause")
            .header("cookie", "sentinel_session=whatever")
            .header("sec-fetch-site", "cross-site")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(got, StatusCode::FORBIDDEN, "{answer}");
    shutdown.cancel();
}

#[tokio::test]
async fn the_openapi_document_names_each_route_s_refusals() {
    let redis = RedisServer::start().await;
    let (router, _state, shutdown) = router(&redis, &[]).await;
    let (got, doc) = call(
        &router,
        request("GET", "/openapi.json").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(got, StatusCode::OK);
    // Moved from the cross-process suite (`tests/hardening.rs`): the document and its routes.
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{doc}");
    for path in [
        "/tasks/enqueue",
        "/tasks/status/{id}",
        "/tasks/counts",
        "/readyz",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} missing: {doc}");
    }
    let statuses = |path: &str, method: &str| -> Vec<String> {
        let mut codes: Vec<String> = doc["paths"][path][method]["responses"]
            .as_object()
            .unwrap_or_else(|| panic!("{method} {path} is described"))
            .keys()
            .cloned()
            .collect();
        codes.sort();
        codes
    };
    assert_eq!(
        statuses("/admin/api/workers", "get"),
        ["200", "400", "401", "403", "404", "503"]
    );
    assert_eq!(
        statuses("/admin/api/queue/clean", "post"),
        ["200", "400", "401", "403", "404", "415", "503"]
    );
    assert_eq!(
        statuses("/tasks/enqueue", "post"),
        ["201", "400", "401", "403", "413", "415", "429", "503"]
    );
    let forbidden = &doc["paths"]["/admin/api/queue/pause"]["post"]["responses"]["403"];
    assert_eq!(
        forbidden["description"], "Operators and up only",
        "{forbidden}"
    );
    shutdown.cancel();
}

/// Moved from the cross-process suite (`tests/http_api.rs`): every refused value of the task
/// API answers a JSON 400 naming it, and nothing of it reaches Redis.
#[tokio::test]
async fn bad_input_gets_a_json_4xx_naming_the_problem() {
    let redis = RedisServer::start().await;
    let (router, _state, shutdown) = router(&redis, &["--max-seconds=100"]).await;
    let post = |path: String, body: Option<String>| {
        let mut builder = request("POST", &path);
        if body.is_some() {
            builder = builder.header("content-type", "application/json");
        }
        builder.body(Body::from(body.unwrap_or_default())).unwrap()
    };
    for raw in [
        "-1",
        "0",
        "abc",
        "1e9",
        "2.5",
        "",
        "101",
        "99999999999999999999999",
    ] {
        let (status, body) =
            call(&router, post(format!("/tasks/enqueue?seconds={raw}"), None)).await;
        assert_eq!(status, 400, "seconds={raw:?}");
        assert_eq!(body["error"], "invalid_seconds", "seconds={raw:?}: {body}");
        assert!(
            body["message"].as_str().unwrap().contains("seconds"),
            "seconds={raw:?}: {body}"
        );
    }
    for body in [
        serde_json::json!({"seconds": 2.5}),
        serde_json::json!({"seconds": -3}),
        serde_json::json!({"seconds": "x"}),
    ] {
        let (status, answer) = call(
            &router,
            post("/tasks/enqueue".into(), Some(body.to_string())),
        )
        .await;
        assert_eq!(status, 400, "body {body}");
        assert_eq!(answer["error"], "invalid_seconds", "body {body}: {answer}");
    }
    let (status, answer) = call(
        &router,
        post("/tasks/enqueue".into(), Some("{not json".into())),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(answer["error"], "invalid_body");

    // Nothing was enqueued by any of that.
    let (_, counts) = call(
        &router,
        request("GET", "/tasks/counts").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(counts["counts"]["waiting"], 0, "{counts}");

    let (code, body) = call(
        &router,
        request("GET", "/tasks/status/424242")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(code, 404);
    assert_eq!(
        body,
        serde_json::json!({"error": "not_found", "id": "424242"})
    );

    let long_id = "9".repeat(300);
    for bad_id in ["a:b", "sentinel-tasks:1", long_id.as_str()] {
        let (code, body) = call(
            &router,
            request("GET", &format!("/tasks/status/{bad_id}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(code, 400, "id {bad_id:?}");
        assert_eq!(body["error"], "invalid_id", "id {bad_id:?}: {body}");
    }
    // An id that looks like a key name reaches no Redis key.
    let mut conn = redis.connection();
    let keys: Vec<String> = redis::cmd("KEYS").arg("*a:b*").query(&mut conn).unwrap();
    assert!(keys.is_empty(), "{keys:?}");

    let (code, body) = call(
        &router,
        request("GET", "/no/such/route")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(code, 404);
    assert_eq!(body["error"], "not_found");
    shutdown.cancel();
}

/// A tokens file with a fresh token per (name, role), made as `server token create` makes
/// them; the tokens, by name.
fn tokens_file(dir: &std::path::Path, names: &[(&str, &str)]) -> (String, Vec<(String, String)>) {
    let mut lines = String::new();
    let mut tokens = Vec::new();
    for (name, role) in names {
        let (token, line) =
            server::auth::tokens::create(name, role.parse().expect("a role")).expect("a token");
        lines.push_str(&line);
        lines.push('\n');
        tokens.push((name.to_string(), token));
    }
    let path = dir.join("tokens");
    std::fs::write(&path, lines).unwrap();
    (format!("--tokens-file={}", path.display()), tokens)
}

/// A router with access control on and a token per role (`sub`, `view`, `op`, `boss`); the
/// tokens by name.
async fn guarded_router(
    redis: &RedisServer,
    dir: &std::path::Path,
) -> (axum::Router, Vec<(String, String)>, CancellationToken) {
    let (tokens_flag, tokens) = tokens_file(
        dir,
        &[
            ("sub", "submitter"),
            ("view", "viewer"),
            ("op", "operator"),
            ("boss", "admin"),
        ],
    );
    let (router, _state, shutdown) = router(
        redis,
        &[
            "--auth=on",
            &tokens_flag,
            "--session-secret=a-test-session-secret-of-at-least-32-chars",
        ],
    )
    .await;
    (router, tokens, shutdown)
}

/// Moved from the cross-process suite (`tests/access.rs`): each role against each route.
#[tokio::test]
async fn each_role_against_each_route() {
    let redis = RedisServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (router, tokens, shutdown) = guarded_router(&redis, dir.path()).await;
    let token = |name: &str| {
        tokens
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t.clone())
    };
    let as_who = |method: &str, path: &str, bearer: Option<String>| {
        let mut builder = request(method, path);
        if let Some(token) = bearer {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        builder.body(Body::empty()).unwrap()
    };
    let (_, body) = call(
        &router,
        as_who("POST", "/tasks/enqueue?seconds=1", token("boss")),
    )
    .await;
    let boss_job = body["id"].as_str().unwrap().to_string();

    let status_path = format!("/tasks/status/{boss_job}");
    // (method, path, [nobody, submitter, viewer, operator, admin])
    let table: &[(&str, &str, [u16; 5])] = &[
        (
            "POST",
            "/tasks/enqueue?seconds=1",
            [401, 201, 403, 201, 201],
        ),
        ("GET", &status_path, [401, 404, 200, 200, 200]),
        ("GET", "/tasks/status/999999", [401, 404, 404, 404, 404]),
        ("GET", "/tasks/counts", [401, 403, 200, 200, 200]),
        ("GET", "/whoami", [401, 200, 200, 200, 200]),
        ("GET", "/healthz", [200; 5]),
        ("GET", "/readyz", [200; 5]),
        ("GET", "/openapi.json", [200; 5]),
        ("GET", "/metrics", [401, 403, 200, 200, 200]),
        ("GET", "/admin/api/jobs", [401, 403, 200, 200, 200]),
        ("POST", "/admin/api/queue/resume", [401, 403, 403, 200, 200]),
        // No body: operators get as far as the refusal of the missing fields.
        ("POST", "/admin/api/jobs/bulk", [401, 403, 403, 400, 400]),
        ("GET", "/admin/api/workers", [401, 403, 200, 200, 200]),
        ("GET", "/admin/api/queues", [401, 403, 200, 200, 200]),
        ("GET", "/admin/api/alerts", [401, 403, 403, 200, 200]),
        ("GET", "/admin/api/audit", [401, 403, 403, 403, 200]),
        (
            "POST",
            "/tasks/enqueue?seconds=1&onBehalfOf=user:carol",
            [401, 403, 403, 201, 201],
        ),
        ("POST", "/api/counts", [401, 200, 200, 200, 200]),
        ("POST", "/api/settings", [200; 5]),
        ("POST", "/api/listed", [401, 200, 200, 200, 200]),
        ("POST", "/api/home", [401, 200, 200, 200, 200]),
        ("GET", "/", [303, 200, 200, 200, 200]),
        // The event stream: opened, or refused without credentials.
        ("GET", "/tasks/stream", [401, 200, 200, 200, 200]),
    ];
    let who = [
        None,
        token("sub"),
        token("view"),
        token("op"),
        token("boss"),
    ];
    for (method, path, expected) in table {
        for (i, bearer) in who.iter().enumerate() {
            let (status, body) = call_head(&router, as_who(method, path, bearer.clone())).await;
            assert_eq!(
                status.as_u16(),
                expected[i],
                "{method} {path} as {}: {body}",
                ["nobody", "submitter", "viewer", "operator", "admin"][i]
            );
            match status.as_u16() {
                401 => assert_eq!(body["error"], "unauthorized", "{body}"),
                403 => assert_eq!(body["error"], "forbidden", "{body}"),
                _ => {}
            }
        }
    }
    // A forged or garbled session cookie is nobody.
    let forged = request("GET", "/tasks/counts")
        .header(
            "cookie",
            "sentinel_session=dGl8Ym9zc3x4eHh8OTk5OTk5OTk5OQ.AAAA",
        )
        .body(Body::empty())
        .unwrap();
    assert_eq!(call(&router, forged).await.0, 401);
    // A wrong token is a 401, never a fall-through to anonymous.
    let (status, _) = call(
        &router,
        as_who("GET", "/tasks/counts", Some("x".repeat(43))),
    )
    .await;
    assert_eq!(status, 401);
    shutdown.cancel();
}

/// An operator enqueues for another owner: the job is that owner's (its status is theirs to
/// read, not another submitter's), the audit log records who did it for whom; a submitter
/// asking the same is refused, and a malformed owner is a 400 naming `onBehalfOf`.
#[tokio::test]
async fn an_operator_enqueues_on_another_s_behalf_and_it_is_on_record() {
    let redis = RedisServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (router, tokens, shutdown) = guarded_router(&redis, dir.path()).await;
    let token = |name: &str| {
        tokens
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t.clone())
            .unwrap()
    };
    let as_who = |who: &str, method: &str, path: &str, body: &str| {
        request(method, path)
            .header("authorization", format!("Bearer {}", token(who)))
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    let (status, added) = call(
        &router,
        as_who(
            "op",
            "POST",
            "/tasks/enqueue",
            r#"{"seconds": 1, "delay": 600000, "onBehalfOf": "token:sub"}"#,
        ),
    )
    .await;
    assert_eq!(status, 201, "{added}");
    let id = added["id"].as_str().unwrap().to_string();
    // The submitter it was made for reads it as theirs; the job's data names them.
    let (status, job) = call(
        &router,
        as_who("sub", "GET", &format!("/tasks/status/{id}"), ""),
    )
    .await;
    assert_eq!(status, 200, "{job}");
    let mut conn = redis.connection();
    let data: String = redis::cmd("HGET")
        .arg(format!("sentinel:sentinel-tasks:{id}"))
        .arg("data")
        .query(&mut conn)
        .unwrap();
    assert!(data.contains(r#""owner":"token:sub""#), "{data}");
    // On record: who (the operator), for whom, which job.
    let (status, page) = call(
        &router,
        as_who(
            "boss",
            "GET",
            "/admin/api/audit?action=enqueue%3Aon-behalf",
            "",
        ),
    )
    .await;
    assert_eq!(status, 200, "{page}");
    let entries = page["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{page}");
    assert_eq!(entries[0]["who"], "token:op", "{page}");
    assert_eq!(entries[0]["role"], "operator", "{page}");
    assert_eq!(entries[0]["target"], "for token:sub", "{page}");
    assert_eq!(entries[0]["outcome"], format!("added job {id}"), "{page}");
    // A submitter may not; a malformed owner is named.
    let (status, body) = call(
        &router,
        as_who(
            "sub",
            "POST",
            "/tasks/enqueue",
            r#"{"seconds": 1, "onBehalfOf": "token:op"}"#,
        ),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    let too_long = format!(r#""user:{}""#, "a".repeat(101));
    for bad in [
        r#""alice""#,
        r#""anon:x""#,
        r#""user:a b""#,
        "7",
        too_long.as_str(),
    ] {
        let (status, body) = call(
            &router,
            as_who(
                "op",
                "POST",
                "/tasks/enqueue",
                &format!(r#"{{"seconds": 1, "onBehalfOf": {bad}}}"#),
            ),
        )
        .await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(body["field"], "onBehalfOf", "{bad}: {body}");
    }
    // The dashboard's alerts and audit pages read through server functions with the same
    // roles as the API: alerts for operators and up, the audit log for admins.
    for (path, who, expected) in [
        ("/api/admin/alerts", "view", 403),
        ("/api/admin/alerts", "op", 200),
        ("/api/admin/audit", "op", 403),
        ("/api/admin/audit", "boss", 200),
    ] {
        let asked = request("POST", path)
            .header("authorization", format!("Bearer {}", token(who)))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::empty())
            .unwrap();
        let (status, body) = call(&router, asked).await;
        assert_eq!(status.as_u16(), expected, "{path} as {who}: {body}");
    }
    // The dashboard's audit reads take hostile filters as the API does: a bad `before` is a
    // 400, huge or odd filters are cut and simply match nothing.
    let huge = "w".repeat(5000);
    for (body, expected) in [
        ("before=yesterday".to_string(), 400),
        (format!("who={huge}&action=%00%01"), 200),
        ("since_minutes=18446744073709551615".to_string(), 200),
    ] {
        let asked = request("POST", "/api/admin/audit")
            .header("authorization", format!("Bearer {}", token("boss")))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(body.clone()))
            .unwrap();
        let (status, answer) = call(&router, asked).await;
        assert_eq!(status.as_u16(), expected, "{body}: {answer}");
    }
    // Still only the one entry: refusals before the add are not enqueues.
    let (_, page) = call(
        &router,
        as_who(
            "boss",
            "GET",
            "/admin/api/audit?action=enqueue%3Aon-behalf",
            "",
        ),
    )
    .await;
    assert_eq!(page["entries"].as_array().unwrap().len(), 1, "{page}");
    shutdown.cancel();
}

/// As [`call`], for answers that may be streams (the event stream never ends): the status, and
/// the body only when the answer is JSON.
async fn call_head(router: &axum::Router, request: Request<Body>) -> (StatusCode, Value) {
    let response = router.clone().oneshot(request).await.expect("an answer");
    let status = response.status();
    let json = response
        .headers()
        .get("content-type")
        .is_some_and(|kind| kind.as_bytes().starts_with(b"application/json"));
    if !json {
        return (status, Value::Null);
    }
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("a body")
        .to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// Moved from the cross-process suite (`tests/hardening.rs`): every answer carries the security
/// headers, the page's inline script the nonce its policy names, and answers are compressed.
#[tokio::test]
async fn answers_carry_security_headers_and_are_compressed() {
    let redis = RedisServer::start().await;
    let (router, _state, shutdown) = router(&redis, &[]).await;
    let get = |path: &str| request("GET", path).body(Body::empty()).unwrap();
    for path in ["/", "/tasks/counts", "/nowhere"] {
        let response = router.clone().oneshot(get(path)).await.unwrap();
        let headers = response.headers();
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(csp.contains("script-src 'self' 'nonce-"), "{path}: {csp}");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["x-frame-options"], "DENY");
        assert!(headers.contains_key("referrer-policy"));
    }
    // The page's inline script carries the nonce the policy names.
    let page = router.clone().oneshot(get("/")).await.unwrap();
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .unwrap()
        .split('\'')
        .next()
        .unwrap()
        .to_string();
    let html = page.into_body().collect().await.unwrap().to_bytes();
    let html = String::from_utf8_lossy(&html);
    assert!(html.contains(&format!("nonce=\"{nonce}\"")), "{html}");

    let compressed = router
        .clone()
        .oneshot(
            request("GET", "/tasks/counts")
                .header("accept-encoding", "gzip")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(compressed.headers()["content-encoding"], "gzip");
    shutdown.cancel();
}

#[tokio::test]
async fn every_action_is_on_record_once_whichever_edge_and_only_admins_read_it() {
    let redis = RedisServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (router, tokens, shutdown) = guarded_router(&redis, dir.path()).await;
    let token = |name: &str| {
        tokens
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t.clone())
            .unwrap()
    };
    let as_who = |who: &str, method: &str, path: &str, kind: &str, body: &str| {
        request(method, path)
            .header("authorization", format!("Bearer {}", token(who)))
            .header("content-type", kind)
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    const JSON: &str = "application/json";
    const FORM: &str = "application/x-www-form-urlencoded";
    let (_, added) = call(
        &router,
        as_who(
            "op",
            "POST",
            "/tasks/enqueue",
            JSON,
            r#"{"seconds": 1, "delay": 600000}"#,
        ),
    )
    .await;
    let id = added["id"].as_str().unwrap().to_string();
    // Through the admin API and through the dashboard's server functions alike.
    let steps = [
        as_who(
            "op",
            "POST",
            &format!("/admin/api/jobs/{id}/promote"),
            JSON,
            "",
        ),
        as_who("op", "POST", "/api/admin/pause", FORM, "paused=true"),
        as_who("op", "POST", "/admin/api/queue/resume", JSON, ""),
        as_who(
            "op",
            "POST",
            "/admin/api/jobs/bulk",
            JSON,
            &format!(r#"{{"action": "remove", "ids": ["{id}"]}}"#),
        ),
        as_who(
            "op",
            "POST",
            "/admin/api/queue/clean",
            JSON,
            r#"{"state": "completed", "olderThanMs": 0}"#,
        ),
        as_who(
            "op",
            "POST",
            "/admin/api/queue/clean",
            JSON,
            r#"{"state": "failed", "olderThanMs": 0, "dryRun": true}"#,
        ),
    ];
    for step in steps {
        let path = step.uri().to_string();
        let (status, body) = call(&router, step).await;
        assert!(status.is_success(), "{path}: {status} {body}");
    }
    let (status, page) = call(&router, as_who("boss", "GET", "/admin/api/audit", JSON, "")).await;
    assert_eq!(status, 200, "{page}");
    let actions: Vec<&str> = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    // Newest first; the dry run changed nothing and is not there.
    assert_eq!(
        actions,
        ["clean", "bulk:remove", "resume", "pause", "promote"],
        "{page}"
    );
    for entry in page["entries"].as_array().unwrap() {
        assert_eq!(entry["who"], "token:op", "{entry}");
        assert_eq!(entry["role"], "operator", "{entry}");
        assert_eq!(entry["via"], "bearer", "{entry}");
        assert!(entry["at"].as_u64().unwrap() > 1_700_000_000_000, "{entry}");
    }
    let promote = &page["entries"][4];
    assert_eq!(promote["target"], id.as_str());
    assert_eq!(promote["outcome"], "done");
    // Filters and paging.
    let (_, only) = call(
        &router,
        as_who(
            "boss",
            "GET",
            "/admin/api/audit?action=pause&who=token:op",
            JSON,
            "",
        ),
    )
    .await;
    assert_eq!(only["entries"].as_array().unwrap().len(), 1, "{only}");
    let (_, first) = call(
        &router,
        as_who("boss", "GET", "/admin/api/audit?limit=2", JSON, ""),
    )
    .await;
    let next = first["next"].as_str().expect("more to read").to_string();
    let (_, rest) = call(
        &router,
        as_who(
            "boss",
            "GET",
            &format!("/admin/api/audit?limit=10&before={next}"),
            JSON,
            "",
        ),
    )
    .await;
    assert_eq!(rest["entries"].as_array().unwrap().len(), 3, "{rest}");
    // Nobody but an admin reads it.
    for who in ["sub", "view", "op"] {
        let (status, _) = call(&router, as_who(who, "GET", "/admin/api/audit", JSON, "")).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{who}");
    }
    let (status, _) = call(
        &router,
        request("GET", "/admin/api/audit")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = call(
        &router,
        as_who("boss", "GET", "/admin/api/audit?before=yesterday", JSON, ""),
    )
    .await;
    assert_eq!(
        (status.as_u16(), body["field"].as_str()),
        (400, Some("before"))
    );
    // The first id there can be has nothing before it (no Redis error).
    let (status, body) = call(
        &router,
        as_who("boss", "GET", "/admin/api/audit?before=00-00", JSON, ""),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["entries"], serde_json::json!([]));
    // Signing in and out are on record too.
    let signed_in = router
        .clone()
        .oneshot(
            request("POST", "/signin")
                .header("content-type", FORM)
                .body(Body::from(format!("token={}", token("view"))))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    let cookie = signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let out = request("POST", "/signout")
        .header("cookie", &cookie)
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        router.clone().oneshot(out).await.unwrap().status(),
        StatusCode::SEE_OTHER
    );
    let (_, sessions) = call(
        &router,
        as_who("boss", "GET", "/admin/api/audit?who=token:view", JSON, ""),
    )
    .await;
    let seen: Vec<(&str, &str)> = sessions["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["via"].as_str().unwrap()))
        .collect();
    assert_eq!(
        seen,
        [("sign-out", "session"), ("sign-in", "session")],
        "{sessions}"
    );
    // What others write to the stream is read back as untrusted: an entry that is not ours is
    // skipped, a huge field cut, a count that is not a number absent.
    let mut conn = redis.connection();
    let huge = "w".repeat(10_000);
    let _: () = redis::pipe()
        .cmd("XADD")
        .arg("sentinel:sentinel-tasks:audit")
        .arg("*")
        .arg("color")
        .arg("blue")
        .cmd("XADD")
        .arg("sentinel:sentinel-tasks:audit")
        .arg("*")
        .arg("who")
        .arg(&huge)
        .arg("action")
        .arg("retry")
        .arg("count")
        .arg("lots")
        .query(&mut conn)
        .unwrap();
    let (status, page) = call(
        &router,
        as_who("boss", "GET", "/admin/api/audit?limit=1", JSON, ""),
    )
    .await;
    assert_eq!(status, 200, "{page}");
    let newest = &page["entries"][0];
    assert_eq!(newest["who"].as_str().unwrap().len(), 512, "cut");
    assert_eq!(newest["count"], Value::Null, "{newest}");
    let (_, all) = call(
        &router,
        as_who("boss", "GET", "/admin/api/audit?limit=200", JSON, ""),
    )
    .await;
    // The 5 actions, sign-in, sign-out and the huge one; not the foreign entry.
    assert_eq!(all["entries"].as_array().unwrap().len(), 8, "{all}");
    shutdown.cancel();
}

/// A body of `total` bytes sent in 64 KiB chunks; the counter says how much the router pulled.
fn counted_body(total: usize) -> (Body, Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::Ordering;
    let pulled = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = pulled.clone();
    let chunk = axum::body::Bytes::from(vec![b' '; 64 * 1024]);
    let stream = futures::stream::unfold(0usize, move |sent| {
        let chunk = chunk.clone();
        let counter = counter.clone();
        async move {
            if sent >= total {
                return None;
            }
            counter.fetch_add(chunk.len(), Ordering::Relaxed);
            Some((Ok::<_, std::io::Error>(chunk.clone()), sent + chunk.len()))
        }
    });
    (Body::from_stream(stream), pulled)
}

/// Moved from the cross-process suite (`tests/hardening.rs`, whose test keeps the memory and the
/// transport's declared-length check): every POST route answers a huge body with a JSON 413
/// naming the limit, having read no more than the limit's worth of it.
#[tokio::test]
async fn a_huge_body_gets_413_on_every_post_route_before_it_is_read() {
    use std::sync::atomic::Ordering;
    let redis = RedisServer::start().await;
    let (router, _state, shutdown) = router(&redis, &[]).await;
    let total = 64 << 20;
    for path in [
        "/tasks/enqueue",
        "/api/enqueue",
        "/api/statuses",
        "/api/counts",
        "/api/settings",
        "/api/home",
        "/admin/api/queue/clean",
    ] {
        let (body, pulled) = counted_body(total);
        let (got, answer) = call(
            &router,
            request("POST", path)
                .header("content-type", "application/json")
                .body(body)
                .unwrap(),
        )
        .await;
        assert_eq!(got, StatusCode::PAYLOAD_TOO_LARGE, "{path}: {answer}");
        assert_eq!(answer["limit"], "MAX_BODY_BYTES", "{path}: {answer}");
        let read = pulled.load(Ordering::Relaxed);
        assert!(read < 4 << 20, "{path}: the router read {read} bytes");
        // A declared length over the limit is refused too.
        let (got, answer) = call(
            &router,
            request("POST", path)
                .header("content-type", "application/json")
                .header("content-length", total.to_string())
                .body(counted_body(total).0)
                .unwrap(),
        )
        .await;
        assert_eq!(got, StatusCode::PAYLOAD_TOO_LARGE, "{path}: {answer}");
    }
    shutdown.cancel();
}

/// Moved from the cross-process suite (`tests/hardening.rs`): a job id spelled like one of the
/// queue's keys is a job that does not exist, and a bad `Last-Event-ID` is a 400 naming it.
#[tokio::test]
async fn key_named_ids_and_bad_last_event_ids_get_4xx_only() {
    let redis = RedisServer::start().await;
    let (router, _state, shutdown) = router(&redis, &[]).await;
    let (got, answer) = call(
        &router,
        request("POST", "/tasks/enqueue?seconds=1")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(got, StatusCode::CREATED, "{answer}");
    for name in [
        "meta",
        "events",
        "id",
        "wait",
        "completed",
        "failed",
        "active",
        "delayed",
        "marker",
        "prioritized",
        "stalled-check",
        "paused",
        "limiter",
        "audit",
    ] {
        let (got, body) = call(
            &router,
            request("GET", &format!("/tasks/status/{name}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(got, StatusCode::NOT_FOUND, "{name}: {body}");
        assert_eq!(body["error"], "not_found", "{name}: {body}");
    }
    let long = "9".repeat(50);
    for bad in ["yesterday", "1-2-3", "-1", "1-", &long, "1 -2", "0x10-0"] {
        let (got, body) = call_head(
            &router,
            request("GET", "/tasks/stream")
                .header("last-event-id", bad)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(got, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(body["field"], "Last-Event-ID", "{bad}");
    }
    shutdown.cancel();
}

/// Moved from the cross-process suite (`tests/hardening.rs`): a retried enqueue with the same
/// `Idempotency-Key` gives the same job; a key over the limit is a 400 naming the header.
#[tokio::test]
async fn the_same_idempotency_key_gives_the_same_job() {
    let redis = RedisServer::start().await;
    let (router, _state, shutdown) = router(&redis, &[]).await;
    let post = |key: &str| {
        request("POST", "/tasks/enqueue?seconds=3")
            .header("idempotency-key", key)
            .body(Body::empty())
            .unwrap()
    };
    let (_, first) = call(&router, post("order-42")).await;
    let (_, again) = call(&router, post("order-42")).await;
    let (_, other) = call(&router, post("order-43")).await;
    assert!(first["id"].is_string(), "{first}");
    assert_eq!(first["id"], again["id"]);
    assert_ne!(first["id"], other["id"]);
    let (_, counts) = call(
        &router,
        request("GET", "/tasks/counts").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(counts["counts"]["waiting"], 2, "{counts}");
    let (got, body) = call(&router, post(&"x".repeat(300))).await;
    assert_eq!(got, StatusCode::BAD_REQUEST);
    assert_eq!(body["field"], "Idempotency-Key");
    shutdown.cancel();
}

/// Log lines written while a test runs, for checks on what is (and is not) logged.
#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Moved from the cross-process suite (`tests/access.rs`): sign-in (a wrong token waits and is
/// logged without the token; a malformed form is a 400), the session cookie's flags, the
/// cross-site and content-type rules for cookie requests, the page's own form post, a bearer
/// token exempt from them, and sign-out.
#[tokio::test]
async fn cookie_requests_from_other_sites_are_refused_and_sign_in_works() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let redis = RedisServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (tokens_flag, tokens) = tokens_file(dir.path(), &[("pat", "submitter")]);
    let (router, _state, shutdown) = router(
        &redis,
        &[
            "--auth=on",
            &tokens_flag,
            "--session-secret=a-test-session-secret-of-at-least-32-chars",
        ],
    )
    .await;
    let origin = "http://127.0.0.1:3001";
    let form = "application/x-www-form-urlencoded";

    let wrong = "y".repeat(40);
    let started = std::time::Instant::now();
    let (got, _) = call_head(
        &router,
        request("POST", "/signin")
            .header("content-type", form)
            .body(json(&format!("token={wrong}")))
            .unwrap(),
    )
    .await;
    assert_eq!(got, StatusCode::UNAUTHORIZED);
    assert!(started.elapsed() >= Duration::from_millis(900));
    let logged = logs.text();
    assert!(
        logged.contains("failed sign-in") && !logged.contains(&wrong),
        "{logged}"
    );
    let (got, _) = call_head(
        &router,
        request("POST", "/signin")
            .header("content-type", "application/json")
            .body(json("{\"token\": 1}"))
            .unwrap(),
    )
    .await;
    assert_eq!(got, StatusCode::BAD_REQUEST);

    let signed_in = router
        .clone()
        .oneshot(
            request("POST", "/signin")
                .header("origin", origin)
                .header("content-type", form)
                .body(json(&format!("token={}", tokens[0].1)))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    let cookie = signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let session = cookie.split(';').next().unwrap().to_string();

    let evil = "https://evil.example";
    let cases: [(&str, &str, Option<&str>, StatusCode); 5] = [
        (evil, "application/json", None, StatusCode::FORBIDDEN),
        (
            origin,
            "application/json",
            Some("cross-site"),
            StatusCode::FORBIDDEN,
        ),
        (
            origin,
            "text/plain",
            Some("same-origin"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (origin, form, None, StatusCode::UNSUPPORTED_MEDIA_TYPE),
        (
            origin,
            "application/json",
            Some("same-origin"),
            StatusCode::CREATED,
        ),
    ];
    for (from, kind, site, expected) in cases {
        let mut builder = request("POST", "/tasks/enqueue?seconds=1")
            .header("cookie", &session)
            .header("origin", from)
            .header("content-type", kind);
        if let Some(site) = site {
            builder = builder.header("sec-fetch-site", site);
        }
        let body = if kind.contains("json") {
            "{}"
        } else {
            "seconds=1"
        };
        let (got, answer) = call(&router, builder.body(json(body)).unwrap()).await;
        assert_eq!(got, expected, "{from} {kind} {site:?}: {answer}");
    }
    // The page's own no-JavaScript form post works; the same from another site does not.
    let page_form = |from: &str| {
        request("POST", "/api/enqueue")
            .header("cookie", &session)
            .header("origin", from)
            .header("accept", "text/html")
            .header("content-type", form)
            .body(json("seconds=1"))
            .unwrap()
    };
    let (got, _) = call_head(&router, page_form(origin)).await;
    assert_eq!(got, StatusCode::FOUND);
    let (got, _) = call_head(&router, page_form(evil)).await;
    assert_eq!(got, StatusCode::FORBIDDEN);
    // A program's bearer token is exempt from the cookie rules.
    let (got, answer) = call(
        &router,
        request("POST", "/tasks/enqueue?seconds=1")
            .header("authorization", format!("Bearer {}", tokens[0].1))
            .header("content-type", "text/plain")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(got, StatusCode::CREATED, "{answer}");
    // Sign-out clears the session.
    let out = router
        .clone()
        .oneshot(
            request("POST", "/signout")
                .header("origin", origin)
                .header("cookie", &session)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert!(
        out.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    shutdown.cancel();
}

/// A BullMQ queue of another program on the test's Redis (`bull:emails`), made with the
/// engine as any producer makes one: two waiting jobs and one delayed; their ids.
async fn foreign_queue(
    redis: &RedisServer,
    prefix: &str,
    name: &str,
) -> (bullmq::Queue, Vec<String>) {
    let opts = bullmq::QueueOptions::new()
        .connection(bullmq::options::RedisConnectionOptions::new().url(redis.url()))
        .prefix(prefix.to_string());
    let queue = bullmq::Queue::with_options(name, opts)
        .await
        .expect("a queue");
    let mut ids = Vec::new();
    for n in 0..2 {
        let job = queue
            .add("send", serde_json::json!({ "n": n }))
            .into_future()
            .await
            .expect("an add");
        ids.push(job.id().to_string());
    }
    let later = queue
        .add("send", serde_json::json!({ "n": 2 }))
        .delay(Duration::from_secs(3600))
        .into_future()
        .await
        .expect("a delayed add");
    ids.push(later.id().to_string());
    (queue, ids)
}

/// Every queue on the Redis through the admin API: listed with its counts and oldest waiting
/// job, its jobs listed and shown, acted on through the engine's scripts (promote, remove,
/// pause, clean), each action recorded with the queue; a queue that does not exist is a 404
/// naming `queue` and is not created by asking; a bad name is a 400.
#[tokio::test]
async fn any_queue_on_the_redis_is_listed_read_and_acted_on() {
    const JSON: &str = "application/json";
    let redis = RedisServer::start().await;
    let (router, _state, shutdown) = router(&redis, &[]).await;
    let (engine, ids) = foreign_queue(&redis, "bull", "emails").await;
    let get = |path: &str| request("GET", path).body(Body::empty()).unwrap();
    let post = |path: &str, body: &str| {
        request("POST", path)
            .header("content-type", JSON)
            .body(json(body))
            .unwrap()
    };
    let (status, list) = call(&router, get("/admin/api/queues?rescan=true")).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["home"], "sentinel:sentinel-tasks", "{list}");
    let emails = list["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["prefix"] == "bull" && q["name"] == "emails")
        .cloned()
        .unwrap_or_else(|| panic!("bull:emails listed: {list}"));
    assert_eq!(emails["counts"]["waiting"], 2, "{emails}");
    assert_eq!(emails["counts"]["delayed"], 1, "{emails}");
    assert_eq!(emails["workers"], 0, "{emails}");
    let oldest = emails["oldestWaitingAt"]
        .as_u64()
        .expect("an oldest waiting job");
    assert!(oldest <= server::clock::now_ms() && oldest > 0, "{emails}");

    let on = "queue=bull%3Aemails";
    let (status, page) = call(&router, get(&format!("/admin/api/jobs?{on}"))).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["total"], 3, "{page}");
    let (status, job) = call(&router, get(&format!("/admin/api/jobs/{}?{on}", ids[0]))).await;
    assert_eq!(status, StatusCode::OK, "{job}");
    assert_eq!(job["name"], "send", "{job}");
    // The same id on Sentinel's own queue is another job (there, none).
    let (status, _) = call(&router, get(&format!("/admin/api/jobs/{}", ids[0]))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, done) = call(
        &router,
        post(&format!("/admin/api/jobs/{}/promote?{on}", ids[2]), ""),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(
        bullmq_state(&engine, &ids[2]).await,
        "waiting",
        "promoted through the engine"
    );
    let (status, done) = call(
        &router,
        post(&format!("/admin/api/jobs/{}/remove?{on}", ids[0]), ""),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert!(engine.get_job(&ids[0]).await.unwrap().is_none(), "removed");
    let (status, _) = call(&router, post(&format!("/admin/api/queue/pause?{on}"), "")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        engine.is_paused().await.unwrap(),
        "the foreign queue is paused"
    );
    let (_, home) = call(&router, get("/admin/api/queues")).await;
    let paused: Vec<String> = home["queues"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|q| q["paused"] == true)
        .map(|q| {
            format!(
                "{}:{}",
                q["prefix"].as_str().unwrap(),
                q["name"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(paused, ["bull:emails"], "only that queue: {home}");
    let (status, _) = call(&router, post(&format!("/admin/api/queue/resume?{on}"), "")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!engine.is_paused().await.unwrap());
    let (status, cleaned) = call(
        &router,
        post(
            &format!("/admin/api/queue/clean?{on}"),
            r#"{"state": "completed", "olderThanMs": 0}"#,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{cleaned}");
    let (status, workers) = call(&router, get(&format!("/admin/api/workers?{on}"))).await;
    assert_eq!(status, StatusCode::OK, "{workers}");
    let (status, metrics) = call(&router, get(&format!("/admin/api/metrics?{on}"))).await;
    assert_eq!(status, StatusCode::OK, "{metrics}");

    // Each action is on record with its queue.
    let (_, audit) = call(&router, get("/admin/api/audit?action=promote")).await;
    assert_eq!(
        audit["entries"][0]["target"],
        format!("bull:emails {}", ids[2]),
        "{audit}"
    );

    // A queue that is not there: 404 naming it, and asking made nothing.
    let mut conn = redis.connection();
    for path in [
        "/admin/api/jobs?queue=bull%3Anope".to_string(),
        "/admin/api/jobs/1?queue=bull%3Anope".to_string(),
    ] {
        let (status, body) = call(&router, get(&path)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
        assert_eq!(body["field"], "queue", "{body}");
    }
    let (status, body) = call(
        &router,
        post("/admin/api/queue/pause?queue=bull%3Anope", ""),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let made: u64 = redis::cmd("EXISTS")
        .arg("bull:nope:meta")
        .query(&mut conn)
        .unwrap();
    assert_eq!(made, 0, "asking for a queue made none");
    for bad in ["nocolon", "bull%3A", "%3Aemails", "a%01%3Ab"] {
        let (status, body) = call(&router, get(&format!("/admin/api/jobs?queue={bad}"))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_eq!(body["field"], "queue", "{bad}: {body}");
    }
    shutdown.cancel();
}

/// A job's state as the engine reads it.
async fn bullmq_state(engine: &bullmq::Queue, id: &str) -> String {
    format!("{:?}", engine.get_job_state(id).await.unwrap()).to_lowercase()
}

/// A role limited to queues (`operator@emails`) sees and acts on those only, everywhere the
/// admin API and the dashboard's server functions reach: the queues list, jobs, actions,
/// pause, and Sentinel's own queue is a 404 for it (as if absent). An unlimited viewer sees
/// every queue but acts on none.
#[tokio::test]
async fn a_role_limited_to_queues_sees_no_other_queue() {
    let redis = RedisServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (engine, ids) = foreign_queue(&redis, "bull", "emails").await;
    let _other = foreign_queue(&redis, "bull", "billing").await;
    let (op_token, op_line) =
        server::auth::tokens::create("limited", "operator".parse().unwrap()).expect("a token");
    let op_line = op_line.replacen(" operator ", " operator@emails|other:* ", 1);
    let (view_token, view_line) =
        server::auth::tokens::create("watcher", "viewer".parse().unwrap()).expect("a token");
    let path = dir.path().join("tokens");
    std::fs::write(&path, format!("{op_line}\n{view_line}\n")).unwrap();
    let flag = format!("--tokens-file={}", path.display());
    let (router, _state, shutdown) = router(
        &redis,
        &[
            "--auth=on",
            &flag,
            "--session-secret=a-test-session-secret-of-at-least-32-chars",
        ],
    )
    .await;
    let as_who = |token: &str, method: &str, path: &str| {
        request(method, path)
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(Body::empty())
            .unwrap()
    };
    let names = |list: &Value| -> Vec<String> {
        let mut names: Vec<String> = list["queues"]
            .as_array()
            .unwrap()
            .iter()
            .map(|q| {
                format!(
                    "{}:{}",
                    q["prefix"].as_str().unwrap(),
                    q["name"].as_str().unwrap()
                )
            })
            .collect();
        names.sort();
        names
    };
    let (status, list) = call(
        &router,
        as_who(&op_token, "GET", "/admin/api/queues?rescan=true"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(names(&list), ["bull:emails"], "{list}");
    let (_, all) = call(&router, as_who(&view_token, "GET", "/admin/api/queues")).await;
    assert!(names(&all).len() >= 2, "{all}");
    assert!(names(&all).contains(&"bull:billing".to_string()), "{all}");

    for (method, path) in [
        ("GET", "/admin/api/jobs?queue=bull%3Abilling".to_string()),
        ("GET", "/admin/api/jobs".to_string()),
        ("GET", "/admin/api/workers".to_string()),
        (
            "POST",
            "/admin/api/queue/pause?queue=bull%3Abilling".to_string(),
        ),
        ("POST", "/admin/api/queue/pause".to_string()),
        (
            "POST",
            format!("/admin/api/jobs/{}/remove?queue=bull%3Abilling", ids[0]),
        ),
    ] {
        let (status, body) = call(&router, as_who(&op_token, method, &path)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {body}");
        assert_eq!(body["field"], "queue", "{method} {path}: {body}");
    }
    assert!(!engine.is_paused().await.unwrap());
    let (status, body) = call(
        &router,
        as_who(
            &op_token,
            "POST",
            "/admin/api/queue/pause?queue=bull%3Aemails",
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        engine.is_paused().await.unwrap(),
        "its own queue it may pause"
    );
    // The viewer reads any queue and acts on none.
    let (status, _) = call(
        &router,
        as_who(&view_token, "GET", "/admin/api/jobs?queue=bull%3Abilling"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(
        &router,
        as_who(
            &view_token,
            "POST",
            "/admin/api/queue/resume?queue=bull%3Aemails",
        ),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Sentinel's own queue, outside its grant: its whole counts are refused, and a job of
    // someone else there is a job it cannot see.
    let (status, _) = call(&router, as_who(&op_token, "GET", "/tasks/counts")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, added) = call(
        &router,
        request("POST", "/tasks/enqueue?seconds=1&delay=600000")
            .header("authorization", format!("Bearer {view_token}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a viewer adds nothing: {added}"
    );
    let (_, mine) = call(
        &router,
        as_who(&op_token, "POST", "/tasks/enqueue?seconds=1&delay=600000"),
    )
    .await;
    let mine = mine["id"].as_str().expect("its own job").to_string();
    let (status, _) = call(
        &router,
        as_who(&op_token, "GET", &format!("/tasks/status/{mine}")),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "its own job");
    let (status, _) = call(
        &router,
        as_who(&view_token, "GET", &format!("/tasks/status/{mine}")),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the unlimited viewer sees every job"
    );
    // /metrics labels each queue; a limited caller's scrape holds only its queues.
    let scrape = |token: &str| {
        let router = router.clone();
        let request = as_who(token, "GET", "/metrics");
        async move {
            let response = router.oneshot(request).await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            String::from_utf8_lossy(&bytes).into_owned()
        }
    };
    let limited = scrape(&op_token).await;
    assert!(
        limited.contains(r#"sentinel_queue_paused{prefix="bull",queue="emails"} 1"#),
        "{limited}"
    );
    assert!(!limited.contains(r#"queue="billing""#), "{limited}");
    assert!(!limited.contains(r#"queue="sentinel-tasks""#), "{limited}");
    let all = scrape(&view_token).await;
    assert!(
        all.contains(r#"sentinel_queue_jobs{prefix="bull",queue="billing",state="delayed"} 1"#),
        "{all}"
    );
    // A page another caller just read (shared for a second) is never handed to one whose grant
    // does not reach its queue.
    let billing_page = "query[page]=0&query[size]=20&query[queue]=bull%3Abilling";
    let (status, page) = call(
        &router,
        request("POST", "/api/admin/jobs")
            .header("authorization", format!("Bearer {view_token}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(json(billing_page))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let (status, _) = call_head(
        &router,
        request("POST", "/api/admin/jobs")
            .header("authorization", format!("Bearer {op_token}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(json(billing_page))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not from the shared read");
    // The dashboard's server functions hold to the same limits.
    let form = |token: &str, path: &str, body: &str| {
        request("POST", path)
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(json(body))
            .unwrap()
    };
    let (status, _) = call_head(&router, form(&op_token, "/api/admin/overview", "")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "home queue hidden");
    let (status, overview) = call(
        &router,
        form(&op_token, "/api/admin/overview", "queue=bull%3Aemails"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{overview}");
    assert_eq!(overview["paused"], true, "{overview}");
    let (status, listed) = call(
        &router,
        form(&op_token, "/api/admin/queues", "rescan=false"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(names(&listed), ["bull:emails"], "{listed}");
    shutdown.cancel();
}

/// Job schedulers of any queue through the admin API: created with a cron pattern and a time
/// zone (checked: a bad pattern, zone, period or data is a 400 naming the field), read back as
/// the engine (and so Node) reads them, listed with one made by another producer, paused (gone
/// from BullMQ with its next job, kept by Sentinel) and edited while paused, resumed, run now,
/// flagged late, removed; each change on the audit log. A hundred concurrent upserts of one
/// scheduler leave one scheduler and one next job.
#[tokio::test]
async fn schedulers_are_listed_created_paused_run_and_removed() {
    const JSON: &str = "application/json";
    let redis = RedisServer::start().await;
    let (router, _state, shutdown) = router(&redis, &[]).await;
    let (engine, _) = foreign_queue(&redis, "bull", "emails").await;
    let on = "queue=bull%3Aemails";
    let send = |method: &str, path: String, body: &str| {
        request(method, &path)
            .header("content-type", JSON)
            .body(json(body))
            .unwrap()
    };
    let (status, body) = call(
        &router,
        send(
            "PUT",
            format!("/admin/api/schedulers/nightly?{on}"),
            r#"{"pattern": "0 0 3 * * *", "tz": "Europe/Paris", "name": "report", "data": {"k": 1}}"#,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let made = engine
        .get_job_scheduler("nightly")
        .await
        .unwrap()
        .expect("the engine reads it");
    assert_eq!(made.pattern.as_deref(), Some("0 0 3 * * *"));
    assert_eq!(made.tz.as_deref(), Some("Europe/Paris"));
    assert_eq!(made.name, "report");
    // One made by another producer, through the engine.
    engine
        .upsert_job_scheduler(
            "every5",
            bullmq::job_scheduler::RepeatOptions {
                every: Some(5000),
                ..Default::default()
            },
            Some("ping"),
            Some(serde_json::json!({"x": true})),
            None,
        )
        .await
        .unwrap();
    let list = |router: axum::Router| async move {
        call(
            &router,
            request("GET", "/admin/api/schedulers?queue=bull%3Aemails")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .1
    };
    let listed = list(router.clone()).await;
    assert_eq!(listed["total"], 2, "{listed}");
    let find = |listed: &Value, id: &str| {
        listed["schedulers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("{id} listed: {listed}"))
    };
    let nightly = find(&listed, "nightly");
    assert!(
        nightly["next"].as_u64().unwrap() > server::clock::now_ms(),
        "{nightly}"
    );
    assert_eq!(nightly["late"], false);
    assert_eq!(nightly["data"]["k"], 1);
    assert_eq!(find(&listed, "every5")["every"], 5000);

    for (body, field) in [
        (r#"{"pattern": "every day at noon"}"#, "pattern"),
        (r#"{"pattern": "0 * * * *", "tz": "Mars/Olympus"}"#, "tz"),
        (r#"{"pattern": "0 * * * *", "every": 60000}"#, "every"),
        (r#"{"every": 10}"#, "every"),
        (r#"{"every": 60000, "tz": "UTC"}"#, "tz"),
        (r#"{"every": 60000, "data": [1]}"#, "data"),
        (r#"{"every": 60000, "limit": 0}"#, "limit"),
        (r#"{}"#, "pattern"),
        (r#"{"every": 60000, "color": "blue"}"#, "body"),
    ] {
        let (status, answer) = call(
            &router,
            send("PUT", format!("/admin/api/schedulers/bad?{on}"), body),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert_eq!(answer["field"], field, "{body}: {answer}");
    }
    assert!(engine.get_job_scheduler("bad").await.unwrap().is_none());

    // Pause: out of BullMQ with its next job; kept and listed as paused; edits stay paused.
    let next_jobs = |id: &'static str| {
        let mut conn = redis.connection();
        move || -> usize {
            // Its next job: delayed until due, or waiting when due at once (`every`).
            let mut jobs: Vec<String> = redis::cmd("ZRANGE")
                .arg("bull:emails:delayed")
                .arg(0)
                .arg(-1)
                .query(&mut conn)
                .unwrap();
            let waiting: Vec<String> = redis::cmd("LRANGE")
                .arg("bull:emails:wait")
                .arg(0)
                .arg(-1)
                .query(&mut conn)
                .unwrap();
            jobs.extend(waiting);
            jobs.iter()
                .filter(|job| job.starts_with(&format!("repeat:{id}:")))
                .count()
        }
    };
    let mut nightly_jobs = next_jobs("nightly");
    assert_eq!(nightly_jobs(), 1, "one next job");
    let (status, answer) = call(
        &router,
        send(
            "POST",
            format!("/admin/api/schedulers/nightly/pause?{on}"),
            "",
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["changed"], true);
    assert!(engine.get_job_scheduler("nightly").await.unwrap().is_none());
    assert_eq!(nightly_jobs(), 0, "its next job went with it");
    let (status, _) = call(
        &router,
        send(
            "PUT",
            format!("/admin/api/schedulers/nightly?{on}"),
            r#"{"pattern": "0 30 4 * * *", "tz": "Europe/Paris", "name": "report"}"#,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let paused = find(&list(router.clone()).await, "nightly");
    assert_eq!(paused["paused"], true, "{paused}");
    assert_eq!(paused["pattern"], "0 30 4 * * *", "{paused}");
    assert!(engine.get_job_scheduler("nightly").await.unwrap().is_none());
    let (status, answer) = call(
        &router,
        send(
            "POST",
            format!("/admin/api/schedulers/nightly/resume?{on}"),
            "",
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let back = engine
        .get_job_scheduler("nightly")
        .await
        .unwrap()
        .expect("back in BullMQ");
    assert_eq!(back.pattern.as_deref(), Some("0 30 4 * * *"));
    assert_eq!(nightly_jobs(), 1);

    // Run now: one job from the template, the schedule unchanged.
    let (status, answer) = call(
        &router,
        send("POST", format!("/admin/api/schedulers/every5/run?{on}"), ""),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let job = engine
        .get_job(answer["job"].as_str().unwrap())
        .await
        .unwrap()
        .expect("the job");
    assert_eq!(job.name(), "ping");
    assert_eq!(next_jobs("every5")(), 1);

    // A scheduler's jobs (ids `repeat:<scheduler>:<ms>`) are listed and shown like any other.
    let (_, delayed) = call(
        &router,
        request("GET", &format!("/admin/api/jobs?{on}&state=delayed"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    let scheduled = delayed["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|j| {
            j["id"]
                .as_str()
                .filter(|id| id.starts_with("repeat:nightly:"))
                .map(str::to_owned)
        })
        .unwrap_or_else(|| panic!("the scheduler's next job is listed: {delayed}"));
    assert_eq!(
        delayed["total"],
        delayed["jobs"].as_array().unwrap().len(),
        "{delayed}"
    );
    let (status, shown) = call(
        &router,
        request("GET", &format!("/admin/api/jobs/{scheduled}?{on}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    assert_eq!(shown["name"], "report", "{shown}");
    // No job is added with such an id (nor with any ':').
    let (status, refused) = call(
        &router,
        request("POST", "/tasks/enqueue?seconds=1")
            .header("content-type", JSON)
            .body(json(r#"{"jobId": "repeat:nightly:1"}"#))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");

    // Late: its next run is further in the past than its period (nobody took it).
    let mut conn = redis.connection();
    let _: () = redis::cmd("ZADD")
        .arg("bull:emails:repeat")
        .arg(server::clock::now_ms() - 20_000)
        .arg("every5")
        .query(&mut conn)
        .unwrap();
    assert_eq!(find(&list(router.clone()).await, "every5")["late"], true);

    let (status, _) = call(
        &router,
        send("DELETE", format!("/admin/api/schedulers/every5?{on}"), ""),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, answer) = call(
        &router,
        send("DELETE", format!("/admin/api/schedulers/every5?{on}"), ""),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    assert_eq!(answer["field"], "id");
    assert!(engine.get_job_scheduler("every5").await.unwrap().is_none());

    // A hundred concurrent upserts of one scheduler.
    let upserts = (0..100).map(|n| {
        let router = router.clone();
        let body = format!(r#"{{"every": 60000, "data": {{"n": {n}}}}}"#);
        async move {
            call(
                &router,
                request("PUT", "/admin/api/schedulers/race?queue=bull%3Aemails")
                    .header("content-type", JSON)
                    .body(Body::from(body))
                    .unwrap(),
            )
            .await
            .0
        }
    });
    let statuses = futures::future::join_all(upserts).await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    let schedulers: Vec<String> = redis::cmd("ZRANGE")
        .arg("bull:emails:repeat")
        .arg(0)
        .arg(-1)
        .query(&mut conn)
        .unwrap();
    assert_eq!(
        schedulers.iter().filter(|s| *s == "race").count(),
        1,
        "{schedulers:?}"
    );
    assert_eq!(next_jobs("race")(), 1, "one next job");

    let (_, audit) = call(
        &router,
        request("GET", "/admin/api/audit?action=scheduler%3Apause")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(
        audit["entries"][0]["target"], "bull:emails nightly",
        "{audit}"
    );
    shutdown.cancel();
}

/// The codes of a job's "why" answer, in order.
/// A worker of the `bullmq` crate on queue `bull:<name>`: a job with `"fail": true` fails
/// ("card declined"), one with `"hold": true` runs until `held` is notified, others complete.
async fn fail_or_hold_worker(
    redis: &RedisServer,
    name: &str,
    concurrency: usize,
    held: Arc<tokio::sync::Notify>,
) -> bullmq::Worker {
    let worker_opts = bullmq::WorkerOptions::default()
        .connection(bullmq::options::RedisConnectionOptions::new().url(redis.url()))
        .prefix("bull")
        .concurrency(concurrency);
    bullmq::Worker::with_options(
        name,
        move |job: bullmq::Job, _token| {
            let held = held.clone();
            async move {
                if job.data()["fail"] == true {
                    return Err(bullmq::Error::ProcessingError("card declined".into()));
                }
                if job.data()["hold"] == true {
                    held.notified().await;
                }
                Ok(serde_json::Value::Null)
            }
        },
        worker_opts,
    )
    .await
    .unwrap()
}

async fn why_codes(router: &axum::Router, id: &str, queue: &str) -> Vec<String> {
    let (status, report) = call(
        router,
        request("GET", &format!("/admin/api/jobs/{id}/why?queue={queue}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    report["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert!(!r["message"].as_str().unwrap().is_empty(), "{report}");
            r["code"].as_str().unwrap().to_string()
        })
        .collect()
}

/// "Why isn't this job running?", one situation at a time, on a queue another program fills
/// and a BullMQ worker of the engine serves: no worker, jobs ahead, delayed, queue paused,
/// rate-limited, finished (failed, with its reason), running, the global concurrency reached;
/// and on Sentinel's own queue, a job name no processor takes.
#[tokio::test]
async fn why_a_job_is_not_running_is_answered_per_situation() {
    let redis = RedisServer::start().await;
    let (router, _state, shutdown) = router(&redis, &[]).await;
    let opts = bullmq::QueueOptions::new()
        .connection(bullmq::options::RedisConnectionOptions::new().url(redis.url()))
        .prefix("bull".to_string());
    let engine = bullmq::Queue::with_options("why", opts).await.unwrap();
    let add = |data: serde_json::Value| {
        let engine = &engine;
        async move {
            engine
                .add("work", data)
                .into_future()
                .await
                .unwrap()
                .id()
                .to_string()
        }
    };
    let q = "bull%3Awhy";
    let fail = add(serde_json::json!({"fail": true})).await;
    let hold = add(serde_json::json!({"hold": true})).await;
    assert_eq!(why_codes(&router, &fail, q).await, ["no-worker"]);
    assert_eq!(
        why_codes(&router, &hold, q).await,
        ["no-worker", "jobs-ahead"]
    );
    let later = engine
        .add("work", serde_json::json!({}))
        .delay(Duration::from_secs(3600))
        .into_future()
        .await
        .unwrap()
        .id()
        .to_string();
    assert_eq!(why_codes(&router, &later, q).await[0], "delayed");
    engine.pause().await.unwrap();
    assert_eq!(why_codes(&router, &fail, q).await[0], "queue-paused");
    engine.resume().await.unwrap();
    engine.rate_limit(60_000).await.unwrap();
    assert!(
        why_codes(&router, &fail, q)
            .await
            .contains(&"rate-limited".to_string())
    );
    engine.remove_rate_limit_key().await.unwrap();
    let (status, _) = call(
        &router,
        request("GET", &format!("/admin/api/jobs/nope/why?queue={q}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A worker of the engine: the first job fails, the second is held while it runs.
    let release = Arc::new(tokio::sync::Notify::new());
    let held = release.clone();
    let worker = fail_or_hold_worker(&redis, "why", 1, held).await;
    let state = |id: String| {
        let engine = &engine;
        async move { format!("{:?}", engine.get_job_state(&id).await.unwrap()).to_lowercase() }
    };
    eventually(Duration::from_secs(10), "the held job to run", || {
        let (fail, hold) = (fail.clone(), hold.clone());
        async move {
            (state(fail).await == "failed" && state(hold).await == "active").then_some(())
        }
    })
    .await;
    assert_eq!(why_codes(&router, &fail, q).await, ["finished"]);
    let (_, report) = call(
        &router,
        request("GET", &format!("/admin/api/jobs/{fail}/why?queue={q}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert!(
        report["reasons"][0]["message"]
            .as_str()
            .unwrap()
            .contains("card declined"),
        "{report}"
    );
    assert_eq!(why_codes(&router, &hold, q).await, ["running"]);
    engine.set_global_concurrency(1).await.unwrap();
    let next = add(serde_json::json!({})).await;
    let codes = why_codes(&router, &next, q).await;
    assert!(
        codes.contains(&"concurrency-reached".to_string()),
        "{codes:?}"
    );
    assert!(!codes.contains(&"no-worker".to_string()), "{codes:?}");
    release.notify_one();
    let _ = worker.close(2000).await;

    // Sentinel's own queue: a job name no processor of Sentinel's takes.
    let home = bullmq::Queue::with_options(
        "sentinel-tasks",
        bullmq::QueueOptions::new()
            .connection(bullmq::options::RedisConnectionOptions::new().url(redis.url()))
            .prefix("sentinel".to_string()),
    )
    .await
    .unwrap();
    let email = home
        .add("sendEmail", serde_json::json!({}))
        .into_future()
        .await
        .unwrap()
        .id()
        .to_string();
    let codes = why_codes(&router, &email, "sentinel%3Asentinel-tasks").await;
    assert!(codes.contains(&"no-processor".to_string()), "{codes:?}");
    shutdown.cancel();
}

/// A re-read of the tokens file is on the audit log as Sentinel's own action, with the number
/// of tokens; a broken file as a refusal.
#[tokio::test]
async fn token_file_reloads_are_on_record() {
    let redis = RedisServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (router, tokens, shutdown) = guarded_router(&redis, dir.path()).await;
    let boss = tokens
        .iter()
        .find(|(n, _)| n == "boss")
        .map(|(_, t)| t.clone())
        .unwrap();
    let (_, line) =
        server::auth::tokens::create("late", "viewer".parse().unwrap()).expect("a token");
    let file = dir.path().join("tokens");
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str(&line);
    text.push('\n');
    std::fs::write(&file, &text).unwrap();
    let entry = eventually(Duration::from_secs(10), "the reload on record", || {
        let router = router.clone();
        let request = request("GET", "/admin/api/audit?action=tokens%3Areload")
            .header("authorization", format!("Bearer {boss}"))
            .body(Body::empty())
            .unwrap();
        async move {
            let (_, page) = call(&router, request).await;
            page["entries"].as_array()?.first().cloned()
        }
    })
    .await;
    assert_eq!(entry["who"], "system", "{entry}");
    assert_eq!(entry["count"], 5, "{entry}");
    assert_eq!(entry["via"], "system", "{entry}");
    shutdown.cancel();
}

/// A processor of the test's own: doubles `w`, reporting its progress on the way.
struct Resize;

impl server::worker::processors::Processor for Resize {
    fn run(
        &self,
        job: server::worker::processors::JobInput,
    ) -> server::worker::processors::Attempt {
        Box::pin(async move {
            let Some(w) = job.data["w"].as_u64() else {
                return Err(bullmq::Error::Unrecoverable("w must be a number".into()));
            };
            job.progress
                .write(&serde_json::json!({"step": "scaling"}), "scaling")
                .await
                .map_err(|e| bullmq::Error::ProcessingError(e.to_string()))?;
            Ok(serde_json::json!({ "job": job.id, "name": job.name, "w": w * 2 }))
        })
    }
}

/// `SENTINEL_QUEUES`: one process's workers run two queues with one processor registry keyed
/// by job name. The built-in `longTask` and the test's `resize` run on either queue; a name with
/// no processor fails at once with the reason naming the names there are; a queue not named is
/// left alone; "why isn't it running" knows the registry on every queue the workers run.
#[tokio::test]
async fn workers_run_several_queues_by_job_name() {
    let redis = RedisServer::start().await;
    let processors = server::worker::processors::Processors::builtin(
        &Config::try_parse_from(["server", "--task-tick-ms=10"]).unwrap(),
    )
    .register("resize", Resize);
    let (router, state, shutdown) = router_running(
        &redis,
        &[
            "--role=all",
            "--task-tick-ms=10",
            "--queues=sentinel-tasks, images,images",
        ],
        Some(processors),
    )
    .await;
    assert_eq!(
        state.config.worker_queues(),
        ["sentinel-tasks", "images"],
        "trimmed, each once"
    );
    let engine = |name: &'static str| {
        let opts = bullmq::QueueOptions::new()
            .connection(bullmq::options::RedisConnectionOptions::new().url(redis.url()))
            .prefix("sentinel".to_string());
        bullmq::Queue::with_options(name, opts)
    };
    let images = engine("images").await.unwrap();
    let home = engine("sentinel-tasks").await.unwrap();
    let other = engine("elsewhere").await.unwrap();
    let add = |queue: &bullmq::Queue, name: &'static str, data: Value| {
        let queue = queue.clone();
        async move {
            queue
                .add(name, data)
                .into_future()
                .await
                .unwrap()
                .id()
                .to_string()
        }
    };
    let resized = add(&images, "resize", serde_json::json!({"w": 21})).await;
    let long = add(&images, "longTask", serde_json::json!({"seconds": 1})).await;
    let unknown = add(&images, "crop", serde_json::json!({})).await;
    let bad = add(&images, "resize", serde_json::json!({"w": "wide"})).await;
    let home_resize = add(&home, "resize", serde_json::json!({"w": 1})).await;
    let untouched = add(&other, "resize", serde_json::json!({"w": 1})).await;

    let finished = |queue: bullmq::Queue, id: String| async move {
        eventually(Duration::from_secs(20), "the job to finish", move || {
            let queue = queue.clone();
            let id = id.clone();
            async move {
                let job = queue.get_job(&id).await.ok().flatten()?;
                (job.finished_on().is_some()).then_some(job)
            }
        })
        .await
    };
    let job = finished(images.clone(), resized.clone()).await;
    let returned =
        |job: &bullmq::Job| -> Value { serde_json::from_str(job.returnvalue()).unwrap() };
    assert_eq!(
        returned(&job),
        serde_json::json!({"job": resized, "name": "resize", "w": 42})
    );
    assert!(
        matches!(job.progress(), bullmq::types::JobProgress::Object(p) if p == &serde_json::json!({"step": "scaling"})),
        "its progress written as BullMQ's updateProgress writes it: {:?}",
        job.progress()
    );
    let job = finished(images.clone(), long.clone()).await;
    assert_eq!(returned(&job)["message"], format!("Tâche {long} terminée"));
    let job = finished(images.clone(), unknown.clone()).await;
    assert_eq!(
        job.failed_reason(),
        r#"no processor for job name "crop" (this worker runs "longTask", "resize" jobs)"#
    );
    assert_eq!(job.attempts_made(), 1);
    let job = finished(images.clone(), bad).await;
    assert_eq!(job.failed_reason(), "w must be a number");
    let job = finished(home.clone(), home_resize).await;
    assert_eq!(returned(&job)["w"], 2);
    // A queue the workers are not told of keeps its job waiting, and "why" says no worker.
    assert_eq!(bullmq_state(&other, &untouched).await, "waiting");
    assert_eq!(
        why_codes(&router, &untouched, "sentinel%3Aelsewhere").await,
        ["no-worker"]
    );

    // "Why": on a queue the workers run, a name with no processor says so; a known name not.
    images.pause().await.unwrap();
    let waiting_crop = add(&images, "crop", serde_json::json!({})).await;
    let waiting_resize = add(&images, "resize", serde_json::json!({"w": 1})).await;
    let codes = why_codes(&router, &waiting_crop, "sentinel%3Aimages").await;
    assert!(codes.contains(&"no-processor".to_string()), "{codes:?}");
    let codes = why_codes(&router, &waiting_resize, "sentinel%3Aimages").await;
    assert!(!codes.contains(&"no-processor".to_string()), "{codes:?}");

    shutdown.cancel();
    let handed_back = state
        .services()
        .unwrap()
        .worker
        .as_ref()
        .unwrap()
        .shutdown(Duration::from_secs(1))
        .await;
    assert_eq!(handed_back, 0);
}

/// The calls of `command` Redis counted since its statistics were reset (scripts' included).
fn command_calls(conn: &mut redis::Connection, command: &str) -> u64 {
    let stats: String = redis::cmd("INFO").arg("commandstats").query(conn).unwrap();
    stats
        .lines()
        .find_map(|line| line.strip_prefix(&format!("cmdstat_{command}:calls=")))
        .and_then(|rest| rest.split(',').next())
        .map_or(0, |n| n.parse().unwrap())
}

/// The queues list is paged and filtered on the server, and a page costs Redis one command per
/// queue shown (its last event) plus one `CLIENT LIST` while nothing moves; a queue whose
/// events moved is read again in full, and shows the change.
#[tokio::test]
async fn the_queues_list_reads_only_its_page_and_only_what_moved() {
    let redis = RedisServer::start().await;
    let (router, state, shutdown) = router(&redis, &["--discover-prefixes=bull"]).await;
    let opts = || {
        bullmq::QueueOptions::new()
            .connection(bullmq::options::RedisConnectionOptions::new().url(redis.url()))
            .prefix("bull".to_string())
    };
    let mut engines = Vec::new();
    for n in 0..30 {
        let engine = bullmq::Queue::with_options(&format!("q{n:02}"), opts())
            .await
            .unwrap();
        engine
            .add("work", serde_json::json!({}))
            .into_future()
            .await
            .unwrap();
        engines.push(engine);
    }
    let list = |query: &str| {
        let router = router.clone();
        let path = format!("/admin/api/queues?{query}");
        async move { call(&router, request("GET", &path).body(Body::empty()).unwrap()).await }
    };
    let names = |page: &Value| -> Vec<String> {
        page["queues"]
            .as_array()
            .unwrap()
            .iter()
            .map(|q| q["name"].as_str().unwrap().to_string())
            .collect()
    };
    let (status, page) = list("rescan=true&limit=10").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(
        (page["total"].as_u64(), page["offset"].as_u64()),
        (Some(30), Some(0))
    );
    assert_eq!(
        names(&page),
        (0..10).map(|n| format!("q{n:02}")).collect::<Vec<_>>()
    );
    let (_, page) = list("offset=25&limit=10").await;
    assert_eq!(names(&page), ["q25", "q26", "q27", "q28", "q29"]);
    let (_, page) = list("filter=Q2").await;
    assert_eq!(page["total"], 10, "{page}");
    assert!(names(&page).iter().all(|n| n.starts_with("q2")));
    let (_, page) = list("").await;
    assert_eq!(names(&page).len(), 30, "50 a page by default");
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=ten", "limit"),
        ("offset=-1", "offset"),
        ("offset=1000001", "offset"),
        (&*format!("filter={}", "x".repeat(201)), "filter"),
        ("filter=%07", "filter"),
        ("rescan=maybe", "rescan"),
    ] {
        let (status, body) = list(query).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(body["field"], field, "{query}: {body}");
    }

    // Nothing moved: one XREVRANGE per queue of the page and one CLIENT LIST, nothing else
    // about the queues.
    let mut conn = redis.connection();
    state.queues.clear().await;
    let _: () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query(&mut conn)
        .unwrap();
    let (_, page) = list("limit=10").await;
    assert_eq!(page["queues"][0]["counts"]["waiting"], 1);
    assert_eq!(command_calls(&mut conn, "xrevrange"), 10);
    assert_eq!(command_calls(&mut conn, "client|list"), 1);
    for read in ["llen", "zcard", "zcount", "lindex", "hexists", "scan"] {
        assert_eq!(command_calls(&mut conn, read), 0, "{read}");
    }

    // One queue moves (another program adds a job): that one is read in full, and shows it.
    engines[3]
        .add("work", serde_json::json!({}))
        .into_future()
        .await
        .unwrap();
    state.queues.clear().await;
    let _: () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query(&mut conn)
        .unwrap();
    let (_, page) = list("limit=10").await;
    assert_eq!(page["queues"][3]["counts"]["waiting"], 2, "{page}");
    assert_eq!(page["queues"][2]["counts"]["waiting"], 1, "{page}");
    assert_eq!(
        command_calls(&mut conn, "zcount"),
        2,
        "one queue read in full"
    );
    shutdown.cancel();
}

/// Each alert condition read from a real Redis holds in its situation and not otherwise: no
/// worker, the oldest waiting job's age, failures in the last minute, a job active too long, a
/// `stalled` event, Redis's eviction policy. `now` is moved forward where time must pass.
#[tokio::test]
async fn each_alert_condition_holds_in_its_situation_and_not_otherwise() {
    use server::service::alerts::{check::check, rules};
    let redis = RedisServer::start().await;
    let (_router, state, shutdown) = router(&redis, &[]).await;
    let file = rules::parse(
        r#"
[[rules]]
name = "no-worker"
when = "no_worker"
queue = "bull:watched"
[[rules]]
name = "old"
when = "oldest_waiting"
seconds = 60
queue = "bull:watched"
[[rules]]
name = "failing"
when = "failures"
per_minute = 1
queue = "bull:watched"
[[rules]]
name = "failing-share"
when = "failures"
percent = 50
queue = "bull:watched"
[[rules]]
name = "stuck"
when = "stuck"
seconds = 60
queue = "bull:watched"
[[rules]]
name = "stalled"
when = "stalled"
seconds = 60
queue = "bull:watched"
[[rules]]
name = "redis"
when = "redis"
"#,
        false,
    )
    .expect("a valid file");
    let rule = |name: &str| file.rules.iter().find(|r| r.name == name).unwrap().clone();
    let seen = |name: &'static str, ahead_ms: u64| {
        let state = state.clone();
        let rule = rule(name);
        async move {
            check(&state, &rule, server::clock::now_ms() + ahead_ms)
                .await
                .expect("checked")
        }
    };
    // No queue yet: nothing holds, and the detail says why.
    let none = seen("no-worker", 0).await;
    assert!(
        !none.holds && none.detail.contains("no BullMQ queue"),
        "{none:?}"
    );

    let opts = bullmq::QueueOptions::new()
        .connection(bullmq::options::RedisConnectionOptions::new().url(redis.url()))
        .prefix("bull".to_string());
    let engine = bullmq::Queue::with_options("watched", opts).await.unwrap();
    let add = |data: serde_json::Value| {
        let engine = &engine;
        async move {
            engine
                .add("work", data)
                .into_future()
                .await
                .unwrap()
                .id()
                .to_string()
        }
    };
    let hold = add(serde_json::json!({"hold": true})).await;
    let no_worker = seen("no-worker", 0).await;
    assert!(no_worker.holds, "{no_worker:?}");
    assert!(!seen("old", 0).await.holds);
    let old = seen("old", 120_000).await;
    assert!(
        old.holds && old.detail.contains("has waited 2 min"),
        "{old:?}"
    );

    // Redis: noeviction, then not.
    assert!(!seen("redis", 0).await.holds);
    let mut conn = redis.connection();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory-policy")
        .arg("allkeys-lru")
        .query(&mut conn)
        .unwrap();
    let evicting = seen("redis", 0).await;
    assert!(
        evicting.holds && evicting.detail.contains("allkeys-lru"),
        "{evicting:?}"
    );
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory-policy")
        .arg("noeviction")
        .query(&mut conn)
        .unwrap();

    // A worker: two jobs fail, the held one runs.
    let fail_one = add(serde_json::json!({"fail": true})).await;
    let fail_two = add(serde_json::json!({"fail": true})).await;
    let release = Arc::new(tokio::sync::Notify::new());
    let held = release.clone();
    let worker = fail_or_hold_worker(&redis, "watched", 3, held).await;
    let job_state = |id: String| {
        let engine = &engine;
        async move { format!("{:?}", engine.get_job_state(&id).await.unwrap()).to_lowercase() }
    };
    eventually(Duration::from_secs(10), "two failed, one running", || {
        let (a, b, h) = (fail_one.clone(), fail_two.clone(), hold.clone());
        async move {
            (job_state(a).await == "failed"
                && job_state(b).await == "failed"
                && job_state(h).await == "active")
                .then_some(())
        }
    })
    .await;
    let attached = seen("no-worker", 0).await;
    assert!(!attached.holds, "{attached:?}");
    let failing = seen("failing", 0).await;
    assert!(
        failing.holds && failing.detail.starts_with("2 of 2 jobs"),
        "{failing:?}"
    );
    assert!(seen("failing-share", 0).await.holds);
    // Ten minutes on, those failures are out of the minute.
    assert!(!seen("failing", 600_000).await.holds);
    assert!(!seen("failing-share", 600_000).await.holds);
    // The held job: running for seconds now, stuck two minutes on.
    assert!(!seen("stuck", 0).await.holds);
    let stuck = seen("stuck", 120_000).await;
    assert!(
        stuck.holds && stuck.detail.contains(&format!("job {hold} ")),
        "{stuck:?}"
    );

    // A `stalled` event, as BullMQ's stalled-jobs check writes it.
    assert!(!seen("stalled", 0).await.holds);
    let _: String = redis::cmd("XADD")
        .arg("bull:watched:events")
        .arg("*")
        .arg("event")
        .arg("stalled")
        .arg("jobId")
        .arg(&hold)
        .query(&mut conn)
        .unwrap();
    let stalled = seen("stalled", 0).await;
    assert!(
        stalled.holds && stalled.detail.contains(&format!("job {hold} ")),
        "{stalled:?}"
    );
    assert!(!seen("stalled", 600_000).await.holds);

    release.notify_waiters();
    drop(worker);
    shutdown.cancel();
}

/// What the alerts page reads back from Redis is not trusted: a rule state that is not JSON,
/// is oversized or has fields of the wrong type reads as at rest, a long detail is cut, and a
/// delivery entry that is not ours is skipped, a long outcome cut.
#[tokio::test]
async fn the_alerts_report_survives_foreign_values_in_its_keys() {
    let redis = RedisServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("alerts.toml");
    std::fs::write(&file, "[[rules]]\nname = \"r\"\nwhen = \"redis\"\n").unwrap();
    let flag = format!("--alerts-file={}", file.display());
    let (router, state, shutdown) = router(&redis, &[&flag]).await;
    state.alerts.load().expect("the file reads");
    let mut conn = redis.connection();
    let report = || async {
        let (status, body) = call(
            &router,
            request("GET", "/admin/api/alerts")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    };
    let key = "sentinel:sentinel-tasks:alerts:state";
    let oversized = format!(r#"{{"firing": 5, "detail": "{}"}}"#, "x".repeat(100_000));
    for value in [
        "{not json",
        r#"{"firing": "soon"}"#,
        r#"{"firing": -3}"#,
        oversized.as_str(),
    ] {
        let _: () = redis::cmd("HSET")
            .arg(key)
            .arg("r")
            .arg(value)
            .query(&mut conn)
            .unwrap();
        let body = report().await;
        assert_eq!(body["rules"][0]["status"], "ok", "{value:.40}: {body}");
    }
    let long = format!(
        r#"{{"firing": 1700000000000, "detail": "{}"}}"#,
        "d".repeat(3000)
    );
    let _: () = redis::cmd("HSET")
        .arg(key)
        .arg("r")
        .arg(&long)
        .query(&mut conn)
        .unwrap();
    let body = report().await;
    assert_eq!(body["rules"][0]["status"], "firing", "{body}");
    assert_eq!(body["rules"][0]["detail"].as_str().unwrap().len(), 1024);

    let log = "sentinel:sentinel-tasks:alerts:log";
    let add = |fields: &[(&str, &str)]| {
        let mut cmd = redis::cmd("XADD");
        cmd.arg(log).arg("*");
        for (k, v) in fields {
            cmd.arg(*k).arg(*v);
        }
        let _: String = cmd.query(&mut redis.connection()).unwrap();
    };
    add(&[("rule", "r")]);
    add(&[
        ("rule", "r"),
        ("kind", "firing"),
        ("target", "t"),
        ("attempt", "many"),
        ("outcome", "sent"),
    ]);
    let huge = "y".repeat(100_000);
    add(&[
        ("rule", "r"),
        ("kind", "firing"),
        ("target", "t"),
        ("attempt", "1"),
        ("outcome", &huge),
    ]);
    let body = report().await;
    let deliveries = body["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 1, "{body:.400}");
    assert_eq!(deliveries[0]["outcome"].as_str().unwrap().len(), 1024);
    shutdown.cancel();
}
