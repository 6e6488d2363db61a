//! Every setting of the server, read once at start-up from flags and environment variables.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Parser, ValueEnum};

mod guards;
pub use guards::{GuardSettings, RateSettings};

/// A feature on or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Toggle {
    /// On.
    On,
    /// Off.
    Off,
}

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
    /// Redis to use for the queue (its value is never printed: it may hold a password).
    #[arg(
        long,
        env = "REDIS_URL",
        default_value = "redis://127.0.0.1:6379/0",
        hide_env_values = true
    )]
    pub redis_url: String,

    /// Seed nodes of a Redis Cluster (comma-separated `redis://host:port` URLs). When set, the
    /// queue lives on the cluster and `SENTINEL_PREFIX` must carry a hash tag (`{sentinel}`) so
    /// that all of a queue's keys share one slot. `REDIS_URL` is then unused.
    #[arg(
        long,
        env = "REDIS_CLUSTER_NODES",
        value_delimiter = ',',
        hide_env_values = true
    )]
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

    /// Queues the embedded worker runs (comma-separated, under `SENTINEL_PREFIX`), each with the
    /// same processors by job name (`longTask` built in); unset: `SENTINEL_QUEUE` alone.
    #[arg(long, env = "SENTINEL_QUEUES", value_delimiter = ',')]
    pub queues: Vec<String>,

    /// Alert rules and where they send (TOML, or YAML by a `.yaml`/`.yml` name); re-read when it
    /// changes. Unset: no alerts.
    #[arg(long, env = "SENTINEL_ALERTS_FILE")]
    pub alerts_file: Option<std::path::PathBuf>,

    /// Key prefixes whose BullMQ queues the dashboard lists (comma-separated); unset: every
    /// queue found on the Redis, under any prefix.
    #[arg(long, env = "SENTINEL_DISCOVER_PREFIXES", value_delimiter = ',')]
    pub discover_prefixes: Vec<String>,

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

    /// Who may read `GET /metrics`: `viewer` (viewers and up; anyone when access control is
    /// off) or `open`.
    #[arg(long, env = "METRICS_ACCESS", value_enum, default_value_t = crate::metrics::MetricsAccess::Viewer)]
    pub metrics_access: crate::metrics::MetricsAccess,

    /// The longest one attempt of a job may run when the job gives no `timeoutMs` (unset: no
    /// limit); over it the attempt fails with `timed out after N ms`.
    #[arg(long, env = "JOB_TIMEOUT_MS")]
    pub job_timeout_ms: Option<u64>,

    /// How long a worker's lock on a job lasts unless renewed (BullMQ's default).
    #[arg(long, env = "LOCK_DURATION_MS", default_value_t = 30_000)]
    pub lock_duration_ms: u64,

    /// How often workers look for jobs whose lock expired (BullMQ's default).
    #[arg(long, env = "STALLED_INTERVAL_MS", default_value_t = 30_000)]
    pub stalled_interval_ms: u64,

    /// Whether the jobs Sentinel adds are indexed for search (`off`: searches scan the states
    /// asked for, as for other producers' jobs; an enqueue writes nothing behind its add).
    #[arg(long, env = "SENTINEL_SEARCH_INDEX", value_enum, default_value_t = Toggle::On)]
    pub search_index: Toggle,

    /// How often each process sweeps the search index of jobs that are gone (BullMQ's
    /// retention removes finished jobs without telling anyone).
    #[arg(long, env = "SEARCH_INDEX_SWEEP_MS", default_value_t = 60_000)]
    pub search_index_sweep_ms: u64,

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

    #[command(flatten)]
    pub limits: Limits,

    /// Rate limits per principal (see `guards.rs`).
    #[command(flatten)]
    pub rates: RateSettings,

    /// The Redis memory guard, the audit log's retention, discovery's and `/metrics`' bounds.
    #[command(flatten)]
    pub guards: GuardSettings,

    #[command(flatten)]
    pub auth: AuthSettings,

    /// A command instead of serving (`server token create --name NAME --role ROLE`).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Commands of the binary besides serving.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Asks this server (at LEPTOS_SITE_ADDR) whether it is ready: exit 0 when `/readyz` says
    /// 200 within 3 s. For container health checks, with no curl in the image.
    Health {
        /// The path to ask.
        #[arg(long, default_value = "/readyz")]
        path: String,
    },
}

