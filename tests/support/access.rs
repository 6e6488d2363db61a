//! Access-control helpers shared by the tests: token files made with the real `server token
//! create`, settings for a server with access control on, an HTTP client that does not follow
//! redirects.

use std::path::Path;
use std::process::Command;

use crate::SentinelOptions;

/// The session secret the tests' servers sign cookies with.
pub const SECRET: &str = "a-test-session-secret-of-at-least-32-chars";

/// A tokens file with one token per role; returns (file, [(role, token)]).
pub fn tokens_file(
    dir: &Path,
    names: &[(&str, &str)],
) -> (std::path::PathBuf, Vec<(String, String)>) {
    let mut lines = String::from("# test tokens\n");
    let mut tokens = Vec::new();
    for (name, role) in names {
        let output = Command::new(crate::server_binary())
            .args(["token", "create", "--name", name, "--role", role])
            .output()
            .expect("server token create");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let text = String::from_utf8(output.stdout).unwrap();
        let token = text
            .lines()
            .next()
            .and_then(|l| l.rsplit(' ').next())
            .unwrap()
            .to_string();
        let line = text.lines().last().unwrap();
        assert!(
            line.starts_with(&format!("{name} {role} sha256:")),
            "{text}"
        );
        lines.push_str(line);
        lines.push('\n');
        tokens.push((name.to_string(), token));
    }
    let path = dir.join("tokens");
    std::fs::write(&path, lines).unwrap();
    (path, tokens)
}

pub fn auth_opts(role: &'static str, tokens: &Path, extra: &[(&str, &str)]) -> SentinelOptions {
    let mut opts = SentinelOptions::for_role(role);
    opts.env.extend(
        [
            ("SENTINEL_AUTH", "on"),
            ("SENTINEL_TOKENS_FILE", tokens.to_str().unwrap()),
            ("SENTINEL_SESSION_SECRET", SECRET),
        ]
        .iter()
        .chain(extra)
        .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    opts
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}
