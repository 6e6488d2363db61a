//! Rate limits per principal on every state-changing operation, held in Redis: two services on
//! one Redis (two web processes) share one budget, a limited principal gets `RateLimited`
//! naming the setting with a wait, another principal is not touched, and the queue still works.

use server::error::AppError;

use super::*;

/// The setting a refusal names, and that it says when to try again.
fn limit_of(refused: Result<impl std::fmt::Debug, AppError>) -> &'static str {
    match refused {
        Err(AppError::RateLimited {
            limit, retry_after, ..
        }) => {
            assert!((1..=60).contains(&retry_after), "{retry_after}");
            limit
        }
        other => panic!("expected a rate limit, got {other:?}"),
    }
}

#[tokio::test]
async fn each_bucket_holds_per_principal_across_two_web_processes() {
    let redis = RedisServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (flags, _) = guarded(
        dir.path(),
        &[("op", "operator"), ("sub", "submitter")],
        &[
            "--rate-actions-per-minute=4",
            "--rate-run-now-per-minute=3",
            "--rate-bulk-per-minute=2",
            "--enqueue-rate-per-minute=5",
        ],
    );
    // Two web processes on the same Redis: their own memory, one Redis.
    let (a, _, stop_a) = service(&redis, &flags).await;
    let (b, _, stop_b) = service(&redis, &flags).await;
    let op = holder("token:op", "operator@billing-*|sentinel-tasks");
    let other_op = holder("token:other", "operator");
    let sub = holder("token:sub", "submitter");
    let _billing = other_queue(&redis, "billing-eu", 1).await;
    let queue = Some("bull:billing-eu");

    // Actions: 4 a minute, whichever process they reach.
    for n in 0..4 {
        let via = if n % 2 == 0 { &a } else { &b };
        via.queue_action(&op, queue, pause_if(n % 2 == 0))
            .await
            .expect("within the rate");
    }
    assert_eq!(
        limit_of(b.queue_action(&op, queue, pause_if(false)).await),
        "SENTINEL_RATE_ACTIONS_PER_MINUTE"
    );
    // Another principal has its own budget.
    a.queue_action(&other_op, queue, pause_if(false))
        .await
        .expect("another principal");

    // Run-now: 3 a minute (the scheduler's template adds a job each time).
    let every = app::admin::SchedulerRequest {
        every: Some(60_000),
        data: Some(serde_json::json!({"blob": "x".repeat(8000)})),
        ..Default::default()
    };
    a.upsert_scheduler(&other_op, queue, "nightly", &every)
        .await
        .expect("a scheduler");
    for n in 0..3 {
        let via = if n % 2 == 0 { &b } else { &a };
        via.run_scheduler(&op, queue, "nightly")
            .await
            .expect("within the rate");
    }
    assert_eq!(
        limit_of(a.run_scheduler(&op, queue, "nightly").await),
        "SENTINEL_RATE_RUN_NOW_PER_MINUTE"
    );

    // Bulk runs: 2 a minute.
    for via in [&a, &b] {
        let request = server::service::jobs::BulkRequest::new(
            app::admin::JobAction::Remove,
            None,
            Some("state:completed".into()),
        )
        .unwrap();
        via.start_bulk(&op, queue, request)
            .await
            .expect("within the rate");
    }
    let request = server::service::jobs::BulkRequest::new(
        app::admin::JobAction::Remove,
        None,
        Some("state:completed".into()),
    )
    .unwrap();
    assert_eq!(
        limit_of(a.start_bulk(&op, queue, request).await),
        "SENTINEL_RATE_BULK_PER_MINUTE"
    );

    // Enqueue: 5 a minute per owner, in the reservation's own script.
    let options = app::options::TaskOptions::default();
    let enqueue = |via: &Sentinel| {
        let via = via.clone();
        let options = options.clone();
        let sub = sub.clone();
        async move {
            let request = server::service::enqueue::EnqueueRequest {
                seconds: 1,
                options: &options,
                idempotency_key: None,
            };
            via.enqueue(&sub, request).await
        }
    };
    for n in 0..5 {
        enqueue(if n % 2 == 0 { &a } else { &b })
            .await
            .expect("within the rate");
    }
    assert_eq!(limit_of(enqueue(&b).await), "ENQUEUE_RATE_PER_MINUTE");

    // Nothing else was held up: another submitter enqueues, reads, and the service is ready.
    still_works(&a, &holder("token:fresh", "submitter")).await;
    stop_a.cancel();
    stop_b.cancel();
}