/// `server token ...`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum TokenCommand {
    /// Prints a fresh random token once, and the line to add to SENTINEL_TOKENS_FILE.
    Create {
        /// Who the token is for (letters, digits, - _ . @).
        #[arg(long)]
        name: String,
        /// submitter, viewer, operator or admin.
        #[arg(long)]
        role: String,
    },
}

/// A setting that must never be printed: its `Debug` says `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_string()))
    }
}

/// `SENTINEL_AUTH`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuthMode {
    /// Every request must be identified.
    On,
    /// Everyone is an admin (safe only on a loopback address).
    Off,
}

/// `SENTINEL_ANONYMOUS_ROLE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AnonymousRole {
    /// Anonymous visitors are asked to sign in.
    None,
    /// Anonymous visitors may enqueue and follow their own tasks (a signed cookie keeps who
    /// they are).
    Submitter,
    /// Anonymous visitors may read everything.
    Viewer,
}

/// Who may do what.
#[derive(Debug, Clone, clap::Args)]
pub struct AuthSettings {
    /// `on` or `off`. Unset: off on a loopback listen address, on everywhere else.
    #[arg(long = "auth", env = "SENTINEL_AUTH", value_enum)]
    pub auth: Option<AuthMode>,

    /// File of API tokens: `<name> <role> sha256:<hex>` per line (`server token create`
    /// prints one). Re-read when it changes.
    #[arg(long, env = "SENTINEL_TOKENS_FILE")]
    pub tokens_file: Option<String>,

    /// Header that carries the signed-in user from a reverse proxy (e.g. `X-Forwarded-User`);
    /// honoured only from SENTINEL_TRUSTED_PROXIES.
    #[arg(long, env = "SENTINEL_TRUSTED_USER_HEADER")]
    pub trusted_user_header: Option<String>,

    /// Addresses or networks of the reverse proxies (comma-separated).
    #[arg(long, env = "SENTINEL_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<String>,

    /// Roles of users from the proxy: `alice=admin,bob=operator,*=submitter` (`*`: everyone
    /// else; without it, other users are refused).
    #[arg(long, env = "SENTINEL_USER_ROLES", value_delimiter = ',')]
    pub user_roles: Vec<String>,

    /// What a visitor who is not signed in may do.
    #[arg(long, env = "SENTINEL_ANONYMOUS_ROLE", value_enum, default_value_t = AnonymousRole::None)]
    pub anonymous_role: AnonymousRole,

    /// Secret that signs browser sessions (at least 32 characters; the same on every web
    /// process so sessions survive restarts and work across processes). Never printed.
    #[arg(long, env = "SENTINEL_SESSION_SECRET", hide_env_values = true)]
    pub session_secret: Option<Secret>,

    /// Force the cookies' Secure flag (default: when a trusted proxy says X-Forwarded-Proto:
    /// https).
    #[arg(long, env = "SENTINEL_COOKIE_SECURE")]
    pub cookie_secure: Option<bool>,

    /// Enqueues per minute per owner → 429 rate_limited.
    #[arg(long, env = "ENQUEUE_RATE_PER_MINUTE", default_value_t = 60)]
    pub enqueue_rate_per_minute: u32,

    /// Jobs waiting or active at once per owner → 429 too_many_pending. Anonymous identities
    /// are also held to it (and to the rate) per client network.
    #[arg(long, env = "MAX_PENDING_PER_OWNER", default_value_t = 100)]
    pub max_pending_per_owner: u64,

    /// Host names (comma-separated) this server answers for while access control is off,
    /// besides loopback names and the listen address; any other `Host` gets 421 (a page of
    /// another site that resolves its name to this machine must not reach it).
    #[arg(long, env = "SENTINEL_ALLOWED_HOSTS", value_delimiter = ',')]
    pub allowed_hosts: Vec<String>,
}

/// Every limit on what enters the server. Each is a setting with a safe default; hitting one
/// gives a JSON error that names it.
#[derive(Debug, Clone, clap::Args)]
pub struct Limits {
    /// Largest request body, in bytes, on every route (server functions included) → 413.
    #[arg(long, env = "MAX_BODY_BYTES", default_value_t = 16 * 1024)]
    pub max_body_bytes: usize,

