//! Alerts: a principal limited to some queues sees only their rules, deliveries and targets
//! (and the count of what fires among them); an acknowledgement is limited the same way; text
//! from a job reaches Slack, mail and webhooks as data.

use std::time::Duration;

use server::error::AppError;

use super::*;

const FILE: &str = r#"
[[targets]]
name = "ops-hook"
type = "webhook"
url = "http://127.0.0.1:9/ops"

[[targets]]
name = "pay-hook"
type = "webhook"
url = "http://127.0.0.1:9/pay"

[[rules]]
name = "billing-stuck"
when = "stuck"
seconds = 60
queue = "bull:billing-eu"
targets = ["ops-hook"]

[[rules]]
name = "payments-stuck"
when = "stuck"
seconds = 60
queue = "bull:payments"
targets = ["pay-hook"]

[[rules]]
name = "redis"
when = "redis"
targets = ["ops-hook"]
"#;

#[tokio::test]
async fn a_limited_principal_sees_and_acknowledges_only_the_rules_on_its_queues() {
    let redis = RedisServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("alerts.toml");
    std::fs::write(&file, FILE).unwrap();
    let (sentinel, _, stop) = service(&redis, &[format!("--alerts-file={}", file.display())]).await;
    sentinel.load_alerts().unwrap();
    // Every rule fires; each has a delivery (as the evaluator writes them).
    let mut conn = redis.connection();
    let now = server::clock::now_ms();
    for (rule, detail) in [
        (
            "billing-stuck",
            "job b-1 of bull:billing-eu has been active for 5 min 0 s",
        ),
        (
            "payments-stuck",
            "job card-4242 of bull:payments has been active for 9 min 0 s",
        ),
        ("redis", "Redis's maxmemory-policy is allkeys-lru"),
    ] {
        let state = serde_json::json!({"firing": now, "sent": now, "detail": detail});
        let _: () = redis::cmd("HSET")
            .arg("sentinel:sentinel-tasks:alerts:state")
            .arg(rule)
            .arg(state.to_string())
            .query(&mut conn)
            .unwrap();
        let target = if rule == "payments-stuck" {
            "pay-hook"
        } else {
            "ops-hook"
        };
        let _: String = redis::cmd("XADD")
            .arg("sentinel:sentinel-tasks:alerts:log")
            .arg("*")
            .arg("rule")
            .arg(rule)
            .arg("kind")
            .arg("firing")
            .arg("target")
            .arg(target)
            .arg("attempt")
            .arg(1)
            .arg("outcome")
            .arg("sent")
            .query(&mut conn)
            .unwrap();
    }
    let billing = holder("token:bill", "operator@billing-*");
    let everyone = holder("token:ops", "operator");

    let limited = sentinel.alerts_report(&billing).await.unwrap();
    let names: Vec<&str> = limited.rules.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["billing-stuck", "redis"]);
    let text = serde_json::to_string(&limited).unwrap();
    for hidden in ["payments", "card-4242", "pay-hook"] {
        assert!(!text.contains(hidden), "{hidden} shown: {text}");
    }
    assert!(
        limited
            .deliveries
            .iter()
            .all(|d| d.rule != "payments-stuck")
    );
    let firing = sentinel.firing(&billing).await.unwrap();
    assert_eq!((firing.firing, firing.unacknowledged), (2, 2), "{firing:?}");
    assert_eq!(
        sentinel.alerts_report(&everyone).await.unwrap().rules.len(),
        3
    );
    assert_eq!(sentinel.firing(&everyone).await.unwrap().firing, 3);

    // Acknowledged: by whom, until it resolves; no more unacknowledged for either.
    let ack = app::admin::AckRequest::default();
    assert!(matches!(
        sentinel.ack_alert(&billing, "payments-stuck", &ack).await,
        Err(AppError::NoRule { .. })
    ));
    sentinel
        .ack_alert(&billing, "billing-stuck", &ack)
        .await
        .unwrap();
    let after = sentinel.alerts_report(&billing).await.unwrap();
    let acked = after
        .rules
        .iter()
        .find(|r| r.name == "billing-stuck")
        .unwrap();
    assert_eq!(acked.acked_by.as_deref(), Some("token:bill"));
    assert_eq!(acked.job.as_deref(), None, "no job in a hand-written state");
    assert_eq!(sentinel.firing(&billing).await.unwrap().unacknowledged, 1);
    let too_long = app::admin::AckRequest {
        minutes: Some(100_000),
    };
    assert!(matches!(
        sentinel.ack_alert(&everyone, "redis", &too_long).await,
        Err(AppError::InvalidOption(_))
    ));
    // A viewer may read the count, not acknowledge.
    let viewer = holder("token:v", "viewer");
    assert!(sentinel.firing(&viewer).await.is_ok());
    assert!(matches!(
        sentinel.ack_alert(&viewer, "redis", &ack).await,
        Err(AppError::Forbidden)
    ));
    stop.cancel();
}

