//! Sentinel's server: the task API, the event stream, the embedded worker and their lifecycle.
//!
//! Entry points: [`run`] starts everything and returns after a clean shutdown; [`app`] builds the
//! router for a given state. The folders are the layers, each using only those below it (see
//! ARCHITECTURE.md; `tests/layers.rs` checks it): `boot` → `http` → `service` → `auth` →
//! `worker`, `events` → `queue`, over the leaves `config`, `metrics`, `telemetry`, `clock`.

pub mod auth;
pub mod boot;
pub mod clock;
pub mod config;
pub mod error;
pub mod events;
pub mod http;
pub mod metrics;
pub mod queue;
pub mod service;
pub mod telemetry;
pub mod worker;

pub use boot::{RunError, run, run_with};
pub use config::{Config, Role};
pub use http::app;
pub use http::state::AppState;
pub use service::Sentinel;
