//! YAML into a plain tree of nodes, each with its line and column, so that
//! every later check can point at the source. serde-saphyr does the parsing
//! (with its limits on size, depth and alias expansion); nothing here
//! interprets the tree.

use crate::{Diagnostic, Pos};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;
use std::fmt;

/// Deepest nesting of YAML collections accepted.
pub const MAX_YAML_DEPTH: usize = 32;
/// Most YAML nodes accepted in one query file.
pub const MAX_YAML_NODES: usize = 100_000;
/// Most alias expansions accepted in one query file (events replayed).
pub const MAX_ALIAS_EVENTS: usize = 10_000;

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    pub pos: Pos,
    /// Column shift from `pos` to the first character of a scalar's text
    /// (1 for a quoted scalar).
    pub text_shift: u64,
}

impl Node {
    pub fn kind(&self) -> &'static str {
        match &self.value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    /// The scalar as text, for expressions and dates (`2025-03-31` and `58`
    /// are both expressions).
    pub fn scalar_text(&self) -> Option<String> {
        match &self.value {
            Value::Str(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a YAML value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v.into()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Int(v.into()))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        i128::try_from(v)
            .map(Value::Int)
            .map_err(|_| E::custom("integer too large"))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(n) = seq.next_element::<Spanned<Value>>()? {
            out.push(raw_node(n));
        }
        Ok(Value::Seq(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(k) = map.next_key::<Spanned<Value>>()? {
            let v = map.next_value::<Spanned<Value>>()?;
            out.push((raw_node(k), raw_node(v)));
        }
        Ok(Value::Map(out))
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

fn raw_node(s: Spanned<Value>) -> Node {
    let loc = s.referenced;
    Node {
        value: s.value,
        pos: Pos {
            line: loc.line(),
            column: loc.column(),
        },
        // Filled in by `fix_shifts` once the source text is at hand; the
        // byte offset is kept here meanwhile.
        text_shift: loc.span().byte_offset().map_or(u64::MAX, |b| b),
    }
}

fn fix_shifts(n: &mut Node, text: &str) {
    let off = n.text_shift;
    n.text_shift = 0;
    if let Ok(off) = usize::try_from(off)
        && matches!(n.value, Value::Str(_))
        && matches!(text.as_bytes().get(off), Some(b'"' | b'\''))
    {
        n.text_shift = 1;
    }
    match &mut n.value {
        Value::Seq(items) => items.iter_mut().for_each(|i| fix_shifts(i, text)),
        Value::Map(pairs) => pairs.iter_mut().for_each(|(k, v)| {
            fix_shifts(k, text);
            fix_shifts(v, text);
        }),
        _ => {}
    }
}

/// Parses one YAML document into a tree of positioned nodes.
pub fn parse(file: &str, text: &str) -> Result<Node, Diagnostic> {
    let options = serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_depth: MAX_YAML_DEPTH,
            max_nodes: MAX_YAML_NODES,
            max_documents: 1,
            max_aliases: 1_000,
            max_anchors: 1_000,
        },
        alias_limits: serde_saphyr::alias_limits! {
            max_total_replayed_events: MAX_ALIAS_EVENTS,
            max_replay_stack_depth: 16,
        },
        duplicate_keys: serde_saphyr::options::DuplicateKeyPolicy::Error,
        strict_booleans: true,
        reject_unsupported_tags: true,
        merge_keys: serde_saphyr::options::MergeKeyPolicy::Error,
    };
    let parsed: Result<Spanned<Value>, _> = serde_saphyr::from_str_with_options(text, options);
    match parsed {
        Ok(s) => {
            let mut n = raw_node(s);
            fix_shifts(&mut n, text);
            Ok(n)
        }
        Err(e) => {
            let pos = e.location().map_or(Pos { line: 1, column: 1 }, |l| Pos {
                line: l.line().max(1),
                column: l.column().max(1),
            });
            let msg = e.to_string();
            let mut first = msg.lines().next().unwrap_or("").trim();
            first = first.strip_prefix("error: ").unwrap_or(first);
            // Drop the library's own "line N column M: " (the position is
            // given in front).
            if first.starts_with("line ")
                && let Some(i) = first.find(": ")
            {
                first = &first[i + 2..];
            }
            let first = match first.find(", set DuplicateKeyPolicy") {
                Some(i) => format!("{}; each key may appear only once", &first[..i]),
                None => first.to_owned(),
            };
            Err(Diagnostic::new(
                file,
                pos,
                format!("this is not valid YAML for a query: {first}"),
            ))
        }
    }
}
