//! A job's place in a flow, read in a bounded number of round trips whatever its size: first
//! the job's parent key and its four child sets as BullMQ keeps them (`:dependencies`, the children it still
//! waits for; `:processed`, the ones that completed; `:failed`, the ones that failed and were
//! ignored; `:unsuccessful`, the ones that failed their parent), at most
//! [`MAX_LISTED_CHILDREN`] of each and their counts; then the state, name and failed reason of
//! the parent and of each listed child, in whatever queue it is. A parent waiting for more
//! children than are listed has the rest of its dependencies checked for a failed one (ids
//! only, 1,000 a step, at most [`MAX_CHECKED_PENDING`]). Keys are another program's
//! text: a member that names no job of a queue is left out.

use app::JobId;
use std::collections::HashSet;

use app::admin::{
    Dependency, Family, FlowChild, FlowJob, FlowTree, MAX_LISTED_CHILDREN, QueueName,
    TREE_PAGE_NODES, TreeNode,
};
use app::types::JobState;

use super::keys::{self, QueueKeys};
use super::record::text;
use super::{EngineError, MEMBERSHIP_READS, TaskQueue, state_from};

/// A job named by its key, `<prefix>:<name>:<id>`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Named {
    queue: QueueName,
    id: JobId,
}

/// The job a key names, if it names one (`bull:payments:42`; a hash-tagged prefix too).
fn named(key: &str) -> Option<Named> {
    let (queue, id) = key.rsplit_once(':')?;
    let id = keys::is_job_id(id)?;
    let queue = QueueName::parse(queue).ok()?;
    Some(Named { queue, id })
}

/// The parent and children of job `id` of `queue`, in every queue: for a caller, pass it
/// through [`seen_by`].
pub async fn family(queue: &TaskQueue, id: &JobId) -> Result<Family, EngineError> {
    let job = queue.keys().job(id);
    let listed = MAX_LISTED_CHILDREN;
    let mut pipe = redis::pipe();
    pipe.ignore_errors();
    pipe.cmd("HGET").arg(&job).arg("parentKey");
    pipe.cmd("SCARD").arg(format!("{job}:dependencies"));
    pipe.cmd("SRANDMEMBER")
        .arg(format!("{job}:dependencies"))
        .arg(listed);
    pipe.cmd("HLEN").arg(format!("{job}:processed"));
    pipe.cmd("HRANDFIELD")
        .arg(format!("{job}:processed"))
        .arg(listed);
    pipe.cmd("HLEN").arg(format!("{job}:failed"));
    pipe.cmd("HRANDFIELD")
        .arg(format!("{job}:failed"))
        .arg(listed);
    pipe.cmd("ZCARD").arg(format!("{job}:unsuccessful"));
    pipe.cmd("ZRANGE")
        .arg(format!("{job}:unsuccessful"))
        .arg(0)
        .arg(listed - 1);
    let replies: Vec<redis::Value> = queue.run(&pipe).await?;
    let at = |i: usize| replies.get(i).unwrap_or(&redis::Value::Nil);
    let count = |i: usize| match at(i) {
        redis::Value::Int(n) => u64::try_from(*n).unwrap_or(0),
        _ => 0,
    };
    let members = |i: usize| -> Vec<Named> {
        let mut found: Vec<Named> = match at(i) {
            redis::Value::Array(items) => items
                .iter()
                .filter_map(text)
                .filter_map(|key| named(&key))
                .take(listed)
                .collect(),
            _ => Vec::new(),
        };
        found.sort_by(|a, b| {
            (&a.queue.prefix, &a.queue.name, a.id.as_str()).cmp(&(
                &b.queue.prefix,
                &b.queue.name,
                b.id.as_str(),
            ))
        });
        found
    };
    let parent = text(at(0)).and_then(|key| named(&key));
    let groups = [
        (Dependency::Pending, members(2)),
        (Dependency::Unsuccessful, members(8)),
        (Dependency::Ignored, members(6)),
        (Dependency::Processed, members(4)),
    ];
    let mut family = Family {
        children_total: count(1) + count(3) + count(5) + count(7),
        ..Family::default()
    };
    let mut shown: Vec<(Option<Dependency>, Named)> = Vec::new();
    let first_child = usize::from(parent.is_some());
    shown.extend(parent.map(|parent| (None, parent)));
    // Children beyond the listed ones are not looked at (their count is `children_total`)...
    for (dependency, group) in groups {
        shown.extend(group.into_iter().map(|child| (Some(dependency), child)));
    }
    // ...but a failed one among the pending still keeps the parent waiting for ever, so they
    // are checked too (their ids only, a bounded number), and what is found is listed first.
    if count(1) > listed as u64 {
        for child in failed_unlisted(queue, &job, &shown).await? {
            shown.insert(first_child, (Some(Dependency::Pending), child));
        }
    }
    let jobs = read_jobs(queue, shown.iter().map(|(_, n)| n)).await?;
    for ((dependency, _), job) in shown.into_iter().zip(jobs) {
        match dependency {
            None => family.parent = Some(job),
            Some(dependency) => {
                if dependency == Dependency::Pending && job.state == JobState::Failed {
                    family.blocked_by.push(job.clone());
                }
                family.children.push(FlowChild { job, dependency });
            }
        }
    }
    Ok(family)
}

