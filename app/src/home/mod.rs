//! The people's page (`/`): the form, their tasks with live progress, the queue's counts, the
//! live indicator; its server functions (`api.rs`) and, in the browser, its transport
//! (`client.rs`), storage, submission and live loop.

pub mod api;
#[cfg(feature = "hydrate")]
pub mod client;
pub mod counts;
pub mod live;
pub mod page;
pub mod storage;
pub mod submit;
pub mod tasks;
pub mod view;
