//! Admin reads: pages of jobs by state, and one job in full. Our own pipelined reads over the
//! queue's keys (a page is three round trips whatever its size), decoded leniently by
//! `record.rs`. Reads only: nothing here changes the queue.

use std::collections::HashMap;

use app::JobId;
use app::admin::{
    JobDetail, JobPage, ListedJob, MetricsReport, MinuteStats, Percentiles, WorkerInfo, WorkerList,
};
use app::types::JobState;

use super::{CALL_TIMEOUT, EngineError, TaskQueue, bounded};

/// Log lines returned with a job (the most recent).
pub const DETAIL_LOG_LINES: i64 = 200;

/// Where a state's jobs are kept, and in which order a page lists them.
pub(super) enum Source {
    /// A list, newest at the head (`LRANGE`).
    List(String),
    /// A sorted set, lowest score first (`ZRANGE`): delayed (soonest due), prioritized.
    Ascending(String),
    /// A sorted set, highest score first (`ZREVRANGE`): completed and failed, most recently
    /// finished first.
    Descending(String),
}

/// The states a listing covers when none is asked for, in the order a dashboard shows them.
pub const DEFAULT_STATES: [JobState; 7] = [
    JobState::Active,
    JobState::Waiting,
    JobState::Prioritized,
    JobState::Delayed,
    JobState::Failed,
    JobState::Completed,
    JobState::WaitingChildren,
];

impl Source {
    /// The command that counts the source's jobs.
    pub(super) fn len(&self) -> redis::Cmd {
        match self {
            Source::List(key) => redis::cmd("LLEN").arg(key).clone(),
            Source::Ascending(key) | Source::Descending(key) => {
                redis::cmd("ZCARD").arg(key).clone()
            }
        }
    }

    /// The command that reads entries `start..=stop` in the listing's order.
    pub(super) fn range(&self, start: u64, stop: u64) -> redis::Cmd {
        let (command, key) = match self {
            Source::List(key) => ("LRANGE", key),
            Source::Ascending(key) => ("ZRANGE", key),
            Source::Descending(key) => ("ZREVRANGE", key),
        };
        redis::cmd(command).arg(key).arg(start).arg(stop).clone()
    }
}

pub(super) fn sources(queue: &TaskQueue, state: JobState) -> Vec<Source> {
    let keys = queue.keys();
    match state {
        // Jobs of a paused queue may sit in the older `paused` list.
        JobState::Waiting => vec![Source::List(keys.wait()), Source::List(keys.paused())],
        JobState::Active => vec![Source::List(keys.active())],
        JobState::Delayed => vec![Source::Ascending(keys.delayed())],
        JobState::Prioritized => vec![Source::Ascending(keys.prioritized())],
        JobState::Completed => vec![Source::Descending(keys.completed())],
        JobState::Failed => vec![Source::Descending(keys.failed())],
        JobState::WaitingChildren => vec![Source::Ascending(keys.waiting_children())],
        JobState::Unknown => Vec::new(),
    }
}

/// Page `page` (from 0) of `size` jobs in `states`, in the order given, with the total.
pub async fn list(
    queue: &TaskQueue,
    states: &[JobState],
    page: u64,
    size: u64,
) -> Result<JobPage, EngineError> {
    let sources: Vec<(JobState, Source)> = states
        .iter()
        .flat_map(|state| sources(queue, *state).into_iter().map(move |s| (*state, s)))
        .collect();
    let mut pipe = redis::pipe();
    for (_, source) in &sources {
        pipe.add_command(source.len());
    }
    let counts: Vec<u64> = queue.run(&pipe).await?;
    let total = counts.iter().sum();

    // The window [page × size, +size) across the sources, one after another.
    let mut skip = page.saturating_mul(size);
    let mut left = size;
    let mut ranges = redis::pipe();
    let mut taken: Vec<JobState> = Vec::new();
    for ((state, source), count) in sources.iter().zip(&counts) {
        if left == 0 {
            break;
        }
        if skip >= *count {
            skip -= count;
            continue;
        }
        let start = skip;
        let stop = (skip + left).min(*count) - 1;
        left -= stop - start + 1;
        skip = 0;
        ranges.add_command(source.range(start, stop));
        taken.push(*state);
    }
    let mut listed: Vec<(JobState, String)> = Vec::new();
    if !taken.is_empty() {
        let replies: Vec<Vec<redis::Value>> = queue.run(&ranges).await?;
        for (state, ids) in taken.iter().zip(replies) {
            listed.extend(
                ids.iter()
                    .filter_map(crate::queue::record::text)
                    .map(|id| (*state, id)),
            );
        }
    }
    let (jobs, skipped) = listed_jobs(queue, &listed).await?;
    Ok(JobPage {
        total,
        page,
        size,
        jobs,
        complete: true,
        next: None,
        skipped,
    })
}

