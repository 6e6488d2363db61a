//! Every BullMQ queue on the Redis, found without registering anything: a queue is a set of
//! keys `<prefix>:<name>:…`, and each queue that ever held a job has a meta hash
//! `<prefix>:<name>:meta` (BullMQ writes `opts.maxLenEvents` into it on the first add). So a
//! bounded `SCAN` for `*:meta` finds them under any prefix; a key of that shape that is not such
//! a hash (another program's) is not a queue.
//!
//! Queue names cannot contain `:` (BullMQ refuses them), so the name is the last part before
//! `:meta` and the prefix everything before it (a prefix may contain `:`, or a hash tag).
//! Everything read here is untrusted: names are text of bounded length, or the key is skipped.

use app::admin::QueueSummary;
use app::{JobCounts, JobId};

use super::keys::QueueKeys;
use super::{EngineError, TaskQueue};

/// Keys a `SCAN` step asks Redis to look at.
const SCAN_COUNT: usize = 1000;
/// Longest prefix or queue name taken.
const MAX_NAME_BYTES: usize = 256;
/// Replies per queue in [`summaries`]' first pipeline.
const READS_PER_QUEUE: usize = 13;
/// Most queues one discovery lists (past it, the list says it is not complete): what is read
/// for each of them each second must stay bounded whatever the Redis holds.
pub const MAX_QUEUES: usize = 10_000;

/// A queue found on the Redis.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FoundQueue {
    /// Its key prefix.
    pub prefix: String,
    /// Its name.
    pub name: String,
}

impl FoundQueue {
    /// The queue whose meta hash is `key`, if the key has that shape.
    pub fn from_meta_key(key: &str) -> Option<Self> {
        let base = key.strip_suffix(":meta")?;
        let (prefix, name) = base.rsplit_once(':')?;
        let fits = |part: &str| {
            !part.is_empty() && part.len() <= MAX_NAME_BYTES && !part.chars().any(char::is_control)
        };
        (fits(prefix) && fits(name)).then(|| Self {
            prefix: prefix.to_string(),
            name: name.to_string(),
        })
    }

    /// Its keys.
    pub fn keys(&self) -> QueueKeys {
        QueueKeys::new(&self.prefix, &self.name)
    }

    /// `<prefix>:<name>`.
    pub fn text(&self) -> String {
        format!("{}:{}", self.prefix, self.name)
    }
}

/// The queues found, and whether the scan saw every key.
#[derive(Debug, Clone, Default)]
pub struct Found {
    /// Sorted by prefix, then name.
    pub queues: Vec<FoundQueue>,
    /// `false` when the scan stopped at its budget.
    pub complete: bool,
}

/// Scans the Redis for BullMQ queues, looking at most at about `budget` keys (whole `SCAN`
/// steps of [`SCAN_COUNT`]); only the prefixes in `prefixes` when it is not empty. On a Redis
/// Cluster (`cluster_seeds` not empty) every master is scanned, each on a connection of its
/// own (a `SCAN` sees one node's keys), the budget shared between them.
///
/// Queues in `known` (the last discovery's) are taken as found again without asking: only new
/// candidates are checked for BullMQ's settings.
pub async fn discover(
    queue: &TaskQueue,
    prefixes: &[String],
    budget: usize,
    cluster_seeds: &[String],
    known: &std::collections::HashSet<FoundQueue>,
) -> Result<Found, EngineError> {
    let (mut candidates, complete) = if cluster_seeds.is_empty() {
        scan_node(prefixes, budget, &Node::Queue(queue)).await?
    } else {
        let mut all = Vec::new();
        let mut complete = true;
        let masters = masters(queue, cluster_seeds).await?;
        let share = budget / masters.len().max(1);
        for url in masters {
            let Some(conn) = node_connection(&url).await else {
                tracing::warn!(node = %url, "a cluster node could not be reached for discovery");
                complete = false;
                continue;
            };
            let (found, whole) = scan_node(prefixes, share, &Node::Direct(conn)).await?;
            all.extend(found);
            complete &= whole;
        }
        (all, complete)
    };
    candidates.sort();
    candidates.dedup();
    let complete = complete && candidates.len() <= MAX_QUEUES;
    candidates.truncate(MAX_QUEUES);
    let (mut queues, new): (Vec<FoundQueue>, Vec<FoundQueue>) =
        candidates.into_iter().partition(|c| known.contains(c));
    let mut found = verified(queue, new, complete, !cluster_seeds.is_empty()).await?;
    queues.append(&mut found.queues);
    queues.sort();
    found.queues = queues;
    Ok(found)
}

