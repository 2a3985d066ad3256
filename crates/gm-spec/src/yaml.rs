//! YAML loading that keeps source positions, so every later error can point at file:line:column.
//!
//! The document is read once with yaml-rust2's event parser into a small tree whose nodes carry
//! their markers. The tree is turned into a `serde_json::Value` for typed deserialization, and an
//! index from value paths (`instances[0].volumes[1].iops`) to positions is kept beside it.

use std::collections::HashMap;

use serde_json::{Map, Number, Value};
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// A position in the spec file, 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub col: usize,
}

impl From<Marker> for Pos {
    fn from(m: Marker) -> Self {
        // yaml-rust2 reports 1-based lines and 0-based columns.
        Pos {
            line: m.line().max(1),
            col: m.col() + 1,
        }
    }
}

/// Where each value (and, for map entries, each key) of the document sits in the source.
#[derive(Debug, Default, Clone)]
pub struct SourceIndex {
    values: HashMap<String, Pos>,
    keys: HashMap<String, Pos>,
}

impl SourceIndex {
    /// Position of the value at `path`, falling back to the nearest enclosing value.
    pub fn value(&self, path: &str) -> Pos {
        let mut p = path.to_string();
        loop {
            if let Some(pos) = self.values.get(&p) {
                return *pos;
            }
            match parent(&p) {
                Some(up) => p = up,
                None => return self.values.get("").copied().unwrap_or_default(),
            }
        }
    }

    /// Position of the key of the map entry at `path` (the value's position if it has no key).
    pub fn key(&self, path: &str) -> Pos {
        self.keys
            .get(path)
            .copied()
            .unwrap_or_else(|| self.value(path))
    }

    /// True when the document has a value at `path`.
    pub fn has(&self, path: &str) -> bool {
        self.values.contains_key(path)
    }
}

/// The parent of a value path: `a.b[2]` → `a.b`, `a.b` → `a`, `a` → ``.
fn parent(path: &str) -> Option<String> {
    if path.is_empty() {
        return None;
    }
    if path.ends_with(']') {
        if let Some(i) = path.rfind('[') {
            return Some(path[..i].to_string());
        }
    }
    match path.rfind('.') {
        Some(i) => Some(path[..i].to_string()),
        None => Some(String::new()),
    }
}

