//! The committed JSON Schema (`schema/result.v1.schema.json`) checked against a document, for the
//! tests. It implements exactly the keywords that schema uses — `type`, `const`, `enum`,
//! `minimum`, `pattern`, `required`, `properties`, `additionalProperties`, `items`, `minItems`,
//! `maxItems`, `oneOf`, local `$ref` into `$defs`, and the annotations `$schema`, `$id`, `title`,
//! `description` — and refuses a schema with any other keyword, so the schema cannot grow a rule
//! that nothing checks. (A general validator crate cost as long to compile as ragperf itself;
//! `tests/it/result_schema.rs` shows this one rejecting a violation of every keyword.)

use std::path::Path;

use serde_json::Value;

/// Keywords that only annotate.
const ANNOTATIONS: [&str; 5] = ["$schema", "$id", "title", "description", "$defs"];
/// Keywords that are checked.
const CHECKED: [&str; 13] = [
    "type",
    "const",
    "enum",
    "minimum",
    "pattern",
    "required",
    "properties",
    "additionalProperties",
    "items",
    "minItems",
    "maxItems",
    "oneOf",
    "$ref",
];

/// A loaded schema.
pub struct Schema {
    root: Value,
}

impl Schema {
    /// The committed result schema.
    pub fn result() -> Schema {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/result.v1.schema.json");
        let text = std::fs::read_to_string(&path).expect("schema file");
        Schema::new(serde_json::from_str(&text).expect("schema json"))
    }

    /// `root` as a schema; panics on a keyword this validator does not check.
    pub fn new(root: Value) -> Schema {
        known_keywords(&root, "#");
        Schema { root }
    }

    /// Every violation, as "message at /json/pointer".
    pub fn errors(&self, doc: &Value) -> Vec<String> {
        let mut out = Vec::new();
        self.check(&self.root, doc, "", &mut out);
        out
    }

    /// No violation.
    pub fn is_valid(&self, doc: &Value) -> bool {
        self.errors(doc).is_empty()
    }

    fn resolve(&self, reference: &str) -> &Value {
        let pointer = reference
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("only local $ref is supported: {reference}"));
        self.root
            .pointer(pointer)
            .unwrap_or_else(|| panic!("$ref {reference} points nowhere"))
    }

    fn check(&self, schema: &Value, v: &Value, at: &str, out: &mut Vec<String>) {
        let s = match schema {
            Value::Bool(true) => return,
            Value::Bool(false) => return out.push(format!("nothing is allowed at {at}")),
            Value::Object(s) => s,
            other => panic!("not a schema: {other}"),
        };
        if let Some(Value::String(r)) = s.get("$ref") {
            self.check(self.resolve(r), v, at, out);
        }
        if let Some(t) = s.get("type") {
            let types: Vec<&str> = match t {
                Value::String(one) => vec![one.as_str()],
                Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
                other => panic!("bad type: {other}"),
            };
            if !types.iter().any(|t| has_type(v, t)) {
                out.push(format!("{v} is not of type {t} at {at}"));
            }
        }
        if let Some(c) = s.get("const")
            && c != v
        {
            out.push(format!("{v} is not {c} at {at}"));
        }
        if let Some(Value::Array(options)) = s.get("enum")
            && !options.contains(v)
        {
            out.push(format!("{v} is not one of {options:?} at {at}"));
        }
        if let (Some(min), Some(n)) = (s.get("minimum").and_then(Value::as_f64), v.as_f64())
            && n < min
        {
            out.push(format!("{v} is less than {min} at {at}"));
        }
        if let (Some(Value::String(p)), Value::String(text)) = (s.get("pattern"), v) {
            let re = regex::Regex::new(p).expect("valid pattern");
            if !re.is_match(text) {
                out.push(format!("{v:?} does not match {p:?} at {at}"));
            }
        }
        if let Value::Array(items) = v {
            self.check_array(s, items, at, out);
        }
        if let Value::Object(fields) = v {
            self.check_object(s, fields, at, out);
        }
        if let Some(Value::Array(options)) = s.get("oneOf") {
            let valid = options
                .iter()
                .filter(|o| {
                    let mut errs = Vec::new();
                    self.check(o, v, at, &mut errs);
                    errs.is_empty()
                })
                .count();
            if valid != 1 {
                out.push(format!(
                    "{valid} of the oneOf choices match (exactly one must) at {at}"
                ));
            }
        }
    }

    fn check_array(
        &self,
        s: &serde_json::Map<String, Value>,
        items: &[Value],
        at: &str,
        out: &mut Vec<String>,
    ) {
        if let Some(min) = s.get("minItems").and_then(Value::as_u64)
            && (items.len() as u64) < min
        {
            out.push(format!("{} items, fewer than {min} at {at}", items.len()));
        }
        if let Some(max) = s.get("maxItems").and_then(Value::as_u64)
            && (items.len() as u64) > max
        {
            out.push(format!("{} items, more than {max} at {at}", items.len()));
        }
        if let Some(item) = s.get("items") {
            for (i, v) in items.iter().enumerate() {
                self.check(item, v, &format!("{at}/{i}"), out);
            }
        }
    }

    fn check_object(
        &self,
        s: &serde_json::Map<String, Value>,
        fields: &serde_json::Map<String, Value>,
        at: &str,
        out: &mut Vec<String>,
    ) {
        if let Some(Value::Array(required)) = s.get("required") {
            for name in required.iter().filter_map(Value::as_str) {
                if !fields.contains_key(name) {
                    out.push(format!("{name:?} is a required property at {at}"));
                }
            }
        }
        let properties = s.get("properties").and_then(Value::as_object);
        for (name, v) in fields {
            let path = format!("{at}/{name}");
            match properties.and_then(|p| p.get(name)) {
                Some(p) => self.check(p, v, &path, out),
                None => match s.get("additionalProperties") {
                    Some(Value::Bool(false)) => out.push(format!(
                        "additional property {name:?} is not allowed at {at}"
                    )),
                    Some(extra) => self.check(extra, v, &path, out),
                    None => {}
                },
            }
        }
    }
}

fn has_type(v: &Value, t: &str) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        "number" => v.is_number(),
        "integer" => v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0),
        other => panic!("unknown type {other}"),
    }
}

/// Panics on a keyword that is neither checked nor an annotation, anywhere in the schema.
fn known_keywords(schema: &Value, at: &str) {
    let Value::Object(s) = schema else {
        return;
    };
    for (k, v) in s {
        assert!(
            CHECKED.contains(&k.as_str()) || ANNOTATIONS.contains(&k.as_str()),
            "schema keyword `{k}` at {at} is not checked by tests/schema_support: add it there"
        );
        match k.as_str() {
            "properties" | "$defs" => {
                for (name, sub) in v.as_object().into_iter().flatten() {
                    known_keywords(sub, &format!("{at}/{k}/{name}"));
                }
            }
            "items" | "additionalProperties" => known_keywords(v, &format!("{at}/{k}")),
            "oneOf" => {
                for (i, sub) in v.as_array().into_iter().flatten().enumerate() {
                    known_keywords(sub, &format!("{at}/{k}/{i}"));
                }
            }
            _ => {}
        }
    }
}
