//! Every queue's history as the service keeps it: counted from the queue's own events stream
//! (jobs removed on completion included, with their wait and run times), one collector at a
//! time across processes and never a job counted twice when the lease moves, events lost to a
//! trimmed stream said so, the coarser ranges kept for days, another program's values in
//! Sentinel's keys skipped, and a queue outside the caller's grant not shown. The events are
//! written in BullMQ's own shape, with the times chosen (the browser test drives Node's
//! workers).

use app::admin::HistoryRange;
use server::service::history::HistoryCollector;

use super::*;

const MINUTE: u64 = 60_000;

/// Adds BullMQ's `meta` hash of `bull:<name>` (what makes it a queue for discovery).
fn make_queue(conn: &mut redis::Connection, name: &str) {
    let _: () = redis::cmd("HSET")
        .arg(format!("bull:{name}:meta"))
        .arg("opts.maxLenEvents")
        .arg(10_000)
        .query(conn)
        .unwrap();
}

/// Adds one event at `at` ms (its sequence number `seq`) to `bull:<name>`'s stream.
fn event(conn: &mut redis::Connection, name: &str, at: u64, seq: u64, kind: &str, job: &str) {
    let _: String = redis::cmd("XADD")
        .arg(format!("bull:{name}:events"))
        .arg(format!("{at}-{seq}"))
        .arg("event")
        .arg(kind)
        .arg("jobId")
        .arg(job)
        .arg("prev")
        .arg("active")
        .query(conn)
        .unwrap();
}