/// The masters of the cluster, as URLs made from the first seed's (its scheme, user and
/// password, another host and port), from `CLUSTER NODES`.
async fn masters(queue: &TaskQueue, seeds: &[String]) -> Result<Vec<String>, EngineError> {
    let nodes: String = queue
        .run_cmd(&redis::cmd("CLUSTER").arg("NODES").clone())
        .await?;
    let Some(seed) = seeds.first() else {
        return Ok(Vec::new());
    };
    let Some(mut base) = redis::parse_redis_url(seed) else {
        return Ok(seeds.to_vec());
    };
    let mut urls = Vec::new();
    for line in nodes.lines().take(1000) {
        let fields: Vec<&str> = line.split(' ').collect();
        let (Some(address), Some(flags)) = (fields.get(1), fields.get(2)) else {
            continue;
        };
        if !flags.split(',').any(|f| f == "master") || flags.contains("fail") {
            continue;
        }
        // `ip:port@cport[,hostname]`
        let address = address.split(['@', ',']).next().unwrap_or_default();
        let Some((host, port)) = address.rsplit_once(':') else {
            continue;
        };
        let Ok(port) = port.parse::<u16>() else {
            continue;
        };
        if base.set_host(Some(host)).is_ok() && base.set_port(Some(port)).is_ok() {
            urls.push(base.to_string());
        }
    }
    Ok(if urls.is_empty() {
        seeds.to_vec()
    } else {
        urls
    })
}

/// A connection of its own to one cluster node, if it answers in time.
async fn node_connection(url: &str) -> Option<redis::aio::MultiplexedConnection> {
    let client = redis::Client::open(url).ok()?;
    tokio::time::timeout(
        super::CALL_TIMEOUT,
        client.get_multiplexed_async_connection(),
    )
    .await
    .ok()?
    .ok()
}

/// Where a `SCAN` runs: the queue's own connection, or one cluster node's.
enum Node<'a> {
    Queue(&'a TaskQueue),
    Direct(redis::aio::MultiplexedConnection),
}

impl Node<'_> {
    async fn scan(&self, cmd: &redis::Cmd) -> Result<(u64, Vec<Vec<u8>>), EngineError> {
        match self {
            Node::Queue(queue) => queue.run_cmd(cmd).await,
            Node::Direct(conn) => {
                let mut conn = conn.clone();
                super::bounded(super::CALL_TIMEOUT, async move {
                    cmd.query_async(&mut conn)
                        .await
                        .map_err(bullmq::Error::from)
                })
                .await
            }
        }
    }
}

/// One node's queues: `SCAN` steps until the end or the budget.
async fn scan_node(
    prefixes: &[String],
    budget: usize,
    node: &Node<'_>,
) -> Result<(Vec<FoundQueue>, bool), EngineError> {
    let mut candidates = Vec::new();
    let mut cursor: u64 = 0;
    let mut looked = 0;
    let complete = loop {
        let mut scan = redis::cmd("SCAN");
        scan.arg(cursor)
            .arg("MATCH")
            .arg("*:meta")
            .arg("COUNT")
            .arg(SCAN_COUNT)
            .arg("TYPE")
            .arg("hash");
        let (next, keys) = node.scan(&scan).await?;
        looked += SCAN_COUNT;
        candidates.extend(
            keys.iter()
                .filter_map(|key| std::str::from_utf8(key).ok())
                .filter_map(FoundQueue::from_meta_key)
                .filter(|found| prefixes.is_empty() || prefixes.contains(&found.prefix)),
        );
        if next == 0 {
            break true;
        }
        if looked >= budget || candidates.len() > MAX_QUEUES {
            break false;
        }
        cursor = next;
    };
    Ok((candidates, complete))
}

