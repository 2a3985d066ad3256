//! What the cloud layer reads about prices and types, for the cost model to use.

use serde::{Deserialize, Serialize};

/// What an instance type offers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TypeInfo {
    /// vCPUs.
    pub vcpu: u32,
    /// Memory in GiB.
    pub memory_gib: u32,
    /// `x86_64` or `arm64`.
    pub arch: String,
    /// GPUs (0 for CPU types).
    #[serde(default)]
    pub gpus: u32,
    /// GPU model.
    #[serde(default)]
    pub gpu: Option<String>,
    /// Memory per GPU in GiB.
    #[serde(default)]
    pub gpu_memory_gib: Option<u32>,
}

/// A live spot price.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpotQuote {
    /// Region.
    pub region: String,
    /// Availability zone.
    pub availability_zone: String,
    /// Instance type.
    pub instance_type: String,
    /// USD/hour.
    pub usd_per_hour: f64,
    /// When AWS reported it (RFC 3339).
    pub timestamp: String,
}
