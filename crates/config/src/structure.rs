//! Every unknown key and misplaced mapping or list of a file, in one pass. The parser stops
//! at its first error; this walks the whole file as read by [`tree`](crate::tree) beside the
//! JSON Schema generated from the same types, so a pasted GitHub workflow or Kubernetes
//! manifest shows all that has to change at once.
//!
//! The schema is the parser's: it lists every key and spelling the parser accepts (a test
//! walks every example through both). Only what the schema states for certain is reported;
//! where it allows several shapes and none fits, or says nothing, the walk stops.

use serde_json::{Map, Value};

use crate::schema;
use crate::span::Pos;
use crate::suggest::did_you_mean;
use crate::tree::Node;

/// The structural problems of the file read as `root`, in file order.
pub(crate) fn problems(root: &Node) -> Vec<(Pos, String)> {
    problems_of(root, None)
}

/// The same, of a file holding one definition of the schema at its top level, e.g. a workflow
/// file's `PipelineConfig`.
pub(crate) fn problems_of(root: &Node, definition: Option<&str>) -> Vec<(Pos, String)> {
    let schema = schema::generate();
    let root_schema = schema.as_value();
    let empty = Map::new();
    let defs = root_schema
        .get("$defs")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let top = match definition {
        Some(name) => match defs.get(name) {
            Some(def) => def,
            None => return Vec::new(),
        },
        None => root_schema,
    };
    let mut walk = Walk {
        defs,
        out: Vec::new(),
    };
    walk.node(root, Pos::new(1, 1), top);
    walk.out.sort_by_key(|(pos, _)| *pos);
    walk.out
}

struct Walk<'s> {
    defs: &'s Map<String, Value>,
    out: Vec<(Pos, String)>,
}

/// The shapes of YAML a schema is about; scalars are left to the parser.
#[derive(Clone, Copy, PartialEq)]
enum Shape {
    Mapping,
    List,
}

impl<'s> Walk<'s> {
    fn node(&mut self, node: &Node, pos: Pos, schema: &'s Value) {
        let shape = match node {
            Node::Map(_) => Shape::Mapping,
            Node::Seq(_) => Shape::List,
            Node::Scalar => return,
        };
        let alternatives = self.alternatives(schema);
        if alternatives.iter().any(|s| accepts_anything(s)) {
            return;
        }
        let fitting: Vec<&Value> = alternatives
            .iter()
            .copied()
            .filter(|s| admits(s, shape))
            .collect();
        if fitting.is_empty() {
            if let Some(expected) = expected(&alternatives) {
                let found = match shape {
                    Shape::Mapping => "a mapping",
                    Shape::List => "a list",
                };
                self.out
                    .push((pos, format!("expected {expected} here, found {found}")));
            }
            return;
        }
        match node {
            Node::Map(entries) => {
                // Of several mapping forms, the one that knows every key is the one meant; when
                // none does, which was meant is a guess, and the parser's error says more.
                let unknown =
                    |s: &Value| entries.iter().filter(|(k, _)| !knows(s, &k.value)).count();
                let meant = match fitting.as_slice() {
                    [only] => Some(*only),
                    several => several.iter().copied().find(|s| unknown(s) == 0),
                };
                if let Some(schema) = meant {
                    self.mapping(entries, schema);
                }
            }
            Node::Seq(items) => {
                let item = fitting.iter().find_map(|s| s.get("items"));
                if let Some(item) = item.filter(|i| i.is_object()) {
                    for i in items {
                        self.node(&i.value, i.pos, item);
                    }
                }
            }
            Node::Scalar => {}
        }
    }

    fn mapping(
        &mut self,
        entries: &[(crate::Spanned<String>, crate::Spanned<Node>)],
        schema: &'s Value,
    ) {
        let properties = schema.get("properties").and_then(Value::as_object);
        let additional = schema.get("additionalProperties");
        for (key, value) in entries {
            if let Some(property) = properties.and_then(|p| p.get(&key.value)) {
                self.node(&value.value, value.pos, property);
                continue;
            }
            match additional {
                Some(Value::Bool(false)) if schema.get("patternProperties").is_none() => {
                    // An alias is accepted but not offered.
                    let names: Vec<&str> = properties
                        .into_iter()
                        .flatten()
                        .filter(|(_, p)| !is_alias(p))
                        .map(|(name, _)| name.as_str())
                        .collect();
                    self.out.push((key.pos, unknown_key(&key.value, &names)));
                }
                Some(other @ Value::Object(_)) => self.node(&value.value, value.pos, other),
                _ => {}
            }
        }
    }

