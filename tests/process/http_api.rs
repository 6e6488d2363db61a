//! The HTTP API against a real server process and a real Redis: the original's curl flow, the
//! bad-input table, 404s, health, and Redis being down at start or restarting.

use std::time::Duration;

use serde_json::{Value, json};
use support::{RedisServer, Sentinel, SentinelOptions, free_port, get_json};

const LONG: Duration = Duration::from_secs(20);

#[tokio::test]
async fn enqueue_run_and_report_a_task() {
    let redis = RedisServer::start().await;
    let server = Sentinel::start("sentinel", &redis.url(), SentinelOptions::default()).await;
    server.wait_ready().await;

    let id = server.enqueue(4).await;
    server.wait_state(&id, "active", LONG).await;
    let done = server.wait_state(&id, "completed", LONG).await;
    assert_eq!(done["id"], id.as_str());
    assert_eq!(
        done["progress"],
        json!({"step": 4, "total": 4, "info": "tick 4/4"})
    );
    assert_eq!(done["result"]["message"], format!("Tâche {id} terminée"));
    let elapsed = done["result"]["elapsedMs"]
        .as_u64()
        .expect("elapsedMs is a number");
    assert!(elapsed >= 200, "four 50 ms ticks took {elapsed} ms");
    assert!(done.get("failedReason").is_none(), "{done}");

    // The job was stored as the original stores it.
    let mut conn = redis.connection();
    let key = format!("sentinel:sentinel-tasks:{id}");
    let name: String = redis::cmd("HGET")
        .arg(&key)
        .arg("name")
        .query(&mut conn)
        .unwrap();
    let data: String = redis::cmd("HGET")
        .arg(&key)
        .arg("data")
        .query(&mut conn)
        .unwrap();
    let opts: String = redis::cmd("HGET")
        .arg(&key)
        .arg("opts")
        .query(&mut conn)
        .unwrap();
    assert_eq!(name, "longTask");
    assert_eq!(
        serde_json::from_str::<Value>(&data).unwrap(),
        json!({"seconds": 4})
    );
    let opts: Value = serde_json::from_str(&opts).unwrap();
    assert_eq!(opts["attempts"], 1, "{opts}");

    let (code, counts) = get_json(&server.url("/tasks/counts")).await;
    assert_eq!(code, 200);
    assert_eq!(counts["counts"]["completed"], 1, "{counts}");
    let listed = &counts["completed"][0];
    assert_eq!(listed["id"], id.as_str());
    assert_eq!(listed["name"], "longTask");
    assert_eq!(listed["data"], json!({"seconds": 4}));
    assert_eq!(listed["result"]["message"], format!("Tâche {id} terminée"));
    assert!(listed["finishedOn"].as_u64().is_some(), "{listed}");
    for state in ["waiting", "active", "delayed", "failed"] {
        assert!(counts[state].is_array(), "{state} list missing: {counts}");
    }
}

