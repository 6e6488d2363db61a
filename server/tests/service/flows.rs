//! A job's flow as the service reads it: a parent with 10,000 children across queues is read in
//! a bounded way (at most 200 listed per kind, the counts exact, a failed one found among the
//! rest), children in queues outside the caller's grant are counted and never named, a failed child the parent still waits for
//! makes the "why" panel say the parent never finishes, and a child names its parent. The keys
//! are BullMQ's own (as its `FlowProducer` writes them; the browser test drives Node's).

use app::admin::Dependency;
use app::types::JobState;

use super::*;

/// Writes a parent `bull:orders:p1` waiting for `children` children in `bull:payments`
/// (`c<n>`, waiting; `c5` failed) and 3 in `bull:secret`, plus one completed child in
/// `bull:payments` (`done`).
fn write_flow(redis: &RedisServer, children: usize) {
    let mut conn = redis.connection();
    let mut pipe = redis::pipe();
    for queue in ["orders", "payments", "secret"] {
        pipe.cmd("HSET")
            .arg(format!("bull:{queue}:meta"))
            .arg("opts.maxLenEvents")
            .arg(10_000)
            .ignore();
    }
    let parent = "bull:orders:p1";
    pipe.cmd("HSET")
        .arg(parent)
        .arg("name")
        .arg("invoice")
        .arg("data")
        .arg("{}")
        .arg("opts")
        .arg("{}")
        .arg("timestamp")
        .arg(1_700_000_000_000u64)
        .ignore();
    pipe.cmd("ZADD")
        .arg("bull:orders:waiting-children")
        .arg(1_700_000_000_000u64)
        .arg("p1")
        .ignore();
    let mut child = |queue: &str, id: &str| {
        let key = format!("bull:{queue}:{id}");
        pipe.cmd("HSET")
            .arg(&key)
            .arg("name")
            .arg("charge")
            .arg("data")
            .arg("{}")
            .arg("opts")
            .arg("{}")
            .arg("timestamp")
            .arg(1_700_000_000_000u64)
            .arg("parentKey")
            .arg(parent)
            .arg("parent")
            .arg(r#"{"id":"p1","queueKey":"bull:orders"}"#)
            .ignore();
        key
    };
    let mut keys = Vec::new();
    for n in 0..children {
        keys.push(("payments", child("payments", &format!("c{n}"))));
    }
    for n in 0..3 {
        keys.push(("secret", child("secret", &format!("s{n}"))));
    }
    let done = child("payments", "done");
    for (queue, key) in &keys {
        let id = key.rsplit(':').next().unwrap();
        pipe.cmd("LPUSH")
            .arg(format!("bull:{queue}:wait"))
            .arg(id)
            .ignore();
        pipe.cmd("SADD")
            .arg(format!("{parent}:dependencies"))
            .arg(key)
            .ignore();
    }
    // `c5` failed (and stays among the dependencies: nothing told BullMQ otherwise).
    pipe.cmd("LREM")
        .arg("bull:payments:wait")
        .arg(0)
        .arg("c5")
        .ignore();
    pipe.cmd("ZADD")
        .arg("bull:payments:failed")
        .arg(1)
        .arg("c5")
        .ignore();
    pipe.cmd("HSET")
        .arg("bull:payments:c5")
        .arg("failedReason")
        .arg("GatewayError card_declined")
        .ignore();
    pipe.cmd("ZADD")
        .arg("bull:payments:completed")
        .arg(1)
        .arg("done")
        .ignore();
    pipe.cmd("HSET")
        .arg(format!("{parent}:processed"))
        .arg(&done)
        .arg(r#"{"ok":true}"#)
        .ignore();
    let _: () = pipe.query(&mut conn).unwrap();
}

#[tokio::test]
async fn a_ten_thousand_child_parent_is_read_in_bounded_commands() {
    let redis = RedisServer::start().await;
    write_flow(&redis, 10_000);
    let (sentinel, _, stop) = service(&redis, &[]).await;
    let p1 = app::JobId::parse("p1").unwrap();
    let mut conn = redis.connection();
    let _: () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query(&mut conn)
        .unwrap();

    // Everything visible: 10,004 children in all, 200 pending ones listed, the completed one.
    let viewer = holder("token:v", "viewer");
    let detail = sentinel
        .job(&viewer, Some("bull:orders"), &p1)
        .await
        .unwrap()
        .expect("the parent");
    let family = &detail.family;
    assert_eq!(family.children_total, 10_004);
    assert_eq!(family.hidden, 0);
    let pending = family
        .children
        .iter()
        .filter(|c| c.dependency == Dependency::Pending)
        .count();
    // 200 listed per kind, and the failed one among the other 9,800 found and listed too.
    assert!((200..=201).contains(&pending), "{pending}");
    assert_eq!(family.blocked_by.len(), 1, "{:?}", family.blocked_by);
    assert_eq!(family.blocked_by[0].id, "c5");
    assert!(family.children.iter().any(|c| c.job.id == "c5"));
    let processed: Vec<_> = family
        .children
        .iter()
        .filter(|c| c.dependency == Dependency::Processed)
        .collect();
    assert_eq!(processed.len(), 1);
    assert_eq!(processed[0].job.state, JobState::Completed);
    assert_eq!(processed[0].job.queue, "bull:payments");
    // Two round trips' worth of commands, whatever the size: no command per child beyond
    // the listed ones.
    let mut calls = |name: &str| command_calls(&mut conn, name);
    assert!(calls("exists") < 400, "{}", calls("exists"));
    assert_eq!(calls("srandmember"), 1);
    assert!(calls("sscan") <= 15, "{}", calls("sscan"));

    stop.cancel();
}

#[tokio::test]
async fn a_failed_child_is_named_children_outside_the_grant_are_only_counted() {
    let redis = RedisServer::start().await;
    write_flow(&redis, 8);
    let (sentinel, _, stop) = service(&redis, &[]).await;
    let p1 = app::JobId::parse("p1").unwrap();

    let limited = holder("token:o", "operator@orders|payments");
    let detail = sentinel
        .job(&limited, Some("bull:orders"), &p1)
        .await
        .unwrap()
        .expect("the parent");
    let family = &detail.family;
    assert_eq!(family.children_total, 12);
    assert_eq!(family.hidden, 3, "bull:secret's children");
    assert!(
        family.children.iter().all(|c| c.job.queue != "bull:secret"),
        "{family:?}"
    );
    assert_eq!(family.blocked_by.len(), 1);
    let blocked = &family.blocked_by[0];
    assert_eq!(
        (blocked.queue.as_str(), blocked.id.as_str()),
        ("bull:payments", "c5")
    );
    assert_eq!(
        blocked.failed_reason.as_deref(),
        Some("GatewayError card_declined")
    );

    // The why panel says so first.
    let why = sentinel
        .why(&limited, Some("bull:orders"), &p1)
        .await
        .unwrap()
        .expect("a report");
    assert_eq!(why.reasons[0].code, "never-finishes", "{why:?}");
    assert!(
        why.reasons[0]
            .message
            .contains("c5 in bull:payments failed: GatewayError card_declined")
    );

    // A child names its parent; a caller who may not see the parent's queue gets a count.
    let c1 = app::JobId::parse("c1").unwrap();
    let child = sentinel
        .job(&limited, Some("bull:payments"), &c1)
        .await
        .unwrap()
        .expect("the child");
    let parent = child.family.parent.expect("its parent");
    assert_eq!(
        (parent.queue.as_str(), parent.id.as_str()),
        ("bull:orders", "p1")
    );
    assert_eq!(parent.state, JobState::WaitingChildren);
    let payments_only = holder("token:p", "viewer@payments");
    let child = sentinel
        .job(&payments_only, Some("bull:payments"), &c1)
        .await
        .unwrap()
        .expect("the child");
    assert_eq!(child.family.parent, None);
    assert_eq!(child.family.hidden, 1);

    stop.cancel();
}

#[tokio::test]
async fn another_program_s_flow_keys_are_read_without_trusting_them() {
    let redis = RedisServer::start().await;
    let mut conn = redis.connection();
    let huge = "x".repeat(1_000_000);
    let mut pipe = redis::pipe();
    pipe.cmd("HSET")
        .arg("bull:orders:meta")
        .arg("opts.maxLenEvents")
        .arg(10)
        .ignore();
    // A parent key that names no job, a dependencies "set" of the wrong type, processed
    // children that name nothing but one, whose name and reason are a megabyte each.
    pipe.cmd("HSET")
        .arg("bull:orders:f1")
        .arg("name")
        .arg("odd")
        .arg("data")
        .arg("{}")
        .arg("opts")
        .arg("{}")
        .arg("timestamp")
        .arg(1)
        .arg("parentKey")
        .arg(&huge)
        .ignore();
    pipe.cmd("SET")
        .arg("bull:orders:f1:dependencies")
        .arg("not a set")
        .ignore();
    pipe.cmd("HSET")
        .arg("bull:orders:f1:processed")
        .arg(":")
        .arg("1")
        .arg("bull:orders:")
        .arg("1")
        .arg("nocolon")
        .arg("1")
        .arg("bull:orders:c1")
        .arg("1")
        .ignore();
    pipe.cmd("HSET")
        .arg("bull:orders:c1")
        .arg("name")
        .arg(&huge)
        .arg("failedReason")
        .arg(&huge)
        .ignore();
    pipe.cmd("SET")
        .arg("bull:orders:f1:unsuccessful")
        .arg("not a sorted set")
        .ignore();
    let _: () = pipe.query(&mut conn).unwrap();
    let (sentinel, _, stop) = service(&redis, &[]).await;
    let viewer = holder("token:v", "viewer");
    let f1 = app::JobId::parse("f1").unwrap();
    let detail = sentinel
        .job(&viewer, Some("bull:orders"), &f1)
        .await
        .expect("an answer, not an error")
        .expect("the job");
    let family = detail.family;
    assert_eq!(family.parent, None);
    assert_eq!(family.children_total, 4, "the hash's own count");
    assert_eq!(family.children.len(), 1, "{family:?}");
    let child = &family.children[0].job;
    assert_eq!(child.id, "c1");
    assert!(child.name.as_ref().unwrap().len() <= 1_000);
    assert!(child.failed_reason.as_ref().unwrap().len() <= 2_000);
    assert!(family.blocked_by.is_empty());
    let why = sentinel.why(&viewer, Some("bull:orders"), &f1).await;
    assert!(why.is_ok(), "{why:?}");
    stop.cancel();
}

/// Adds child `child` (a key) to `parent` (a key) as BullMQ's FlowProducer does, waiting.
fn add_child(conn: &mut redis::Connection, parent: &str, child: &str) {
    let (queue, id) = child.rsplit_once(':').unwrap();
    let parent_queue = parent.rsplit_once(':').unwrap().0;
    let parent_id = parent.rsplit_once(':').unwrap().1;
    let _: () = redis::pipe()
        .cmd("HSET")
        .arg(child)
        .arg("name")
        .arg("step")
        .arg("data")
        .arg("{}")
        .arg("opts")
        .arg("{}")
        .arg("timestamp")
        .arg(1)
        .arg("parentKey")
        .arg(parent)
        .arg("parent")
        .arg(format!(
            r#"{{"id":"{parent_id}","queueKey":"{parent_queue}"}}"#
        ))
        .ignore()
        .cmd("LPUSH")
        .arg(format!("{queue}:wait"))
        .arg(id)
        .ignore()
        .cmd("SADD")
        .arg(format!("{parent}:dependencies"))
        .arg(child)
        .ignore()
        .query(conn)
        .unwrap();
}

#[tokio::test]
async fn a_flow_tree_is_drawn_from_any_node_depth_first_and_paged() {
    let redis = RedisServer::start().await;
    write_flow(&redis, 10_000);
    let mut conn = redis.connection();
    // A third level: two grandchildren under `c1`, one of them in `bull:orders`.
    add_child(&mut conn, "bull:payments:c1", "bull:payments:g2");
    add_child(&mut conn, "bull:payments:c1", "bull:orders:g1");
    let (sentinel, _, stop) = service(&redis, &[]).await;
    let viewer = holder("token:v", "viewer");
    let g1 = app::JobId::parse("g1").unwrap();
    let _: () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query(&mut conn)
        .unwrap();

    // From a grandchild: up to the top, then every level.
    let first = sentinel
        .flow_tree(&viewer, Some("bull:orders"), &g1, 0)
        .await
        .unwrap();
    assert_eq!(first.total, 1 + 10_004 + 2);
    assert!(first.complete && first.hidden == 0 && !first.above_hidden);
    assert_eq!(first.pages(), 11);
    assert_eq!(first.nodes.len(), 1000);
    let top = &first.nodes[0];
    assert_eq!(
        (top.job.queue.as_str(), top.job.id.as_str(), top.depth),
        ("bull:orders", "p1", 0)
    );
    assert_eq!(top.children_total, 10_004);
    // Depth first, children in key order: c0, then c1 and its two children, then c10...
    let walk: Vec<(&str, u32)> = first.nodes[1..6]
        .iter()
        .map(|n| (n.job.id.as_str(), n.depth))
        .collect();
    assert_eq!(
        walk,
        [("c0", 1), ("c1", 1), ("g1", 2), ("g2", 2), ("c10", 1)]
    );
    assert!(first.nodes[3].focus, "the job the tree was opened from");
    assert_eq!(first.nodes.iter().filter(|n| n.focus).count(), 1);
    assert_eq!(first.nodes[2].children_total, 2);
    // Bounded: a level is two round trips, whatever its width.
    let mut calls = |name: &str| command_calls(&mut conn, name);
    assert_eq!(calls("srandmember"), 2, "the two nodes with children");
    assert!(calls("exists") <= 1001 + 1, "states read for the page only");

    // Every page once: each node once, c5 marked as what keeps its parent waiting.
    let mut seen = std::collections::HashSet::new();
    let mut blockers = Vec::new();
    for page in 0..first.pages() {
        let tree = sentinel
            .flow_tree(&viewer, Some("bull:orders"), &g1, page)
            .await
            .unwrap();
        for node in tree.nodes {
            assert!(seen.insert(format!("{}:{}", node.job.queue, node.job.id)));
            if node.blocks_parent {
                blockers.push(node.job.id.clone());
            }
        }
    }
    assert_eq!(seen.len() as u64, first.total);
    assert_eq!(blockers, ["c5"]);
    let past = sentinel
        .flow_tree(&viewer, Some("bull:orders"), &g1, 20)
        .await
        .unwrap_err();
    assert_eq!(past.status().as_u16(), 400);
    let nobody = app::JobId::parse("nobody").unwrap();
    let missing = sentinel
        .flow_tree(&viewer, Some("bull:orders"), &nobody, 0)
        .await
        .unwrap_err();
    assert_eq!(missing.status().as_u16(), 404);

    // A grant on `payments` only: the tree starts at the topmost parent it may see.
    let payments = holder("token:p", "viewer@payments");
    let c1 = app::JobId::parse("c1").unwrap();
    let tree = sentinel
        .flow_tree(&payments, Some("bull:payments"), &c1, 0)
        .await
        .unwrap();
    assert!(tree.above_hidden);
    let ids: Vec<&str> = tree.nodes.iter().map(|n| n.job.id.as_str()).collect();
    assert_eq!(ids, ["c1", "g2"]);
    assert_eq!(tree.hidden, 1, "g1 in bull:orders");
    stop.cancel();
}
