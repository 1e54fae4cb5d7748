//! Reading what the protocols need out of JSON cheaply: RFC 6901 pointers walked without
//! allocating (unlike `Value::pointer`, which splits and unescapes into new strings on every
//! call), the seed's token events read borrowed without building a `Value`, and citations.

use serde_json::Value;

/// A seed event's `type` and `content`, borrowed from the data (other members are skipped).
/// Anything else (another type for either, a repeated member, data that is not an object)
/// fails to parse, and the event then takes the general path, whose answer is the reference.
#[derive(serde::Deserialize)]
pub struct SeedEvent<'a> {
    /// `type`.
    #[serde(rename = "type", borrow, default)]
    pub kind: Option<std::borrow::Cow<'a, str>>,
    /// `content`.
    #[serde(borrow, default)]
    pub content: Option<std::borrow::Cow<'a, str>>,
}

/// One RFC 6901 reference token, unescaped (borrowed unless it has a `~`).
fn unescape(token: &str) -> std::borrow::Cow<'_, str> {
    if token.contains('~') {
        token.replace("~1", "/").replace("~0", "~").into()
    } else {
        token.into()
    }
}

/// An array index as RFC 6901 writes it (no sign, no leading zero), as `Value::pointer` reads it.
fn index(token: &str) -> Option<usize> {
    if token.starts_with('+') || (token.starts_with('0') && token.len() != 1) {
        return None;
    }
    token.parse().ok()
}

/// `Value::pointer` without its allocations: the value at `pointer` in `v`.
pub fn at<'v>(v: &'v Value, pointer: &str) -> Option<&'v Value> {
    if pointer.is_empty() {
        return Some(v);
    }
    let mut cur = v;
    for token in pointer.strip_prefix('/')?.split('/') {
        cur = match cur {
            Value::Object(m) => m.get(unescape(token).as_ref())?,
            Value::Array(a) => a.get(index(token)?)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// [`at`], mutable.
pub fn at_mut<'v>(v: &'v mut Value, pointer: &str) -> Option<&'v mut Value> {
    if pointer.is_empty() {
        return Some(v);
    }
    let mut cur = v;
    for token in pointer.strip_prefix('/')?.split('/') {
        cur = match cur {
            Value::Object(m) => m.get_mut(unescape(token).as_ref())?,
            Value::Array(a) => a.get_mut(index(token)?)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// The citations at `pointer`: an array's elements, or a single value as one citation; absent
/// or null → none. A string is the id; an object gives its `doc_id` or `id` (string or number),
/// else its JSON text; anything else its JSON text.
pub fn citations_at(v: &Value, pointer: &str) -> Vec<String> {
    match at(v, pointer) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.iter().map(citation).collect(),
        Some(one) => vec![citation(one)],
    }
}

fn citation(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Object(o) => ["doc_id", "id"]
            .iter()
            .find_map(|key| match o.get(*key) {
                Some(Value::String(s)) => Some(s.clone()),
                Some(Value::Number(n)) => Some(n.to_string()),
                _ => None,
            })
            .unwrap_or_else(|| v.to_string()),
        other => other.to_string(),
    }
}

/// A JSON value's kind, for messages.
pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
