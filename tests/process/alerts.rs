//! Alert rules across processes: three Sentinel processes (one `all`, two `web`) read the same
//! alerts file; a 30-minute fault, compressed 60 times (30 s), fails 221 jobs; every target (a
//! signed webhook, a Slack-compatible webhook, a webhook that fails twice first, and mail through
//! an SMTP server) gets exactly one "firing" and one "resolved", and the failing target's
//! failures are on the alerts page. The receivers are real servers started here.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use support::sinks::{Received, http_receiver, smtp_sink};
use support::{RedisServer, Sentinel, SentinelOptions, eventually};

const SECRET: &str = "test-secret-of-the-hook";

fn signed(received: &Received) -> bool {
    let (Some(timestamp), Some(signature)) = (
        received.header("x-sentinel-timestamp"),
        received.header("x-sentinel-signature"),
    ) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(&received.body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    signature == format!("sha256={hex}")
}

/// The statuses (`firing`, `resolved`, ...) of the requests answered 200 on `path`.
fn delivered(got: &Arc<Mutex<Vec<Received>>>, path: &str) -> Vec<String> {
    got.lock()
        .unwrap()
        .iter()
        .filter(|r| r.path == path && r.answered == 200)
        .map(|r| {
            let body = r.json();
            body["status"]
                .as_str()
                .map(str::to_string)
                // Slack's shape: the word is in the text.
                .or_else(|| {
                    let text = body["text"].as_str()?;
                    Some(
                        if text.contains("RESOLVED") {
                            "resolved"
                        } else {
                            "firing"
                        }
                        .to_string(),
                    )
                })
                .unwrap_or_default()
        })
        .collect()
}

/// Sentinel processes (name, role) on `redis`, each reading the alerts file `file`.
async fn with_alerts(
    redis: &RedisServer,
    file: &std::path::Path,
    processes: &[(&str, &'static str)],
) -> Vec<Sentinel> {
    let mut started = Vec::new();
    for (name, role) in processes {
        let opts = SentinelOptions {
            env: vec![(
                "SENTINEL_ALERTS_FILE".to_string(),
                file.display().to_string(),
            )],
            ..SentinelOptions::for_role(role)
        };
        started.push(Sentinel::start(name, &redis.url(), opts).await);
    }
    started
}

/// The JSON bodies the receiver got on `/hook`, in order.
fn hook_messages(got: &Arc<Mutex<Vec<Received>>>) -> Vec<Value> {
    got.lock()
        .unwrap()
        .iter()
        .filter(|r| r.path == "/hook")
        .map(Received::json)
        .collect()
}

#[tokio::test]
async fn a_compressed_half_hour_fault_sends_one_firing_and_one_resolved_per_target_from_three_processes()
 {
    let redis = RedisServer::start().await;
    let (http_port, got) = http_receiver().await;
    let (smtp_port, mails) = smtp_sink().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("alerts.toml");
    std::fs::write(
        &file,
        format!(
            r#"
time_scale = 60
check_every_secs = 10

[[targets]]
name = "hook"
type = "webhook"
url = "http://127.0.0.1:{http_port}/hook"
secret = "{SECRET}"

[[targets]]
name = "chat"
type = "slack"
url = "http://127.0.0.1:{http_port}/slack"

[[targets]]
name = "flaky"
type = "webhook"
url = "http://127.0.0.1:{http_port}/flaky"

[[targets]]
name = "mail"
type = "email"
smtp = "smtp://127.0.0.1:{smtp_port}"
from = "Sentinel <sentinel@example.com>"
to = ["ops@example.com"]

[[rules]]
name = "jobs-failing"
when = "failures"
per_minute = 3
clear_seconds = 120
repeat_minutes = 60
"#
        ),
    )
    .unwrap();
    let [all, web1, web2]: [Sentinel; 3] = with_alerts(
        &redis,
        &file,
        &[("all", "all"), ("web1", "web"), ("web2", "web")],
    )
    .await
    .try_into()
    .unwrap_or_else(|_| unreachable!("three processes"));
    all.wait_ready().await;

    // At rest first: the rule is read and is "ok" on every process.
    for server in [&all, &web1, &web2] {
        let report = eventually(Duration::from_secs(10), "the alerts page", || async {
            let (code, body) = support::get_json(&server.url("/admin/api/alerts")).await;
            (code == 200 && body["rules"][0]["status"] == "ok").then_some(body)
        })
        .await;
        assert_eq!(report["rules"][0]["name"], "jobs-failing", "{report}");
        assert_eq!(report["targets"].as_array().unwrap().len(), 4, "{report}");
    }

    // The fault: 221 jobs that fail at once (a payload the task refuses), at a steady pace for
    // 30 s (30 simulated minutes).
    let queue = support::producer_queue(&redis).await;
    let started = tokio::time::Instant::now();
    for n in 0..221u32 {
        queue
            .add("longTask", serde_json::json!({ "seconds": 0 }))
            .await
            .expect("add a failing job");
        tokio::time::sleep_until(started + Duration::from_millis(136 * u64::from(n + 1))).await;
    }
    eventually(Duration::from_secs(20), "221 failed jobs", || async {
        let mut conn = redis.connection();
        let failed: u64 = redis::cmd("ZCARD")
            .arg("sentinel:sentinel-tasks:failed")
            .query(&mut conn)
            .unwrap_or(0);
        (failed == 221).then_some(())
    })
    .await;

    // The fault is over: each target gets its "resolved" (the failing one after its retries).
    eventually(
        Duration::from_secs(30),
        "a resolved message at every target",
        || async {
            let all_resolved = ["/hook", "/slack", "/flaky"]
                .iter()
                .all(|path| delivered(&got, path).iter().any(|s| s == "resolved"))
                && mails.lock().unwrap().iter().any(|m| m.contains("RESOLVED"));
            all_resolved.then_some(())
        },
    )
    .await;
    // Late duplicates from the other processes would come within a few rounds (167 ms each).
    tokio::time::sleep(Duration::from_secs(2)).await;

    for path in ["/hook", "/slack", "/flaky"] {
        assert_eq!(
            delivered(&got, path),
            vec!["firing".to_string(), "resolved".to_string()],
            "{path}: {:?}",
            got.lock().unwrap()
        );
    }
    let mails = mails.lock().unwrap().clone();
    assert_eq!(mails.len(), 2, "{mails:?}");
    assert!(
        mails[0].contains("FIRING") && mails[0].contains("jobs-failing"),
        "{}",
        mails[0]
    );
    assert!(mails[1].contains("RESOLVED"), "{}", mails[1]);
    // The webhook's messages are signed; the flaky one failed twice before the firing got through.
    let hook: Vec<Received> = got
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.path == "/hook")
        .cloned()
        .collect();
    assert!(hook.iter().all(signed), "{hook:?}");
    assert_eq!(hook[0].json()["alert"], "jobs-failing");
    assert_eq!(hook[0].json()["queue"], "sentinel:sentinel-tasks");
    let flaky_attempts = got
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.path == "/flaky")
        .count();
    assert_eq!(
        flaky_attempts, 4,
        "two refused, then the firing, then the resolved"
    );

    // The alerts page, on any process: the rule resolved, the flaky target's failures shown.
    let (code, report) = support::get_json(&web2.url("/admin/api/alerts")).await;
    assert_eq!(code, 200, "{report}");
    let rule = &report["rules"][0];
    assert_eq!(rule["status"], "ok", "{report}");
    assert!(rule["resolvedAt"].as_u64().is_some(), "{report}");
    let flaky = report["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "flaky")
        .unwrap()
        .clone();
    assert_eq!(flaky["recentFailures"], 2, "{report}");
    assert!(
        flaky["lastError"].as_str().unwrap_or("").contains("500"),
        "{report}"
    );
    let failed_attempts = report["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["outcome"] != "sent")
        .count();
    assert_eq!(failed_attempts, 2, "{report}");
}

#[tokio::test]
async fn a_file_with_a_mistake_is_refused_at_start_and_a_bad_change_keeps_the_rules_in_force() {
    let redis = RedisServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("alerts.yaml");
    std::fs::write(
        &file,
        "rules:\n  - name: r\n    when: no_worker\n    seconds: 30\n",
    )
    .unwrap();
    let server = with_alerts(&redis, &file, &[("web", "web")])
        .await
        .remove(0);
    server.wait_ready().await;
    let (code, report) = support::get_json(&server.url("/admin/api/alerts")).await;
    assert_eq!(code, 200, "{report}");
    assert_eq!(report["rules"][0]["when"], "no_worker", "{report}");

    // A change with a mistake: refused, shown, and the rule read before stays.
    std::fs::write(&file, "rules:\n  - name: r\n    when: sometimes\n").unwrap();
    let report = eventually(
        Duration::from_secs(10),
        "the file's error on the page",
        || async {
            let (_, body) = support::get_json(&server.url("/admin/api/alerts")).await;
            body["fileError"].is_string().then_some(body)
        },
    )
    .await;
    assert!(
        report["fileError"].as_str().unwrap().contains("when"),
        "{report}"
    );
    assert_eq!(report["rules"][0]["when"], "no_worker", "{report}");

    // A process started on a file with a mistake stops at once, naming it.
    let output = std::process::Command::new(support::server_binary())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("REDIS_URL", redis.url())
        .env(
            "LEPTOS_SITE_ADDR",
            format!("127.0.0.1:{}", support::free_port()),
        )
        .env("SENTINEL_ALERTS_FILE", &file)
        .output()
        .expect("run the server");
    assert!(!output.status.success());
    let said = String::from_utf8_lossy(&output.stderr).to_string()
        + &String::from_utf8_lossy(&output.stdout);
    assert!(
        said.contains("SENTINEL_ALERTS_FILE") && said.contains("when"),
        "{said}"
    );
}

/// A rule that holds for a while repeats at most every `repeat_minutes` (a simulated minute:
/// 1 s here), from whichever of three web processes holds the lease, then resolves once when a
/// worker attaches.
#[tokio::test]
async fn a_holding_rule_repeats_at_most_every_period_and_resolves_once_across_three_web_processes()
{
    let redis = RedisServer::start().await;
    let (http_port, got) = http_receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("alerts.toml");
    std::fs::write(
        &file,
        format!(
            r#"
time_scale = 60
[[targets]]
name = "hook"
type = "webhook"
url = "http://127.0.0.1:{http_port}/hook"
secret = "{SECRET}"
[[rules]]
name = "nobody-works"
when = "no_worker"
repeat_minutes = 1
clear_seconds = 60
"#
        ),
    )
    .unwrap();
    let _webs = with_alerts(
        &redis,
        &file,
        &[("web1", "web"), ("web2", "web"), ("web3", "web")],
    )
    .await;
    let messages = || hook_messages(&got);
    // Nobody works the queue: it fires, then repeats.
    eventually(
        Duration::from_secs(20),
        "a firing and three reminders",
        || async { (messages().len() >= 4).then_some(()) },
    )
    .await;
    // A worker attaches: the rule resolves.
    let worker = Sentinel::start("worker", &redis.url(), SentinelOptions::for_role("worker")).await;
    eventually(Duration::from_secs(20), "the resolved message", || async {
        messages()
            .iter()
            .any(|m| m["status"] == "resolved")
            .then_some(())
    })
    .await;
    // Late duplicates from the other processes would come within a few rounds (167 ms each).
    tokio::time::sleep(Duration::from_secs(2)).await;
    let sent = messages();
    let statuses: Vec<&str> = sent.iter().map(|m| m["status"].as_str().unwrap()).collect();
    assert_eq!(statuses.first(), Some(&"firing"), "{sent:?}");
    assert_eq!(statuses.last(), Some(&"resolved"), "{sent:?}");
    assert_eq!(
        statuses.iter().filter(|s| **s == "firing").count(),
        1,
        "{sent:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == "resolved").count(),
        1,
        "{sent:?}"
    );
    assert!(
        statuses[1..statuses.len() - 1]
            .iter()
            .all(|s| *s == "repeat"),
        "{sent:?}"
    );
    // At most one message per period while it held (the firing and each reminder), whichever
    // process sent it; and it did remind.
    let at: Vec<u64> = sent[..sent.len() - 1]
        .iter()
        .map(|m| m["at"].as_u64().unwrap())
        .collect();
    assert!(at.len() >= 4, "{sent:?}");
    for pair in at.windows(2) {
        assert!(
            pair[1] - pair[0] >= 1000,
            "two messages within a period: {sent:?}"
        );
    }
    let ids: std::collections::HashSet<&str> =
        sent.iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), sent.len(), "{sent:?}");
    drop(worker);
}

/// "Redis does not answer" cannot be de-duplicated through Redis: the process that held the
/// lease when Redis went away sends the firing and, when Redis is back, the resolved; the other
/// process sends nothing.
#[tokio::test]
async fn redis_going_away_is_told_once_by_the_lease_holder_and_resolved_when_it_is_back() {
    let mut redis = RedisServer::start().await;
    let (http_port, got) = http_receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("alerts.toml");
    std::fs::write(
        &file,
        format!(
            r#"
time_scale = 60
[[targets]]
name = "hook"
type = "webhook"
url = "http://127.0.0.1:{http_port}/hook"
[[rules]]
name = "redis-health"
when = "redis"
clear_seconds = 60
"#
        ),
    )
    .unwrap();
    let _webs = with_alerts(&redis, &file, &[("web1", "web"), ("web2", "web")]).await;
    // One of them holds the lease.
    eventually(
        Duration::from_secs(10),
        "a process to hold the alerts lease",
        || async {
            let mut conn = redis.connection();
            let holder: Option<String> = redis::cmd("GET")
                .arg("sentinel:sentinel-tasks:alerts:lease")
                .query(&mut conn)
                .ok()?;
            holder.map(|_| ())
        },
    )
    .await;
    let messages = || hook_messages(&got);
    assert!(messages().is_empty());
    redis.stop();
    let firing = eventually(Duration::from_secs(15), "the firing", || async {
        messages().into_iter().find(|m| m["status"] == "firing")
    })
    .await;
    assert_eq!(firing["detail"], "Redis does not answer", "{firing}");
    redis.start_again().await;
    eventually(Duration::from_secs(20), "the resolved", || async {
        messages()
            .iter()
            .any(|m| m["status"] == "resolved")
            .then_some(())
    })
    .await;
    // Late duplicates from the other process would come within a few rounds (167 ms each).
    tokio::time::sleep(Duration::from_secs(2)).await;
    let statuses: Vec<String> = messages()
        .iter()
        .map(|m| m["status"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(statuses, ["firing", "resolved"], "{:?}", messages());
}