#[tokio::test]
async fn seconds_from_body_and_default_while_no_worker_runs() {
    let redis = RedisServer::start().await;
    let opts = SentinelOptions::for_role("web");
    let server = Sentinel::start("web", &redis.url(), opts).await;
    server.wait_ready().await;
    let http = reqwest::Client::new();

    let response = http
        .post(server.url("/tasks/enqueue"))
        .json(&json!({"seconds": 7}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let with_body: Value = response.json().await.unwrap();

    let response = http
        .post(server.url("/tasks/enqueue"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let with_default: Value = response.json().await.unwrap();

    let (_, counts) = get_json(&server.url("/tasks/counts")).await;
    assert_eq!(counts["counts"]["waiting"], 2, "{counts}");
    let data_of = |id: &Value| {
        counts["waiting"]
            .as_array()
            .unwrap()
            .iter()
            .find(|job| job["id"] == *id)
            .map(|job| job["data"].clone())
    };
    assert_eq!(data_of(&with_body["id"]), Some(json!({"seconds": 7})));
    assert_eq!(data_of(&with_default["id"]), Some(json!({"seconds": 20})));

    let (code, waiting) = server.status(with_body["id"].as_str().unwrap()).await;
    assert_eq!(code, 200);
    assert_eq!(waiting["state"], "waiting");
    assert_eq!(waiting["progress"], 0);
}

#[tokio::test]
async fn starts_without_redis_and_connects_when_it_comes() {
    let port = free_port();
    let url = format!("redis://127.0.0.1:{port}/0");
    let server = Sentinel::start("sentinel", &url, SentinelOptions::default()).await;

    let (code, _) = get_json(&server.url("/healthz")).await;
    assert_eq!(code, 200);
    let (code, ready) = get_json(&server.url("/readyz")).await;
    assert_eq!(code, 503, "{ready}");
    let response = reqwest::Client::new()
        .post(server.url("/tasks/enqueue?seconds=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "unavailable");
    // The page still lists the task it names, as not read yet (the page reads it again until
    // the queue answers), and an id that can never name a job as gone.
    let home = |task: &str| post_home(&server, format!("task={}", urlencode(task)), FORM);
    let data: Value = home("42").await.unwrap().json().await.unwrap();
    assert_eq!(data["listed"][0]["id"], "42", "{data}");
    assert_eq!(data["listed"][0]["presence"], "Loading", "{data}");
    let data: Value = home("a:b").await.unwrap().json().await.unwrap();
    assert_eq!(data["listed"][0]["presence"], "Gone", "{data}");
    // One clear warning, then quiet retries (debug level), not a flood of warnings.
    support::eventually(
        Duration::from_secs(15),
        "a second connection attempt",
        || async { server.log().contains("still no Redis").then_some(()) },
    )
    .await;
    let warnings = server
        .log()
        .lines()
        .filter(|line| line.contains("WARN") && line.contains("Redis is not reachable"))
        .count();
    assert_eq!(warnings, 1, "{}", server.log());

    let _redis = RedisServer::start_on(port, false).await;
    server.wait_ready().await;
    let id = server.enqueue(1).await;
    let data: Value = home(&id).await.unwrap().json().await.unwrap();
    assert_eq!(data["listed"][0]["presence"], "Present", "{data}");
    server.wait_state(&id, "completed", LONG).await;
}

#[tokio::test]
async fn work_resumes_soon_after_a_redis_restart() {
    let mut redis = RedisServer::start_persistent().await;
    let server = Sentinel::start("sentinel", &redis.url(), SentinelOptions::default()).await;
    server.wait_ready().await;
    let first = server.enqueue(1).await;
    server.wait_state(&first, "completed", LONG).await;

    redis.restart().await;
    // The crate's default would wait 15 s before fetching again; we must be back well within
    // that. The deadline is generous for a busy machine but far below 15 s.
    let restarted = std::time::Instant::now();
    let second = eventually_enqueue(&server).await;
    server
        .wait_state(&second, "completed", Duration::from_secs(8))
        .await;
    let took = restarted.elapsed();
    eprintln!("job enqueued and completed {took:?} after the Redis restart");
    // Accepted work survived the restart.
    let (code, body) = server.status(&first).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["state"], "completed");
}

/// Enqueues as soon as the server can reach Redis again.
async fn eventually_enqueue(server: &Sentinel) -> String {
    let http = reqwest::Client::new();
    support::eventually(Duration::from_secs(5), "enqueue after restart", || {
        let http = http.clone();
        let url = server.url("/tasks/enqueue?seconds=1");
        async move {
            let response = http.post(url).send().await.ok()?;
            if response.status() != 201 {
                return None;
            }
            let body: Value = response.json().await.ok()?;
            body["id"].as_str().map(str::to_owned)
        }
    })
    .await
}

#[tokio::test]
async fn every_state_is_reported_with_node_names() {
    let redis = RedisServer::start().await;
    let web = Sentinel::start("web", &redis.url(), SentinelOptions::for_role("web")).await;
    web.wait_ready().await;
    // Jobs as any BullMQ producer could add them.
    let queue = support::producer_queue(&redis).await;
    let delayed = queue
        .add("longTask", json!({"seconds": 1}))
        .delay(Duration::from_secs(3600))
        .await
        .unwrap();
    let prioritized = queue
        .add("longTask", json!({"seconds": 1}))
        .priority(5)
        .await
        .unwrap();
    let broken = queue
        .add("longTask", json!({"seconds": "soon"}))
        .attempts(1)
        .await
        .unwrap();
    for (id, state) in [
        (delayed.id(), "delayed"),
        (prioritized.id(), "prioritized"),
        (broken.id(), "waiting"),
    ] {
        let (code, body) = web.status(id).await;
        assert_eq!(code, 200);
        assert_eq!(body["state"], state, "job {id}: {body}");
    }

    let _worker =
        Sentinel::start("worker", &redis.url(), SentinelOptions::for_role("worker")).await;
    let failed = web.wait_state(broken.id(), "failed", LONG).await;
    let reason = failed["failedReason"].as_str().unwrap_or_default();
    assert!(reason.contains("seconds"), "{failed}");
    assert!(failed.get("result").is_none(), "{failed}");
    web.wait_state(prioritized.id(), "completed", LONG).await;
    let (_, still) = web.status(delayed.id()).await;
    assert_eq!(still["state"], "delayed");
    let (_, counts) = get_json(&web.url("/tasks/counts")).await;
    assert_eq!(counts["counts"]["failed"], 1, "{counts}");
    assert_eq!(counts["failed"][0]["failedReason"], reason);
    assert_eq!(counts["counts"]["delayed"], 1, "{counts}");
    queue.close().await;
}

/// The dashboard's pages name every lazily loaded module they will need in `<head>` (the
/// module holding the router, then the route's), so a browser fetches them at once rather than
/// one after another; the home page names none (it runs on the first module alone).
#[tokio::test]
async fn pages_preload_the_modules_they_load_later() {
    let site = std::env::var("LEPTOS_SITE_ROOT").unwrap_or_else(|_| {
        support::workspace_root()
            .join("target/site")
            .to_string_lossy()
            .into_owned()
    });
    let manifest: std::collections::HashMap<String, Vec<String>> = serde_json::from_str(
        &std::fs::read_to_string(format!("{site}/pkg/__wasm_split_manifest.json")).expect(
            "the release build (cargo leptos build --release --split --features split) has a split manifest",
        ),
    )
    .expect("the manifest is JSON");
    let modules_of = |prefix: &str| -> Vec<String> {
        manifest
            .iter()
            .find(|(key, _)| key.starts_with(prefix))
            .unwrap_or_else(|| panic!("the manifest names a {prefix}* module"))
            .1
            .clone()
    };
    let redis = RedisServer::start().await;
    let server = Sentinel::start(
        "preload",
        &redis.url(),
        SentinelOptions {
            env: vec![("LEPTOS_SITE_ROOT".into(), site.clone())],
            ..SentinelOptions::default()
        },
    )
    .await;
    let http = reqwest::Client::new();
    let head_of = |path: &'static str| {
        let http = http.clone();
        let url = server.url(path);
        async move {
            let page = http
                .get(url)
                .header("accept", "text/html")
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            page.split("</head>").next().unwrap_or_default().to_string()
        }
    };
    let preloads = |head: &str, module: &str| {
        // Under the build's own address (`/pkg/<hash>/pkg/…`, kept for good by browsers).
        head.matches(&format!("/pkg/{module}.wasm\"")).count()
    };
    let home = head_of("/").await;
    // The home page's own bundle (scripts/build-home), nothing of the main one or its splits.
    assert!(home.contains("/pkg/home.js"), "{home}");
    assert!(home.contains("/pkg/home.wasm\""), "{home}");
    // This build's files have an address of their own: `/pkg/<16 hex digits>/pkg/`.
    let root = home
        .split("/pkg/home.js")
        .next()
        .and_then(|before| before.rsplit("/pkg/").next())
        .unwrap_or_default()
        .trim_end_matches('/');
    assert!(
        root.len() == 16 && root.bytes().all(|b| b.is_ascii_hexdigit()),
        "{root:?} in {home}"
    );
    assert!(
        !home.contains("sentinel.js") && !home.contains("split_") && !home.contains("chunk_"),
        "{home}"
    );
    // Its data comes with it, as JSON in the head, which the browser reads instead of asking.
    let data = home_data_in(&home);
    assert_eq!(data.settings.max_seconds, 3600, "{home}");
    for (path, route) in [
        ("/admin", "__admin_route_view_"),
        ("/admin/jobs/1", "__job_route_view_"),
    ] {
        let head = head_of(path).await;
        for module in modules_of("whole_app_").iter().chain(&modules_of(route)) {
            assert!(
                preloads(&head, module) >= 1,
                "{path} preloads {module}: {head}"
            );
        }
        assert!(head.contains("rel=\"modulepreload\""), "{head}");
    }
}

/// The content type of a plain form post.
const FORM: &str = "application/x-www-form-urlencoded";

/// Calls the home page's data function (`/api/home`) with `body` of content type `kind`.
async fn post_home(
    server: &Sentinel,
    body: String,
    kind: &str,
) -> reqwest::Result<reqwest::Response> {
    reqwest::Client::new()
        .post(server.url("/api/home"))
        .header("content-type", kind)
        .body(body)
        .send()
        .await
}

/// The home page's data call (`/api/home`) with what a browser would never send: a task id
/// that cannot name a job, a long one, malformed encoding, a body of another kind. Each gets an
/// answer (the odd id comes back as a task that is gone), never a server error.
#[tokio::test]
async fn the_home_data_call_answers_hostile_input_without_failing() {
    let redis = RedisServer::start().await;
    let server = Sentinel::start("home-data", &redis.url(), SentinelOptions::default()).await;
    // A task is reported gone only once the queue can be asked; before, the list is empty.
    server.wait_ready().await;
    let post = |body: String, kind: &'static str| post_home(&server, body, kind);
    for task in ["a:b", "#", &"x".repeat(4000), "\u{0}\u{7f}é"] {
        let body = format!("task={}", urlencode(task));
        let answer = post(body, FORM).await.unwrap();
        assert_eq!(answer.status(), 200, "task {task:?}");
        let data: Value = answer.json().await.unwrap();
        let listed = data["listed"].as_array().unwrap();
        assert_eq!(listed.len(), 1, "{data}");
        assert_eq!(listed[0]["presence"], "Gone", "{data}");
        assert!(data["settings"]["max_seconds"].as_u64().is_some(), "{data}");
    }
    // No task at all: the settings, an empty list.
    let data: Value = post(String::new(), FORM)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(data["listed"], json!([]), "{data}");
    for (body, kind) in [
        ("task=%zz%", FORM),
        ("{\"task\": 5}", "application/json"),
        ("task=1&task=2&task", FORM),
    ] {
        let answer = post(body.to_string(), kind).await.unwrap();
        let status = answer.status().as_u16();
        assert!(
            status < 500,
            "{body} ({kind}): {status} {}",
            answer.text().await.unwrap()
        );
    }
}

/// The data a home page carries in its head (the JSON up to the first `</script>`, as a
/// browser reads it).
fn home_data_in(page: &str) -> app::api::HomePageData {
    let open = r#"<script id="home-data" type="application/json">"#;
    let json = page
        .split_once(open)
        .and_then(|(_, rest)| rest.split_once("</script>"))
        .map(|(json, _)| json)
        .unwrap_or_else(|| panic!("no home data in {page}"));
    serde_json::from_str(json)
        .unwrap_or_else(|e| panic!("the home data does not parse ({e}): {json}"))
}

#[tokio::test]
async fn the_home_page_renders_hostile_addresses_with_its_data_intact() {
    let redis = RedisServer::start().await;
    let server = Sentinel::start("home-page", &redis.url(), SentinelOptions::default()).await;
    // The listed task is looked up in the queue, so ask once it is connected.
    server.wait_ready().await;
    let http = reqwest::Client::new();
    let breakout = "</script><script>alert(1)</script><!--";
    for (query, listed) in [
        (format!("task={}", "x".repeat(4000)), Some("x".repeat(1024))),
        (
            format!(
                "task={}&error={}&seconds={}",
                urlencode(breakout),
                urlencode(breakout),
                urlencode(breakout)
            ),
            Some(breakout.to_string()),
        ),
        ("task=%zz%&error=%FF&seconds=%".to_string(), None),
        ("task=1&task=2&task&&=".to_string(), Some("1".to_string())),
    ] {
        let answer = http
            .get(server.url(&format!("/?{query}")))
            .header("accept", "text/html")
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200, "{query}");
        let page = answer.text().await.unwrap();
        assert!(!page.contains("<script>alert(1)"), "{query}: {page}");
        let data = home_data_in(&page);
        assert_eq!(data.settings.max_seconds, 3600, "{query}");
        let ids: Vec<&str> = data.listed.iter().map(|view| view.id.as_str()).collect();
        assert_eq!(
            ids,
            listed.as_deref().into_iter().collect::<Vec<_>>(),
            "{query}"
        );
    }
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