/// The jobs of `listed` (state and id), read in one round trip; jobs gone meanwhile are left
/// out, and so are entries that are no jobs (counted: the second value).
pub async fn listed_jobs(
    queue: &TaskQueue,
    listed: &[(JobState, String)],
) -> Result<(Vec<ListedJob>, u64), EngineError> {
    let ids: Vec<&String> = listed.iter().map(|(_, id)| id).collect();
    let (records, skipped) = queue.records_counted(&ids).await?;
    let jobs = listed
        .iter()
        .zip(records)
        .filter_map(|((state, _), record)| {
            record.map(|record| ListedJob {
                state: *state,
                job: record.summary(),
            })
        })
        .collect();
    Ok((jobs, skipped))
}

/// Whether the queue is paused (workers take no new job).
pub async fn is_paused(queue: &TaskQueue) -> Result<bool, EngineError> {
    bounded(CALL_TIMEOUT, queue.engine().is_paused()).await
}

/// How many jobs are in `state`.
pub async fn count(queue: &TaskQueue, state: JobState) -> Result<u64, EngineError> {
    let mut pipe = redis::pipe();
    for source in sources(queue, state) {
        pipe.add_command(source.len());
    }
    let counts: Vec<u64> = queue.run(&pipe).await?;
    Ok(counts.iter().sum())
}

/// The ids of `count` jobs of `state` from `offset`, in the listing's order (ids that could
/// name no job are left out).
pub async fn ids(
    queue: &TaskQueue,
    state: JobState,
    offset: u64,
    count: u64,
) -> Result<Vec<JobId>, EngineError> {
    let mut ids = Vec::new();
    let mut skip = offset;
    for source in sources(queue, state) {
        if ids.len() as u64 >= count {
            break;
        }
        let left = count - ids.len() as u64;
        let reply: Vec<redis::Value> = queue.run_cmd(&source.range(skip, skip + left - 1)).await?;
        if reply.is_empty() {
            // This source has fewer than `skip` entries: what is left of the offset moves on.
            let size: u64 = queue.run_cmd(&source.len()).await?;
            skip = skip.saturating_sub(size);
            continue;
        }
        skip = 0;
        ids.extend(
            reply
                .iter()
                .filter_map(crate::queue::record::text)
                .filter_map(|id| JobId::parse(&id).ok()),
        );
    }
    Ok(ids)
}

/// One job in full, or `None` when there is no such job.
pub async fn detail(
    queue: &TaskQueue,
    id: &JobId,
    limits: &crate::queue::stream::EventLimits,
) -> Result<Option<JobDetail>, EngineError> {
    let Some((found, record)) = queue.status_and_record(id).await? else {
        return Ok(None);
    };
    let logs_key = queue.keys().job_logs(id);
    let mut pipe = redis::pipe();
    pipe.cmd("LRANGE")
        .arg(&logs_key)
        .arg(-DETAIL_LOG_LINES)
        .arg(-1);
    pipe.cmd("LLEN").arg(&logs_key);
    let (lines, count): (Vec<redis::Value>, u64) = queue.run(&pipe).await?;
    let logs = lines
        .iter()
        .filter_map(crate::queue::record::text)
        .map(|line| crate::queue::cut(&line, 1024).to_string())
        .collect();
    let mut detail = record.detail(&found.status, logs, count, found.owner);
    let history = history(queue, id.as_str(), detail.timestamp, limits).await?;
    detail.history = history.events.iter().map(job_event).collect();
    detail.history_total = history.total;
    detail.history_partial = history.partial;
    Ok(Some(detail))
}

/// Stream entries read at most per request for a job's history.
const HISTORY_BUDGET: usize = 5_000;
/// Stream entries read per round trip.
const HISTORY_PAGE: usize = 1_000;
/// The job's events kept (the last ones).
const HISTORY_KEPT: usize = 200;
/// How far before the job's `timestamp` the read starts: the timestamp is the producer's clock,
/// stream ids are Redis's.
const HISTORY_CLOCK_SLACK_MS: u64 = 60_000;