/// A job's life in events: added at `at`, taken `wait` ms later, done `run` ms after that.
fn job_events(
    conn: &mut redis::Connection,
    name: &str,
    job: &str,
    at: u64,
    wait: u64,
    run: u64,
    ending: &str,
) {
    event(conn, name, at, 0, "added", job);
    event(conn, name, at, 1, "waiting", job);
    event(conn, name, at + wait, 0, "active", job);
    event(conn, name, at + wait + run, 0, ending, job);
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[tokio::test]
async fn a_queue_s_history_counts_every_job_once_with_its_times_whoever_collects() {
    let redis = RedisServer::start().await;
    let mut conn = redis.connection();
    make_queue(&mut conn, "payments");
    // Two minutes ago: 3 jobs completed (removed on completion: no hash left), waiting 100 ms
    // and running 300 ms; one failed. A fifth completed whose start the stream no longer
    // holds, its hash kept (BullMQ's own times: 2 s waiting, 5 s running).
    let base = (now_ms() / MINUTE - 2) * MINUTE + 1_000;
    for (n, job) in ["a1", "a2", "a3"].iter().enumerate() {
        job_events(
            &mut conn,
            "payments",
            job,
            base + n as u64 * 1000,
            100,
            300,
            "completed",
        );
    }
    job_events(&mut conn, "payments", "b1", base + 3000, 100, 300, "failed");
    let k1_done = base + 4000;
    let _: () = redis::cmd("HSET")
        .arg("bull:payments:k1")
        .arg("timestamp")
        .arg(k1_done - 5_500 - 2_000)
        .arg("processedOn")
        .arg(k1_done - 5_500)
        .arg("finishedOn")
        .arg(k1_done)
        .query(&mut conn)
        .unwrap();
    event(&mut conn, "payments", k1_done, 0, "completed", "k1");
    // Another program's noise: an event without a job, a job id that is a key name.
    event(&mut conn, "payments", k1_done + 100, 0, "completed", "meta");
    event(&mut conn, "payments", k1_done + 101, 0, "drained", "");

    let (a, _, stop_a) = service(&redis, &[]).await;
    let (b, _, stop_b) = service(&redis, &[]).await;
    let viewer = holder("token:v", "viewer");
    let queue = Some("bull:payments");
    let none = a.history(&viewer, queue, HistoryRange::Hour).await.unwrap();
    assert!(none.since.is_none() && none.points.is_empty(), "{none:?}");

    let mut first = HistoryCollector::new("process-a", 15_000);
    let mut second = HistoryCollector::new("process-b", 15_000);
    let round = first.round(&a).await.unwrap();
    assert!(round.held && round.written >= 1, "{round:?}");
    assert!(round.events >= 19, "{round:?}");
    // The other process does not hold the lease: it reads and writes nothing.
    let other = second.round(&b).await.unwrap();
    assert_eq!(other, Default::default());

    let hour = b.history(&viewer, queue, HistoryRange::Hour).await.unwrap();
    assert_eq!(
        (hour.total.completed, hour.total.failed),
        (4, 1),
        "{hour:?}"
    );
    assert_eq!(hour.step_ms, MINUTE);
    assert!(hour.lost_at.is_empty());
    let minute = hour
        .points
        .iter()
        .find(|p| p.completed > 0)
        .expect("the minute of the jobs");
    assert_eq!(minute.at, base - base % MINUTE);
    assert_eq!((minute.completed, minute.failed), (4, 1));
    // Wait p50: the 100 ms bucket (at most 25 % high); p95 and up: k1's 2 s.
    let wait = minute.wait_ms;
    assert!((100..=125).contains(&wait.p50.unwrap()), "{wait:?}");
    assert!((2_000..=2_500).contains(&wait.p99.unwrap()), "{wait:?}");
    let run = minute.run_ms;
    assert!((300..=375).contains(&run.p50.unwrap()), "{run:?}");
    assert!((5_500..=6_875).contains(&run.p99.unwrap()), "{run:?}");

    // Rounds again: nothing new, nothing counted twice.
    first.round(&a).await.unwrap();
    first.round(&a).await.unwrap();
    let again = a.history(&viewer, queue, HistoryRange::Hour).await.unwrap();
    assert_eq!((again.total.completed, again.total.failed), (4, 1));

    // The queues page says the same for the last hour (the removed jobs included).
    let list = a
        .queues(
            &viewer,
            &app::admin::QueueListQuery {
                limit: 50,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let payments = list
        .queues
        .iter()
        .find(|q| q.name == "payments")
        .expect("listed");
    assert_eq!(
        (payments.completed_last_hour, payments.failed_last_hour),
        (4, 1)
    );

    // The holder gives the lease up (it stopped): the other takes over where it left off.
    first.release(&a).await;
    let later = base + MINUTE;
    job_events(&mut conn, "payments", "c1", later, 50, 50, "completed");
    let took = second.round(&b).await.unwrap();
    assert!(took.held && took.written == 1, "{took:?}");
    // The first one, still running, finds the lease taken and writes nothing.
    assert!(!first.round(&a).await.unwrap().held);
    let after = a.history(&viewer, queue, HistoryRange::Hour).await.unwrap();
    assert_eq!(
        (after.total.completed, after.total.failed),
        (5, 1),
        "{after:?}"
    );
    // The coarser ranges hold the same jobs.
    for range in [HistoryRange::Day, HistoryRange::Week, HistoryRange::Quarter] {
        let got = a.history(&viewer, queue, range).await.unwrap();
        assert_eq!((got.total.completed, got.total.failed), (5, 1), "{range:?}");
    }

    // A queue outside the caller's grant is not there for it.
    let billing = holder("token:b", "viewer@billing-*");
    let refused = a
        .history(&billing, queue, HistoryRange::Hour)
        .await
        .unwrap_err();
    assert_eq!(refused.status().as_u16(), 404);
    stop_a.cancel();
    stop_b.cancel();
}

#[tokio::test]
async fn old_events_go_to_the_coarse_ranges_and_a_trimmed_stream_is_said_to_have_lost_events() {
    let redis = RedisServer::start().await;
    let mut conn = redis.connection();
    make_queue(&mut conn, "ledger");
    let now = now_ms();
    // 30 days ago, 3 days ago and 10 minutes ago.
    let days = |d: u64| now - d * 24 * 60 * MINUTE;
    job_events(&mut conn, "ledger", "old", days(30), 10, 10, "completed");
    job_events(&mut conn, "ledger", "week", days(3), 10, 10, "failed");
    job_events(
        &mut conn,
        "ledger",
        "new",
        now - 10 * MINUTE,
        10,
        10,
        "completed",
    );
    let (sentinel, _, stop) = service(&redis, &[]).await;
    let viewer = holder("token:v", "viewer");
    let mut collector = HistoryCollector::new("process-a", 15_000);
    collector.round(&sentinel).await.unwrap();
    let q = Some("bull:ledger");
    let totals = |h: app::admin::History| (h.total.completed, h.total.failed, h.points.len());
    let hour = sentinel
        .history(&viewer, q, HistoryRange::Hour)
        .await
        .unwrap();
    assert_eq!(totals(hour), (1, 0, 60));
    let day = sentinel
        .history(&viewer, q, HistoryRange::Day)
        .await
        .unwrap();
    assert_eq!(totals(day), (1, 0, 1440));
    let week = sentinel
        .history(&viewer, q, HistoryRange::Week)
        .await
        .unwrap();
    assert_eq!((week.total.completed, week.total.failed), (1, 1));
    assert_eq!(week.step_ms, 30 * MINUTE);
    let quarter = sentinel
        .history(&viewer, q, HistoryRange::Quarter)
        .await
        .unwrap();
    assert_eq!((quarter.total.completed, quarter.total.failed), (2, 1));
    // From the first event read on (30 days ago), 6 hours each.
    let periods = quarter.points.len();
    assert!((30 * 4..=30 * 4 + 2).contains(&periods), "{periods}");
    assert_eq!(quarter.since, Some(days(30)));
    // The per-minute periods older than a day are not kept.
    let minutes: u64 = redis::cmd("ZCARD")
        .arg("sentinel:sentinel-tasks:history:m:bull:ledger")
        .query(&mut conn)
        .unwrap();
    assert_eq!(minutes, 1);

    // The stream is trimmed past what was read (a burst outran the collector): the next
    // period read says events were lost.
    job_events(
        &mut conn,
        "ledger",
        "gone",
        now - 5 * MINUTE,
        10,
        10,
        "completed",
    );
    let _: u64 = redis::cmd("XTRIM")
        .arg("bull:ledger:events")
        .arg("MAXLEN")
        .arg(0)
        .query(&mut conn)
        .unwrap();
    job_events(
        &mut conn,
        "ledger",
        "after",
        now - 4 * MINUTE,
        10,
        10,
        "completed",
    );
    collector.round(&sentinel).await.unwrap();
    let hour = sentinel
        .history(&viewer, q, HistoryRange::Hour)
        .await
        .unwrap();
    assert_eq!(hour.total.completed, 2, "{hour:?}");
    let lost_minute = (now - 4 * MINUTE) / MINUTE * MINUTE;
    assert_eq!(hour.lost_at, vec![lost_minute]);
    stop.cancel();
}

#[tokio::test]
async fn another_program_s_values_in_the_history_keys_are_skipped() {
    let redis = RedisServer::start().await;
    let mut conn = redis.connection();
    make_queue(&mut conn, "ok");
    make_queue(&mut conn, "odd");
    let now = now_ms();
    job_events(&mut conn, "ok", "j1", now - 2 * MINUTE, 10, 10, "completed");
    // `odd`'s events key is a string, its cursor garbage, its periods not ours.
    let _: () = redis::cmd("SET")
        .arg("bull:odd:events")
        .arg("x")
        .query(&mut conn)
        .unwrap();
    let home = "sentinel:sentinel-tasks";
    let _: () = redis::cmd("HSET")
        .arg(format!("{home}:history:cursors"))
        .arg("bull:odd")
        .arg("not a cursor")
        .query(&mut conn)
        .unwrap();
    let minute = now / MINUTE * MINUTE;
    let _: () = redis::cmd("ZADD")
        .arg(format!("{home}:history:m:bull:ok"))
        .arg(minute)
        .arg("garbage|x|||")
        .arg(minute - MINUTE)
        .arg(format!("{}|99999999999999999999|0|0||", minute - MINUTE))
        .query(&mut conn)
        .unwrap();
    let (sentinel, _, stop) = service(&redis, &[]).await;
    let viewer = holder("token:v", "viewer");
    let mut collector = HistoryCollector::new("process-a", 15_000);
    let round = collector.round(&sentinel).await.unwrap();
    assert!(round.held, "{round:?}");
    let ok = sentinel
        .history(&viewer, Some("bull:ok"), HistoryRange::Hour)
        .await
        .unwrap();
    assert_eq!((ok.total.completed, ok.total.failed), (1, 0), "{ok:?}");
    let odd = sentinel
        .history(&viewer, Some("bull:odd"), HistoryRange::Hour)
        .await
        .unwrap();
    assert!(odd.since.is_none() && odd.total.completed == 0, "{odd:?}");
    // A range that is not one is refused with the field named (the HTTP edge's test holds the
    // status; the type only has the four).
    assert!(HistoryRange::parse("2h").is_none());
    stop.cancel();
}