/// The candidates that are BullMQ queues: a queue's meta hash carries BullMQ's settings; a
/// hash of that name without them is another program's.
async fn verified(
    queue: &TaskQueue,
    candidates: Vec<FoundQueue>,
    complete: bool,
    cluster: bool,
) -> Result<Found, EngineError> {
    if candidates.is_empty() {
        return Ok(Found {
            queues: Vec::new(),
            complete,
        });
    }
    let mut pipes = Groups::new(cluster);
    for found in &candidates {
        pipes
            .next()
            .cmd("HEXISTS")
            .arg(found.keys().meta())
            .arg("opts.maxLenEvents");
    }
    let is_queue: Vec<bool> = pipes
        .run(queue)
        .await?
        .into_iter()
        .map(|reply| {
            matches!(
                reply,
                Ok(redis::Value::Int(1)) | Ok(redis::Value::Boolean(true))
            )
        })
        .collect();
    let queues = candidates
        .into_iter()
        .zip(is_queue)
        .filter_map(|(found, yes)| yes.then_some(found))
        .collect();
    Ok(Found { queues, complete })
}

/// Pipelines of reads: one for everything, or on a Redis Cluster one per queue (a pipeline
/// there must stay in one hash slot, and each queue's keys share one).
pub(super) struct Groups {
    pipes: Vec<redis::Pipeline>,
    cluster: bool,
}

impl Groups {
    pub(super) fn new(cluster: bool) -> Self {
        Self {
            pipes: Vec::new(),
            cluster,
        }
    }

    /// The pipeline for the next queue's reads.
    pub(super) fn next(&mut self) -> &mut redis::Pipeline {
        if self.cluster || self.pipes.is_empty() {
            let mut pipe = redis::pipe();
            pipe.ignore_errors();
            self.pipes.push(pipe);
        }
        self.pipes.last_mut().expect("a pipeline")
    }

    /// Every reply, in order.
    pub(super) async fn run(
        self,
        queue: &TaskQueue,
    ) -> Result<Vec<redis::RedisResult<redis::Value>>, EngineError> {
        let mut replies = Vec::new();
        for pipe in &self.pipes {
            let part: Vec<redis::RedisResult<redis::Value>> = queue.run(pipe).await?;
            replies.extend(part);
        }
        Ok(replies)
    }
}

/// Whether `found` is a BullMQ queue on the Redis now (its meta hash holds BullMQ's settings).
pub async fn exists(queue: &TaskQueue, found: &FoundQueue) -> Result<bool, EngineError> {
    let mut cmd = redis::cmd("HEXISTS");
    cmd.arg(found.keys().meta()).arg("opts.maxLenEvents");
    queue.run_cmd(&cmd).await
}

/// Each queue's last event's id (its events stream's newest entry), in one pipelined round
/// trip: BullMQ's scripts add an event for every change of a job's state and for pause and
/// resume, so a queue whose last event is the same has the same counts (what the hour's
/// window drops aside). `None` for a queue without events.
pub async fn last_events(
    queue: &TaskQueue,
    found: &[FoundQueue],
    cluster: bool,
) -> Result<Vec<Option<String>>, EngineError> {
    if found.is_empty() {
        return Ok(Vec::new());
    }
    let mut pipes = Groups::new(cluster);
    for q in found {
        pipes
            .next()
            .cmd("XREVRANGE")
            .arg(q.keys().events())
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(1);
    }
    Ok(pipes
        .run(queue)
        .await?
        .into_iter()
        .map(|reply| match reply {
            Ok(redis::Value::Array(entries)) => match entries.first() {
                Some(redis::Value::Array(entry)) => entry.first().and_then(super::record::text),
                _ => None,
            },
            _ => None,
        })
        .collect())
}