/// A job's events from the queue's event stream.
struct History {
    events: std::collections::VecDeque<crate::queue::stream::QueueEvent>,
    total: u64,
    partial: bool,
}

/// Reads the queue's event stream forward from the job's creation (no event about a job is
/// older than the job, give or take the producer's clock), at most [`HISTORY_BUDGET`]
/// entries, keeping the job's last [`HISTORY_KEPT`] events. The stream is written by anyone:
/// every field is cut and parsed as `events.rs` does for the browsers, with the same limits.
async fn history(
    queue: &TaskQueue,
    id: &str,
    created: u64,
    limits: &crate::queue::stream::EventLimits,
) -> Result<History, EngineError> {
    let key = queue.keys().events();
    let mut found = History {
        events: std::collections::VecDeque::new(),
        total: 0,
        partial: false,
    };
    let from = created.saturating_sub(HISTORY_CLOCK_SLACK_MS);
    let mut saw_added = false;
    let mut start = format!("{from}-0");
    let mut read = 0;
    loop {
        let mut cmd = redis::cmd("XRANGE");
        cmd.arg(&key)
            .arg(&start)
            .arg("+")
            .arg("COUNT")
            .arg(HISTORY_PAGE);
        let entries = crate::queue::stream::parse_entries(queue.run_cmd(&cmd).await?, limits);
        read += entries.len();
        let full = entries.len() == HISTORY_PAGE;
        let Some(last) = entries.last().map(|entry| entry.id) else {
            break;
        };
        for entry in entries {
            if entry.job_id.as_deref() != Some(id) {
                continue;
            }
            found.total += 1;
            saw_added |= entry.name.as_deref() == Some("added");
            if found.events.len() == HISTORY_KEPT {
                found.events.pop_front();
            }
            found.events.push_back(entry);
        }
        if !full {
            break;
        }
        if read >= HISTORY_BUDGET {
            found.partial = true;
            break;
        }
        let Some(next) = last.next() else { break };
        start = next.to_string();
    }
    // Without its `added` event, look whether the stream starts after the job was made: then
    // older events were trimmed away. (One more round trip, only for such jobs.)
    if !saw_added && !found.partial {
        let mut oldest = redis::cmd("XRANGE");
        oldest.arg(&key).arg("-").arg("+").arg("COUNT").arg(1);
        let oldest = crate::queue::stream::parse_entries(queue.run_cmd(&oldest).await?, limits);
        found.partial = oldest.first().is_some_and(|entry| entry.id.ms() > from);
    }
    Ok(found)
}

/// One stream entry as a job event: its name, and in short what it carried.
fn job_event(entry: &crate::queue::stream::QueueEvent) -> app::admin::JobEvent {
    let data: serde_json::Value = serde_json::from_str(&entry.json).unwrap_or_default();
    let name = entry
        .name
        .clone()
        .unwrap_or_else(|| "(unnamed)".to_string());
    let short = |value: &serde_json::Value| match value {
        serde_json::Value::String(text) => crate::queue::cut(text, 200).to_string(),
        other => crate::queue::cut(&other.to_string(), 200).to_string(),
    };
    let detail = match name.as_str() {
        "progress" => data.get("data").map(|progress| match progress {
            serde_json::Value::Object(map) => match (map.get("step"), map.get("total")) {
                (Some(step), Some(total)) => {
                    crate::queue::cut(&format!("{step}/{total}"), 200).to_string()
                }
                _ => short(progress),
            },
            other => short(other),
        }),
        "failed" => data.get("failedReason").map(short),
        "delayed" => data.get("delay").map(short),
        _ => None,
    };
    app::admin::JobEvent {
        at: entry.id.ms(),
        event: name,
        detail,
    }
}

