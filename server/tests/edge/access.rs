//! Who gets in: foreign hosts, cross-site cookie requests, sign-in and sign-out.

use super::harness::*;

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
        request("POST", "/api/admin/queue")
            .header("authorization", format!("Bearer {}", token("viewer")))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(json("action=pause"))
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

/// Moved from the cross-process suite (`tests/access.rs`): sign-in (a wrong token waits and is
/// logged without the token; a malformed form is a 400), the session cookie's flags, the
/// cross-site and content-type rules for cookie requests, the page's own form post, a bearer
/// token exempt from them, and sign-out.
#[tokio::test]
async fn cookie_requests_from_other_sites_are_refused_and_sign_in_works() {
    let (logs, _guard) = crate::common::capture_logs();
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

/// Refusals cannot flood the log: a thousand cross-site requests and a thousand requests for a
/// foreign host are each one warning line (with the count of those not logged in the next).
#[tokio::test]
async fn floods_of_refused_requests_are_one_log_line_each() {
    let (logs, _guard) = crate::common::capture_logs();
    let redis = RedisServer::start().await;
    let (router, _state, shutdown) = router(&redis, &[]).await;
    for _ in 0..1000 {
        let (status, _) = call_head(
            &router,
            request("POST", "/admin/api/queue/pause")
                .header("cookie", "sentinel_session=whatever")
                .header("sec-fetch-site", "cross-site")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _) = call_head(
            &router,
            Request::builder()
                .uri("/tasks/counts")
                .header("host", "evil.example")
                .extension(ConnectInfo(
                    "127.0.0.1:40000".parse::<SocketAddr>().unwrap(),
                ))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::MISDIRECTED_REQUEST);
    }
    let text = logs.text();
    assert_eq!(
        text.matches("refused a cross-site request").count(),
        1,
        "{text}"
    );
    assert_eq!(
        text.matches("refused a request for a host").count(),
        1,
        "{text}"
    );
    // The queue still answers.
    let (status, _) = call(
        &router,
        request("GET", "/tasks/counts").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    shutdown.cancel();
}