/// Each queue's counts, whether it is paused, what finished in the last hour and its oldest
/// waiting job's age (workers: see [`workers_by_queue`]): two pipelined round trips, whatever
/// the number of queues.
pub async fn summaries(
    queue: &TaskQueue,
    found: &[FoundQueue],
    cluster: bool,
) -> Result<Vec<QueueSummary>, EngineError> {
    if found.is_empty() {
        return Ok(Vec::new());
    }
    let hour_ago = crate::clock::now_ms().saturating_sub(3_600_000);
    // Another program's key of the wrong type is that queue's problem, not the list's. On a
    // cluster each queue's reads are a pipeline of their own (one hash slot each).
    let mut pipes = Groups::new(cluster);
    for queue in found {
        let pipe = pipes.next();
        let keys = queue.keys();
        pipe.cmd("LLEN").arg(keys.wait());
        pipe.cmd("LLEN").arg(keys.active());
        pipe.cmd("ZCARD").arg(keys.delayed());
        pipe.cmd("ZCARD").arg(keys.prioritized());
        pipe.cmd("ZCARD").arg(keys.completed());
        pipe.cmd("ZCARD").arg(keys.failed());
        pipe.cmd("ZCARD").arg(keys.waiting_children());
        pipe.cmd("LLEN").arg(keys.paused());
        pipe.cmd("HEXISTS").arg(keys.meta()).arg("paused");
        pipe.cmd("EXISTS").arg(keys.meta());
        // Finished jobs are scored by when they finished.
        pipe.cmd("ZCOUNT")
            .arg(keys.completed())
            .arg(hour_ago)
            .arg("+inf");
        pipe.cmd("ZCOUNT")
            .arg(keys.failed())
            .arg(hour_ago)
            .arg("+inf");
        // Workers take from the tail: the oldest waiting job is the last.
        pipe.cmd("LINDEX").arg(keys.wait()).arg(-1);
    }
    let replies = pipes.run(queue).await?;
    let replies: Vec<Option<redis::Value>> = replies.into_iter().map(Result::ok).collect();
    let number = |reply: Option<&Option<redis::Value>>| match reply {
        Some(Some(redis::Value::Int(n))) => u64::try_from(*n).unwrap_or(0),
        _ => 0,
    };
    // The oldest waiting jobs' times, in one more round trip.
    let oldest_ids: Vec<Option<JobId>> = replies
        .chunks(READS_PER_QUEUE)
        .map(|n| {
            n.get(12)
                .and_then(Option::as_ref)
                .and_then(super::record::text)
                .and_then(|id| JobId::parse(&id).ok())
        })
        .collect();
    let mut times = Groups::new(cluster);
    let mut asked = 0;
    for (queue, id) in found.iter().zip(&oldest_ids) {
        if let Some(id) = id {
            times
                .next()
                .cmd("HGET")
                .arg(queue.keys().job(id))
                .arg("timestamp");
            asked += 1;
        }
    }
    let mut added_at: std::collections::VecDeque<Option<u64>> = if asked == 0 {
        std::collections::VecDeque::new()
    } else {
        times
            .run(queue)
            .await?
            .into_iter()
            .map(|reply| {
                reply
                    .ok()
                    .as_ref()
                    .and_then(super::record::text)
                    .and_then(|t| t.parse::<u64>().ok())
            })
            .collect()
    };
    Ok(found
        .iter()
        .zip(replies.chunks(READS_PER_QUEUE))
        .zip(oldest_ids)
        .map(|((found, n), oldest)| {
            let at = |i: usize| number(n.get(i));
            let oldest_waiting_at = oldest.and_then(|_| added_at.pop_front().flatten());
            // Counted as Node BullMQ's `getJobCounts` counts them (`paused`: the older list).
            QueueSummary {
                prefix: found.prefix.clone(),
                name: found.name.clone(),
                paused: at(8) == 1,
                counts: JobCounts {
                    waiting: at(0),
                    active: at(1),
                    delayed: at(2),
                    prioritized: at(3),
                    completed: at(4),
                    failed: at(5),
                    waiting_children: at(6),
                    paused: at(7),
                },
                completed_last_hour: at(10),
                failed_last_hour: at(11),
                oldest_waiting_at,
                workers: 0,
            }
        })
        .collect())
}

