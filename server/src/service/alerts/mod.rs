//! Alert rules: the file (`SENTINEL_ALERTS_FILE`, re-read when it changes), the loop that checks
//! the rules, and the messages it sends.
//!
//! Every process that serves the API runs the loop; one of them at a time holds a lease in Redis
//! and checks the rules (the others wait to take over), and a rule's state is written in Redis
//! only under that lease, so three processes send one message. "Redis does not answer" cannot go
//! through Redis: the process that held the lease when Redis went away fires and resolves it on
//! its own.

pub mod check;
mod evaluate;
pub mod loaded;
pub mod notify;
mod report;
pub mod rules;
pub mod transition;

pub use loaded::Alerts;
