//! Each role against every route and server function, over HTTP: the one role table
//! (`service/policy.rs`) decides, whichever edge a call comes through.

use super::harness::*;

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

/// Who may call a route or a server function: what the policy table says of its operation,
/// or, for the few that are no operation, who the edge lets through.
#[derive(Debug, Clone, Copy)]
enum Gate {
    /// An operation of the service: its rule decides.
    Op(server::service::Op),
    /// Anyone who can reach the server.
    Open,
    /// Anyone signed in.
    SignedIn,
}

/// Every REST route and every server function, each with its gate and a request a caller who
/// may would have answered (never 401 or 403). A route or function missing here fails the
/// test: the table is complete by construction.
fn routes() -> Vec<(&'static str, String, &'static str, Gate)> {
    use server::service::Op::*;
    fn api(
        endpoint: &str,
        form: &'static str,
        gate: Gate,
    ) -> (&'static str, String, &'static str, Gate) {
        ("POST", format!("/api/{endpoint}"), form, gate)
    }
    fn rest(
        method: &'static str,
        path: &str,
        body: &'static str,
        gate: Gate,
    ) -> (&'static str, String, &'static str, Gate) {
        (method, path.to_string(), body, gate)
    }
    vec![
        rest(
            "POST",
            "/tasks/enqueue",
            r#"{"seconds":1}"#,
            Gate::Op(Enqueue),
        ),
        rest("GET", "/tasks/status/{id}", "", Gate::Op(TaskStatus)),
        rest("POST", "/tasks/{id}/retry", "", Gate::Op(RetryTask)),
        rest("GET", "/tasks/counts", "", Gate::Op(TaskCounts)),
        rest("GET", "/healthz", "", Gate::Open),
        rest("GET", "/readyz", "", Gate::Open),
        rest("GET", "/whoami", "", Gate::SignedIn),
        rest("GET", "/admin/api/jobs", "", Gate::Op(ReadJobs)),
        rest(
            "POST",
            "/admin/api/jobs",
            r#"{"name":"longTask","data":{"seconds":1}}"#,
            Gate::Op(AddJob),
        ),
        rest("GET", "/admin/api/search", "", Gate::Op(ReadJobs)),
        rest("GET", "/admin/api/jobs/{id}", "", Gate::Op(ReadJob)),
        rest("GET", "/admin/api/jobs/{id}/why", "", Gate::Op(ReadWhy)),
        rest(
            "POST",
            "/admin/api/jobs/{id}/{action}",
            "",
            Gate::Op(JobAction),
        ),
        rest(
            "PUT",
            "/admin/api/jobs/{id}/data",
            r#"{"seconds":2}"#,
            Gate::Op(EditJob),
        ),
        rest("POST", "/admin/api/queue/pause", "", Gate::Op(PauseQueue)),
        rest("POST", "/admin/api/queue/resume", "", Gate::Op(PauseQueue)),
        rest(
            "POST",
            "/admin/api/queue/clean",
            r#"{"state":"failed","olderThanMs":0,"dryRun":true}"#,
            Gate::Op(CleanQueue),
        ),
        rest("GET", "/admin/api/workers", "", Gate::Op(ReadWorkers)),
        rest("GET", "/admin/api/queues", "", Gate::Op(ListQueues)),
        rest("GET", "/admin/api/audit", "", Gate::Op(ReadAudit)),
        rest("GET", "/admin/api/alerts", "", Gate::Op(ReadAlerts)),
        rest(
            "GET",
            "/admin/api/alerts/firing",
            "",
            Gate::Op(ReadOverview),
        ),
        rest(
            "POST",
            "/admin/api/alerts/{rule}/ack",
            "",
            Gate::Op(AckAlert),
        ),
        rest("GET", "/admin/api/metrics", "", Gate::Op(ReadMetrics)),
        rest("GET", "/admin/api/history", "", Gate::Op(ReadMetrics)),
        rest("GET", "/admin/api/jobs/{id}/flow", "", Gate::Op(ReadJob)),
        rest(
            "POST",
            "/admin/api/jobs/bulk",
            r#"{"action":"remove","ids":["nope"]}"#,
            Gate::Op(Bulk),
        ),
        rest("GET", "/admin/api/bulk/{bulk}", "", Gate::Op(BulkProgress)),
        rest("GET", "/admin/api/schedulers", "", Gate::Op(ListSchedulers)),
        rest(
            "PUT",
            "/admin/api/schedulers/{id}",
            r#"{"every":60000}"#,
            Gate::Op(UpsertScheduler),
        ),
        rest(
            "DELETE",
            "/admin/api/schedulers/{id}",
            "",
            Gate::Op(RemoveScheduler),
        ),
        rest(
            "POST",
            "/admin/api/schedulers/{id}/{action}",
            "",
            Gate::Op(SwitchScheduler),
        ),
        api("admin/access", "", Gate::SignedIn),
        api("admin/overview", "", Gate::Op(ReadOverview)),
        api("admin/history", "range=24h", Gate::Op(ReadMetrics)),
        api("admin/flow", "id=1&page=0", Gate::Op(ReadJob)),
        api(
            "admin/jobs",
            "query[page]=0&query[size]=20",
            Gate::Op(ReadJobs),
        ),
        api(
            "admin/search",
            "query[q]=x&query[size]=20",
            Gate::Op(ReadJobs),
        ),
        api("admin/job", "id=1", Gate::Op(ReadJob)),
        api("admin/act", "id=1&action=retry", Gate::Op(JobAction)),
        api("admin/edit-data", "id=1&data=%7B%7D", Gate::Op(EditJob)),
        api(
            "admin/add-copy",
            "name=longTask&data=%7B%22seconds%22%3A1%7D&opts=",
            Gate::Op(AddJob),
        ),
        api("admin/queue", "action=resume", Gate::Op(PauseQueue)),
        api("admin/bulk", "action=remove&ids=nope", Gate::Op(Bulk)),
        api("admin/bulk-progress", "bulk=x", Gate::Op(BulkProgress)),
        api(
            "admin/clean",
            "state=failed&older_than_minutes=0&dry_run=true",
            Gate::Op(CleanQueue),
        ),
        api("admin/queues", "rescan=false", Gate::Op(ListQueues)),
        api("admin/why", "id=1", Gate::Op(ReadWhy)),
        api("admin/schedulers", "", Gate::Op(ListSchedulers)),
        api(
            "admin/scheduler-save",
            "id=roles&pattern=&every_seconds=60&tz=&name=&data=",
            Gate::Op(UpsertScheduler),
        ),
        api(
            "admin/scheduler-act",
            "id=roles&action=pause",
            Gate::Op(SwitchScheduler),
        ),
        api("admin/firing", "", Gate::Op(ReadOverview)),
        api("admin/ack", "rule=nope", Gate::Op(AckAlert)),
        api("admin/alerts", "", Gate::Op(ReadAlerts)),
        api("admin/audit", "", Gate::Op(ReadAudit)),
        api("enqueue", "seconds=1", Gate::Op(Enqueue)),
        api("statuses", "ids[0]=1", Gate::Op(TaskStatus)),
        api("retry", "id=1", Gate::Op(RetryTask)),
        api("counts", "", Gate::SignedIn),
        api("settings", "", Gate::Open),
        api("home", "", Gate::SignedIn),
        api("listed", "", Gate::Op(MyTasks)),
        api("reachable", "", Gate::SignedIn),
    ]
}

