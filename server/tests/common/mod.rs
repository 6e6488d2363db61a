//! What both in-process test binaries share (`edge/`, through HTTP, and `service/`, without):
//! a server's state on a Redis of the test's own, built from flags as the binary takes them,
//! and connected before it is handed over.

use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use server::{AppState, Config};
use support::{RedisServer, eventually};
use tokio_util::sync::CancellationToken;

/// The state of a server with these settings (flags, as the binary takes them; role `web`
/// unless they say), its workers (if its role runs any) running `processors` by job name;
/// returned once the services are connected.
pub async fn connected(
    redis: &RedisServer,
    flags: &[&str],
    processors: Option<server::worker::processors::Processors>,
) -> (AppState, CancellationToken) {
    let mut args = vec![
        "server".to_string(),
        format!("--redis-url={}", redis.url()),
        "--listen=127.0.0.1:3001".to_string(),
    ];
    if !flags.iter().any(|f| f.starts_with("--role")) {
        args.push("--role=web".to_string());
    }
    args.extend(flags.iter().map(|f| f.to_string()));
    let config = Config::try_parse_from(args).expect("settings");
    config.validate().expect("valid settings");
    let config = Arc::new(config);
    let shutdown = CancellationToken::new();
    let access = server::auth::Access::new(&config.auth, config.listen, true, shutdown.clone())
        .expect("access settings");
    let processors =
        processors.unwrap_or_else(|| server::worker::processors::Processors::builtin(&config));
    let state = AppState::with_processors(config, shutdown.clone(), access, processors);
    tokio::spawn(server::boot::connector::connect(state.clone()));
    let connected = state.sentinel.clone();
    eventually(
        Duration::from_secs(10),
        "the services to connect",
        move || {
            let ready = connected.is_connected();
            async move { ready.then_some(()) }
        },
    )
    .await;
    (state, shutdown)
}

/// A tokens file in `dir` with a token per `(name, role)`; the flag that names it and the
/// tokens by name.
pub fn tokens_file(
    dir: &std::path::Path,
    names: &[(&str, &str)],
) -> (String, Vec<(String, String)>) {
    let mut lines = String::new();
    let mut tokens = Vec::new();
    for (name, role) in names {
        let (token, line) =
            server::auth::tokens::create(name, role.parse().expect("a role")).expect("a token");
        lines.push_str(&line);
        lines.push('\n');
        tokens.push((name.to_string(), token));
    }
    let path = dir.join("tokens");
    std::fs::write(&path, lines).unwrap();
    (format!("--tokens-file={}", path.display()), tokens)
}

/// Log lines written while a test runs, for checks on what is (and is not) logged.
#[derive(Clone, Default)]
pub struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// What was written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Captures the log lines of this thread (a `current_thread` test runtime: every task the test
/// spawns) until the guard is dropped.
pub fn capture_logs() -> (Captured, tracing::subscriber::DefaultGuard) {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    (logs, tracing::subscriber::set_default(subscriber))
}

/// How many times Redis ran `command` (lower case, `container|sub` for a subcommand) since its
/// statistics were last reset (scripts' own calls included).
pub fn command_calls(conn: &mut redis::Connection, command: &str) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query(conn)
        .expect("the command statistics");
    info.lines()
        .find_map(|line| line.strip_prefix(&format!("cmdstat_{command}:calls=")))
        .and_then(|rest| rest.split(',').next())
        .and_then(|calls| calls.parse().ok())
        .unwrap_or(0)
}
