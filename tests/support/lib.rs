//! Test support: a private `redis-server` per test on a free loopback port, Sentinel server
//! processes with chosen settings, an SSE reader, and polling with a deadline.
//!
//! Every process started here is killed when its handle drops; its log is printed when the
//! test fails so the failure explains itself.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::Value;

pub mod access;
pub mod proxy;
pub mod sinks;
pub mod sse;

pub use proxy::CuttableProxy;

pub use sse::{SseClient, SseEvent, progress_of};

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local addr").port()
}

/// The workspace root (where `target/` lives).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace")
        .to_path_buf()
}

/// Polls `check` every 25 ms until it returns `Some`, or panics with `what` after `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// A `redis-server` of our own, in a temporary directory.
pub struct RedisServer {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
    persistent: bool,
}

impl RedisServer {
    /// Starts a throwaway Redis (no persistence).
    pub async fn start() -> Self {
        Self::start_on(free_port(), false).await
    }

    /// Starts a Redis that writes an append-only file, so a restart keeps its data.
    pub async fn start_persistent() -> Self {
        Self::start_on(free_port(), true).await
    }

    /// Starts Redis on `port`.
    pub async fn start_on(port: u16, persistent: bool) -> Self {
        let dir = tempfile::tempdir().expect("temp dir for redis");
        let mut server = Self {
            port,
            dir,
            child: None,
            persistent,
        };
        server.spawn().await;
        server
    }