/// A BullMQ worker of the engine that holds every job of `bull:<name>` until the test ends.
async fn holding_worker(redis: &RedisServer, name: &str) -> bullmq::Worker {
    let opts = bullmq::WorkerOptions::default()
        .connection(bullmq::options::RedisConnectionOptions::new().url(redis.url()))
        .prefix("bull");
    bullmq::Worker::with_options(
        name,
        |_job: bullmq::Job, _token| async move {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok(serde_json::Value::Null)
        },
        opts,
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn a_hostile_job_id_reaches_slack_mail_and_webhooks_as_data() {
    let redis = RedisServer::start().await;
    let (hook_port, hooks) = support::sinks::http_receiver().await;
    let (smtp_port, mails) = support::sinks::smtp_sink().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("alerts.toml");
    std::fs::write(
        &file,
        format!(
            r#"
time_scale = 60
check_every_secs = 1

[[targets]]
name = "hook"
type = "webhook"
url = "http://127.0.0.1:{hook_port}/hook"

[[targets]]
name = "slack"
type = "slack"
url = "http://127.0.0.1:{hook_port}/slack"

[[targets]]
name = "mail"
type = "email"
smtp = "smtp://127.0.0.1:{smtp_port}"
from = "sentinel@example.com"
to = ["oncall@example.com"]

[[rules]]
name = "stuck"
when = "stuck"
seconds = 60
queue = "bull:payments"
repeat_minutes = 0
"#
        ),
    )
    .unwrap();
    let (sentinel, _, stop) = service(&redis, &[format!("--alerts-file={}", file.display())]).await;
    sentinel.load_alerts().unwrap();
    let queue = other_queue(&redis, "payments", 0).await;
    let hostile = format!(
        "<!channel> &lt;<https//evil.example|your bank>{}",
        "x".repeat(180)
    );
    queue
        .add("charge", serde_json::json!({}))
        .job_id(&hostile)
        .into_future()
        .await
        .unwrap();
    let _worker = holding_worker(&redis, "payments").await;
    tokio::spawn(sentinel.clone().run_alerts());
    let sent = support::eventually(
        Duration::from_secs(30),
        "the firing on every target",
        || {
            let hooks = hooks.clone();
            let mails = mails.clone();
            async move {
                let hooks = hooks.lock().unwrap().clone();
                let mails = mails.lock().unwrap().clone();
                let slack = hooks.iter().find(|r| r.path == "/slack")?.clone();
                let hook = hooks.iter().find(|r| r.path == "/hook")?.clone();
                let mail = mails.first()?.clone();
                Some((slack, hook, mail))
            }
        },
    )
    .await;
    let (slack, hook, mail) = sent;
    let text = slack.json()["text"].as_str().unwrap().to_string();
    assert!(
        !text.contains("<!channel>") && !text.contains("<https"),
        "{text}"
    );
    assert!(
        text.contains("&lt;!channel&gt;") && text.contains("&amp;lt;"),
        "{text}"
    );
    let detail = hook.json()["detail"].as_str().unwrap().to_string();
    assert!(detail.contains("<!channel>"), "data, as it was: {detail}");
    assert!(
        detail.len() <= server::service::alerts::notify::MAX_TEXT + 3,
        "cut to a bound: {} bytes",
        detail.len()
    );
    let subject = mail
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("subject:"))
        .unwrap_or_default()
        .to_string();
    assert!(!subject.is_empty(), "{mail}");
    assert!(
        !mail
            .lines()
            .any(|l| l.to_ascii_lowercase().starts_with("bcc:")),
        "{mail}"
    );
    stop.cancel();
}
