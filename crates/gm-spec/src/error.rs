//! Spec errors: each problem says where (file:line:column), what is wrong, and how to fix it.

use std::fmt;
use std::path::PathBuf;

use crate::yaml::Pos;

/// One thing wrong with a spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Stable code, e.g. `GM-SPEC-021`.
    pub code: &'static str,
    /// Where in the file.
    pub pos: Pos,
    /// The value path, e.g. `instances[0].volumes[1].iops`.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: Option<String>,
}

/// Everything wrong with a spec file, in file order.
#[derive(Debug, Clone)]
pub struct Diagnostics {
    /// The spec file as the user named it.
    pub file: String,
    /// The problems found.
    pub problems: Vec<Problem>,
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(
                f,
                "{}:{}:{}: {} [{}]",
                self.file, p.pos.line, p.pos.col, p.message, p.code
            )?;
            if let Some(h) = &p.hint {
                write!(f, "\n  hint: {h}")?;
            }
        }
        Ok(())
    }
}

/// Why a spec could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The spec file could not be read.
    #[error("cannot read spec file {path}: {source}")]
    Read {
        /// The path given.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The path names something that is not a file (a folder).
    #[error("{path} {what}, not a spec file")]
    NotAFile {
        /// The path given.
        path: PathBuf,
        /// What it is instead.
        what: &'static str,
    },
    /// The spec was read but is not valid.
    #[error("{0}")]
    Invalid(Diagnostics),
}

impl gm_model::Hint for SpecError {
    fn code(&self) -> String {
        SpecError::code(self).to_string()
    }

    fn hint(&self) -> Option<String> {
        SpecError::hint(self)
    }
}

impl SpecError {
    /// Stable code of the first problem, for machine output.
    pub fn code(&self) -> &'static str {
        match self {
            SpecError::Read { .. } | SpecError::NotAFile { .. } => "GM-SPEC-001",
            SpecError::Invalid(d) => d.problems.first().map_or("GM-SPEC-000", |p| p.code),
        }
    }

    /// A fix for the user, when there is one.
    pub fn hint(&self) -> Option<String> {
        match self {
            SpecError::Read { .. } => Some("check the path given with -f/--file".into()),
            SpecError::NotAFile { path, .. } => Some(format!(
                "name the YAML file inside it, e.g. {}",
                path.join("spec.yaml").display()
            )),
            SpecError::Invalid(_) => None,
        }
    }
}
