//! The OpenAPI document's own types: the shapes of request bodies the handlers read by hand,
//! the `queue` parameter, and the refusals shared by routes (described once). The error body is
//! [`crate::error::ErrorBody`], the type `AppError` serializes.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ErrorBody;

/// The `queue` parameter of the admin routes.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OnQueue {
    /// Which queue: `<prefix>:<name>` as `GET /admin/api/queues` lists it (Sentinel's own when
    /// absent); a queue that does not exist or that the caller's grant does not reach is a 404
    #[param(
        max_length = 513,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]{1,256}:[^:\u0000-\u001f\u007f-\u009f]{1,256}$"
    )]
    #[allow(dead_code)]
    queue: Option<String>,
}

/// The refusals every route for viewers and up may answer, described once.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum ForViewers {
    /// No credentials.
    #[response(status = 401, description = "Sign in first")]
    Unauthorized(ErrorBody),
    /// A submitter.
    #[response(status = 403, description = "Viewers and up only")]
    Forbidden(ErrorBody),
    /// Redis is away.
    #[response(status = 503, description = "The queue is not reachable")]
    Unavailable(ErrorBody),
}

/// The refusals every route for operators and up may answer, described once.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum ForOperators {
    /// No credentials.
    #[response(status = 401, description = "Sign in first")]
    Unauthorized(ErrorBody),
    /// A submitter or a viewer.
    #[response(status = 403, description = "Operators and up only")]
    Forbidden(ErrorBody),
    /// A rate limit per principal, or a cap of this process.
    #[response(
        status = 429,
        description = "Over the caller's rate limit or a cap of this process; the body names the setting (`limit`) and `Retry-After` says when to try again"
    )]
    Limited(ErrorBody),
    /// Redis is away.
    #[response(status = 503, description = "The queue is not reachable")]
    Unavailable(ErrorBody),
}

/// The refusals of a route for anyone signed in, described once.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum ForSignedIn {
    /// No credentials.
    #[response(status = 401, description = "Sign in first")]
    Unauthorized(ErrorBody),
    /// Redis is away, or full.
    #[response(
        status = 503,
        description = "The queue is not reachable (`unavailable`), or, for a new job, Redis is past the memory guard's limit (`redis_full`)"
    )]
    Unavailable(ErrorBody),
}

/// The optional JSON body of `POST /tasks/enqueue`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnqueueBody {
    /// Ticks the task runs: a whole number from 1 to `MAX_SECONDS` (default 20).
    #[schema(minimum = 1, maximum = 3600)]
    pub seconds: Option<u64>,
    /// Wait before the job may run, in ms (up to a year).
    #[schema(minimum = 0, maximum = 31_536_000_000u64)]
    pub delay: Option<u64>,
    /// Lower runs first; 0 is none (BullMQ's 0 to 2,097,152).
    #[schema(minimum = 0, maximum = 2_097_152)]
    pub priority: Option<u64>,
    /// How many times the job may run in all (default 1).
    #[schema(minimum = 1, maximum = 100)]
    pub attempts: Option<u64>,
    /// How failed attempts wait.
    pub backoff: Option<BackoffBody>,
    /// A custom job id (not an integer, no `:`): a second add with it returns the existing job.
    #[schema(
        min_length = 1,
        max_length = 256,
        pattern = r"^[^:\u0000-\u001f\u007f-\u009f]*[^:0-9\u0000-\u001f\u007f-\u009f][^:\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub job_id: Option<String>,
    /// The longest one attempt may run, in ms (up to a day); over it the attempt fails with
    /// `timed out after N ms`.
    #[schema(minimum = 1, maximum = 86_400_000)]
    pub timeout_ms: Option<u64>,
    /// Operators and admins: enqueue for this owner (`user:<name>` or `token:<name>`); the job
    /// is theirs (their list, their quota) and the audit log records who did it. Below
    /// operator: 403.
    #[schema(pattern = r"^(user|token):[A-Za-z0-9._@-]{1,100}$")]
    pub on_behalf_of: Option<String>,
}

/// `backoff` of an enqueue.
#[derive(Debug, Serialize, ToSchema)]
pub struct BackoffBody {
    /// `fixed` or `exponential`.
    #[schema(pattern = "^(fixed|exponential)$")]
    pub r#type: String,
    /// The delay in ms (exponential: doubled after each failure).
    #[schema(minimum = 0, maximum = 86_400_000)]
    pub delay: Option<u64>,
}

/// The body of `POST /admin/api/jobs/bulk`: an action and either ids or a search.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum BulkBody {
    /// On these jobs.
    Ids(BulkIds),
    /// On every job a search finds.
    Query(BulkQuery),
}

/// A bulk action on listed jobs.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkIds {
    /// `retry`, `remove`, `promote` or `cancel`.
    #[schema(pattern = "^(retry|remove|promote|cancel)$")]
    pub action: String,
    /// 1 to 100 job ids.
    #[schema(schema_with = bulk_ids)]
    pub ids: Vec<String>,
}

/// A bulk action on every job a search finds.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkQuery {
    /// `retry`, `remove`, `promote` or `cancel`.
    #[schema(pattern = "^(retry|remove|promote|cancel)$")]
    pub action: String,
    /// A search, as `GET /admin/api/jobs` takes it (`state:failed`, `name:x data.k:v`, words
    /// of the failed reason); an empty one covers every job.
    #[schema(schema_with = search_query)]
    pub q: String,
}

/// The schema of a search query.
fn search_query() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(app::search::MAX_QUERY_CHARS))
        .pattern(Some(app::search::QUERY_PATTERN))
        .build()
}

/// The schema of a bulk action's `ids`: 1 to 100 job ids (no `:`, no control characters, at
/// most 256 characters).
fn bulk_ids() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(256))
                .pattern(Some(r"^[^:\u0000-\u001f\u007f-\u009f]{1,256}$")),
        )
        .min_items(Some(1))
        .max_items(Some(100))
        .build()
}

/// The body of `POST /admin/api/jobs`: a job to add (the dashboard's "duplicate").
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddJobBody {
    /// The job's name (on Sentinel's own queue, `longTask`).
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]{1,200}$"
    )]
    pub name: String,
    /// The job's data (on Sentinel's own queue, a task's: `seconds`).
    pub data: serde_json::Value,
    /// Its options, as the task API takes them: `delay`, `priority`, `attempts`, `backoff`,
    /// `timeoutMs` (Sentinel's own queue only); no `jobId` (a copy has an id of its own).
    #[serde(default)]
    pub opts: Option<serde_json::Value>,
}
