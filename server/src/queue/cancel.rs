//! Cancel markers: a cancel is a marker in Redis, not a message. `<prefix>:<queue>:cancel` is
//! a sorted set of job ids (scored by when the cancel was asked), in the queue's hash slot.
//! Any web process marks a running job; the worker process that runs it finds the marker
//! (`worker/cancel.rs`), stops the job, fails it as `cancelled` and removes the marker. Markers
//! left behind (the job finished first) are dropped after an hour.

use std::time::Duration;

use bullmq::redis_connection::RedisConnection;
use tracing::debug;

use crate::clock::now_ms;

/// The reason a cancelled job fails with.
pub const CANCELLED: &str = "cancelled";

/// How long a marker is kept.
const MARKER_TTL_MS: u64 = 3_600_000;

/// Marks `id` as cancelled (and drops markers older than an hour), in one round trip.
pub fn mark(pipe: &mut redis::Pipeline, key: &str, id: &str) {
    let now = now_ms();
    pipe.cmd("ZADD").arg(key).arg(now).arg(id).ignore();
    pipe.cmd("ZREMRANGEBYSCORE")
        .arg(key)
        .arg("-inf")
        .arg(now.saturating_sub(MARKER_TTL_MS))
        .ignore();
}

/// Removes job `id`'s marker once the job has failed as cancelled.
pub async fn clear(connection: &RedisConnection, key: &str, id: &str) {
    let mut conn = connection.connection();
    let removed: Result<redis::Value, _> = tokio::time::timeout(
        Duration::from_secs(3),
        redis::cmd("ZREM").arg(key).arg(id).query_async(&mut conn),
    )
    .await
    .unwrap_or_else(|_| Ok(redis::Value::Nil));
    if let Err(error) = removed {
        debug!(%error, "could not clear a cancel marker; it expires within an hour");
    }
}
