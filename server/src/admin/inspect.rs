//! Admin reads: pages of jobs by state, and one job in full. Our own pipelined reads over the
//! queue's keys (a page is three round trips whatever its size), decoded leniently by
//! `record.rs`. Reads only: nothing here changes the queue.

use app::JobId;
use app::admin::{JobDetail, JobPage, ListedJob};
use app::types::JobState;

use crate::engine::{EngineError, TaskQueue};

/// Log lines returned with a job (the most recent).
pub const DETAIL_LOG_LINES: i64 = 200;

/// Where a state's jobs are kept, and in which order a page lists them.
enum Source {
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

fn sources(queue: &TaskQueue, state: JobState) -> Vec<Source> {
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
        match source {
            Source::List(key) => pipe.cmd("LLEN").arg(key),
            Source::Ascending(key) | Source::Descending(key) => pipe.cmd("ZCARD").arg(key),
        };
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
        match source {
            Source::List(key) => ranges.cmd("LRANGE").arg(key).arg(start).arg(stop),
            Source::Ascending(key) => ranges.cmd("ZRANGE").arg(key).arg(start).arg(stop),
            Source::Descending(key) => ranges.cmd("ZREVRANGE").arg(key).arg(start).arg(stop),
        };
        taken.push(*state);
    }
    let mut listed: Vec<(JobState, String)> = Vec::new();
    if !taken.is_empty() {
        let replies: Vec<Vec<redis::Value>> = queue.run(&ranges).await?;
        for (state, ids) in taken.iter().zip(replies) {
            listed.extend(
                ids.iter()
                    .filter_map(crate::record::text)
                    .map(|id| (*state, id)),
            );
        }
    }
    let ids: Vec<&String> = listed.iter().map(|(_, id)| id).collect();
    let records = queue.records(&ids).await?;
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
    Ok(JobPage {
        total,
        page,
        size,
        jobs,
    })
}

/// One job in full, or `None` when there is no such job.
pub async fn detail(queue: &TaskQueue, id: &JobId) -> Result<Option<JobDetail>, EngineError> {
    let Some(found) = queue.status(id).await? else {
        return Ok(None);
    };
    let job_key = queue.keys().job_key(id.as_str());
    let mut pipe = redis::pipe();
    pipe.cmd("HGETALL").arg(&job_key);
    pipe.cmd("LRANGE")
        .arg(format!("{job_key}:logs"))
        .arg(-DETAIL_LOG_LINES)
        .arg(-1);
    pipe.cmd("LLEN").arg(format!("{job_key}:logs"));
    let mut replies: Vec<redis::Value> = queue.run(&pipe).await?;
    let count = match replies.pop() {
        Some(redis::Value::Int(n)) => u64::try_from(n).unwrap_or(0),
        _ => 0,
    };
    let logs: Vec<String> = match replies.pop() {
        Some(redis::Value::Array(lines)) => lines
            .iter()
            .filter_map(crate::record::text)
            .map(|line| crate::events::cut(&line, 1024).to_string())
            .collect(),
        _ => Vec::new(),
    };
    let Some(record) = replies.pop().and_then(|hash| {
        crate::record::JobRecord::from_reply(id.as_str(), hash, queue.max_field_bytes())
    }) else {
        return Ok(None);
    };
    Ok(Some(record.detail(&found.status, logs, count, found.owner)))
}