    /// Largest body of a bulk admin action (`POST /admin/api/jobs/bulk`: up to 100 ids of up to
    /// 256 characters each) → 413.
    #[arg(long, env = "MAX_BULK_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub max_bulk_body_bytes: usize,

    /// How long a client may take to send a request's headers before the connection is closed.
    #[arg(long, env = "HEADER_READ_TIMEOUT_MS", default_value_t = 10_000)]
    pub header_read_timeout_ms: u64,

    /// How long reading a request body and answering a non-streaming request may take → 408
    /// (body too slow) or 503 (answer too slow).
    #[arg(long, env = "REQUEST_TIMEOUT_MS", default_value_t = 15_000)]
    pub request_timeout_ms: u64,

    /// Open HTTP connections at once; beyond it new connections get 503.
    #[arg(long, env = "MAX_CONNECTIONS", default_value_t = 10_000)]
    pub max_connections: usize,

    /// Open event streams at once, all clients together → 503 with Retry-After.
    #[arg(long, env = "MAX_SSE_STREAMS", default_value_t = 5_000)]
    pub max_sse_streams: usize,

    /// Open event streams per client address → 429 with Retry-After.
    #[arg(long, env = "MAX_SSE_STREAMS_PER_CLIENT", default_value_t = 16)]
    pub max_sse_streams_per_client: usize,

    /// Bytes of events a stream may fall behind the live feed before it is dropped (it
    /// reconnects and catches up from Redis).
    #[arg(long, env = "SSE_CLIENT_BUFFER_BYTES", default_value_t = 1024 * 1024)]
    pub sse_client_buffer_bytes: usize,

    /// Bytes of recent events the fan-out keeps in memory for all streams together.
    #[arg(long, env = "SSE_FANOUT_BYTES", default_value_t = 8 * 1024 * 1024)]
    pub sse_fanout_bytes: usize,

    /// Most events one resuming stream replays from Redis; a client further behind gets a
    /// `reset` event and reloads its state.
    #[arg(long, env = "SSE_MAX_REPLAY_EVENTS", default_value_t = 20_000)]
    pub sse_max_replay_events: usize,

    /// Largest event sent on a stream, in bytes of JSON; larger fields are cut (see
    /// `MAX_FIELD_BYTES`) and an event still too large is reduced to its job id and name.
    #[arg(long, env = "MAX_EVENT_BYTES", default_value_t = 16 * 1024)]
    pub max_event_bytes: usize,

    /// Largest value of one field read back from Redis (job data, progress, return value,
    /// failed reason, event field) that Sentinel forwards.
    #[arg(long, env = "MAX_FIELD_BYTES", default_value_t = 8 * 1024)]
    pub max_field_bytes: usize,

    /// Entries the audit log keeps (about; the oldest are trimmed first).
    #[arg(long, env = "AUDIT_MAX_ENTRIES", default_value_t = 100_000)]
    pub audit_max_entries: usize,

    /// Bulk admin runs one process runs at the same time → 429 too_many_bulk_runs.
    #[arg(long, env = "MAX_BULK_RUNS", default_value_t = 4)]
    pub max_bulk_runs: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 16 * 1024,
            max_bulk_body_bytes: 1024 * 1024,
            header_read_timeout_ms: 10_000,
            request_timeout_ms: 15_000,
            max_connections: 10_000,
            max_sse_streams: 5_000,
            max_sse_streams_per_client: 16,
            sse_client_buffer_bytes: 1024 * 1024,
            sse_fanout_bytes: 8 * 1024 * 1024,
            sse_max_replay_events: 20_000,
            max_event_bytes: 16 * 1024,
            max_field_bytes: 8 * 1024,
            max_bulk_runs: 4,
            audit_max_entries: 100_000,
        }
    }
}

impl Limits {
    /// The header-read timeout.
    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_millis(self.header_read_timeout_ms)
    }

    /// The request timeout.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }
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

/// Most queues one process works (each is a worker with its own connections).
const MAX_WORKER_QUEUES: usize = 64;

