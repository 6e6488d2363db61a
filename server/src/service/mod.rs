//! What Sentinel does, whoever asks: every edge (the HTTP API, the page's and the dashboard's
//! server functions) calls these functions with typed requests, so the edges cannot drift
//! apart. Roles are checked by the edges; quotas, ids and the dashboards' shared reads here.

pub mod admin;
pub mod alerts;
pub mod audit;
pub mod bulk;
pub mod enqueue;
pub mod queues;
pub mod reads;
pub mod schedulers;
pub mod state;
