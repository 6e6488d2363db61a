//! A bulk run's working list: the ids a search found, kept in Redis while the run acts on
//! them a chunk at a time, so a run holds one chunk of ids in memory, not up to a million.

use app::JobId;

use super::{EngineError, TaskQueue};

/// How long a working list is kept if its run dies before it removes it.
const WORKING_LIST_SECS: u64 = 3600;

/// Appends `ids` to run `run`'s working list.
pub async fn push(queue: &TaskQueue, run: &str, ids: &[&str]) -> Result<(), EngineError> {
    if ids.is_empty() {
        return Ok(());
    }
    let list = queue.keys().bulk_run(run);
    let mut pipe = redis::pipe();
    pipe.cmd("RPUSH").arg(&list).arg(ids).ignore();
    pipe.cmd("EXPIRE")
        .arg(&list)
        .arg(WORKING_LIST_SECS)
        .ignore();
    queue.run::<()>(&pipe).await
}

/// Takes up to `count` entries from the head of run `run`'s working list, as job ids (entries
/// that could name no job are dropped); `None` when the list is empty.
pub async fn pop(
    queue: &TaskQueue,
    run: &str,
    count: usize,
) -> Result<Option<Vec<JobId>>, EngineError> {
    let mut pop = redis::cmd("LPOP");
    pop.arg(queue.keys().bulk_run(run)).arg(count);
    let chunk: Vec<Vec<u8>> = queue.run_cmd::<Option<_>>(&pop).await?.unwrap_or_default();
    if chunk.is_empty() {
        return Ok(None);
    }
    Ok(Some(
        chunk
            .iter()
            .filter_map(|raw| super::keys::is_job_id(std::str::from_utf8(raw).ok()?))
            .collect(),
    ))
}

/// Removes run `run`'s working list.
pub async fn drop(queue: &TaskQueue, run: &str) -> Result<(), EngineError> {
    let mut del = redis::cmd("DEL");
    del.arg(queue.keys().bulk_run(run));
    queue.run_cmd::<i64>(&del).await.map(|_| ())
}