    async fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("redis.log"))
            .expect("redis log file");
        let appendonly = if self.persistent { "yes" } else { "no" };
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(["--appendonly", appendonly])
            .args(["--appendfsync", "always"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::from(log.try_clone().expect("clone log")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("redis-server must be installed (scripts/test installs it)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.answers() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer on port {}:\n{}",
                self.port,
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Whether it answers PING.
    pub fn answers(&self) -> bool {
        ping(&self.url())
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A blocking connection for assertions on raw keys.
    pub fn connection(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .expect("redis url")
            .get_connection()
            .expect("connect to the test redis")
    }

    /// Stops it (SIGKILL) and waits for the port to close.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Freezes it (SIGSTOP): connections stay open and nothing is answered, as with a
    /// Redis that hangs.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Thaws it after [`RedisServer::pause`] (SIGCONT).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, which: &str) {
        let pid = self.child.as_ref().expect("redis is running").id();
        let status = Command::new("kill")
            .args([which, &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {which} {pid}");
    }

    /// Starts it again on the same port and directory.
    pub async fn restart(&mut self) {
        self.stop();
        self.spawn().await;
    }

    /// Starts it again after [`RedisServer::stop`].
    pub async fn start_again(&mut self) {
        self.spawn().await;
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("redis.log")).unwrap_or_default()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "---- redis-server log (port {}) ----\n{}",
                self.port,
                self.log()
            );
        }
        self.stop();
    }
}

static SERVER_BINARY: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// Chooses the server binary for this process (the benchmark runs the release build).
pub fn set_server_binary(path: PathBuf) {
    let _ = SERVER_BINARY.set(path);
}

/// Path of the server binary under test: the one chosen with [`set_server_binary`], else
/// `SENTINEL_SERVER_BIN`, else the workspace's debug build.
pub fn server_binary() -> PathBuf {
    if let Some(path) = SERVER_BINARY.get() {
        return path.clone();
    }
    if let Some(path) = std::env::var_os("SENTINEL_SERVER_BIN") {
        return PathBuf::from(path);
    }
    let path = workspace_root().join("target/debug/server");
    assert!(
        path.exists(),
        "{} is missing: build it first (`cargo build -p server`, as scripts/test does) or set SENTINEL_SERVER_BIN",
        path.display()
    );
    path
}

/// A Sentinel server process.
pub struct Sentinel {
    child: Option<Child>,
    port: u16,
    log_path: PathBuf,
    _log_dir: tempfile::TempDir,
    name: String,
}

/// Settings for a Sentinel process under test; fast ticks and short locks by default.
#[derive(Debug, Clone)]
pub struct SentinelOptions {
    /// `SENTINEL_ROLE`.
    pub role: &'static str,
    /// `TASK_TICK_MS`.
    pub tick_ms: u64,
    /// `WORKER_CONCURRENCY`.
    pub concurrency: usize,
    /// `SHUTDOWN_GRACE_MS`.
    pub grace_ms: u64,
    /// `LOCK_DURATION_MS`.
    pub lock_ms: u64,
    /// `STALLED_INTERVAL_MS`.
    pub stalled_ms: u64,
    /// `MAX_SECONDS`.
    pub max_seconds: u64,
    /// Extra environment.
    pub env: Vec<(String, String)>,
}

impl Default for SentinelOptions {
    fn default() -> Self {
        Self {
            role: "all",
            tick_ms: 50,
            concurrency: 3,
            grace_ms: 5000,
            lock_ms: 30_000,
            stalled_ms: 30_000,
            max_seconds: 3600,
            env: Vec::new(),
        }
    }
}

impl SentinelOptions {
    /// The defaults for a process of `role` (`all`, `web` or `worker`).
    pub fn for_role(role: &'static str) -> Self {
        Self {
            role,
            ..Self::default()
        }
    }
}

/// The queue of a Sentinel on `redis`, opened with the `bullmq` crate as any producer would.
pub async fn producer_queue(redis: &RedisServer) -> bullmq::Queue {
    let opts = bullmq::QueueOptions::new()
        .connection(bullmq::options::RedisConnectionOptions::new().url(redis.url()))
        .prefix("sentinel");
    bullmq::Queue::with_options("sentinel-tasks", opts)
        .await
        .expect("open the queue")
}

impl Sentinel {
    /// Starts the server against `redis_url` and waits until `/healthz` answers. A
    /// `LEPTOS_SITE_ADDR` in `opts.env` (a port on 0.0.0.0, say) replaces the default loopback
    /// address.
    pub async fn start(name: &str, redis_url: &str, opts: SentinelOptions) -> Self {
        let listen = opts
            .env
            .iter()
            .find(|(k, _)| k == "LEPTOS_SITE_ADDR")
            .map(|(_, v)| v.clone());
        let port = listen
            .as_deref()
            .and_then(|addr| addr.rsplit(':').next()?.parse().ok())
            .unwrap_or_else(free_port);
        let log_dir = tempfile::tempdir().expect("temp dir for server log");
        let log_path = log_dir.path().join("server.log");
        let log = std::fs::File::create(&log_path).expect("server log");
        let mut command = Command::new(server_binary());
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("RUST_LOG", "info,server=debug")
            .env("REDIS_URL", redis_url)
            .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
            .env("SENTINEL_ROLE", opts.role)
            .env("TASK_TICK_MS", opts.tick_ms.to_string())
            .env("WORKER_CONCURRENCY", opts.concurrency.to_string())
            .env("SHUTDOWN_GRACE_MS", opts.grace_ms.to_string())
            .env("LOCK_DURATION_MS", opts.lock_ms.to_string())
            .env("STALLED_INTERVAL_MS", opts.stalled_ms.to_string())
            .env("MAX_SECONDS", opts.max_seconds.to_string())
            .envs(opts.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::from(log.try_clone().expect("clone log")))
            .stderr(Stdio::from(log));
        let child = command.spawn().expect("start the server binary");
        let server = Self {
            child: Some(child),
            port,
            log_path,
            _log_dir: log_dir,
            name: name.to_string(),
        };
        let http = reqwest::Client::new();
        let url = server.url("/healthz");
        eventually(Duration::from_secs(15), "the server's /healthz", || {
            let http = http.clone();
            let url = url.clone();
            async move {
                let response = http.get(url).send().await.ok()?;
                response.status().is_success().then_some(())
            }
        })
        .await;
        server
    }

    /// Waits until `/readyz` says 200 (Redis reached, worker running).
    pub async fn wait_ready(&self) {
        let http = reqwest::Client::new();
        let url = self.url("/readyz");
        eventually(Duration::from_secs(15), "the server's /readyz", || {
            let http = http.clone();
            let url = url.clone();
            async move {
                let response = http.get(url).send().await.ok()?;
                (response.status() == 200).then_some(())
            }
        })
        .await;
    }

    /// The URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
    }

    /// Kills the process with SIGKILL, as a crash would.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL the server");
            let _ = child.wait();
        }
    }

    /// Waits for the process to exit (after [`Sentinel::terminate`]).
    pub async fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let mut child = self.child.take().expect("the server is running");
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = child.try_wait().expect("wait for the server") {
                return status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                panic!(
                    "{} did not exit within {limit:?}:\n{}",
                    self.name,
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The process log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Enqueues a task with `seconds`, returning its id.
    pub async fn enqueue(&self, seconds: u64) -> String {
        let response = reqwest::Client::new()
            .post(self.url(&format!("/tasks/enqueue?seconds={seconds}")))
            .send()
            .await
            .expect("POST /tasks/enqueue");
        assert_eq!(response.status(), 201, "enqueue status");
        let body: Value = response.json().await.expect("enqueue JSON");
        body["id"].as_str().expect("id is a string").to_string()
    }

    /// `GET /tasks/status/:id` as JSON (any status code).
    pub async fn status(&self, id: &str) -> (u16, Value) {
        get_json(&self.url(&format!("/tasks/status/{id}"))).await
    }

    /// Waits until job `id` is in `state`, returning its status body.
    pub async fn wait_state(&self, id: &str, state: &str, limit: Duration) -> Value {
        eventually(limit, &format!("job {id} to be {state}"), || async {
            let (code, body) = self.status(id).await;
            (code == 200 && body["state"] == state).then_some(body)
        })
        .await
    }
}

impl Drop for Sentinel {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("---- {} log ----\n{}", self.name, self.log());
        }
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// GETs `url`, returning the status code and the JSON body (`null` if not JSON).
pub async fn get_json(url: &str) -> (u16, Value) {
    let response = reqwest::get(url).await.expect("GET");
    let code = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    (code, body)
}

/// `GET url` with extra headers; the body as text (whatever the status).
pub async fn get_text(url: &str, headers: &[(&str, &str)]) -> String {
    let mut request = reqwest::Client::new().get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .unwrap_or_default()
}

/// Reads the body of a response as a stream of lines (used by the SSE reader).
pub(crate) fn byte_lines(
    response: reqwest::Response,
) -> impl futures::Stream<Item = Result<String, reqwest::Error>> {
    let mut buffer = Vec::<u8>::new();
    response.bytes_stream().flat_map(move |chunk| {
        let lines: Vec<Result<String, reqwest::Error>> = match chunk {
            Ok(bytes) => {
                buffer.extend_from_slice(&bytes);
                let mut lines = Vec::new();
                while let Some(pos) = buffer.iter().position(|&b| b == b'\n') {
                    let line: Vec<u8> = buffer.drain(..=pos).collect();
                    let text = String::from_utf8_lossy(&line[..line.len() - 1]);
                    lines.push(Ok(text.trim_end_matches('\r').to_string()));
                }
                lines
            }
            Err(error) => vec![Err(error)],
        };
        futures::stream::iter(lines)
    })
}

/// Whether `exit` is a clean exit (code 0).
pub fn exited_cleanly(exit: ExitStatus) -> bool {
    exit.code() == Some(0)
}

/// A three-node Redis Cluster of our own (masters only), on free loopback ports.
pub struct RedisCluster {
    nodes: Vec<(u16, Child)>,
    dir: tempfile::TempDir,
}

impl RedisCluster {
    /// Starts three cluster-enabled servers and joins them into one cluster.
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir for the cluster");
        let mut nodes = Vec::new();
        while nodes.len() < 3 {
            // The cluster bus listens on port + 10000; both must be free.
            let port = free_port();
            if port > 55_000 || TcpListener::bind(("127.0.0.1", port + 10_000)).is_err() {
                continue;
            }
            let node_dir = dir.path().join(port.to_string());
            std::fs::create_dir_all(&node_dir).expect("node dir");
            let log = std::fs::File::create(node_dir.join("redis.log")).expect("node log");
            let child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args([
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                ])
                .args(["--save", "", "--appendonly", "no"])
                .arg("--dir")
                .arg(&node_dir)
                .stdout(Stdio::from(log.try_clone().expect("clone log")))
                .stderr(Stdio::from(log))
                .spawn()
                .expect("redis-server must be installed");
            nodes.push((port, child));
        }
        let cluster = Self { nodes, dir };
        cluster
            .wait_every_node("a cluster node to answer", ping)
            .await;
        let addresses: Vec<String> = cluster
            .nodes
            .iter()
            .map(|(port, _)| format!("127.0.0.1:{port}"))
            .collect();
        let output = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&addresses)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .expect("redis-cli must be installed");
        assert!(
            output.status.success(),
            "redis-cli --cluster create failed: {}",
            String::from_utf8_lossy(&output.stdout)
        );
        cluster
            .wait_every_node("the cluster to be ok", cluster_ok)
            .await;
        cluster
    }

    /// Polls `check` on every node until it holds (20 s at most each).
    async fn wait_every_node(&self, what: &str, check: fn(&str) -> bool) {
        for (port, _) in &self.nodes {
            let url = format!("redis://127.0.0.1:{port}");
            eventually(Duration::from_secs(20), what, || {
                let holds = check(&url);
                async move { holds.then_some(()) }
            })
            .await;
        }
    }

    /// The seed node URLs, comma-separated (for `REDIS_CLUSTER_NODES`).
    pub fn nodes(&self) -> String {
        self.nodes
            .iter()
            .map(|(port, _)| format!("redis://127.0.0.1:{port}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The logs of all nodes.
    pub fn log(&self) -> String {
        self.nodes
            .iter()
            .map(|(port, _)| {
                let path = self.dir.path().join(port.to_string()).join("redis.log");
                format!(
                    "-- node {port}\n{}",
                    std::fs::read_to_string(path).unwrap_or_default()
                )
            })
            .collect()
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("---- redis cluster logs ----\n{}", self.log());
        }
        for (_, child) in &mut self.nodes {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Runs one command on the Redis at `url` with a short connect timeout; `None` on any failure.
fn redis_text(url: &str, command: &redis::Cmd) -> Option<String> {
    let client = redis::Client::open(url).ok()?;
    let mut conn = client
        .get_connection_with_timeout(Duration::from_millis(200))
        .ok()?;
    command.query::<String>(&mut conn).ok()
}

fn ping(url: &str) -> bool {
    redis_text(url, &redis::cmd("PING")).is_some()
}

fn cluster_ok(url: &str) -> bool {
    redis_text(url, redis::cmd("CLUSTER").arg("INFO"))
        .is_some_and(|info| info.contains("cluster_state:ok"))
}

/// Resident memory of process `pid`, in KiB (Linux `/proc`).
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmRSS:"))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kib| kib.parse().ok())
        })
        .unwrap_or(0)
}

/// Sends `request` as raw bytes to `server` and reads until the server closes (or `limit`
/// passes), returning what came back.
pub async fn raw_exchange(server: &Sentinel, request: &[u8], limit: Duration) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut socket = tokio::net::TcpStream::connect(server.addr())
        .await
        .expect("connect to the server");
    socket.write_all(request).await.expect("send the request");
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(limit, socket.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

impl Sentinel {
    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}
