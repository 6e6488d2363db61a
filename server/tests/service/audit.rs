//! The audit log keeps what matters: floods of sign-ins or of one principal's actions never
//! push another principal's actions out, sign-ins are coalesced into one entry with a count,
//! and entries age out.

use super::*;

fn query(who: Option<&str>, action: Option<&str>) -> app::admin::AuditQuery {
    server::service::audit::query(who, action, None, None, None).unwrap()
}

#[tokio::test]
async fn a_flood_of_sign_ins_or_of_one_principal_s_actions_never_pushes_out_another_s() {
    let redis = RedisServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (flags, tokens) = guarded(
        dir.path(),
        &[
            ("op", "operator"),
            ("loud", "operator"),
            ("sub", "submitter"),
        ],
        &[
            // Floods get through the rate limits here, to reach the log.
            "--rate-sign-in-per-minute=0",
            "--rate-sign-in-per-network-per-minute=0",
            "--rate-actions-per-minute=0",
            "--audit-max-entries=2000",
            "--audit-max-per-principal=100",
        ],
    );
    let (sentinel, _, stop) = service(&redis, &flags).await;
    let admin = holder("token:boss", "admin");
    let op = holder("token:op", "operator");
    let loud = holder("token:loud", "operator");
    let sub_token = &tokens.iter().find(|(n, _)| n == "sub").unwrap().1;

    sentinel
        .queue_action(&op, None, pause_if(true))
        .await
        .unwrap();
    sentinel
        .queue_action(&op, None, pause_if(false))
        .await
        .unwrap();

    // 5,000 sign-ins with one submitter's token: one entry now, the rest counted.
    for _ in 0..5_000 {
        sentinel.sign_in(sub_token, None).await.expect("signed in");
    }
    // 3,000 actions by another operator: only its own oldest entries go.
    for n in 0..3_000 {
        sentinel
            .queue_action(&loud, None, pause_if(n % 2 == 0))
            .await
            .unwrap();
    }
    sentinel.flush_coalesced(true).await;

    let page = |who: &str, action: Option<&str>| {
        let sentinel = sentinel.clone();
        let admin = admin.clone();
        let asked = query(Some(who), action);
        async move { sentinel.audit_page(&admin, &asked, 200).await.unwrap() }
    };
    let pauses = page("token:op", Some("pause")).await;
    assert_eq!(
        pauses.entries.len(),
        1,
        "the operator's pause is still there"
    );
    assert_eq!(page("token:op", Some("resume")).await.entries.len(), 1);
    let sign_ins = page("token:sub", Some("sign-in")).await;
    let counted: u64 = sign_ins.entries.iter().map(|e| e.count.unwrap_or(1)).sum();
    assert_eq!(counted, 5_000, "{:?}", sign_ins.entries);
    assert!(sign_ins.entries.len() <= 3, "{}", sign_ins.entries.len());
    let mut conn = redis.connection();
    let loud_kept: usize = redis::cmd("LLEN")
        .arg(format!(
            "sentinel:sentinel-tasks:audit:by:actions:{}",
            server::service::limits::digest("token:loud")
        ))
        .query(&mut conn)
        .unwrap();
    assert_eq!(loud_kept, 100, "one principal keeps its last 100 actions");
    let total: usize = redis::cmd("XLEN")
        .arg("sentinel:sentinel-tasks:audit")
        .query(&mut conn)
        .unwrap();
    assert!(total <= 110, "{total} entries in all");

    still_works(&sentinel, &holder("token:sub", "submitter")).await;
    stop.cancel();
}

#[tokio::test]
async fn entries_older_than_the_age_limit_are_trimmed_and_a_bulk_run_s_entry_gets_its_count() {
    let redis = RedisServer::start().await;
    let (sentinel, _, stop) = service(&redis, &["--audit-max-age-days=1".to_string()]).await;
    let local = Principal::open();
    // An entry from three days ago (written as a foreign program would: its id says when).
    let mut conn = redis.connection();
    let old = server::clock::now_ms() - 3 * 86_400_000;
    let _: String = redis::cmd("XADD")
        .arg("sentinel:sentinel-tasks:audit")
        .arg(format!("{old}-0"))
        .arg("who")
        .arg("token:old")
        .arg("action")
        .arg("pause")
        .query(&mut conn)
        .unwrap();
    sentinel
        .queue_action(&local, None, pause_if(true))
        .await
        .unwrap();
    let everything = query(None, None);
    let entries = sentinel
        .audit_page(&local, &everything, 200)
        .await
        .unwrap()
        .entries;
    assert!(entries.iter().all(|e| e.who != "token:old"), "{entries:?}");
    assert_eq!(entries.len(), 1);

    // A bulk run's entry is completed with its final counts, and `retry`'s filter finds it.
    sentinel
        .queue_action(&local, None, pause_if(false))
        .await
        .unwrap();
    let failed = other_queue(&redis, "unused", 0).await;
    drop(failed);
    let request = server::service::jobs::BulkRequest::new(
        app::admin::JobAction::Retry,
        Some(vec!["1".into(), "2".into()]),
        None,
    )
    .unwrap();
    let started = sentinel.start_bulk(&local, None, request).await.unwrap();
    support::eventually(std::time::Duration::from_secs(10), "the run to end", || {
        let sentinel = sentinel.clone();
        let local = local.clone();
        let id = started.bulk.clone();
        async move {
            sentinel
                .bulk_progress(&local, &id)
                .await
                .unwrap()
                .filter(|p| p.finished)
        }
    })
    .await;
    let retries = support::eventually(
        std::time::Duration::from_secs(5),
        "the closing entry",
        || {
            let sentinel = sentinel.clone();
            let local = local.clone();
            async move {
                let page = sentinel
                    .audit_page(&local, &query(None, Some("retry")), 200)
                    .await
                    .unwrap();
                (page.entries.len() == 2).then_some(page.entries)
            }
        },
    )
    .await;
    assert!(
        retries.iter().all(|e| e.action == "bulk:retry"),
        "{retries:?}"
    );
    assert!(
        retries[0].outcome.starts_with("finished") && retries[0].outcome.contains("2 skipped"),
        "{retries:?}"
    );
    stop.cancel();
}