/// Joins a map key onto a path.
pub fn join_key(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Joins a sequence index onto a path.
pub fn join_index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

/// A YAML syntax or structure problem, before any typing.
#[derive(Debug, Clone)]
pub struct YamlError {
    /// Where it is.
    pub pos: Pos,
    /// What is wrong.
    pub message: String,
}

#[derive(Debug, Clone)]
enum Node {
    Scalar {
        value: String,
        style: TScalarStyle,
        tagged_str: bool,
        pos: Pos,
    },
    Seq {
        items: Vec<Node>,
        pos: Pos,
    },
    Map {
        entries: Vec<(Node, Node)>,
        pos: Pos,
    },
}

impl Node {
    fn pos(&self) -> Pos {
        match self {
            Node::Scalar { pos, .. } | Node::Seq { pos, .. } | Node::Map { pos, .. } => *pos,
        }
    }
}

/// The most values a document may hold once its aliases are expanded. Anchors let a few hundred
/// bytes stand for billions of values ("billion laughs"); a real spec has a few hundred.
pub const MAX_VALUES: usize = 100_000;

/// The deepest nesting of lists and maps accepted (a spec needs five or six levels).
pub const MAX_DEPTH: usize = 64;

/// An open list or map, with the number of values it holds so far (itself included).
enum Frame {
    Seq(Vec<Node>, Pos, usize, usize),
    Map(Vec<(Node, Node)>, Option<Node>, Pos, usize, usize),
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    docs: Vec<Node>,
    /// Each anchor's node and how many values it stands for.
    anchors: HashMap<usize, (Node, usize)>,
    /// Values in the document so far, aliases expanded.
    values: usize,
    error: Option<YamlError>,
}

impl Builder {
    /// Adds a node standing for `weight` values to the open list or map.
    fn push_node(&mut self, node: Node, anchor: usize, weight: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, (node.clone(), weight));
        }
        match self.stack.last_mut() {
            None => self.docs.push(node),
            Some(Frame::Seq(items, _, _, w)) => {
                *w += weight;
                items.push(node)
            }
            Some(Frame::Map(entries, pending, _, _, w)) => {
                *w += weight;
                match pending.take() {
                    None => *pending = Some(node),
                    Some(key) => entries.push((key, node)),
                }
            }
        }
    }

    /// Counts `n` more values; false (with the error set) past the limit.
    fn count(&mut self, n: usize, pos: Pos) -> bool {
        self.values = self.values.saturating_add(n);
        if self.values > MAX_VALUES {
            self.error = Some(YamlError {
                pos,
                message: format!(
                    "the document expands to more than {MAX_VALUES} values (through its aliases here); a spec holds far fewer"
                ),
            });
            return false;
        }
        true
    }

    /// Opens a list or map (one value itself).
    fn open(&mut self, frame: Frame, pos: Pos) {
        if !self.count(1, pos) {
            return;
        }
        if self.stack.len() >= MAX_DEPTH {
            self.error = Some(YamlError {
                pos,
                message: format!("lists and maps are nested more than {MAX_DEPTH} levels deep"),
            });
            return;
        }
        self.stack.push(frame);
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        let pos = Pos::from(mark);
        match ev {
            Event::Scalar(value, style, anchor, tag) => {
                let tagged_str = tag.as_ref().is_some_and(|t| t.suffix == "str");
                if !self.count(1, pos) {
                    return;
                }
                self.push_node(
                    Node::Scalar {
                        value,
                        style,
                        tagged_str,
                        pos,
                    },
                    anchor,
                    1,
                );
            }
            Event::SequenceStart(anchor, _) => {
                self.open(Frame::Seq(Vec::new(), pos, anchor, 1), pos)
            }
            Event::SequenceEnd => {
                if let Some(Frame::Seq(items, pos, anchor, w)) = self.stack.pop() {
                    self.push_node(Node::Seq { items, pos }, anchor, w);
                }
            }
            Event::MappingStart(anchor, _) => {
                self.open(Frame::Map(Vec::new(), None, pos, anchor, 1), pos)
            }
            Event::MappingEnd => {
                if let Some(Frame::Map(entries, _, pos, anchor, w)) = self.stack.pop() {
                    self.push_node(Node::Map { entries, pos }, anchor, w);
                }
            }
            // The weight is checked before the clone: an alias bomb never gets to allocate.
            Event::Alias(id) => match self.anchors.get(&id).map(|(_, w)| *w) {
                Some(w) => {
                    if !self.count(w, pos) {
                        return;
                    }
                    if let Some((node, _)) = self.anchors.get(&id).cloned() {
                        self.push_node(node, 0, w);
                    }
                }
                None => {
                    self.error = Some(YamlError {
                        pos,
                        message: "alias refers to an unknown anchor".into(),
                    })
                }
            },
            _ => {}
        }
    }
}

/// A parsed document: its value for serde and the index of positions.
#[derive(Debug)]
pub struct Document {
    /// The document as plain data.
    pub value: Value,
    /// Where every value and key came from.
    pub index: SourceIndex,
}

/// Parses one YAML document, keeping positions. Never panics on malformed input.
pub fn parse(text: &str) -> Result<Document, YamlError> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    if let Err(e) = parser.load(&mut builder, true) {
        let message = match e.info() {
            // The scanner counts `[`/`{` levels in a u8.
            "recursion limit exceeded" => {
                "lists and maps are nested more than 255 `[`/`{` levels deep".to_string()
            }
            other => other.to_string(),
        };
        return Err(YamlError {
            pos: Pos::from(*e.marker()),
            message,
        });
    }
    if let Some(err) = builder.error {
        return Err(err);
    }
    if builder.docs.len() > 1 {
        return Err(YamlError {
            pos: builder.docs[1].pos(),
            message: "the file holds more than one YAML document; a spec is exactly one".into(),
        });
    }
    let Some(root) = builder.docs.pop() else {
        return Err(YamlError {
            pos: Pos { line: 1, col: 1 },
            message: "the file is empty".into(),
        });
    };
    let mut index = SourceIndex::default();
    let value = convert(&root, "", &mut index)?;
    Ok(Document { value, index })
}

