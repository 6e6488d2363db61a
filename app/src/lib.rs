//! Sentinel's shared crate: the types that the server and the browser both speak, the Leptos
//! components of the pages, and the server functions between them. By audience:
//!
//! - [`model`]: the shared data types and their text helpers (no Leptos): what the server
//!   sends and the browser reads, the admin API's shapes, job options, the search language.
//! - [`home`]: the people's page (`/`): the form, their tasks, live updates, its server
//!   functions.
//! - [`dashboard`]: the operators' pages (`/admin/...`): one shared frame, lazily loaded pages,
//!   their server functions.
//! - [`shell`]: the HTML documents and the router.
//!
//! Features: `ssr` (the server's build: server function bodies, rendering) and `hydrate` (the
//! browser's build: event stream, polling, localStorage). Never both at once. Nothing here
//! depends on tokio, Redis or the queue engine: the server provides a
//! [`backend::TaskBackend`] and an [`backend::AdminBackend`] as context.

#![recursion_limit = "256"]

#[cfg(feature = "ssr")]
pub mod backend;
pub mod dashboard;
pub mod head;
pub mod home;
pub mod model;
pub mod shell;
#[cfg(feature = "hydrate")]
pub mod stream;

// The shared types under the names the server and the tests have always used.
pub use home::page::{HomeApp, HomeQuery};
pub use home::{api, view::TaskView};
pub use model::{admin, options, search, time, types, url};
pub use shell::{App, home_shell, shell};
pub use types::{
    CountsReport, EnqueueOutcome, EnqueueResponse, JobCounts, JobId, JobIdError, JobState,
    JobStatus, JobSummary, PageSettings, SecondsError, TaskPayload, TaskProgress, TaskResult,
    parse_seconds,
};