#[tokio::test]
async fn sign_ins_are_limited_per_token_and_per_network_and_a_flood_is_logged_once() {
    let redis = RedisServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (flags, tokens) = guarded(dir.path(), &[("pat", "submitter"), ("kim", "viewer")], &[]);
    let (a, _, stop_a) = service(&redis, &flags).await;
    let (b, _, stop_b) = service(&redis, &flags).await;
    let token = |name: &str| tokens.iter().find(|(n, _)| n == name).unwrap().1.clone();
    let net = |last: u8| Some(format!("10.1.{last}.0/24").parse().unwrap());
    // 10 a minute per token (the default), across both processes, from any network.
    for n in 0..10u8 {
        let via = if n % 2 == 0 { &a } else { &b };
        via.sign_in(&token("pat"), net(n))
            .await
            .expect("within the rate");
    }
    let refused = a.sign_in(&token("pat"), net(99)).await;
    assert!(
        matches!(
            &refused,
            Err(server::service::sessions::SignInError::Refused(AppError::RateLimited { limit, .. }))
                if *limit == "SENTINEL_RATE_SIGN_IN_PER_MINUTE"
        ),
        "{refused:?}"
    );
    // Another token signs in.
    b.sign_in(&token("kim"), net(1))
        .await
        .expect("another token");
    // 30 a minute per network, successful or not: of 40 guesses from one network at once, 10
    // are refused without waiting, and the failures are one log line.
    let (logs, _guard) = common::capture_logs();
    let network = net(200);
    let wrong = "g".repeat(43);
    let guesses: Vec<_> = (0..40)
        .map(|_| {
            let via = a.clone();
            let wrong = wrong.clone();
            async move { via.sign_in(&wrong, network).await }
        })
        .collect();
    let answers = futures::future::join_all(guesses).await;
    let refused = answers
        .iter()
        .filter(|a| matches!(a, Err(server::service::sessions::SignInError::Refused(_))))
        .count();
    let invalid = answers
        .iter()
        .filter(|a| matches!(a, Err(server::service::sessions::SignInError::Invalid)))
        .count();
    assert_eq!((invalid, refused), (30, 10));
    let lines = logs.text();
    assert_eq!(lines.matches("failed sign-in").count(), 1, "{lines}");
    assert_eq!(lines.matches("rate limit reached").count(), 1, "{lines}");
    stop_a.cancel();
    stop_b.cancel();
}

#[tokio::test]
async fn with_access_control_off_nothing_is_limited() {
    let redis = RedisServer::start().await;
    let (sentinel, _, stop) = service(&redis, &["--rate-actions-per-minute=1".to_string()]).await;
    let local = Principal::open();
    for n in 0..5 {
        sentinel
            .queue_action(&local, None, pause_if(n % 2 == 0))
            .await
            .expect("no limit for the open admin");
    }
    stop.cancel();
}

#[tokio::test]
async fn enqueueing_for_another_owner_needs_a_grant_over_sentinel_s_own_queue() {
    let redis = RedisServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (flags, _) = guarded(dir.path(), &[("op", "operator")], &[]);
    let (sentinel, _, stop) = service(&redis, &flags).await;
    let options = app::options::TaskOptions {
        on_behalf_of: Some("user:carol".into()),
        ..Default::default()
    };
    let request = || server::service::enqueue::EnqueueRequest {
        seconds: 1,
        options: &options,
        idempotency_key: None,
    };
    // An operator limited to other teams' queues may not fill someone's quota here.
    let billing = holder("token:bill", "operator@billing-*");
    assert!(matches!(
        sentinel.enqueue(&billing, request()).await,
        Err(AppError::Forbidden)
    ));
    // One whose grant reaches Sentinel's own queue may.
    let own = holder("token:op", "operator@sentinel-tasks|billing-*");
    let id = sentinel.enqueue(&own, request()).await.expect("on behalf");
    let status = sentinel
        .status(
            &holder("token:view", "viewer"),
            &app::JobId::parse(&id).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(status.state, app::JobState::Waiting);
    still_works(&sentinel, &holder("token:sub", "submitter")).await;
    stop.cancel();
}
