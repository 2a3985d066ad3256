//! The JSON-lines audit log kept beside the state database.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use gm_cloud::{AuditRecord, AuditSink};

/// Appends one JSON document per mutating AWS call to a file.
#[derive(Debug)]
pub struct JsonlAudit {
    path: PathBuf,
    file: Mutex<Option<File>>,
}

impl JsonlAudit {
    /// An audit log at `path` (created on first write).
    pub fn new(path: &Path) -> JsonlAudit {
        JsonlAudit {
            path: path.to_path_buf(),
            file: Mutex::new(None),
        }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl AuditSink for JsonlAudit {
    fn record(&self, record: &AuditRecord) {
        let Ok(mut guard) = self.file.lock() else {
            return;
        };
        if guard.is_none() {
            if let Some(dir) = self.path.parent() {
                let _ = gm_state::private_dir(dir);
            }
            match gm_state::private_file(&self.path) {
                Ok(f) => *guard = Some(f),
                Err(e) => {
                    tracing::warn!("cannot write audit log {}: {e}", self.path.display());
                    return;
                }
            }
        }
        if let (Some(f), Ok(line)) = (guard.as_mut(), serde_json::to_string(record)) {
            if let Err(e) = writeln!(f, "{line}") {
                tracing::warn!("cannot write audit log {}: {e}", self.path.display());
            }
        }
    }
}