fn convert(node: &Node, path: &str, index: &mut SourceIndex) -> Result<Value, YamlError> {
    index.values.insert(path.to_string(), node.pos());
    match node {
        Node::Scalar {
            value,
            style,
            tagged_str,
            ..
        } => Ok(scalar(value, *style, *tagged_str)),
        Node::Seq { items, .. } => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                out.push(convert(item, &join_index(path, i), index)?);
            }
            Ok(Value::Array(out))
        }
        Node::Map { entries, .. } => {
            let mut out = Map::new();
            for (k, v) in entries {
                let key = match k {
                    Node::Scalar { value, .. } => value.clone(),
                    other => {
                        return Err(YamlError {
                            pos: other.pos(),
                            message: "a map key must be a plain word, not a list or a map".into(),
                        })
                    }
                };
                let child = join_key(path, &key);
                if out.contains_key(&key) {
                    return Err(YamlError {
                        pos: k.pos(),
                        message: format!(
                            "duplicate key `{key}` (first at line {}); a key may appear once per map",
                            index.key(&child).line
                        ),
                    });
                }
                index.keys.insert(child.clone(), k.pos());
                let v = convert(v, &child, index)?;
                out.insert(key, v);
            }
            Ok(Value::Object(out))
        }
    }
}

/// Resolves a scalar per the YAML 1.2 core schema; quoted scalars are always strings.
fn scalar(v: &str, style: TScalarStyle, tagged_str: bool) -> Value {
    if style != TScalarStyle::Plain || tagged_str {
        return Value::String(v.to_string());
    }
    match v {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    if let Ok(i) = v.parse::<i64>() {
        return Value::Number(i.into());
    }
    if let Some(hex) = v.strip_prefix("0x") {
        if let Ok(i) = i64::from_str_radix(hex, 16) {
            return Value::Number(i.into());
        }
    }
    let looks_numeric = v
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))
        && v.chars().any(|c| c.is_ascii_digit());
    if looks_numeric {
        if let Ok(f) = v.parse::<f64>() {
            if let Some(n) = Number::from_f64(f) {
                return Value::Number(n);
            }
        }
    }
    Value::String(v.to_string())
}

/// Renders plain data as a YAML document (block style, keys in their order).
pub fn to_yaml(v: &Value) -> String {
    let mut out = String::new();
    let mut em = yaml_rust2::YamlEmitter::new(&mut out);
    em.multiline_strings(true);
    if em.dump(&to_yaml_node(v)).is_err() {
        return String::new();
    }
    out.push('\n');
    out
}

fn to_yaml_node(v: &Value) -> yaml_rust2::Yaml {
    use yaml_rust2::Yaml;
    match v {
        Value::Null => Yaml::Null,
        Value::Bool(b) => Yaml::Boolean(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Yaml::Integer(i),
            None => Yaml::Real(n.to_string()),
        },
        Value::String(s) => Yaml::String(s.clone()),
        Value::Array(a) => Yaml::Array(a.iter().map(to_yaml_node).collect()),
        Value::Object(o) => Yaml::Hash(
            o.iter()
                .map(|(k, v)| (Yaml::String(k.clone()), to_yaml_node(v)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendered_yaml_parses_back_to_the_same_data() {
        let v = serde_json::json!({"a": 1, "b": ["x", true, null], "c": {"d": "multi\nline\n", "e": "0.05", "f": "yes"}});
        let doc = parse(&to_yaml(&v)).unwrap();
        assert_eq!(doc.value, v);
    }

    #[test]
    fn positions_are_one_based_and_point_at_values_and_keys() {
        let doc = parse("a: 1\nlist:\n  - x: true\n    y: \"2\"\n").unwrap();
        assert_eq!(doc.index.value("a"), Pos { line: 1, col: 4 });
        assert_eq!(doc.index.key("list[0].y"), Pos { line: 4, col: 5 });
        assert_eq!(doc.value["list"][0]["y"], Value::String("2".into()));
        assert_eq!(doc.value["list"][0]["x"], Value::Bool(true));
    }

    #[test]
    fn unknown_paths_fall_back_to_the_enclosing_value() {
        let doc = parse("outer:\n  inner: 3\n").unwrap();
        assert_eq!(
            doc.index.value("outer.inner.deeper"),
            Pos { line: 2, col: 10 }
        );
    }

    #[test]
    fn malformed_yaml_is_an_error_with_a_position_not_a_panic() {
        for bad in ["a: [1, 2", "a: b: c", "- a\nb: 1", "a: *nope", "{", "a: 'x"] {
            let err = parse(bad).expect_err(bad);
            assert!(err.pos.line >= 1, "{bad}: {err:?}");
        }
    }

    #[test]
    fn duplicate_keys_are_rejected() {
        let err = parse("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert!(err.message.contains("duplicate key `a`"), "{}", err.message);
        assert_eq!(err.pos.line, 3);
    }

    #[test]
    fn anchors_and_aliases_resolve() {
        let doc = parse("base: &b {size: 10}\nother: *b\n").unwrap();
        assert_eq!(doc.value["other"]["size"], Value::Number(10.into()));
    }
}
