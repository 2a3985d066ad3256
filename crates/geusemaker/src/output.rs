//! Rendering: data to stdout (text, JSON or YAML), everything else to stderr.

use std::io::Write;

use serde::Serialize;

use crate::cli::Format;

/// Where and how results are printed.
#[derive(Debug, Clone, Copy)]
pub struct Out {
    /// Format of data on stdout.
    pub format: Format,
    /// Print errors only.
    pub quiet: bool,
}

impl Out {
    /// Prints one result: `text` for people, `value` for machines.
    pub fn data<T: Serialize>(&self, value: &T, text: impl FnOnce() -> String) {
        if self.quiet {
            return;
        }
        let s = match self.format {
            Format::Text => text(),
            Format::Json => {
                let mut s = serde_json::to_string_pretty(value)
                    .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
                s.push('\n');
                s
            }
            Format::Yaml => to_yaml(&serde_json::to_value(value).unwrap_or_default()),
        };
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(s.as_bytes());
        let _ = stdout.flush();
    }

    /// A message for people on stderr (not in quiet mode).
    pub fn say(&self, msg: &str) {
        if !self.quiet {
            eprintln!("{msg}");
        }
    }

    /// True when stdout carries machine output.
    pub fn is_machine(&self) -> bool {
        self.format != Format::Text
    }
}

/// Renders a JSON value as YAML.
pub fn to_yaml(v: &serde_json::Value) -> String {
    gm_spec::yaml::to_yaml(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_output_round_trips_structure() {
        let v = serde_json::json!({"a": 1, "b": ["x", true], "c": {"d": null}});
        let y = to_yaml(&v);
        assert!(y.contains("a: 1"), "{y}");
        assert!(y.contains("- x"), "{y}");
    }
}
