//! Payload filters: Qdrant's `Filter` JSON (`must` / `should` / `must_not` / `min_should`, each a
//! single condition or a list), parsed once per request and evaluated per point.
//!
//! Supported conditions: field conditions with `match` (`value`, `any`, `except`, `text`,
//! `phrase`), `range` (`gt`/`gte`/`lt`/`lte` on numbers) and `values_count`; `has_id`;
//! `is_empty`; `is_null`; `nested` (array of objects); nested filters. Keys may be dotted paths
//! (`a.b`, `a[].b`); arrays on the way are flattened and a condition holds when any value does,
//! as in Qdrant. Geo and datetime conditions are rejected with a message saying so, never
//! silently ignored (an ignored condition would return wrong points).

use std::collections::HashSet;

use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use super::ids::PointId;

/// Qdrant's generic message for an object that is no known condition.
const NOT_A_CONDITION: &str = "Expected some form of condition, which can be a field condition (like {\"key\": ..., \"match\": ... }), or some other mentioned in the documentation: https://qdrant.tech/documentation/concepts/filtering/#filtering-conditions";

/// A boolean combination of conditions; the empty filter matches every point.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Filter {
    /// Every one must hold.
    pub must: Vec<Condition>,
    /// At least one must hold (when not empty).
    pub should: Vec<Condition>,
    /// None may hold.
    pub must_not: Vec<Condition>,
    /// At least `min_count` of `conditions` must hold.
    pub min_should: Option<MinShould>,
}

/// `min_should`: at least `min_count` of the conditions.
#[derive(Clone, Debug, PartialEq)]
pub struct MinShould {
    /// The candidates.
    pub conditions: Vec<Condition>,
    /// How many must hold.
    pub min_count: usize,
}

/// One condition.
#[derive(Clone, Debug, PartialEq)]
pub enum Condition {
    /// A condition on the values at a payload key.
    Field {
        /// Payload key, possibly a dotted path.
        key: String,
        /// What the values must satisfy.
        test: FieldTest,
    },
    /// The point's id is one of these.
    HasId(HashSet<PointId>),
    /// The key is missing, `null` or an empty array.
    IsEmpty(String),
    /// The key is present with the value `null`.
    IsNull(String),
    /// Some object of the array at `key` satisfies `filter` on its own.
    Nested {
        /// Path of the array of objects.
        key: String,
        /// Filter applied to each element.
        filter: Filter,
    },
    /// A nested filter.
    Filter(Filter),
}

/// What the values at a key must satisfy.
#[derive(Clone, Debug, PartialEq)]
pub enum FieldTest {
    /// `match`.
    Match(Match),
    /// `range` on numeric values.
    Range(Range),
    /// `values_count`: the number of values at the key.
    ValuesCount(Range),
}

/// `match` variants.
#[derive(Clone, Debug, PartialEq)]
pub enum Match {
    /// `{"value": v}`: some value equals `v`.
    Value(Scalar),
    /// `{"any": [..]}`: some value is one of these.
    Any(Vec<Scalar>),
    /// `{"except": [..]}`: some value is none of these (a missing key matches too).
    Except(Vec<Scalar>),
    /// `{"text": s}` / `{"phrase": s}`: some string value contains `s` (the unindexed semantics).
    Text(String),
}

/// A value a keyword, integer or boolean match compares with.
#[derive(Clone, Debug, PartialEq)]
pub enum Scalar {
    /// A string (keyword).
    Keyword(String),
    /// An integer.
    Integer(i64),
    /// A boolean.
    Bool(bool),
}

/// Bounds on a number; absent bounds are open.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Range {
    /// Strictly greater than.
    pub gt: Option<f64>,
    /// Greater than or equal.
    pub gte: Option<f64>,
    /// Strictly less than.
    pub lt: Option<f64>,
    /// Less than or equal.
    pub lte: Option<f64>,
}

impl Range {
    /// True when `x` is within every bound.
    pub fn contains(&self, x: f64) -> bool {
        self.gt.is_none_or(|b| x > b)
            && self.gte.is_none_or(|b| x >= b)
            && self.lt.is_none_or(|b| x < b)
            && self.lte.is_none_or(|b| x <= b)
    }
}