impl Config {
    /// The queues the embedded worker runs: `SENTINEL_QUEUES` (trimmed, each once, in order), or
    /// `SENTINEL_QUEUE` alone.
    pub fn worker_queues(&self) -> Vec<String> {
        if self.queues.is_empty() {
            return vec![self.queue.clone()];
        }
        let mut names: Vec<String> = Vec::new();
        for name in &self.queues {
            let name = name.trim().to_string();
            if !names.contains(&name) {
                names.push(name);
            }
        }
        names
    }

    /// Whether Sentinel's workers run the jobs of queue `name` under `prefix`: the home queue
    /// (its workers may be in other processes) and `SENTINEL_QUEUES`.
    pub fn works(&self, prefix: &str, name: &str) -> bool {
        prefix == self.prefix
            && (name == self.queue || self.queues.iter().any(|q| q.trim() == name))
    }

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
        if self
            .job_timeout_ms
            .is_some_and(|ms| !(1..=app::types::MAX_TIMEOUT_MS).contains(&ms))
        {
            return fail("JOB_TIMEOUT_MS", "must be from 1 to 86400000 (a day)");
        }
        if self.stalled_interval_ms == 0 {
            return fail("STALLED_INTERVAL_MS", "must be at least 1");
        }
        if !(100..=86_400_000).contains(&self.search_index_sweep_ms) {
            return fail(
                "SEARCH_INDEX_SWEEP_MS",
                "must be from 100 to 86400000 (a day)",
            );
        }
        if self.prefix.is_empty() || self.prefix.contains(' ') {
            return fail("SENTINEL_PREFIX", "must be non-empty and contain no spaces");
        }
        if self.queue.is_empty() || self.queue.contains(':') {
            return fail("SENTINEL_QUEUE", "must be non-empty and contain no ':'");
        }
        if self.queues.len() > MAX_WORKER_QUEUES {
            return fail("SENTINEL_QUEUES", "names at most 64 queues");
        }
        if self
            .queues
            .iter()
            .any(|q| q.trim().is_empty() || q.contains(':') || q.len() > 256)
        {
            return fail(
                "SENTINEL_QUEUES",
                "each queue name must be non-empty, at most 256 bytes and contain no ':'",
            );
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
        let l = &self.limits;
        for (name, value) in [
            ("MAX_BODY_BYTES", l.max_body_bytes),
            ("MAX_BULK_BODY_BYTES", l.max_bulk_body_bytes),
            ("MAX_CONNECTIONS", l.max_connections),
            ("MAX_SSE_STREAMS", l.max_sse_streams),
            ("MAX_SSE_STREAMS_PER_CLIENT", l.max_sse_streams_per_client),
            ("SSE_MAX_REPLAY_EVENTS", l.sse_max_replay_events),
            ("MAX_BULK_RUNS", l.max_bulk_runs),
            ("AUDIT_MAX_ENTRIES", l.audit_max_entries),
        ] {
            if value == 0 {
                return fail(name, "must be at least 1");
            }
        }
        if l.header_read_timeout_ms == 0 || l.header_read_timeout_ms > 30_000 {
            return fail("HEADER_READ_TIMEOUT_MS", "must be from 1 to 30000");
        }
        if l.request_timeout_ms == 0 {
            return fail("REQUEST_TIMEOUT_MS", "must be at least 1");
        }
        if l.max_field_bytes < 256 {
            return fail("MAX_FIELD_BYTES", "must be at least 256");
        }
        if l.max_event_bytes < l.max_field_bytes.min(4096) || l.max_event_bytes < 1024 {
            return fail(
                "MAX_EVENT_BYTES",
                "must be at least 1024 and not far below MAX_FIELD_BYTES",
            );
        }
        if l.sse_client_buffer_bytes < l.max_event_bytes {
            return fail(
                "SSE_CLIENT_BUFFER_BYTES",
                "must be at least MAX_EVENT_BYTES",
            );
        }
        if l.sse_fanout_bytes < l.sse_client_buffer_bytes {
            return fail(
                "SSE_FANOUT_BYTES",
                "must be at least SSE_CLIENT_BUFFER_BYTES",
            );
        }
        self.rates.validate()?;
        self.guards.validate()?;
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
