//! Sentinel's shared crate: the types that the server and the browser both speak.
//!
//! Nothing here knows about tokio, Redis or HTTP; the server converts queue-engine values into
//! these types, and the browser deserialises them from the JSON the server sends.

pub mod types;

pub use types::{
    CountsReport, EnqueueResponse, JobCounts, JobId, JobIdError, JobState, JobStatus, JobSummary,
    SecondsError, TaskPayload, TaskProgress, TaskResult, parse_seconds,
};