impl Scalar {
    fn parse(v: &Value, what: &str) -> Result<Scalar, String> {
        match v {
            Value::String(s) => Ok(Scalar::Keyword(s.clone())),
            Value::Bool(b) => Ok(Scalar::Bool(*b)),
            Value::Number(n) => n.as_i64().map(Scalar::Integer).ok_or_else(|| {
                format!("{what}: {n} is not an integer; match compares keywords, integers and booleans (use `range` for floats)")
            }),
            other => Err(format!(
                "{what}: expected a string, an integer or a boolean, got {other}"
            )),
        }
    }

    fn matches(&self, v: &Value) -> bool {
        match (self, v) {
            (Scalar::Keyword(s), Value::String(t)) => s == t,
            (Scalar::Integer(i), Value::Number(n)) => n.as_i64() == Some(*i),
            (Scalar::Bool(b), Value::Bool(c)) => b == c,
            _ => false,
        }
    }
}

fn conditions(v: &Value, what: &str) -> Result<Vec<Condition>, String> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items.iter().map(Condition::parse).collect(),
        Value::Object(_) => Ok(vec![Condition::parse(v)?]),
        other => Err(format!(
            "`{what}` must be a condition or a list of conditions, got {other}"
        )),
    }
}

fn number(v: &Value, what: &str) -> Result<Option<f64>, String> {
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => Ok(n.as_f64()),
        Value::String(_) => Err(format!(
            "`{what}`: datetime ranges are not supported by the ragperf mock; use numbers"
        )),
        other => Err(format!("`{what}` must be a number, got {other}")),
    }
}

impl Range {
    fn parse(v: &Value, what: &str) -> Result<Range, String> {
        let obj = v
            .as_object()
            .ok_or_else(|| format!("`{what}` must be an object with gt/gte/lt/lte, got {v}"))?;
        let get = |k: &str| match obj.get(k) {
            Some(x) => number(x, &format!("{what}.{k}")),
            None => Ok(None),
        };
        Ok(Range {
            gt: get("gt")?,
            gte: get("gte")?,
            lt: get("lt")?,
            lte: get("lte")?,
        })
    }
}

fn scalars(v: &Value, what: &str) -> Result<Vec<Scalar>, String> {
    let items = v
        .as_array()
        .ok_or_else(|| format!("`{what}` must be a list, got {v}"))?;
    items.iter().map(|x| Scalar::parse(x, what)).collect()
}

fn key_of(obj: &Map<String, Value>, what: &str) -> Result<String, String> {
    match obj.get("key") {
        Some(Value::String(k)) => Ok(k.clone()),
        _ => Err(format!("`{what}` needs a string `key`")),
    }
}

impl Match {
    fn parse(v: &Value) -> Result<Match, String> {
        let obj = v
            .as_object()
            .ok_or_else(|| format!("`match` must be an object, got {v}"))?;
        if let Some(x) = obj.get("value") {
            return Scalar::parse(x, "match.value").map(Match::Value);
        }
        if let Some(x) = obj.get("any") {
            return scalars(x, "match.any").map(Match::Any);
        }
        if let Some(x) = obj.get("except") {
            return scalars(x, "match.except").map(Match::Except);
        }
        for k in ["text", "phrase"] {
            if let Some(x) = obj.get(k) {
                return x
                    .as_str()
                    .map(|s| Match::Text(s.to_string()))
                    .ok_or_else(|| format!("`match.{k}` must be a string"));
            }
        }
        Err(format!(
            "unsupported `match` {v}: use `value`, `any`, `except`, `text` or `phrase`"
        ))
    }

    fn holds(&self, payload: &Map<String, Value>, key: &str) -> bool {
        match self {
            Match::Value(s) => any_value(payload, key, &mut |v| s.matches(v)),
            Match::Any(list) => any_value(payload, key, &mut |v| list.iter().any(|s| s.matches(v))),
            Match::Except(list) => {
                !any_value(payload, key, &mut |_| true)
                    || any_value(payload, key, &mut |v| !list.iter().any(|s| s.matches(v)))
            }
            Match::Text(t) => any_value(payload, key, &mut |v| {
                v.as_str().is_some_and(|s| s.contains(t.as_str()))
            }),
        }
    }
}

