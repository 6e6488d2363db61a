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
