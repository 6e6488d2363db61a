//! What the service keeps between calls, behind [`super::Sentinel`]'s private fields: the
//! dashboards' shared reads, the bulk runs, the other queues opened, the audit log's
//! coalescing windows, the rate limits' settings and the memory guard's last reading. Data and
//! the rules that keep it consistent, nothing that needs the service itself: the operations
//! that use them are the service's, in the files beside this folder.

pub mod attached;
pub mod coalescer;
pub mod limiter;
pub mod memory;
pub mod reads;
pub mod runs;