/// The part of `family` in the queues `visible` lets a caller see (`prefix`, `name`): jobs in
/// the others are counted in `hidden`, never named.
pub fn seen_by(family: Family, visible: impl Fn(&str, &str) -> bool) -> Family {
    let seen = |job: &FlowJob| {
        QueueName::parse(&job.queue).is_ok_and(|name| visible(&name.prefix, &name.name))
    };
    let mut hidden = family.hidden;
    let parent = family.parent.filter(|parent| {
        let keep = seen(parent);
        hidden += u64::from(!keep);
        keep
    });
    let children: Vec<FlowChild> = family
        .children
        .into_iter()
        .filter(|child| {
            let keep = seen(&child.job);
            hidden += u64::from(!keep);
            keep
        })
        .collect();
    Family {
        parent,
        children,
        children_total: family.children_total,
        hidden,
        blocked_by: family.blocked_by.into_iter().filter(|b| seen(b)).collect(),
    }
}

/// Pending children looked at for a failure at most (a parent with more is checked in part).
pub const MAX_CHECKED_PENDING: usize = 20_000;
/// Failed pending children named at most.
const MAX_BLOCKING: usize = 20;

/// The children among the parent's dependencies (not already in `shown`) that are in their
/// queue's failed set: walked with `SSCAN` 1,000 at a time, each step's members checked in one
/// pipeline, at most [`MAX_CHECKED_PENDING`] in all.
async fn failed_unlisted(
    queue: &TaskQueue,
    job: &str,
    shown: &[(Option<Dependency>, Named)],
) -> Result<Vec<Named>, EngineError> {
    let key = format!("{job}:dependencies");
    let mut cursor: u64 = 0;
    let mut checked = 0usize;
    let mut failed = Vec::new();
    loop {
        let mut scan = redis::cmd("SSCAN");
        scan.arg(&key).arg(cursor).arg("COUNT").arg(1000);
        let (next, members): (u64, Vec<redis::Value>) = queue.run_cmd(&scan).await?;
        let children: Vec<Named> = members
            .iter()
            .filter_map(text)
            .filter_map(|key| named(&key))
            .filter(|child| !shown.iter().any(|(_, s)| s == child))
            .collect();
        checked += members.len();
        if !children.is_empty() {
            let mut pipe = redis::pipe();
            pipe.ignore_errors();
            for child in &children {
                let keys = QueueKeys::new(&child.queue.prefix, &child.queue.name);
                pipe.cmd("ZSCORE").arg(keys.failed()).arg(child.id.as_str());
            }
            let scores: Vec<redis::Value> = queue.run(&pipe).await?;
            for (child, score) in children.into_iter().zip(scores) {
                if !matches!(score, redis::Value::Nil | redis::Value::ServerError(_))
                    && failed.len() < MAX_BLOCKING
                {
                    failed.push(child);
                }
            }
        }
        if next == 0 || checked >= MAX_CHECKED_PENDING || failed.len() >= MAX_BLOCKING {
            return Ok(failed);
        }
        cursor = next;
    }
}

/// The state, name and failed reason of each job (one round trip).
async fn read_jobs<'a>(
    queue: &TaskQueue,
    jobs: impl Iterator<Item = &'a Named>,
) -> Result<Vec<FlowJob>, EngineError> {
    let jobs: Vec<&Named> = jobs.collect();
    if jobs.is_empty() {
        return Ok(Vec::new());
    }
    let mut pipe = redis::pipe();
    pipe.ignore_errors();
    for job in &jobs {
        let keys = QueueKeys::new(&job.queue.prefix, &job.queue.name);
        pipe.cmd("EXISTS").arg(keys.job(&job.id));
        pipe.cmd("HMGET")
            .arg(keys.job(&job.id))
            .arg("name")
            .arg("failedReason");
        super::membership_of(&keys, &mut pipe, job.id.as_str());
    }
    let replies: Vec<redis::Value> = queue.run(&pipe).await?;
    let per = 2 + MEMBERSHIP_READS;
    Ok(jobs
        .into_iter()
        .zip(replies.chunks(per).chain(std::iter::repeat(&[][..])))
        .map(|(job, row)| {
            let exists = matches!(row.first(), Some(redis::Value::Int(1)));
            let (name, failed_reason) = match row.get(1) {
                Some(redis::Value::Array(fields)) => (
                    fields
                        .first()
                        .and_then(text)
                        .map(|t| super::cut(&t, 200).to_string()),
                    fields
                        .get(1)
                        .and_then(text)
                        .map(|t| super::cut(&t, 500).to_string()),
                ),
                _ => (None, None),
            };
            let present: Vec<bool> = row
                .iter()
                .skip(2)
                .map(|reply| !matches!(reply, redis::Value::Nil | redis::Value::ServerError(_)))
                .collect();
            FlowJob {
                queue: job.queue.text(),
                id: job.id.as_str().to_string(),
                state: if exists {
                    state_from(&present)
                } else {
                    JobState::Unknown
                },
                name,
                failed_reason,
            }
        })
        .collect())
}

