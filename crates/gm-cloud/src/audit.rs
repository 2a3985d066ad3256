//! The audit trail: every mutating AWS call, with its outcome and duration.

use serde::Serialize;

/// One mutating AWS call.
#[derive(Debug, Clone, Serialize)]
pub struct AuditRecord {
    /// RFC 3339 UTC time the call finished.
    pub time: String,
    /// Deployment the call was for.
    pub deployment: Option<String>,
    /// Region.
    pub region: String,
    /// API action, e.g. `TerminateInstances`.
    pub action: String,
    /// Resource ids the call named or created.
    pub ids: Vec<String>,
    /// `ok`, or the error.
    pub outcome: String,
    /// Milliseconds.
    pub duration_ms: u64,
}

/// Where audit records go (the state store keeps a JSON-lines file beside the database).
pub trait AuditSink: Send + Sync {
    /// Appends one record; must not fail the call it describes.
    fn record(&self, record: &AuditRecord);
}

/// Discards records (for read-only commands).
#[derive(Debug, Default)]
pub struct NoAudit;

impl AuditSink for NoAudit {
    fn record(&self, _record: &AuditRecord) {}
}
