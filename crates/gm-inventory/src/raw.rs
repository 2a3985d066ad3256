//! Raw metadata as JSON, from the SDK's `Debug` output.
//!
//! The SDK's types are not `Serialize` (that needs an unstable cfg), but every one of them has a
//! derived `Debug` that prints its whole structure: `Name { field: value, … }`, `Some(…)`,
//! `None`, `[…]`, `{"k": v}`, quoted strings, numbers and enum variants. Parsing that one grammar
//! gives the raw record of all 50+ resource types without a field map per type. Sensitive
//! fields arrive already redacted by the SDK; blobs become arrays of byte values; a
//! `DateTime { seconds, subsecond_nanos }` becomes an RFC 3339 string. Anything unparsable is
//! kept as the original text, never a panic.

use serde_json::{Map, Value};

/// Converts a value's `{:?}` text to JSON.
pub fn to_json<T: std::fmt::Debug>(v: &T) -> Value {
    let text = format!("{v:?}");
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
    };
    match p.value() {
        Some(v) if p.rest_is_blank() => v,
        _ => Value::String(text),
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn rest_is_blank(&mut self) -> bool {
        self.ws();
        self.i >= self.s.len()
    }

    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.s.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn value(&mut self) -> Option<Value> {
        match self.peek()? {
            b'"' => self.string().map(Value::String),
            b'[' => {
                self.i += 1;
                let mut out = Vec::new();
                while !self.eat(b']') {
                    out.push(self.value()?);
                    if !self.eat(b',') && self.peek() != Some(b']') {
                        return None;
                    }
                }
                Some(Value::Array(out))
            }
            b'{' => {
                self.i += 1;
                self.map_body(b'}')
            }
            c if c == b'-' || c.is_ascii_digit() => self.number(),
            c if c.is_ascii_alphabetic() || c == b'_' => self.named(),
            _ => None,
        }
    }

    /// `{"k": v, …}` (a map's Debug) or `{ field: v, … }` (a struct body).
    fn map_body(&mut self, close: u8) -> Option<Value> {
        let mut m = Map::new();
        while !self.eat(close) {
            let key = match self.peek()? {
                b'"' => self.string()?,
                _ => self.ident()?,
            };
            if !self.eat(b':') {
                return None;
            }
            let v = self.value()?;
            m.insert(key, v);
            if !self.eat(b',') && self.peek() != Some(close) {
                return None;
            }
        }
        Some(Value::Object(m))
    }

    fn ident(&mut self) -> Option<String> {
        self.ws();
        let start = self.i;
        while self.i < self.s.len()
            && (self.s[self.i].is_ascii_alphanumeric() || self.s[self.i] == b'_')
        {
            self.i += 1;
        }
        (self.i > start).then(|| String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }

    fn named(&mut self) -> Option<Value> {
        let name = self.ident()?;
        match name.as_str() {
            "None" if self.peek() != Some(b'(') => return Some(Value::Null),
            "true" => return Some(Value::Bool(true)),
            "false" => return Some(Value::Bool(false)),
            _ => {}
        }
        match self.peek() {
            Some(b'{') => {
                self.i += 1;
                let body = self.map_body(b'}')?;
                Some(simplify(&name, body))
            }
            Some(b'(') => {
                self.i += 1;
                let mut items = Vec::new();
                while !self.eat(b')') {
                    items.push(self.value()?);
                    if !self.eat(b',') && self.peek() != Some(b')') {
                        return None;
                    }
                }
                // `Some(x)`, newtypes and `Unknown(UnknownVariantValue("x"))` are their content.
                Some(if items.len() == 1 {
                    items.pop().unwrap_or(Value::Null)
                } else {
                    Value::Array(items)
                })
            }
            // An enum variant.
            _ => Some(Value::String(name)),
        }
    }

    fn string(&mut self) -> Option<String> {
        if !self.eat(b'"') {
            return None;
        }
        let mut out = Vec::new();
        while self.i < self.s.len() {
            let c = self.s[self.i];
            self.i += 1;
            match c {
                b'"' => return Some(String::from_utf8_lossy(&out).into_owned()),
                b'\\' => {
                    let e = *self.s.get(self.i)?;
                    self.i += 1;
                    match e {
                        b'n' => out.push(b'\n'),
                        b't' => out.push(b'\t'),
                        b'r' => out.push(b'\r'),
                        b'0' => out.push(0),
                        b'u' => {
                            // \u{XXXX}
                            let end = self.s[self.i..].iter().position(|&b| b == b'}')?;
                            let hex =
                                std::str::from_utf8(&self.s[self.i + 1..self.i + end]).ok()?;
                            let ch = char::from_u32(u32::from_str_radix(hex, 16).ok()?)?;
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                            self.i += end + 1;
                        }
                        other => out.push(other),
                    }
                }
                _ => out.push(c),
            }
        }
        None
    }

    /// A bare token starting with a digit: a number, or something printed unquoted such as
    /// the SDK's `DateTime` (`2026-11-30T20:03:13Z`), kept as a string.
    fn number(&mut self) -> Option<Value> {
        self.ws();
        let start = self.i;
        while self.i < self.s.len() && !b",)]} \n\t".contains(&self.s[self.i]) {
            self.i += 1;
        }
        let t = std::str::from_utf8(&self.s[start..self.i]).ok()?;
        if let Ok(n) = t.parse::<i64>() {
            return Some(Value::from(n));
        }
        if let Ok(f) = t.parse::<f64>() {
            return Some(Value::from(f));
        }
        Some(Value::String(t.to_string()))
    }
}

/// Well-known shapes made plain: times as RFC 3339, blobs as their bytes.
fn simplify(name: &str, body: Value) -> Value {
    match (name, &body) {
        ("DateTime", Value::Object(m)) => {
            let secs = m.get("seconds").and_then(Value::as_i64);
            let nanos = m
                .get("subsecond_nanos")
                .and_then(Value::as_u64)
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or(0);
            secs.and_then(|s| chrono::DateTime::from_timestamp(s, nanos))
                .map(|t| Value::String(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)))
                .unwrap_or(body)
        }
        ("Blob", Value::Object(m)) => m.get("inner").cloned().unwrap_or(body),
        _ => body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[derive(Debug)]
    #[allow(dead_code)]
    enum State {
        Running,
        Unknown(Unknown),
    }
    #[derive(Debug)]
    #[allow(dead_code)]
    struct Unknown(String);
    #[derive(Debug)]
    #[allow(dead_code)]
    struct DateTime {
        seconds: i64,
        subsecond_nanos: u32,
    }
    #[derive(Debug)]
    #[allow(dead_code)]
    struct Blob {
        inner: Vec<u8>,
    }
    #[derive(Debug)]
    #[allow(dead_code)]
    struct Tag {
        key: Option<String>,
        value: Option<String>,
    }
    #[derive(Debug)]
    #[allow(dead_code)]
    struct Thing {
        id: Option<String>,
        state: Option<State>,
        other: Option<State>,
        launched: Option<DateTime>,
        tags: Option<Vec<Tag>>,
        count: i32,
        ratio: f64,
        enabled: bool,
        missing: Option<String>,
        data: Option<Blob>,
        attrs: HashMap<String, String>,
        text: String,
    }

    #[test]
    fn sdk_like_debug_output_becomes_json() {
        let t = Thing {
            id: Some("i-123".into()),
            state: Some(State::Running),
            other: Some(State::Unknown(Unknown("future-state".into()))),
            launched: Some(DateTime {
                seconds: 1_700_000_000,
                subsecond_nanos: 0,
            }),
            tags: Some(vec![Tag {
                key: Some("Name".into()),
                value: Some("web \"one\"\n{x}".into()),
            }]),
            count: -3,
            ratio: 0.5,
            enabled: true,
            missing: None,
            data: Some(Blob {
                inner: vec![0, 255, 7],
            }),
            attrs: [("k".to_string(), "v".to_string())].into_iter().collect(),
            text: "ünï \u{1F600} tab\tend".into(),
        };
        let j = to_json(&t);
        assert_eq!(j["id"], "i-123");
        assert_eq!(j["state"], "Running");
        assert_eq!(j["other"], "future-state");
        assert_eq!(j["launched"], "2023-11-14T22:13:20Z");
        assert_eq!(j["tags"][0]["value"], "web \"one\"\n{x}");
        assert_eq!(j["count"], -3);
        assert_eq!(j["ratio"], 0.5);
        assert_eq!(j["enabled"], true);
        assert!(j["missing"].is_null());
        assert_eq!(j["data"], serde_json::json!([0, 255, 7]));
        assert_eq!(j["attrs"]["k"], "v");
        assert_eq!(j["text"], "ünï \u{1F600} tab\tend");
    }

    #[test]
    fn the_sdks_own_debug_output_parses_whole() {
        let i = aws_sdk_ec2::types::Instance::builder()
            .instance_id("i-1")
            .launch_time(aws_smithy_types::DateTime::from_secs(1_700_000_000))
            .state(
                aws_sdk_ec2::types::InstanceState::builder()
                    .code(16)
                    .name(aws_sdk_ec2::types::InstanceStateName::Running)
                    .build(),
            )
            .tags(
                aws_sdk_ec2::types::Tag::builder()
                    .key("Name")
                    .value("a, b")
                    .build(),
            )
            .platform(aws_sdk_ec2::types::PlatformValues::from("windows-future"))
            .build();
        let j = to_json(&i);
        assert!(j.is_object(), "{j}");
        assert_eq!(j["instance_id"], "i-1");
        assert_eq!(j["launch_time"], "2023-11-14T22:13:20Z");
        assert_eq!(j["state"]["name"], "Running");
        assert_eq!(j["state"]["code"], 16);
        assert_eq!(j["tags"][0]["value"], "a, b");
        assert_eq!(j["platform"], "windows-future");
    }

    #[test]
    fn what_does_not_parse_is_kept_as_text() {
        struct Odd;
        impl std::fmt::Debug for Odd {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("Odd <<< not debug syntax")
            }
        }
        assert_eq!(
            to_json(&Odd),
            Value::String("Odd <<< not debug syntax".into())
        );
    }
}