/// Whether job `id` of `queue` is there.
pub async fn exists(queue: &TaskQueue, id: &JobId) -> Result<bool, EngineError> {
    let mut cmd = redis::cmd("EXISTS");
    cmd.arg(queue.keys().job(id));
    Ok(queue.run_cmd::<i64>(&cmd).await? == 1)
}

/// Most nodes a tree walk reads (past it the tree says it is not complete).
pub const MAX_TREE_NODES: usize = 20_000;
/// Most levels a tree walk goes up, and down.
pub const MAX_TREE_DEPTH: usize = 32;
/// Most children read of one node.
const MAX_TREE_CHILDREN: usize = 20_000;

/// A node met by a tree walk.
struct Walked {
    named: Named,
    depth: u32,
    dependency: Option<Dependency>,
    children: Vec<usize>,
    children_total: u64,
}

fn key_of(named: &Named) -> String {
    QueueKeys::new(&named.queue.prefix, &named.queue.name).job(&named.id)
}

fn count_of(reply: Option<&redis::Value>) -> u64 {
    match reply {
        Some(redis::Value::Int(n)) => u64::try_from(*n).unwrap_or(0),
        _ => 0,
    }
}

/// The flow's tree around job `id` of `queue`: up its parents (those in queues `visible` lets
/// the caller see, at most [`MAX_TREE_DEPTH`]) to the topmost, then down every level from it
/// (each level two pipelined round trips: the counts of every node's child sets, then the
/// members of those that have some), at most [`MAX_TREE_NODES`] nodes; page `page` of the
/// nodes in depth-first order, with their states read in one more round trip. Children in
/// queues the caller may not see are counted in `hidden`, not walked.
pub async fn tree(
    queue: &TaskQueue,
    id: &JobId,
    page: u32,
    visible: impl Fn(&str, &str) -> bool,
) -> Result<FlowTree, EngineError> {
    let keys = queue.keys();
    let start = Named {
        queue: QueueName {
            prefix: keys.prefix().to_string(),
            name: keys.queue().to_string(),
        },
        id: id.clone(),
    };
    // Up to the topmost parent the caller may see.
    let mut top = start.clone();
    let mut above_hidden = false;
    let mut climbed: HashSet<String> = HashSet::from([key_of(&top)]);
    for _ in 0..MAX_TREE_DEPTH {
        let mut cmd = redis::cmd("HGET");
        cmd.arg(key_of(&top)).arg("parentKey");
        let reply: redis::Value = match queue.run_cmd(&cmd).await {
            Ok(reply) => reply,
            Err(error) if error.is_answer() => redis::Value::Nil,
            Err(other) => return Err(other),
        };
        let Some(parent) = text(&reply).and_then(|key| named(&key)) else {
            break;
        };
        if !visible(&parent.queue.prefix, &parent.queue.name) {
            above_hidden = true;
            break;
        }
        if !climbed.insert(key_of(&parent)) {
            break;
        }
        top = parent;
    }

    // Down, a level at a time.
    let mut nodes = vec![Walked {
        named: top.clone(),
        depth: 0,
        dependency: None,
        children: Vec::new(),
        children_total: 0,
    }];
    let mut seen: HashSet<String> = HashSet::from([key_of(&top)]);
    let mut level = vec![0usize];
    let mut complete = true;
    let mut hidden = 0u64;
    for depth in 0..=MAX_TREE_DEPTH {
        if level.is_empty() {
            break;
        }
        let mut pipe = redis::pipe();
        pipe.ignore_errors();
        for &i in &level {
            let job = key_of(&nodes[i].named);
            pipe.cmd("SCARD").arg(format!("{job}:dependencies"));
            pipe.cmd("HLEN").arg(format!("{job}:processed"));
            pipe.cmd("HLEN").arg(format!("{job}:failed"));
            pipe.cmd("ZCARD").arg(format!("{job}:unsuccessful"));
        }
        let counts: Vec<redis::Value> = queue.run(&pipe).await?;
        let mut parents = Vec::new();
        let mut pipe = redis::pipe();
        pipe.ignore_errors();
        for (k, &i) in level.iter().enumerate() {
            let total: u64 = (0..4).map(|j| count_of(counts.get(k * 4 + j))).sum();
            nodes[i].children_total = total;
            if total == 0 {
                continue;
            }
            if depth == MAX_TREE_DEPTH {
                complete = false;
                continue;
            }
            let job = key_of(&nodes[i].named);
            let room = MAX_TREE_CHILDREN;
            pipe.cmd("SRANDMEMBER")
                .arg(format!("{job}:dependencies"))
                .arg(room);
            pipe.cmd("HRANDFIELD")
                .arg(format!("{job}:processed"))
                .arg(room);
            pipe.cmd("HRANDFIELD")
                .arg(format!("{job}:failed"))
                .arg(room);
            pipe.cmd("ZRANGE")
                .arg(format!("{job}:unsuccessful"))
                .arg(0)
                .arg(room - 1);
            parents.push(i);
        }
        if parents.is_empty() {
            break;
        }
        let members: Vec<redis::Value> = queue.run(&pipe).await?;
        let mut next = Vec::new();
        for (k, &i) in parents.iter().enumerate() {
            let mut children: Vec<(Named, Dependency)> = Vec::new();
            for (j, dependency) in [
                (0, Dependency::Pending),
                (3, Dependency::Unsuccessful),
                (2, Dependency::Ignored),
                (1, Dependency::Processed),
            ] {
                if let Some(redis::Value::Array(items)) = members.get(k * 4 + j) {
                    children.extend(
                        items
                            .iter()
                            .take(MAX_TREE_CHILDREN)
                            .filter_map(text)
                            .filter_map(|key| named(&key))
                            .map(|child| (child, dependency)),
                    );
                }
            }
            if (children.len() as u64) < nodes[i].children_total {
                complete = false;
            }
            children.sort_by(|(a, _), (b, _)| {
                (&a.queue.prefix, &a.queue.name, a.id.as_str()).cmp(&(
                    &b.queue.prefix,
                    &b.queue.name,
                    b.id.as_str(),
                ))
            });
            for (child, dependency) in children {
                if !visible(&child.queue.prefix, &child.queue.name) {
                    hidden += 1;
                    continue;
                }
                if nodes.len() >= MAX_TREE_NODES {
                    complete = false;
                    break;
                }
                // A job met twice (another program's keys can make a cycle) is shown once.
                if !seen.insert(key_of(&child)) {
                    continue;
                }
                nodes.push(Walked {
                    named: child,
                    depth: depth as u32 + 1,
                    dependency: Some(dependency),
                    children: Vec::new(),
                    children_total: 0,
                });
                let index = nodes.len() - 1;
                nodes[i].children.push(index);
                next.push(index);
            }
        }
        level = next;
    }

    // Depth first, each node's children in key order; then the page asked for.
    let mut order = Vec::with_capacity(nodes.len());
    let mut stack = vec![0usize];
    while let Some(i) = stack.pop() {
        order.push(i);
        stack.extend(nodes[i].children.iter().rev());
    }
    let shown: Vec<usize> = order
        .into_iter()
        .skip(page as usize * TREE_PAGE_NODES)
        .take(TREE_PAGE_NODES)
        .collect();
    let jobs = read_jobs(queue, shown.iter().map(|i| &nodes[*i].named)).await?;
    let page_nodes = shown
        .iter()
        .zip(jobs)
        .map(|(i, job)| {
            let node = &nodes[*i];
            TreeNode {
                blocks_parent: node.dependency == Some(Dependency::Pending)
                    && job.state == JobState::Failed,
                focus: node.named == start,
                job,
                depth: node.depth,
                dependency: node.dependency,
                children_total: node.children_total,
                children_walked: node.children.len() as u64,
            }
        })
        .collect();
    Ok(FlowTree {
        nodes: page_nodes,
        page,
        total: nodes.len() as u64,
        complete,
        hidden,
        above_hidden,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_name_jobs_of_any_queue() {
        let job = named("bull:payments:42").unwrap();
        assert_eq!(
            (
                job.queue.prefix.as_str(),
                job.queue.name.as_str(),
                job.id.as_str()
            ),
            ("bull", "payments", "42")
        );
        let tagged = named("{team}:a:b:x-1").unwrap();
        assert_eq!(tagged.queue.text(), "{team}:a:b");
        for bad in ["", "42", "bull:42", ":x", "bull:q:"] {
            assert_eq!(named(bad), None, "{bad}");
        }
    }
}
