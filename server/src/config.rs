//! Every setting of the server, read once at start-up from flags and environment variables.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Parser, ValueEnum};

/// Which parts of Sentinel this process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Role {
    /// HTTP API, event stream and an embedded worker.
    All,
    /// HTTP API and event stream only; jobs are run by other processes.
    Web,
    /// The worker, plus the health endpoints.
    Worker,
}

impl Role {
    /// Whether this role runs the embedded worker.
    pub fn runs_worker(self) -> bool {
        matches!(self, Role::All | Role::Worker)
    }

    /// Whether this role serves the task API and the event stream.
    pub fn serves_api(self) -> bool {
        matches!(self, Role::All | Role::Web)
    }
}

/// Sentinel's settings. Each one is a flag and an environment variable.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "server",
    version,
    about = "Sentinel: long-running tasks on a BullMQ queue"
)]
pub struct Config {
    /// Redis to use for the queue.
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379/0")]
    pub redis_url: String,

    /// Seed nodes of a Redis Cluster (comma-separated `redis://host:port` URLs). When set, the
    /// queue lives on the cluster and `SENTINEL_PREFIX` must carry a hash tag (`{sentinel}`) so
    /// that all of a queue's keys share one slot. `REDIS_URL` is then unused.
    #[arg(long, env = "REDIS_CLUSTER_NODES", value_delimiter = ',')]
    pub redis_cluster_nodes: Vec<String>,

    /// Address the HTTP server listens on.
    #[arg(long, env = "LEPTOS_SITE_ADDR", default_value = "127.0.0.1:3001")]
    pub listen: SocketAddr,

    /// Key prefix of the queue (`sentinel` gives keys `sentinel:<queue>:...`). Use a hash tag
    /// such as `{sentinel}` on a Redis Cluster so all of a queue's keys share one slot.
    #[arg(long, env = "SENTINEL_PREFIX", default_value = "sentinel")]
    pub prefix: String,

    /// Queue name.
    #[arg(long, env = "SENTINEL_QUEUE", default_value = "sentinel-tasks")]
    pub queue: String,

    /// What this process runs.
    #[arg(long, env = "SENTINEL_ROLE", value_enum, default_value_t = Role::All)]
    pub role: Role,

    /// Jobs the embedded worker runs at the same time.
    #[arg(long, env = "WORKER_CONCURRENCY", default_value_t = 3)]
    pub worker_concurrency: usize,

    /// Length of one task tick in milliseconds (1000 in production; short in tests).
    #[arg(long, env = "TASK_TICK_MS", default_value_t = 1000)]
    pub task_tick_ms: u64,

    /// Largest `seconds` a task may be enqueued with.
    #[arg(long, env = "MAX_SECONDS", default_value_t = 3600)]
    pub max_seconds: u64,

    /// How long active jobs may run on after SIGTERM before they are handed back to the queue.
    #[arg(long, env = "SHUTDOWN_GRACE_MS", default_value_t = 10_000)]
    pub shutdown_grace_ms: u64,

    /// How long a worker's lock on a job lasts unless renewed (BullMQ's default).
    #[arg(long, env = "LOCK_DURATION_MS", default_value_t = 30_000)]
    pub lock_duration_ms: u64,

    /// How often workers look for jobs whose lock expired (BullMQ's default).
    #[arg(long, env = "STALLED_INTERVAL_MS", default_value_t = 30_000)]
    pub stalled_interval_ms: u64,

    /// Folder of the built site (`cargo leptos build` writes `target/site`).
    #[arg(long, env = "LEPTOS_SITE_ROOT", default_value = "target/site")]
    pub site_root: String,

    /// Sub-folder of the site root with the WASM, JS and CSS.
    #[arg(long, env = "LEPTOS_SITE_PKG_DIR", default_value = "pkg")]
    pub site_pkg_dir: String,

    /// Base name of the site's WASM, JS and CSS files.
    #[arg(long, env = "LEPTOS_OUTPUT_NAME", default_value = "sentinel")]
    pub output_name: String,

    /// Port of `cargo leptos watch`'s live-reload socket (kept off 3001).
    #[arg(long, env = "LEPTOS_RELOAD_PORT", default_value_t = 3002)]
    pub reload_port: u32,
}

/// A setting that makes no sense, found at start-up.
#[derive(Debug, thiserror::Error)]
#[error("invalid setting {name}: {reason}")]
pub struct ConfigError {
    /// The environment variable of the setting.
    pub name: &'static str,
    /// What is wrong with it.
    pub reason: String,
}

impl Config {
    /// Checks the settings together; called once before anything starts.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let fail = |name, reason: &str| {
            Err(ConfigError {
                name,
                reason: reason.to_string(),
            })
        };
        if self.worker_concurrency == 0 {
            return fail("WORKER_CONCURRENCY", "must be at least 1");
        }
        if self.max_seconds == 0 {
            return fail("MAX_SECONDS", "must be at least 1");
        }
        if self.lock_duration_ms < 100 {
            return fail("LOCK_DURATION_MS", "must be at least 100");
        }
        if self.stalled_interval_ms == 0 {
            return fail("STALLED_INTERVAL_MS", "must be at least 1");
        }
        if self.prefix.is_empty() || self.prefix.contains(' ') {
            return fail("SENTINEL_PREFIX", "must be non-empty and contain no spaces");
        }
        if self.queue.is_empty() || self.queue.contains(':') {
            return fail("SENTINEL_QUEUE", "must be non-empty and contain no ':'");
        }
        let hash_tagged = self
            .prefix
            .find('{')
            .is_some_and(|open| self.prefix[open + 1..].find('}').is_some_and(|len| len > 0));
        if !self.redis_cluster_nodes.is_empty() && !hash_tagged {
            return fail(
                "SENTINEL_PREFIX",
                "must carry a hash tag such as {sentinel} on a Redis Cluster",
            );
        }
        if !self.redis_url.starts_with("redis://")
            && !self.redis_url.starts_with("rediss://")
            && !self.redis_url.starts_with("unix://")
        {
            return fail(
                "REDIS_URL",
                "must start with redis://, rediss:// or unix://",
            );
        }
        Ok(())
    }

    /// The Redis the process talks to, for logs (the first cluster node in cluster mode).
    pub fn redis_target(&self) -> &str {
        self.redis_cluster_nodes
            .first()
            .map_or(self.redis_url.as_str(), String::as_str)
    }

    /// Length of one task tick.
    pub fn tick(&self) -> Duration {
        Duration::from_millis(self.task_tick_ms)
    }

    /// The shutdown grace.
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_millis(self.shutdown_grace_ms)
    }
}