    /// The schemas `schema` is one of: references followed, `anyOf`/`oneOf` spread out.
    fn alternatives(&self, schema: &'s Value) -> Vec<&'s Value> {
        let mut out = Vec::new();
        self.spread(schema, &mut out, 0);
        out
    }

    fn spread(&self, schema: &'s Value, out: &mut Vec<&'s Value>, depth: usize) {
        // Forms refer to each other only a few levels deep; a cycle must not loop.
        if depth > 16 {
            out.push(&Value::Bool(true));
            return;
        }
        if let Some(target) = schema.get("$ref").and_then(Value::as_str) {
            match target
                .strip_prefix("#/$defs/")
                .and_then(|name| self.defs.get(name))
            {
                Some(def) => self.spread(def, out, depth + 1),
                None => out.push(&Value::Bool(true)),
            }
            return;
        }
        let branches = ["anyOf", "oneOf"]
            .iter()
            .find_map(|k| schema.get(*k).and_then(Value::as_array));
        match branches {
            Some(branches) => branches.iter().for_each(|b| self.spread(b, out, depth + 1)),
            None => out.push(schema),
        }
    }
}

/// A schema with no constraint on shape (`true`, `{}`, or one this walk does not read).
fn accepts_anything(schema: &Value) -> bool {
    match schema {
        Value::Bool(b) => *b,
        Value::Object(o) => {
            o.get("allOf").is_some()
                || o.get("not").is_some()
                || ![
                    "type",
                    "properties",
                    "additionalProperties",
                    "items",
                    "enum",
                    "const",
                ]
                .iter()
                .any(|k| o.contains_key(*k))
        }
        _ => true,
    }
}

fn types(schema: &Value) -> Vec<&str> {
    match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn admits(schema: &Value, shape: Shape) -> bool {
    let types = types(schema);
    match shape {
        Shape::Mapping => {
            types.contains(&"object")
                || (types.is_empty()
                    && (schema.get("properties").is_some()
                        || schema.get("additionalProperties").is_some()))
        }
        Shape::List => {
            types.contains(&"array") || (types.is_empty() && schema.get("items").is_some())
        }
    }
}

/// Whether a mapping of `schema` may hold `key`.
fn knows(schema: &Value, key: &str) -> bool {
    schema
        .get("properties")
        .and_then(Value::as_object)
        .is_some_and(|p| p.contains_key(key))
        || !matches!(schema.get("additionalProperties"), Some(Value::Bool(false)))
}

/// What the alternatives ask for, in words, when each says its type.
fn expected(alternatives: &[&Value]) -> Option<String> {
    let mut words: Vec<&str> = Vec::new();
    for schema in alternatives {
        let types = types(schema);
        if types.is_empty() && schema.get("enum").is_none() && schema.get("const").is_none() {
            return None;
        }
        for t in types {
            let word = match t {
                "string" => "a string",
                "integer" | "number" => "a number",
                "boolean" => "true or false",
                "object" => "a mapping",
                "array" => "a list",
                _ => continue,
            };
            if !words.contains(&word) {
                words.push(word);
            }
        }
        if (schema.get("enum").is_some() || schema.get("const").is_some())
            && !words.contains(&"a string")
        {
            words.push("a string");
        }
    }
    match words.as_slice() {
        [] => None,
        [one] => Some((*one).to_owned()),
        [init @ .., last] => Some(format!("{} or {last}", init.join(", "))),
    }
}

/// A spelling `model::alias` adds beside a key's own.
fn is_alias(property: &Value) -> bool {
    property
        .get("description")
        .and_then(Value::as_str)
        .is_some_and(|d| d.starts_with("Same as `"))
}

/// How an unknown key is said, by the parser's error and by the walk alike.
pub(crate) fn unknown_key(key: &str, known: &[&str]) -> String {
    if known.is_empty() {
        return format!("unknown key `{key}` (expected no keys here)");
    }
    format!(
        "unknown key `{key}`{} (expected one of {})",
        did_you_mean(key, known.iter().copied()),
        known.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::tree;

    /// The walk must never find fault with a file the parser accepts: every example, read by
    /// both, parses and has no structural problem.
    #[test]
    fn finds_nothing_in_the_examples() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
        let mut seen = 0;
        let mut dirs = vec![root];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).expect("examples are readable") {
                let path = entry.expect("an entry").path();
                if path.is_dir() {
                    dirs.push(path);
                    continue;
                }
                let Ok(source) = std::fs::read_to_string(&path) else {
                    continue;
                };
                let name = path.display().to_string();
                if !name.ends_with(".yaml") || crate::parse(&name, &source).is_err() {
                    continue;
                }
                let root = tree::read(&source).expect("a parsed file is a tree");
                assert_eq!(problems(&root), Vec::new(), "{name}");
                seen += 1;
            }
        }
        assert!(seen >= 10, "only {seen} example files parsed");
    }
}