/// Every live worker: Sentinel's from their heartbeats, any other BullMQ worker from the
/// queue's named connections (`CLIENT LIST`, as Node's `getWorkers` reads them).
pub async fn workers(queue: &TaskQueue) -> Result<WorkerList, EngineError> {
    let now = crate::clock::now_ms();
    let mut cmd = redis::cmd("HGETALL");
    cmd.arg(queue.keys().workers());
    let beats = crate::queue::record::hash_pairs(queue.run_cmd(&cmd).await?);
    let mut workers: Vec<WorkerInfo> = beats
        .into_iter()
        .take(10_000)
        .filter_map(|(name, json)| {
            let beat: crate::queue::stats::Heartbeat = serde_json::from_str(&json).ok()?;
            (now.saturating_sub(beat.seen_at) <= crate::queue::stats::WORKER_GONE_AFTER_MS).then(
                || WorkerInfo {
                    name: crate::queue::cut(&name, 200).to_string(),
                    kind: "sentinel".to_string(),
                    host: Some(crate::queue::cut(&beat.host, 200).to_string()),
                    pid: Some(beat.pid),
                    concurrency: Some(beat.concurrency),
                    busy: Some(beat.busy),
                    seen_at: Some(beat.seen_at),
                    connected_secs: None,
                },
            )
        })
        .collect();
    let ours: Vec<String> = workers.iter().map(|w| w.name.clone()).collect();
    let clients = bounded(CALL_TIMEOUT, queue.engine().get_workers()).await?;
    for client in clients {
        let raw = client.get("rawname").cloned().unwrap_or_default();
        // `<prefix>:<base64 queue>:w:<worker name>`, or no name part.
        let name = raw
            .split_once(":w:")
            .map_or(String::new(), |(_, n)| n.to_string());
        if ours.contains(&name) {
            continue;
        }
        workers.push(WorkerInfo {
            name: if name.is_empty() { raw } else { name },
            kind: "bullmq".to_string(),
            host: client.get("addr").cloned(),
            pid: None,
            concurrency: None,
            busy: None,
            seen_at: Some(now),
            connected_secs: client.get("age").and_then(|a| a.parse().ok()),
        });
    }
    workers.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(WorkerList { workers })
}

/// The last `minutes` minutes (including the current one), oldest first, from the hashes the
/// workers write; one round trip.
pub async fn metrics(queue: &TaskQueue, minutes: u64) -> Result<MetricsReport, EngineError> {
    let now_minute = crate::clock::now_ms() / 60_000;
    let first = now_minute.saturating_sub(minutes.saturating_sub(1));
    let mut pipe = redis::pipe();
    for minute in first..=now_minute {
        pipe.cmd("HGETALL").arg(queue.keys().stats_minute(minute));
    }
    // Foreign values in these hashes are skipped, not trusted.
    let hashes: Vec<HashMap<String, u64>> = queue
        .run::<Vec<redis::Value>>(&pipe)
        .await?
        .into_iter()
        .map(|reply| {
            crate::queue::record::hash_pairs(reply)
                .into_iter()
                .filter_map(|(field, n)| Some((field, n.parse().ok()?)))
                .collect()
        })
        .collect();
    let mut total_wait: HashMap<u32, u64> = HashMap::new();
    let mut total_run: HashMap<u32, u64> = HashMap::new();
    let (mut completed, mut failed) = (0, 0);
    let mut list = Vec::new();
    for (minute, fields) in (first..=now_minute).zip(hashes) {
        let mut wait: HashMap<u32, u64> = HashMap::new();
        let mut run: HashMap<u32, u64> = HashMap::new();
        for (field, n) in &fields {
            let bucket_of = |prefix: char| {
                field
                    .strip_prefix(prefix)
                    .and_then(|b| b.parse::<u32>().ok())
                    .filter(|b| *b <= crate::queue::stats::MAX_BUCKET)
            };
            if let Some(b) = bucket_of('w') {
                *wait.entry(b).or_default() += n;
                *total_wait.entry(b).or_default() += n;
            } else if let Some(b) = bucket_of('r') {
                *run.entry(b).or_default() += n;
                *total_run.entry(b).or_default() += n;
            }
        }
        let done = fields.get("completed").copied().unwrap_or(0);
        let lost = fields.get("failed").copied().unwrap_or(0);
        completed += done;
        failed += lost;
        list.push(MinuteStats {
            at: minute * 60_000,
            completed: done,
            failed: lost,
            wait_ms: percentiles(&wait),
            run_ms: percentiles(&run),
        });
    }
    Ok(MetricsReport {
        total: MinuteStats {
            at: first * 60_000,
            completed,
            failed,
            wait_ms: percentiles(&total_wait),
            run_ms: percentiles(&total_run),
        },
        minutes: list,
    })
}

fn percentiles(buckets: &HashMap<u32, u64>) -> Percentiles {
    crate::queue::stats::summary(buckets)
}
