//! A property-based fuzz run of the HTTP API with schemathesis (from PyPI; `scripts/test`
//! installs it) against a real server and Redis: every check schemathesis has, which includes
//! zero 5xx and zero answers that break the OpenAPI description the server serves. The run
//! is bounded (examples per operation and a time budget) so the suite stays fast.

use std::path::PathBuf;
use std::time::Duration;

use support::{RedisServer, Sentinel, SentinelOptions};

fn schemathesis() -> PathBuf {
    if let Some(path) = std::env::var_os("SCHEMATHESIS_BIN") {
        return PathBuf::from(path);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    let path = home.join(".local/share/sentinel-tools/venv/bin/schemathesis");
    assert!(
        path.exists(),
        "schemathesis is missing: run scripts/test (it installs it) or set SCHEMATHESIS_BIN"
    );
    path
}

#[tokio::test]
async fn the_api_holds_against_generated_requests() {
    let redis = RedisServer::start().await;
    // A web process: the fuzzer's tasks wait in the queue rather than run for an hour.
    let server = Sentinel::start("web", &redis.url(), SentinelOptions::for_role("web")).await;
    server.wait_ready().await;
    let report = tempfile::tempdir().unwrap();
    let output = tokio::time::timeout(
        Duration::from_secs(300),
        tokio::process::Command::new(schemathesis())
            .arg("--config-file")
            .arg(support::workspace_root().join("tests/schemathesis.toml"))
            .arg("run")
            .arg(server.url("/openapi.json"))
            .args(["--checks", "all"])
            .args(["--max-examples", "40"])
            .args(["--max-time", "45"])
            .args(["--seed", "20261129"])
            // No example database: every run (here or on a clean clone) starts from the seed
            // alone. A database kept between local runs also switched on Hypothesis's pareto
            // optimisation, whose shrinker crashed inside Hypothesis 6.170.17 (IndexError in
            // `try_lower_node_as_alternative`) on one local run, with every request passing.
            .args(["--generation-database", "none"])
            // One worker: CPython's regex strategies are not thread-safe in hypothesis's
            // generator ("AST constructor recursion depth mismatch" with two).
            .args(["--workers", "1"])
            .arg("--no-color")
            .arg("--report-dir")
            .arg(report.path())
            .env("SCHEMATHESIS_TELEMETRY", "false")
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the fuzz run ended within its budget")
    .expect("schemathesis runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "schemathesis found failures:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("generated"), "no test case ran:\n{stdout}");
    assert!(!server.log().contains("panicked"), "{}", server.log());
}
