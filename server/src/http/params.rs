//! Parameters the admin routes share: the queue a request is about and a job id from the path.

use std::collections::HashMap;

use app::JobId;

use crate::error::AppError;

/// The `queue=` parameter (`<prefix>:<name>`), if given.
pub fn queue_of(query: &HashMap<String, String>) -> Option<&str> {
    query.get("queue").map(String::as_str)
}

/// A job id from the path; `400` naming it when it can name no job.
pub fn parse_id(raw: &str) -> Result<JobId, AppError> {
    JobId::parse(raw).map_err(|source| AppError::InvalidId {
        id: raw.to_string(),
        source,
    })
}
