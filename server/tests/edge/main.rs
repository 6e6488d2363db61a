//! The HTTP edge's rules, tested in-process: the router (`server::app`) is called with
//! `tower::ServiceExt::oneshot`, against a real `redis-server` of the test's own, with no server
//! process started. Status codes and JSON errors, limits, roles, cross-site refusals, the host
//! check, headers. What the service does (and who may do it) is tested without HTTP in
//! `tests/service/`; what needs real processes (kill -9, SIGTERM, interop with Node, browsers,
//! containers) stays in the cross-process suites under `tests/`.

#[path = "../common/mod.rs"]
mod common;
mod harness;

mod access;
mod alerts;
mod audit;
mod enqueue;
mod errors;
mod grants;
mod limits;
mod openapi;
mod outage;
mod queues;
mod roles;
mod schedulers;
mod why;