impl Condition {
    /// Parses one condition object.
    pub fn parse(v: &Value) -> Result<Condition, String> {
        let obj = v.as_object().ok_or_else(|| NOT_A_CONDITION.to_string())?;
        if obj.contains_key("key") {
            let key = key_of(obj, "field condition")?;
            let test = if let Some(m) = obj.get("match").filter(|m| !m.is_null()) {
                FieldTest::Match(Match::parse(m)?)
            } else if let Some(r) = obj.get("range").filter(|r| !r.is_null()) {
                FieldTest::Range(Range::parse(r, "range")?)
            } else if let Some(r) = obj.get("values_count").filter(|r| !r.is_null()) {
                FieldTest::ValuesCount(Range::parse(r, "values_count")?)
            } else if obj.get("is_empty") == Some(&Value::Bool(true)) {
                return Ok(Condition::IsEmpty(key));
            } else if obj.get("is_null") == Some(&Value::Bool(true)) {
                return Ok(Condition::IsNull(key));
            } else if let Some(g) = obj.keys().find(|k| k.starts_with("geo_")) {
                return Err(format!(
                    "`{g}` conditions are not supported by the ragperf mock"
                ));
            } else {
                return Err(NOT_A_CONDITION.to_string());
            };
            return Ok(Condition::Field { key, test });
        }
        if let Some(ids) = obj.get("has_id") {
            let items = ids
                .as_array()
                .ok_or_else(|| "`has_id` must be a list of point ids".to_string())?;
            let set = items
                .iter()
                .map(PointId::from_json)
                .collect::<Result<_, _>>()?;
            return Ok(Condition::HasId(set));
        }
        for (name, make) in [
            ("is_empty", Condition::IsEmpty as fn(String) -> Condition),
            ("is_null", Condition::IsNull),
        ] {
            if let Some(x) = obj.get(name) {
                let inner = x
                    .as_object()
                    .ok_or_else(|| format!("`{name}` must be an object with a `key`"))?;
                return Ok(make(key_of(inner, name)?));
            }
        }
        if let Some(n) = obj.get("nested") {
            let inner = n
                .as_object()
                .ok_or_else(|| "`nested` must be an object with `key` and `filter`".to_string())?;
            let key = key_of(inner, "nested")?;
            let filter = Filter::parse(inner.get("filter").unwrap_or(&Value::Null))?;
            return Ok(Condition::Nested { key, filter });
        }
        if obj.contains_key("has_vector") {
            return Err("`has_vector` conditions are not supported by the ragperf mock".into());
        }
        let filter_keys = ["must", "should", "must_not", "min_should"];
        if obj.keys().all(|k| filter_keys.contains(&k.as_str())) {
            return Filter::parse(v).map(Condition::Filter);
        }
        Err(NOT_A_CONDITION.to_string())
    }

    fn holds(&self, id: &PointId, payload: &Map<String, Value>) -> bool {
        match self {
            // Evaluated per point on the search path: walk the payload without allocating.
            Condition::Field { key, test } => match test {
                FieldTest::Match(m) => m.holds(payload, key),
                FieldTest::Range(r) => any_value(payload, key, &mut |v| {
                    v.as_f64().is_some_and(|x| r.contains(x))
                }),
                FieldTest::ValuesCount(r) => {
                    let mut n = 0usize;
                    any_value(payload, key, &mut |_| {
                        n += 1;
                        false
                    });
                    r.contains(n as f64)
                }
            },
            Condition::HasId(set) => set.contains(id),
            Condition::IsEmpty(key) => !any_value(payload, key, &mut |_| true),
            Condition::IsNull(key) => is_null_at(payload, key),
            Condition::Nested { key, filter } => values_at(payload, key)
                .iter()
                .any(|v| v.as_object().is_some_and(|o| filter.matches(id, o))),
            Condition::Filter(f) => f.matches(id, payload),
        }
    }
}