/// Most bytes of `CLIENT LIST` read (a Redis with a huge number of clients is cut short).
const MAX_CLIENT_LIST_BYTES: usize = 8 << 20;

/// How many BullMQ workers each queue has: connections named as Node BullMQ names a queue's
/// connections (`<prefix>:<base64 name>`, or that with `:w:<worker>`), as `getWorkers` counts
/// them. Zero for every queue when `CLIENT LIST` is refused (some hosted Redis). On a Redis
/// Cluster (`cluster_seeds` not empty) every master's clients are listed: a worker's
/// connections are on the node that holds its queue's slot.
pub async fn workers_by_queue(
    queue: &TaskQueue,
    found: &[FoundQueue],
    cluster_seeds: &[String],
) -> Vec<u64> {
    let mut counts = vec![0u64; found.len()];
    if found.is_empty() {
        return counts;
    }
    let client_list = redis::cmd("CLIENT").arg("LIST").clone();
    let mut lists: Vec<String> = Vec::new();
    if cluster_seeds.is_empty() {
        if let Ok(list) = queue.run_cmd(&client_list).await {
            lists.push(list);
        }
    } else {
        for url in masters(queue, cluster_seeds).await.unwrap_or_default() {
            let Some(mut conn) = node_connection(&url).await else {
                continue;
            };
            let listed = tokio::time::timeout(
                super::CALL_TIMEOUT,
                client_list.query_async::<String>(&mut conn),
            )
            .await;
            if let Ok(Ok(list)) = listed {
                lists.push(list);
            }
        }
    }
    let names: std::collections::HashMap<String, usize> = found
        .iter()
        .enumerate()
        .map(|(i, q)| {
            (
                bullmq::QueueKeys::new(&q.name, Some(&q.prefix)).client_name(""),
                i,
            )
        })
        .collect();
    let lines = lists
        .iter()
        .flat_map(|list| super::cut(list, MAX_CLIENT_LIST_BYTES).lines());
    for line in lines {
        let Some(name) = line
            .split(' ')
            .find_map(|field| field.strip_prefix("name="))
            .filter(|n| !n.is_empty())
        else {
            continue;
        };
        let base = name.split_once(":w:").map_or(name, |(base, _)| base);
        if let Some(&i) = names.get(base) {
            counts[i] += 1;
        }
    }
    counts
}

/// A scan's result as every process shares it (`discovery:found`): when it was made, whether
/// it was complete, and the queues, one `<prefix>\n<name>` line pair each.
#[derive(Debug, Clone, Default)]
pub struct Shared {
    /// When the scan finished (ms since the epoch).
    pub at: u64,
    /// What it found.
    pub found: Found,
}

/// Largest shared result read back (10,000 queues of two 256-byte names).
const MAX_SHARED_BYTES: usize = 6 << 20;

