//! The alert rules of this process: the file's path, what was last read from it (re-read when
//! its time or length changes; a change with a mistake is refused and the rules in force stay),
//! and the state of the one rule that cannot live in Redis.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crate::queue::alerts::RuleState;

use super::rules::{self, AlertsFile};

/// How often the file is looked at for a change.
pub const FILE_CHECK: Duration = Duration::from_secs(2);

type Stamp = Option<(SystemTime, u64)>;

#[derive(Default)]
struct Loaded {
    file: Option<Arc<AlertsFile>>,
    error: Option<String>,
    loaded_at: Option<u64>,
    stamp: Stamp,
}

/// The alert rules of this process: the file's path, what was last read from it, and the state
/// of the one rule that cannot live in Redis.
pub struct Alerts {
    /// The file (none: no alerts).
    pub path: Option<PathBuf>,
    loaded: Mutex<Loaded>,
    /// This process's name for the lease.
    me: String,
    /// Built when the first message is sent (a process without alerts never builds it).
    pub http: std::sync::OnceLock<reqwest::Client>,
    /// Whether this process held the lease at its last check that reached Redis.
    pub leader: std::sync::atomic::AtomicBool,
    /// "Redis does not answer", per `redis` rule, kept here while it fires.
    pub unreachable: Mutex<HashMap<String, RuleState>>,
}

/// What the file last gave: the rules in force, the refusal of its last change, and when the
/// rules were read.
pub struct Snapshot {
    /// The rules in force.
    pub file: Option<Arc<AlertsFile>>,
    /// Why the file's last change was refused.
    pub error: Option<String>,
    /// When the rules in force were read (ms).
    pub loaded_at: Option<u64>,
}

fn stamp_of(path: &std::path::Path) -> Stamp {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

impl Alerts {
    /// The rules of `path` (none without one), not read yet (see [`Alerts::load`]).
    pub fn new(path: Option<PathBuf>) -> Self {
        let mut id = [0u8; 9];
        if getrandom::fill(&mut id).is_err() {
            // Unique enough among a deployment's processes.
            id[..8].copy_from_slice(&crate::clock::now_ms().to_le_bytes());
            id[8] = (std::process::id() % 251) as u8;
        }
        let me = app::url::hex(id);
        Self {
            path,
            loaded: Mutex::new(Loaded::default()),
            me,
            http: std::sync::OnceLock::new(),
            leader: std::sync::atomic::AtomicBool::new(false),
            unreachable: Mutex::new(HashMap::new()),
        }
    }

    /// Reads the file at start-up: one that cannot be read or has a mistake stops the process
    /// with the reason (later changes with a mistake are refused and shown, the rules in force
    /// stay).
    pub fn load(&self) -> Result<(), String> {
        if self.path.is_none() {
            return Ok(());
        }
        self.reload();
        match self.lock().error.clone() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    /// What the file last gave.
    pub fn snapshot(&self) -> Snapshot {
        let loaded = self.lock();
        Snapshot {
            file: loaded.file.clone(),
            error: loaded.error.clone(),
            loaded_at: loaded.loaded_at,
        }
    }

    /// The "Redis does not answer" states this process keeps.
    pub fn unreachable_states(&self) -> HashMap<String, RuleState> {
        self.unreachable
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Loaded> {
        self.loaded.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// This process's name for the leases it takes (alerts, discovery).
    pub fn me(&self) -> &str {
        &self.me
    }

    /// The rules in force.
    pub fn current(&self) -> Option<Arc<AlertsFile>> {
        self.lock().file.clone()
    }

    /// Reads the file again; a file with a mistake keeps the last rules in force and its error
    /// is shown. Whether the rules changed.
    fn reload(&self) -> bool {
        let Some(path) = &self.path else {
            return false;
        };
        let stamp = stamp_of(path);
        let read = read_file(path);
        let mut loaded = self.lock();
        loaded.stamp = stamp;
        match read {
            Ok(file) => {
                let changed = loaded.file.as_deref() != Some(&file);
                loaded.file = Some(Arc::new(file));
                loaded.error = None;
                loaded.loaded_at = Some(crate::clock::now_ms());
                if changed {
                    tracing::info!(path = %path.display(), "alert rules read");
                }
                changed
            }
            Err(error) => {
                tracing::error!(path = %path.display(), %error, "alert rules not read; the last ones stay in force");
                loaded.error = Some(error);
                false
            }
        }
    }

    /// Reads the file again if it changed (its time or length).
    pub fn reload_if_changed(&self) {
        let Some(path) = &self.path else {
            return;
        };
        let stamp = stamp_of(path);
        if stamp != self.lock().stamp {
            self.reload();
        }
    }
}

fn read_file(path: &std::path::Path) -> Result<AlertsFile, String> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| format!("{shown}: {e}"))?;
    if meta.len() > rules::MAX_FILE_BYTES {
        return Err(format!(
            "{shown}: larger than {} KiB",
            rules::MAX_FILE_BYTES / 1024
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("{shown}: {e}"))?;
    let yaml = matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    );
    rules::parse(&text, yaml).map_err(|e| format!("{shown}: {e}"))
}