impl Filter {
    /// Parses a filter object (`null` is the empty filter).
    pub fn parse(v: &Value) -> Result<Filter, String> {
        let obj = match v {
            Value::Null => return Ok(Filter::default()),
            Value::Object(o) => o,
            other => return Err(format!("`filter` must be an object, got {other}")),
        };
        let part = |k: &str| conditions(obj.get(k).unwrap_or(&Value::Null), k);
        let min_should = match obj.get("min_should") {
            None | Some(Value::Null) => None,
            Some(Value::Object(m)) => Some(MinShould {
                conditions: conditions(
                    m.get("conditions").unwrap_or(&Value::Null),
                    "min_should.conditions",
                )?,
                min_count: m
                    .get("min_count")
                    .and_then(Value::as_u64)
                    .ok_or("`min_should.min_count` must be an unsigned integer")?
                    as usize,
            }),
            Some(other) => return Err(format!("`min_should` must be an object, got {other}")),
        };
        Ok(Filter {
            must: part("must")?,
            should: part("should")?,
            must_not: part("must_not")?,
            min_should,
        })
    }

    /// True when the filter has no condition at all (so it matches every point).
    pub fn is_empty(&self) -> bool {
        self.must.is_empty()
            && self.should.is_empty()
            && self.must_not.is_empty()
            && self.min_should.is_none()
    }

    /// Does the point with this id and payload pass?
    pub fn matches(&self, id: &PointId, payload: &Map<String, Value>) -> bool {
        self.must.iter().all(|c| c.holds(id, payload))
            && (self.should.is_empty() || self.should.iter().any(|c| c.holds(id, payload)))
            && !self.must_not.iter().any(|c| c.holds(id, payload))
            && self.min_should.as_ref().is_none_or(|m| {
                m.conditions.iter().filter(|c| c.holds(id, payload)).count() >= m.min_count
            })
    }
}

impl<'de> Deserialize<'de> for Filter {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Filter, D::Error> {
        let v = Value::deserialize(d)?;
        Filter::parse(&v).map_err(serde::de::Error::custom)
    }
}

/// Does `f` hold for some non-null value reached from `v` by `path` (arrays flattened on the
/// way)? Stops at the first value for which `f` returns true.
fn visit<'a>(v: &'a Value, path: &[&str], f: &mut dyn FnMut(&'a Value) -> bool) -> bool {
    match v {
        Value::Array(items) => items.iter().any(|x| visit(x, path, f)),
        Value::Null => false,
        _ if path.is_empty() => f(v),
        Value::Object(o) => o
            .get(path[0])
            .is_some_and(|next| visit(next, &path[1..], f)),
        _ => false,
    }
}

fn segments(key: &str) -> Vec<&str> {
    key.split('.')
        .map(|s| s.strip_suffix("[]").unwrap_or(s))
        .collect()
}

/// Does `f` hold for some non-null value at `key` (a dotted path, arrays flattened)?
pub fn any_value<'a>(
    payload: &'a Map<String, Value>,
    key: &str,
    f: &mut dyn FnMut(&'a Value) -> bool,
) -> bool {
    if !key.contains('.') && !key.contains('[') {
        return payload.get(key).is_some_and(|v| visit(v, &[], f));
    }
    let path = segments(key);
    payload
        .get(path[0])
        .is_some_and(|v| visit(v, &path[1..], f))
}

/// The non-null values at `key` (a dotted path); arrays are flattened, so `[]` and a missing key
/// both give no value.
pub fn values_at<'a>(payload: &'a Map<String, Value>, key: &str) -> Vec<&'a Value> {
    let mut out = Vec::new();
    any_value(payload, key, &mut |v| {
        out.push(v);
        false
    });
    out
}

fn is_null_at(payload: &Map<String, Value>, key: &str) -> bool {
    let path = segments(key);
    let mut cur = payload.get(path[0]);
    for seg in &path[1..] {
        cur = cur.and_then(|v| v.as_object()).and_then(|o| o.get(*seg));
    }
    matches!(cur, Some(Value::Null))
}
