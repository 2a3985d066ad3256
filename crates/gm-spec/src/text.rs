//! Turning a file's bytes into spec text, with a position on every refusal.
//!
//! A spec is UTF-8 text of at most [`MAX_SPEC_BYTES`]. Anything else — a binary file, UTF-16, a
//! Latin-1 file, a device that never ends — is refused with the byte offset (and line and
//! column) of the first byte that is wrong, before the YAML parser sees it. Specs will also
//! arrive through the server's API, so these bounds are what keeps one request from costing
//! unbounded memory.

use std::io::Read;
use std::path::Path;

use crate::error::{Diagnostics, Problem, SpecError};
use crate::yaml::Pos;

/// The largest spec (or stack file) accepted: far above any real one, small enough to parse
/// in milliseconds.
pub const MAX_SPEC_BYTES: usize = 1024 * 1024;

/// Reads a spec file (or any GeuseMaker YAML file) as text. Folders and files that are not UTF-8
/// text are refused with where and why; pipes (`<(…)`, `/dev/stdin`) work, read to the size limit.
pub fn read(path: &Path) -> Result<String, SpecError> {
    let read_err = |source| SpecError::Read {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(read_err)?;
    if meta.is_dir() {
        return Err(SpecError::NotAFile {
            path: path.to_path_buf(),
            what: "is a folder",
        });
    }
    let file = std::fs::File::open(path).map_err(read_err)?;
    let mut bytes = Vec::new();
    file.take(MAX_SPEC_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(read_err)?;
    decode(&path.display().to_string(), &bytes)
}

/// Checks spec bytes and returns them as text without a UTF-8 byte-order mark.
pub fn decode(file: &str, bytes: &[u8]) -> Result<String, SpecError> {
    let refuse = |offset, code, message, hint| refusal(file, bytes, offset, code, message, hint);
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err(refuse(
            0,
            "GM-SPEC-007",
            "the file is UTF-16 (it starts with a UTF-16 byte-order mark, byte offset 0)".into(),
            "save it as UTF-8 (in most editors: File → Save with Encoding → UTF-8)",
        ));
    }
    let body = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
    let skipped = bytes.len() - body.len();
    if let Some(i) = body.iter().position(|b| *b == 0) {
        return Err(refuse(
            skipped + i,
            "GM-SPEC-007",
            format!(
                "the file is binary, not text (a NUL byte at byte offset {})",
                skipped + i
            ),
            "name the YAML spec file; a spec is UTF-8 text",
        ));
    }
    if body.len() > MAX_SPEC_BYTES {
        return Err(too_large(file, bytes, skipped + MAX_SPEC_BYTES));
    }
    match std::str::from_utf8(body) {
        Ok(s) => Ok(s.to_string()),
        Err(e) => {
            let at = skipped + e.valid_up_to();
            Err(refuse(
                at,
                "GM-SPEC-007",
                format!(
                    "the file is not UTF-8: byte 0x{:02X} at byte offset {at} cannot start or continue a character",
                    bytes[at]
                ),
                "save it as UTF-8; Latin-1 or Windows-1252 text (é as one byte) is not accepted",
            ))
        }
    }
}

/// Strips a UTF-8 byte-order mark from text that is already a string (a request body) and checks
/// its size.
pub fn check_str<'a>(file: &str, text: &'a str) -> Result<&'a str, SpecError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.len() > MAX_SPEC_BYTES {
        return Err(too_large(file, text.as_bytes(), MAX_SPEC_BYTES));
    }
    Ok(text)
}

fn too_large(file: &str, bytes: &[u8], offset: usize) -> SpecError {
    refusal(
        file,
        bytes,
        offset,
        "GM-SPEC-008",
        format!(
            "the file is larger than {} KiB (the limit for a spec)",
            MAX_SPEC_BYTES / 1024
        ),
        "a spec describes resources, not data: move large content into user-data scripts the instance downloads",
    )
}

fn refusal(
    file: &str,
    bytes: &[u8],
    offset: usize,
    code: &'static str,
    message: String,
    hint: &str,
) -> SpecError {
    SpecError::Invalid(Diagnostics {
        file: file.to_string(),
        problems: vec![Problem {
            code,
            pos: position(bytes, offset),
            path: String::new(),
            message,
            hint: Some(hint.to_string()),
        }],
    })
}

/// 1-based line and column (in bytes) of `offset`.
fn position(bytes: &[u8], offset: usize) -> Pos {
    let before = &bytes[..offset.min(bytes.len())];
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let start = before
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    Pos {
        line,
        col: before.len() - start + 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(bytes: &[u8]) -> (String, Pos) {
        match decode("s.yaml", bytes) {
            Err(SpecError::Invalid(d)) => (d.problems[0].message.clone(), d.problems[0].pos),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_utf8_bom_is_dropped() {
        assert_eq!(
            decode("s", b"\xEF\xBB\xBFversion: 1\n").unwrap(),
            "version: 1\n"
        );
        assert_eq!(check_str("s", "\u{feff}version: 1").unwrap(), "version: 1");
    }

    #[test]
    fn utf16_binary_and_latin1_are_refused_with_a_position() {
        let (m, p) = refused(b"\xFF\xFEv\0e\0");
        assert!(m.contains("UTF-16"), "{m}");
        assert_eq!(p, Pos { line: 1, col: 1 });
        let (m, p) = refused(b"version: 1\nab\0c");
        assert!(m.contains("binary") && m.contains("byte offset 13"), "{m}");
        assert_eq!(p, Pos { line: 2, col: 3 });
        let (m, p) = refused(b"version: 1\ntags: {a: caf\xE9}\n");
        assert!(m.contains("0xE9") && m.contains("byte offset 24"), "{m}");
        assert_eq!(p, Pos { line: 2, col: 14 });
    }

    #[test]
    fn a_huge_file_is_refused() {
        let big = vec![b'#'; MAX_SPEC_BYTES + 1];
        let (m, _) = refused(&big);
        assert!(m.contains("larger than 1024 KiB"), "{m}");
        assert!(check_str("s", std::str::from_utf8(&big).unwrap()).is_err());
    }

    #[test]
    fn a_folder_and_an_endless_device_are_named_for_what_they_are() {
        let dir = std::env::temp_dir();
        let e = read(&dir).unwrap_err();
        assert!(e.to_string().contains("is a folder"), "{e}");
        if Path::new("/dev/zero").exists() {
            let e = read(Path::new("/dev/zero")).unwrap_err().to_string();
            assert!(e.contains("binary"), "{e}");
        }
    }
}
