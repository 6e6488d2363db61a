//! The connector: builds the Redis-backed services in the start-up order (queue connection, then
//! the event reader, then the worker) and keeps retrying while Redis is not there, so the
//! process starts (and `/readyz` answers 503) even when Redis is down.

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::events::EventHub;
use crate::http::state::AppState;
use crate::queue::TaskQueue;
use crate::service::Services;
use crate::telemetry::error_chain;
use crate::worker::EmbeddedWorker;

/// Pause between connection attempts.
const RETRY_EVERY: Duration = Duration::from_millis(500);

/// Connects everything this role needs and installs it into `state`. Returns early (with
/// nothing installed) if shutdown comes first.
pub async fn connect(state: AppState) {
    let config = state.config.clone();
    let shutdown = state.shutdown.clone();
    let redis = redacted(config.redis_target());
    let mut warned = false;

    let Some(queue) = retry(&shutdown, "queue", &redis, &mut warned, || {
        TaskQueue::connect(&config, state.metrics.clone(), shutdown.clone())
    })
    .await
    else {
        return;
    };

    match queue.eviction_policy().await {
        Ok(policy) if !policy.is_empty() && policy != "noeviction" => warn!(
            %policy,
            "Redis maxmemory-policy is not noeviction: Redis may evict jobs; /readyz reports not ready until it is set to noeviction"
        ),
        Ok(_) => {}
        Err(error) => {
            debug!(error = %error_chain(&error), "could not read Redis's maxmemory-policy")
        }
    }

    let hub = config.role.serves_api().then(|| {
        EventHub::start(
            queue.connection().clone(),
            queue.keys().clone(),
            &config.limits,
            state.access.enabled,
            shutdown.clone(),
        )
    });

    let worker = if config.role.runs_worker() {
        let Some(worker) = retry(&shutdown, "worker", &redis, &mut warned, || {
            EmbeddedWorker::start(
                &config,
                queue.connection().clone(),
                state.metrics.clone(),
                state.sentinel.processors().clone(),
            )
        })
        .await
        else {
            return;
        };
        Some(worker)
    } else {
        None
    };

    info!(%redis, role = ?config.role, "connected to Redis; ready");
    state.sentinel.install(Services { queue, hub, worker });
    if state.config.role.serves_api() {
        tokio::spawn(state.sentinel.clone().record_token_reloads());
    }
    // Just reached: event streams say so now rather than after the pulse's next ping.
    state.sentinel.pulse().record(true);
}

/// Calls `attempt` until it succeeds or shutdown comes. The first failure is logged as one
/// clear warning; later ones only at debug level.
async fn retry<T, E, F, Fut>(
    shutdown: &CancellationToken,
    what: &str,
    redis: &str,
    warned: &mut bool,
    mut attempt: F,
) -> Option<T>
where
    E: std::error::Error,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    loop {
        let result = tokio::select! {
            result = attempt() => result,
            () = shutdown.cancelled() => return None,
        };
        match result {
            Ok(value) => return Some(value),
            Err(error) if !*warned => {
                warn!(
                    %redis,
                    error = %error_chain(&error),
                    "Redis is not reachable; retrying until it is (readyz answers 503 meanwhile)"
                );
                *warned = true;
            }
            Err(error) => debug!(what, error = %error_chain(&error), "still no Redis"),
        }
        if !crate::clock::Backoff::new(RETRY_EVERY, RETRY_EVERY)
            .sleep(shutdown)
            .await
        {
            return None;
        }
    }
}

/// The URL without its password, for logs.
pub fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}://***@{}", &url[..scheme_end], &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_stay_out_of_logs() {
        assert_eq!(
            super::redacted("redis://:pw@host:6379/0"),
            "redis://***@host:6379/0"
        );
        assert_eq!(
            super::redacted("redis://127.0.0.1:6379"),
            "redis://127.0.0.1:6379"
        );
    }
}
