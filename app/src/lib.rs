//! Sentinel's shared crate: the types that the server and the browser both speak, the Leptos
//! components of the page, and the server functions between them.
//!
//! Features: `ssr` (the server's build: server function bodies, rendering) and `hydrate` (the
//! browser's build: event stream, polling, localStorage). Never both at once. Nothing here
//! depends on tokio, Redis or the queue engine: the server provides a
//! [`backend::TaskBackend`] as context.

#![recursion_limit = "256"]

pub mod admin;
pub mod api;
#[cfg(feature = "ssr")]
pub mod backend;
#[cfg(feature = "hydrate")]
pub mod client;
pub mod counts;
pub mod dashboard;
pub mod head;
pub mod live;
pub mod options;
pub mod page;
pub mod search;
pub mod storage;
#[cfg(feature = "hydrate")]
pub mod stream;
pub mod submit;
pub mod tasks;
pub mod time;
pub mod types;
pub mod url;
pub mod view;

pub use page::{App, HomeApp, HomeQuery, home_shell, shell};
pub use types::{
    CountsReport, EnqueueOutcome, EnqueueResponse, JobCounts, JobId, JobIdError, JobState,
    JobStatus, JobSummary, PageSettings, SecondsError, TaskPayload, TaskProgress, TaskResult,
    parse_seconds,
};
pub use view::TaskView;
