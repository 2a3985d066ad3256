//! Reading a spec file: YAML with positions → typed spec → validated spec with its user data.

use std::path::{Path, PathBuf};

use crate::error::{Diagnostics, Problem, SpecError};
use crate::types::Spec;
use crate::validate;
use crate::yaml::{self, SourceIndex};

/// A spec that passed validation, with its user-data scripts read and wrapped.
#[derive(Debug, Clone)]
pub struct LoadedSpec {
    /// The spec.
    pub spec: Spec,
    /// The spec file as the user named it.
    pub file: String,
    /// Final user data per instance group (same order as `spec.instances`).
    pub user_data: Vec<Option<String>>,
}

/// Where a spec's `user_data.file` may point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FileAccess {
    /// Inside the spec file's folder only, symlinks resolved (the default: a spec from someone
    /// else cannot send `~/.aws/credentials` or `/etc/passwd` to EC2 as user data).
    #[default]
    SpecFolder,
    /// Anywhere this user can read (the CLI's `--allow-user-data-outside`).
    Anywhere,
    /// Nowhere: user data must be inline (specs that come from the server's API).
    Inline,
}

/// How a spec is loaded.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoadOptions {
    /// Where user-data files may be read from.
    pub files: FileAccess,
}

/// Reads and validates a spec file.
pub fn load(path: &Path) -> Result<LoadedSpec, SpecError> {
    load_with(path, LoadOptions::default())
}

/// Reads and validates a spec file with `options`.
pub fn load_with(path: &Path, options: LoadOptions) -> Result<LoadedSpec, SpecError> {
    let text = crate::text::read(path)?;
    let base = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    load_str_with(&path.display().to_string(), &text, &base, options)
}

/// Validates spec text; `base` is the folder user-data file paths are relative to.
pub fn load_str(file: &str, text: &str, base: &Path) -> Result<LoadedSpec, SpecError> {
    load_str_with(file, text, base, LoadOptions::default())
}

/// Validates spec text with `options`.
pub fn load_str_with(
    file: &str,
    text: &str,
    base: &Path,
    options: LoadOptions,
) -> Result<LoadedSpec, SpecError> {
    let invalid = |problems: Vec<Problem>| {
        SpecError::Invalid(Diagnostics {
            file: file.to_string(),
            problems,
        })
    };
    // parse_typed checks the size and drops a byte-order mark.
    let (spec, doc): (Spec, _) = parse_typed(file, text)?;
    let mut problems = Vec::new();
    let user_data = validate::validate(&spec, &doc.index, base, options.files, &mut problems);
    if problems.is_empty() {
        Ok(LoadedSpec {
            spec,
            file: file.to_string(),
            user_data,
        })
    } else {
        problems.sort_by_key(|p| (p.pos.line, p.pos.col));
        Err(invalid(problems))
    }
}

/// Reads any YAML document into a typed value with the spec's located errors (used for the
/// spec itself and for other GeuseMaker files, such as stack files). Returns the position index
/// for further checks.
pub fn parse_typed<T: serde::de::DeserializeOwned>(
    file: &str,
    text: &str,
) -> Result<(T, yaml::Document), SpecError> {
    let invalid = |problems: Vec<Problem>| {
        SpecError::Invalid(Diagnostics {
            file: file.to_string(),
            problems,
        })
    };
    let text = crate::text::check_str(file, text)?;
    let doc = yaml::parse(text).map_err(|e| {
        invalid(vec![Problem {
            code: "GM-SPEC-002",
            pos: e.pos,
            path: String::new(),
            message: format!("invalid YAML: {}", e.message),
            hint: Some(
                "check indentation (spaces, not tabs) and that every `[`/`{`/quote is closed"
                    .into(),
            ),
        }])
    })?;
    match serde_path_to_error::deserialize(&doc.value) {
        Ok(v) => Ok((v, doc)),
        Err(e) => Err(invalid(vec![typing_problem(&e, &doc.index)])),
    }
}

/// Turns a serde error into a located problem with a hint.
fn typing_problem(
    e: &serde_path_to_error::Error<serde_json::Error>,
    index: &SourceIndex,
) -> Problem {
    let path = e.path().to_string();
    let path = if path == "." { String::new() } else { path };
    let msg = e.inner().to_string();
    // serde_json appends " at line 1 column N" for its own input; ours is not JSON text.
    let msg = match msg.find(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg,
    };
    if let Some(field) = between(&msg, "unknown field `", "`") {
        let expected = expected_names(&msg);
        let key_path = crate::yaml::join_key(&path, field);
        let at = if index.has(&key_path) {
            index.key(&key_path)
        } else {
            index.key(&path)
        };
        let hint = match closest(field, &expected) {
            Some(best) => Some(format!("did you mean `{best}`?")),
            None if !expected.is_empty() => Some(format!("allowed here: {}", expected.join(", "))),
            None => None,
        };
        return Problem {
            code: "GM-SPEC-003",
            pos: at,
            path: key_path,
            message: format!("unknown field `{field}`"),
            hint,
        };
    }
    if let Some(variant) = between(&msg, "unknown variant `", "`") {
        let expected = expected_names(&msg);
        let hint = match closest(variant, &expected) {
            Some(best) => Some(format!(
                "did you mean `{best}`? allowed: {}",
                expected.join(", ")
            )),
            None => Some(format!("allowed: {}", expected.join(", "))),
        };
        return Problem {
            code: "GM-SPEC-004",
            pos: index.value(&path),
            path,
            message: format!("`{variant}` is not a valid value here"),
            hint,
        };
    }
    if let Some(field) = between(&msg, "missing field `", "`") {
        let what = if path.is_empty() {
            "the spec".to_string()
        } else {
            format!("`{path}`")
        };
        return Problem {
            code: "GM-SPEC-005",
            pos: index.value(&path),
            path: path.clone(),
            message: format!("{what} is missing the required field `{field}`"),
            hint: Some(format!(
                "add `{field}: …` (see `geusemaker schema` or the spec reference in the README)"
            )),
        };
    }
    let hint = if msg.contains("invalid type") {
        Some("check the value's type: numbers unquoted, prices and names as text, lists in `[ ]` or `- ` items".into())
    } else {
        None
    };
    Problem {
        code: "GM-SPEC-006",
        pos: index.value(&path),
        path: path.clone(),
        message: if path.is_empty() {
            msg
        } else {
            format!("`{path}`: {msg}")
        },
        hint,
    }
}

fn between<'a>(s: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let i = s.find(start)? + start.len();
    let j = s[i..].find(end)? + i;
    Some(&s[i..j])
}

/// The names serde lists after "expected one of" / "expected".
fn expected_names(msg: &str) -> Vec<String> {
    let Some(i) = msg.find("expected") else {
        return Vec::new();
    };
    msg[i..]
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// The closest allowed name, if it is close enough to be a typo (spec fields, and the CLI's
/// "did you mean" for error codes).
pub fn closest(word: &str, options: &[String]) -> Option<String> {
    options
        .iter()
        .map(|o| (strsim::jaro_winkler(word, o), o))
        .filter(|(score, o)| {
            *score > 0.8 || strsim::damerau_levenshtein(word, o) <= 2.min(word.len() / 2)
        })
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, o)| o.clone())
}
