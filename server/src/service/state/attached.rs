//! The other BullMQ queues opened for operators' calls, on the home queue's connection.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use app::admin::QueueName;

use crate::queue::TaskQueue;

/// Other queues kept open at most (they share the one connection; past this the set is
/// emptied and opened again as asked).
const MAX_ATTACHED: usize = 1024;

/// Other queues opened so far, on the home queue's connection.
#[derive(Default)]
pub struct Attached {
    queues: Mutex<HashMap<QueueName, Arc<TaskQueue>>>,
}

impl Attached {
    /// The queue `name`, if it is open.
    pub fn get(&self, name: &QueueName) -> Option<Arc<TaskQueue>> {
        self.queues
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    /// Keeps `queue` open as `name` (past [`MAX_ATTACHED`] the set starts again).
    pub fn put(&self, name: QueueName, queue: Arc<TaskQueue>) {
        let mut queues = self.queues.lock().unwrap_or_else(|e| e.into_inner());
        if queues.len() >= MAX_ATTACHED {
            queues.clear();
        }
        queues.insert(name, queue);
    }
}
