//! What a scan produces: one record per resource, and one error per (account, region, type)
//! that could not be listed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One resource as the inventory keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// 12-digit account id.
    pub account: String,
    /// Region, or `global` for global services (IAM, CloudFront, Route 53, S3 listing).
    pub region: String,
    /// Resource type, `service:kind` (e.g. `ec2:instance`).
    #[serde(rename = "type")]
    pub rtype: String,
    /// The id AWS gives it (instance id, bucket name, …).
    pub id: String,
    /// ARN (built from account, region and id where the API returns none).
    pub arn: String,
    /// `Name` tag or the resource's own name.
    pub name: Option<String>,
    /// State or status, when the resource has one.
    pub status: Option<String>,
    /// Creation time (RFC 3339), where AWS reports it.
    pub created: Option<String>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// Everything the list call returned for it.
    pub raw: serde_json::Value,
}

impl Record {
    /// The record's identity across scans.
    pub fn key(&self) -> String {
        format!(
            "{}|{}|{}|{}",
            self.account, self.region, self.rtype, self.id
        )
    }
}

/// A type that could not be listed in one account and region; the scan goes on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanError {
    /// Account.
    pub account: String,
    /// Region (`global` for global services).
    pub region: String,
    /// Resource type.
    #[serde(rename = "type")]
    pub rtype: String,
    /// AWS's error code (`AccessDenied`, …) or a transport description.
    pub code: String,
    /// Message.
    pub message: String,
}

/// What flows from the collectors to the scan's writer, in order: a part's records, then its
/// end (so the writer knows every record of the part has arrived before it looks for removals).
#[derive(Debug)]
pub enum Msg {
    /// One resource.
    Record(Box<Record>),
    /// A collector finished one account and region.
    Done {
        /// Account.
        account: String,
        /// Region as recorded (`global` for global types).
        region: String,
        /// Type.
        rtype: String,
        /// How many it listed.
        count: u64,
    },
    /// A collector failed in one account and region.
    Failed(ScanError),
}
