//! The cross-process tests, one binary: real `redis-server` processes, real server processes,
//! the real `bullmq` npm package, schemathesis. One module per concern; what needs no process is
//! tested in-process (`server/tests/edge/`, `server/tests/service/`).

mod access;
mod alerts;
mod attacks;
mod cluster;
mod faults;
mod fuzz;
mod hardening;
mod http_api;
mod interop;
mod operate;
mod sse;
