//! The OpenAPI document names each route's refusals.

use super::harness::*;

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
        ["200", "400", "401", "403", "404", "415", "429", "503"]
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

/// The error body the document describes is the one every refusal carries: each `AppError`
/// kind's body is an `ErrorBody` (no field outside it), and the document's `ErrorBody` lists
/// exactly its fields.
#[tokio::test]
async fn the_documented_error_body_is_the_one_every_refusal_carries() {
    use server::error::AppError;
    let doc = serde_json::to_value(<server::http::openapi::ApiDoc as utoipa::OpenApi>::openapi())
        .unwrap();
    let documented: std::collections::BTreeSet<String> = doc["components"]["schemas"]["ErrorBody"]
        ["properties"]
        .as_object()
        .expect("ErrorBody is described")
        .keys()
        .cloned()
        .collect();
    let id_error = app::JobId::parse("a:b").unwrap_err();
    let kinds = vec![
        AppError::InvalidBody("x".into()),
        AppError::param("seconds", "x"),
        AppError::InvalidHeader {
            name: "Idempotency-Key",
            reason: "x".into(),
        },
        AppError::InvalidId {
            id: "a:b".into(),
            source: id_error,
        },
        AppError::InvalidLastEventId("x".into()),
        AppError::NotFound { id: "1".into() },
        AppError::NoQueue {
            queue: "bull:x".into(),
        },
        AppError::NoScheduler { id: "s".into() },
        AppError::NoRule { name: "r".into() },
        AppError::NotFiring { name: "r".into() },
        AppError::NoRoute,
        AppError::Conflict {
            state: app::JobState::Active,
            message: "x".into(),
        },
        AppError::BodyTooLarge {
            limit: 16,
            setting: "MAX_BODY_BYTES",
        },
        AppError::BodyTimeout(Duration::from_secs(1)),
        AppError::RequestTimeout(Duration::from_secs(1)),
        AppError::TooManyConnections,
        AppError::TooManyStreams,
        AppError::TooManyStreamsFromClient,
        AppError::Unauthorized,
        AppError::Forbidden,
        AppError::CrossSite,
        AppError::MisdirectedHost,
        AppError::TooManyBulkRuns(4),
        AppError::UnsupportedMediaType,
        AppError::RateLimited {
            limit: "SENTINEL_RATE_ACTIONS_PER_MINUTE",
            per_minute: 1,
            retry_after: 3,
        },
        AppError::RedisFull { used: 2, limit: 1 },
        AppError::TooManyPending { max: 1 },
        AppError::NotConnected,
        AppError::QueueDown { since_ms: 1 },
    ];
    for kind in kinds {
        let status = kind.status();
        let body = serde_json::to_value(kind.body()).unwrap();
        for key in body.as_object().unwrap().keys() {
            assert!(
                documented.contains(key),
                "{status}: {key} is not documented: {body}"
            );
        }
        assert!(body["error"].is_string(), "{body}");
        if status.is_client_error() && status.as_u16() != 401 && status.as_u16() != 403 {
            assert!(
                ["field", "limit", "id", "state"]
                    .iter()
                    .any(|named| body.get(*named).is_some())
                    || body["error"] == "not_found",
                "a 4xx names what was wrong: {body}"
            );
        }
    }
    let fields: std::collections::BTreeSet<String> = [
        "error", "field", "limit", "max", "message", "state", "id", "queue", "since",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(documented, fields);
}