/// Every REST route (the OpenAPI document lists them) and every server function (Leptos's
/// registry lists them) as nobody, a submitter, a viewer, an operator and an admin: each is
/// refused (`401` for nobody, `403` for a role) exactly when the policy table says, whichever
/// edge it came through.
#[tokio::test]
async fn every_route_and_server_function_follows_the_one_role_table() {
    use server::auth::Role;
    let table = routes();
    // Complete: every route of the document and every registered server function is here.
    let doc = serde_json::to_value(<server::http::openapi::ApiDoc as utoipa::OpenApi>::openapi())
        .unwrap();
    let mut listed: std::collections::BTreeSet<(String, String)> =
        std::collections::BTreeSet::new();
    for (path, methods) in doc["paths"].as_object().unwrap() {
        for method in methods.as_object().unwrap().keys() {
            listed.insert((method.to_uppercase(), path.clone()));
        }
    }
    for (path, method) in leptos::server_fn::axum::server_fn_paths() {
        listed.insert((method.as_str().to_string(), path.to_string()));
    }
    let covered: std::collections::BTreeSet<(String, String)> = table
        .iter()
        .map(|(m, p, _, _)| (m.to_string(), p.clone()))
        .collect();
    let functions = listed
        .iter()
        .filter(|(_, p)| p.starts_with("/api/"))
        .count();
    assert!(functions >= 25, "Leptos lists {functions} server functions");
    assert!(listed.len() >= 50, "{listed:?}");
    let missing: Vec<_> = listed.difference(&covered).collect();
    assert!(missing.is_empty(), "routes without a row: {missing:?}");

    let redis = RedisServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (router, tokens, shutdown) = guarded_router(&redis, dir.path()).await;
    let token = |name: &str| {
        tokens
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t.clone())
    };
    let who: [(Option<Role>, Option<String>); 5] = [
        (None, None),
        (Some(Role::Submitter), token("sub")),
        (Some(Role::Viewer), token("view")),
        (Some(Role::Operator), token("op")),
        (Some(Role::Admin), token("boss")),
    ];
    for (method, path, body, gate) in &table {
        let concrete = path
            .replace("{id}", "roles")
            .replace(
                "{action}",
                if path.contains("schedulers") {
                    "pause"
                } else {
                    "retry"
                },
            )
            .replace("{rule}", "nope")
            .replace("{bulk}", "x");
        for (role, bearer) in &who {
            let may = match (gate, role) {
                (Gate::Open, _) => true,
                (_, None) => false,
                (Gate::SignedIn, Some(_)) => true,
                (Gate::Op(op), Some(role)) => {
                    let least = op.rule().need.least_role();
                    let enqueuer =
                        matches!(op.rule().need, server::service::policy::Need::Enqueuer);
                    if enqueuer {
                        *role != Role::Viewer
                    } else {
                        least.is_none_or(|least| *role >= least)
                    }
                }
            };
            let form = concrete.starts_with("/api/");
            let mut builder = request(method, &concrete).header(
                "content-type",
                if form {
                    "application/x-www-form-urlencoded"
                } else {
                    "application/json"
                },
            );
            if let Some(token) = bearer {
                builder = builder.header("authorization", format!("Bearer {token}"));
            }
            let (status, answer) = call_head(&router, builder.body(json(body)).unwrap()).await;
            let refused = matches!(status.as_u16(), 401 | 403);
            assert_eq!(
                !refused, may,
                "{method} {concrete} as {role:?}: {status} {answer}"
            );
            if refused {
                let expected = if role.is_none() { 401 } else { 403 };
                assert_eq!(
                    status.as_u16(),
                    expected,
                    "{method} {concrete} as {role:?}: {answer}"
                );
            }
        }
    }
    shutdown.cancel();
}
