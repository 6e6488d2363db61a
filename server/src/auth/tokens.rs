//! API tokens: the file named by `SENTINEL_TOKENS_FILE`, one token per line,
//! `<name> <role> sha256:<hex SHA-256 of the token>` (`#` starts a comment). Only hashes are
//! stored. The file is re-read when it changes, so a token is revoked by deleting its line,
//! without a restart. A token is looked up by comparing its digest with every stored digest in
//! constant time.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::Role;

/// Shortest token accepted.
pub const MIN_TOKEN_LEN: usize = 32;
/// How often the file is checked for changes.
const RELOAD_EVERY: Duration = Duration::from_millis(500);

/// One line of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenEntry {
    /// Who the token is for (the owner of its jobs is `token:<name>`).
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// On which queues (`operator@billing-*` in the role field; every queue without `@`).
    pub queues: super::QueueScope,
    /// SHA-256 of the token.
    pub digest: [u8; 32],
}

/// A line that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{path}:{line}: {reason}")]
pub struct TokenFileError {
    /// The file.
    pub path: String,
    /// The line number.
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

/// Parses the file's text.
pub fn parse(path: &str, text: &str) -> Result<Vec<TokenEntry>, TokenFileError> {
    let mut entries = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let fail = |reason: &str| TokenFileError {
            path: path.to_string(),
            line: index + 1,
            reason: reason.to_string(),
        };
        let parts: Vec<&str> = line.split_whitespace().collect();
        let [name, role, hash] = parts.as_slice() else {
            return Err(fail("expected `<name> <role> sha256:<hex>`"));
        };
        if !is_valid_name(name) {
            return Err(fail(NAME_RULE));
        }
        let grant: super::Grant = role.parse().map_err(|e: String| {
            fail(&format!(
                "role must be submitter, viewer, operator or admin, optionally limited to queues (operator@billing-*): {e}"
            ))
        })?;
        let hex = hash
            .strip_prefix("sha256:")
            .ok_or_else(|| fail("the hash must start with sha256:"))?;
        let digest = decode_hex(hex).ok_or_else(|| fail("the hash must be 64 hex digits"))?;
        if entries.iter().any(|e: &TokenEntry| e.name == *name) {
            return Err(fail("a name appears twice"));
        }
        entries.push(TokenEntry {
            name: (*name).to_string(),
            role: grant.role,
            queues: grant.queues,
            digest,
        });
    }
    Ok(entries)
}

fn decode_hex(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// SHA-256 of a token.
pub fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The hex form of a digest.
pub fn hex(digest: &[u8; 32]) -> String {
    app::url::hex(*digest)
}

/// A re-read of the tokens file: how many tokens it holds now, or why none is accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reload {
    /// Read: this many tokens.
    Read(usize),
    /// Not valid: no token is accepted until it is fixed.
    Invalid(String),
}

/// The tokens in force, re-read when the file changes.
#[derive(Clone)]
pub struct TokenStore {
    entries: Arc<RwLock<Arc<Vec<TokenEntry>>>>,
    /// Each re-read (for the audit log).
    reloads: tokio::sync::watch::Sender<Option<Reload>>,
}

impl Default for TokenStore {
    fn default() -> Self {
        Self {
            entries: Arc::default(),
            reloads: tokio::sync::watch::channel(None).0,
        }
    }
}

impl TokenStore {
    /// Reads `path` now (an unreadable file is an error at start-up) and keeps it fresh until
    /// `shutdown`.
    pub fn load(path: &Path, shutdown: CancellationToken) -> Result<Self, TokenFileError> {
        let store = Self::default();
        let (entries, stamp) = read(path)?;
        store.set(entries);
        tokio::spawn(store.clone().watch(path.to_path_buf(), stamp, shutdown));
        Ok(store)
    }

    /// Each re-read of the file from now on.
    pub fn reloads(&self) -> tokio::sync::watch::Receiver<Option<Reload>> {
        self.reloads.subscribe()
    }

    fn set(&self, entries: Vec<TokenEntry>) {
        let mut slot = self.entries.write().unwrap_or_else(|e| e.into_inner());
        *slot = Arc::new(entries);
    }

