//! A job's progress, written the way BullMQ's scripts write it.

use std::sync::Arc;

use bullmq::redis_connection::RedisConnection;

use crate::queue::keys::QueueKeys;

/// One tick's writes, in one script call: the job's progress and its `progress` event exactly
/// as BullMQ's `updateProgress` script writes them (what Node's `job.updateProgress` does, so
/// `QueueEvents` and dashboards see the same), and a line in the job's log list (what Node's
/// `job.log` writes and `getJobLogs` reads), capped at `KEEP_LOG_LINES`. Nothing is written for
/// a job that no longer exists (removed or cancelled meanwhile).
///
/// One round trip per tick instead of two (the crate's `update_progress` plus a pipelined
/// `RPUSH` + `LTRIM`): a draining worker's CPU went mostly to writing and reading requests.
///
/// The job's hash, its log list, the event stream and the meta hash all start with the
/// queue's prefix, so they share its hash slot in a cluster. The keys are made once per job.
pub struct Progress {
    connection: RedisConnection,
    job_key: String,
    logs_key: String,
    events_key: Arc<str>,
    meta_key: Arc<str>,
    id: String,
}

/// KEYS: job hash, event stream, queue meta hash, job log list.
/// ARGV: job id, progress JSON, log line, log lines kept.
const TICK_SCRIPT: &str = r#"
if redis.call("EXISTS", KEYS[1]) ~= 1 then
  return -1
end
local maxEvents = redis.call("HGET", KEYS[3], "opts.maxLenEvents")
if not maxEvents then
  maxEvents = 10000
  redis.call("HSET", KEYS[3], "opts.maxLenEvents", maxEvents)
end
redis.call("HSET", KEYS[1], "progress", ARGV[2])
redis.call("XADD", KEYS[2], "MAXLEN", "~", maxEvents, "*",
  "event", "progress", "jobId", ARGV[1], "data", ARGV[2])
local keep = tonumber(ARGV[4])
if redis.call("RPUSH", KEYS[4], ARGV[3]) > keep then
  redis.call("LTRIM", KEYS[4], -keep, -1)
end
return 0
"#;

fn tick_script() -> &'static redis::Script {
    static SCRIPT: std::sync::OnceLock<redis::Script> = std::sync::OnceLock::new();
    SCRIPT.get_or_init(|| redis::Script::new(TICK_SCRIPT))
}

/// Why a tick's writes did not land.
#[derive(Debug, thiserror::Error)]
pub enum ProgressError {
    #[error(transparent)]
    Redis(#[from] redis::RedisError),
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    #[error("the job no longer exists")]
    Gone,
}

impl Progress {
    pub(super) fn new(
        connection: RedisConnection,
        keys: &QueueKeys,
        events_key: Arc<str>,
        meta_key: Arc<str>,
        id: &str,
    ) -> Self {
        let (job_key, logs_key) = keys.running_job(id);
        Self {
            connection,
            logs_key,
            job_key,
            events_key,
            meta_key,
            id: id.to_string(),
        }
    }

    /// Writes the job's progress (any JSON, as Node's `updateProgress` takes) and `line` to its
    /// log. Fails with [`ProgressError::Gone`] when the job no longer exists.
    pub async fn write(
        &self,
        progress: &impl serde::Serialize,
        line: &str,
    ) -> Result<(), ProgressError> {
        let json = serde_json::to_string(progress)?;
        let mut conn = self.connection.connection();
        let answer: i64 = tick_script()
            .key(&self.job_key)
            .key(&*self.events_key)
            .key(&*self.meta_key)
            .key(&self.logs_key)
            .arg(&self.id)
            .arg(&json)
            .arg(line)
            .arg(crate::queue::KEEP_LOG_LINES)
            .invoke_async(&mut conn)
            .await?;
        if answer < 0 {
            return Err(ProgressError::Gone);
        }
        Ok(())
    }
}
