//! Which queue an operator's call is about: Sentinel's own (`SENTINEL_PREFIX`/`SENTINEL_QUEUE`),
//! or any other BullMQ queue on the Redis, named `<prefix>:<name>` (`?queue=` on the admin API,
//! the dashboard's URL). Every admin action and read takes its queue from here, so a queue that
//! does not exist is a 404 naming `queue` everywhere, and nothing is ever created by asking.

use std::collections::HashMap;
use std::ops::Deref;
use std::sync::{Arc, Mutex};

use app::admin::QueueName;

use super::admin::param;
use super::state::AppState;
use crate::auth::Principal;
use crate::error::AppError;
use crate::queue::TaskQueue;
use crate::queue::discovery::{self, FoundQueue};

/// Other queues kept open at most (they share the one connection; past this the set is
/// emptied and opened again as asked).
const MAX_ATTACHED: usize = 1024;

/// The queue a call is about.
pub enum Target<'a> {
    /// Sentinel's own queue.
    Home(&'a TaskQueue),
    /// Another BullMQ queue on the Redis.
    Other(Arc<TaskQueue>),
}

impl Deref for Target<'_> {
    type Target = TaskQueue;

    fn deref(&self) -> &TaskQueue {
        match self {
            Target::Home(queue) => queue,
            Target::Other(queue) => queue,
        }
    }
}

/// Other queues opened so far, on the home queue's connection.
#[derive(Default)]
pub struct Attached {
    queues: Mutex<HashMap<QueueName, Arc<TaskQueue>>>,
}

impl Attached {
    fn get(&self, name: &QueueName) -> Option<Arc<TaskQueue>> {
        self.queues
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    fn put(&self, name: QueueName, queue: Arc<TaskQueue>) {
        let mut queues = self.queues.lock().unwrap_or_else(|e| e.into_inner());
        if queues.len() >= MAX_ATTACHED {
            queues.clear();
        }
        queues.insert(name, queue);
    }
}

/// The home queue's name.
pub fn home(state: &AppState) -> QueueName {
    QueueName {
        prefix: state.config.prefix.clone(),
        name: state.config.queue.clone(),
    }
}

/// The name `asked` gives (`<prefix>:<name>`), the home queue's when absent or empty.
pub fn name_of(state: &AppState, asked: Option<&str>) -> Result<QueueName, AppError> {
    // Taken as given: an empty or blank value is a refused name, not Sentinel's own queue.
    match asked {
        None => Ok(home(state)),
        Some(raw) => QueueName::parse(raw).map_err(|message| param("queue", message)),
    }
}

/// Whether `principal` may see queue `name` at all.
pub fn may_see(principal: &Principal, name: &QueueName) -> bool {
    principal.may_see_queue(&name.prefix, &name.name)
}

/// The queue `asked` names, for `principal`: the home queue when absent; another queue if it
/// exists on the Redis (its meta hash holds BullMQ's settings), is under
/// `SENTINEL_DISCOVER_PREFIXES` when that is set, and `principal` may see it. Otherwise a 404
/// naming `queue` (the same answer whether the queue is absent or hidden from the caller).
pub async fn target<'a>(
    state: &'a AppState,
    principal: &Principal,
    asked: Option<&str>,
) -> Result<Target<'a>, AppError> {
    let home_queue = state.queue()?;
    let name = name_of(state, asked)?;
    let missing = || AppError::NoQueue { queue: name.text() };
    if !may_see(principal, &name) {
        return Err(missing());
    }
    if name == home(state) {
        return Ok(Target::Home(home_queue));
    }
    let prefixes = &state.config.discover_prefixes;
    if !prefixes.is_empty() && !prefixes.contains(&name.prefix) {
        return Err(missing());
    }
    if let Some(queue) = state.attached.get(&name) {
        return Ok(Target::Other(queue));
    }
    let found = FoundQueue {
        prefix: name.prefix.clone(),
        name: name.name.clone(),
    };
    if !discovery::exists(home_queue, &found).await? {
        return Err(missing());
    }
    if name.prefix.contains(':') {
        return Err(param(
            "queue",
            "this queue's prefix holds ':', which the queue engine refuses: Sentinel lists it but cannot open it",
        ));
    }
    let queue = Arc::new(
        home_queue
            .attach(
                &name.prefix,
                &name.name,
                state.config.works(&name.prefix, &name.name),
            )
            .await?,
    );
    state.attached.put(name, queue.clone());
    Ok(Target::Other(queue))
}
