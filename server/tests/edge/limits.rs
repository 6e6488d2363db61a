//! The edge's limits and headers: body size before a handler reads, time, security headers,
//! compression.

use super::harness::*;

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
        // A page gets a nonce for its inline script; an API answer may load and run nothing.
        if path == "/tasks/counts" {
            assert_eq!(csp, "default-src 'none'; frame-ancestors 'none'", "{path}");
        } else {
            assert!(csp.contains("script-src 'self' 'nonce-"), "{path}: {csp}");
        }
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
