//! Rendering: data to stdout (text, JSON or YAML), everything else to stderr.

use std::io::Write;

use serde::Serialize;
use yaml_rust2::{Yaml, YamlEmitter};

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
    let mut out = String::new();
    let mut em = YamlEmitter::new(&mut out);
    if em.dump(&json_to_yaml(v)).is_err() {
        return String::new();
    }
    out.push('\n');
    out
}

fn json_to_yaml(v: &serde_json::Value) -> Yaml {
    match v {
        serde_json::Value::Null => Yaml::Null,
        serde_json::Value::Bool(b) => Yaml::Boolean(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Yaml::Integer(i),
            None => Yaml::Real(n.to_string()),
        },
        serde_json::Value::String(s) => Yaml::String(s.clone()),
        serde_json::Value::Array(a) => Yaml::Array(a.iter().map(json_to_yaml).collect()),
        serde_json::Value::Object(o) => Yaml::Hash(
            o.iter()
                .map(|(k, v)| (Yaml::String(k.clone()), json_to_yaml(v)))
                .collect(),
        ),
    }
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