    /// The entry whose token this is. Every stored digest is compared, in constant time, so
    /// the time taken says nothing about which (if any) matched.
    pub fn find(&self, token: &str) -> Option<TokenEntry> {
        if token.len() < MIN_TOKEN_LEN {
            return None;
        }
        let presented = digest(token);
        let entries = self
            .entries
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut found = None;
        for entry in entries.iter() {
            if bool::from(entry.digest.ct_eq(&presented)) {
                found = Some(entry.clone());
            }
        }
        found
    }

    /// The entry named `name`, if its digest is still `digest` (a session stays valid only
    /// while its token is in the file).
    pub fn by_name(&self, name: &str, digest_prefix: &str) -> Option<TokenEntry> {
        let entries = self
            .entries
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        entries
            .iter()
            .find(|e| {
                e.name == name
                    && bool::from(hex(&e.digest).as_bytes()[..16].ct_eq(digest_prefix.as_bytes()))
            })
            .cloned()
    }

    /// Whether any token is configured.
    pub fn is_empty(&self) -> bool {
        self.entries
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    }

    async fn watch(self, path: PathBuf, mut stamp: Stamp, shutdown: CancellationToken) {
        loop {
            tokio::select! {
                () = tokio::time::sleep(RELOAD_EVERY) => {}
                () = shutdown.cancelled() => return,
            }
            let now = stamp_of(&path);
            if now == stamp {
                continue;
            }
            match read(&path) {
                Ok((entries, new_stamp)) => {
                    info!(tokens = entries.len(), path = %path.display(), "tokens file re-read");
                    self.reloads.send_replace(Some(Reload::Read(entries.len())));
                    self.set(entries);
                    stamp = new_stamp;
                }
                Err(error) => {
                    // Keep nothing rather than stale tokens: a broken file revokes everything
                    // until it is fixed.
                    warn!(%error, "tokens file is not valid; no token is accepted until it is fixed");
                    self.reloads
                        .send_replace(Some(Reload::Invalid(error.to_string())));
                    self.set(Vec::new());
                    stamp = now;
                }
            }
        }
    }
}

type Stamp = Option<(SystemTime, u64)>;

fn stamp_of(path: &Path) -> Stamp {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

fn read(path: &Path) -> Result<(Vec<TokenEntry>, Stamp), TokenFileError> {
    let stamp = stamp_of(path);
    let text = std::fs::read_to_string(path).map_err(|error| TokenFileError {
        path: path.display().to_string(),
        line: 0,
        reason: format!("cannot read the file: {error}"),
    })?;
    Ok((parse(&path.display().to_string(), &text)?, stamp))
}

/// What a token's name may be.
const NAME_RULE: &str = "a name is 1 to 64 letters, digits and - _ . @";

/// Whether `name` can name a token (it becomes the owner `token:<name>` of jobs and keys).
pub fn is_valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.@".contains(&b))
}

/// A fresh random token (256 bits, URL-safe base64: 43 characters) and its file line.
pub fn create(name: &str, role: Role) -> Result<(String, String), String> {
    if !is_valid_name(name) {
        return Err(NAME_RULE.to_string());
    }
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness: {e}"))?;
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let line = format!("{name} {} sha256:{}", role.as_str(), hex(&digest(&token)));
    Ok((token, line))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_format() {
        let (token, line) = create("ci", Role::Operator).unwrap();
        assert!(token.len() >= MIN_TOKEN_LEN);
        let text = format!(
            "# tokens\n\n{line}  # the CI\nalice viewer sha256:{}\n",
            "ab".repeat(32)
        );
        let entries = parse("t", &text).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].name, "ci");
        assert_eq!(entries[0].role, Role::Operator);
        assert_eq!(entries[0].digest, digest(&token));
        for bad in [
            "x",
            "a b c",
            "a admin sha1:00",
            "a god sha256:00",
            "a admin sha256:zz",
        ] {
            assert!(parse("t", bad).is_err(), "{bad}");
        }
        assert!(create("bad name", Role::Admin).is_err());
    }

    #[test]
    fn lookup_needs_the_whole_token() {
        let store = TokenStore::default();
        let (token, line) = create("ci", Role::Admin).unwrap();
        store.set(parse("t", &line).unwrap());
        assert_eq!(store.find(&token).map(|e| e.name), Some("ci".to_string()));
        assert!(store.find(&token[..40]).is_none());
        assert!(store.find("short").is_none());
        let prefix = &hex(&digest(&token))[..16];
        assert!(store.by_name("ci", prefix).is_some());
        assert!(store.by_name("ci", "0000000000000000").is_none());
    }
}
