//! The AWS inventory: collectors per resource type, scans across accounts and regions, storage
//! with history, and exports. Read-only against AWS: nothing here mutates an account.

pub mod accounts;
pub mod collectors;
pub mod export;
pub mod lake;
pub mod model;
pub mod pg;
pub mod pg_tls;
pub mod raw;
pub mod scan;
pub mod store;
pub mod targets;

pub use collectors::{registry, CollectError, Collector, Cx};
pub use model::{Msg, Record, ScanError};
pub use scan::{scan, ScanOptions, ScanSummary, Target};
pub use store::{Filter, InventoryStore, Page, Sort};
pub use targets::{resolve, ResolveError, ResolvedScan, ScanRequest};
