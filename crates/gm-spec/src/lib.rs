//! The GeuseMaker spec: what a deployment should be, read from YAML with exact error positions.
//!
//! `load` reads a file, reports every problem as `file:line:column: what [code]` with a hint, and
//! returns the typed [`Spec`] with its user-data scripts read and wrapped for monitoring.

mod error;
mod load;
pub mod text;
pub mod types;
pub mod user_data;
mod validate;
pub mod yaml;

pub use error::{Diagnostics, Problem, SpecError};
pub use load::{
    closest, load, load_str, load_str_with, load_with, parse_typed, FileAccess, LoadOptions,
    LoadedSpec,
};
pub use types::*;
pub use validate::{cidr_within, is_aws_id, parse_cidr, parse_range, AMI_ALIASES};

/// The JSON Schema of the spec, for editors and CI linters.
pub fn json_schema() -> serde_json::Value {
    let schema = schemars::schema_for!(Spec);
    serde_json::to_value(&schema).unwrap_or(serde_json::Value::Null)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod hostile_tests;