/// The last scan any process made, if one is stored (read leniently: a line pair that is no
/// queue is skipped, a value too large or of another type is no result).
pub async fn shared(home: &TaskQueue) -> Result<Option<Shared>, EngineError> {
    let mut cmd = redis::cmd("GET");
    cmd.arg(home.keys().discovery("found"));
    let reply: redis::Value = match home.run_cmd(&cmd).await {
        Ok(reply) => reply,
        // Another program's value of another type: no shared result.
        Err(error) if error.is_answer() => return Ok(None),
        Err(other) => return Err(other),
    };
    let redis::Value::BulkString(bytes) = reply else {
        return Ok(None);
    };
    if bytes.len() > MAX_SHARED_BYTES {
        return Ok(None);
    }
    let text = String::from_utf8_lossy(&bytes);
    let mut lines = text.split('\n');
    let Some(head) = lines.next() else {
        return Ok(None);
    };
    let Some((at, complete)) = head.split_once(' ') else {
        return Ok(None);
    };
    let Ok(at) = at.parse::<u64>() else {
        return Ok(None);
    };
    let mut queues = Vec::new();
    while let (Some(prefix), Some(name)) = (lines.next(), lines.next()) {
        if let Some(found) = FoundQueue::from_meta_key(&format!("{prefix}:{name}:meta"))
            && found.prefix == prefix
            && queues.len() < MAX_QUEUES
        {
            queues.push(found);
        }
    }
    queues.sort();
    queues.dedup();
    Ok(Some(Shared {
        at,
        found: Found {
            queues,
            complete: complete == "complete",
        },
    }))
}

/// Stores a scan's result for every process, kept `keep_ms`.
pub async fn share(
    home: &TaskQueue,
    found: &Found,
    at: u64,
    keep_ms: u64,
) -> Result<(), EngineError> {
    let mut text = format!(
        "{at} {}",
        if found.complete {
            "complete"
        } else {
            "partial"
        }
    );
    for queue in &found.queues {
        text.push('\n');
        text.push_str(&queue.prefix);
        text.push('\n');
        text.push_str(&queue.name);
    }
    let mut cmd = redis::cmd("SET");
    cmd.arg(home.keys().discovery("found"))
        .arg(text)
        .arg("PX")
        .arg(keep_ms);
    home.run_cmd::<()>(&cmd).await
}

/// Takes the lease of the one process that scans (for `ms`), if nobody holds it.
pub async fn take_lease(home: &TaskQueue, me: &str, ms: u64) -> Result<bool, EngineError> {
    let mut cmd = redis::cmd("SET");
    cmd.arg(home.keys().discovery("lease"))
        .arg(me)
        .arg("NX")
        .arg("PX")
        .arg(ms);
    let reply: redis::Value = home.run_cmd(&cmd).await?;
    Ok(matches!(
        reply,
        redis::Value::Okay | redis::Value::SimpleString(_)
    ))
}

/// Gives the lease back, if this process still holds it.
pub async fn release_lease(home: &TaskQueue, me: &str) -> Result<(), EngineError> {
    let script = redis::Script::new(
        r#"if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end return 0"#,
    );
    let mut invocation = script.prepare_invoke();
    invocation.key(home.keys().discovery("lease")).arg(me);
    home.run_script::<i64>(&invocation).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_keys_name_their_queue_and_prefix() {
        let found = |key: &str| FoundQueue::from_meta_key(key).map(|f| (f.prefix, f.name));
        assert_eq!(
            found("bull:emails:meta"),
            Some(("bull".into(), "emails".into()))
        );
        assert_eq!(
            found("{app}:jobs:meta"),
            Some(("{app}".into(), "jobs".into()))
        );
        assert_eq!(
            found("svc:eu:billing:meta"),
            Some(("svc:eu".into(), "billing".into()))
        );
        for not_a_queue in [
            "meta",
            ":meta",
            "x:meta",
            "a::meta",
            "a:b:metadata",
            "a:\u{1}:meta",
        ] {
            assert_eq!(found(not_a_queue), None, "{not_a_queue:?}");
        }
        assert_eq!(found(&format!("p:{}:meta", "n".repeat(300))), None);
    }
}
