//! The JSON shapes the store reads and writes: vector configuration, vectors as clients send them,
//! the `with_payload` / `with_vector` selectors, and the points returned (`ScoredPoint`, `Record`,
//! `UpdateResult`).
//!
//! The flexible request shapes (a vector is a list *or* a dict of named vectors, a selector is a
//! bool *or* a list *or* an include/exclude object) are read from a `serde_json::Value` by hand, so
//! an unsupported form gets a message naming it instead of serde's "did not match any variant".

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use super::ids::PointId;

/// How two vectors are compared (Qdrant's `Distance`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Distance {
    /// Cosine similarity: vectors are normalised on insert, score = dot product, higher is better.
    Cosine,
    /// Euclidean distance, lower is better.
    Euclid,
    /// Dot product, higher is better.
    Dot,
    /// Manhattan (L1) distance, lower is better.
    Manhattan,
}

/// One vector space of a collection: size and distance (plus any other key the client sent,
/// echoed back unchanged in the collection info).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VectorParams {
    /// Number of dimensions.
    pub size: usize,
    /// Distance function.
    pub distance: Distance,
    /// Other settings (`on_disk`, `hnsw_config`, `datatype`…), kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl VectorParams {
    /// A plain `{"size": .., "distance": ..}`.
    pub fn new(size: usize, distance: Distance) -> Self {
        VectorParams {
            size,
            distance,
            extra: Map::new(),
        }
    }
}

/// `params.vectors`: one unnamed vector space or named ones.
#[derive(Clone, Debug, PartialEq)]
pub enum VectorsConfig {
    /// A single unnamed vector (name `""` internally).
    Single(VectorParams),
    /// Named vector spaces.
    Named(BTreeMap<String, VectorParams>),
}

impl VectorsConfig {
    /// The vector spaces as `(name, params)`, the unnamed one as `""`.
    pub fn spaces(&self) -> Vec<(String, VectorParams)> {
        match self {
            VectorsConfig::Single(p) => vec![(String::new(), p.clone())],
            VectorsConfig::Named(m) => m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        }
    }
}

impl Serialize for VectorsConfig {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            VectorsConfig::Single(p) => p.serialize(s),
            VectorsConfig::Named(m) => m.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for VectorsConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        let parse = |v: Value| serde_json::from_value::<VectorParams>(v);
        let out = match v {
            Value::Object(ref o) if o.contains_key("size") => parse(v).map(VectorsConfig::Single),
            Value::Object(o) => o
                .into_iter()
                .map(|(k, v)| parse(v).map(|p| (k, p)))
                .collect::<Result<_, _>>()
                .map(VectorsConfig::Named),
            other => {
                return Err(serde::de::Error::custom(format!(
                    "`vectors` must be {{\"size\": .., \"distance\": ..}} or a map of named vector params, got {other}"
                )));
            }
        };
        out.map_err(serde::de::Error::custom)
    }
}

/// One named entry of a vector as sent in an upsert.
#[derive(Clone, Debug, PartialEq)]
pub enum VectorValue {
    /// A dense vector.
    Dense(Vec<f32>),
    /// A form the mock does not store (sparse, multi-vector, inference document), by name.
    Unsupported(&'static str),
}

/// A point's vectors as sent in an upsert: a bare list (the unnamed vector) or a dict by name.
#[derive(Clone, Debug, PartialEq)]
pub enum VectorInput {
    /// `[..]`: the unnamed vector.
    Single(VectorValue),
    /// `{name: [..]}` (the name may be `""`).
    Named(Vec<(String, VectorValue)>),
}

pub(crate) fn dense(items: &[Value]) -> Result<Vec<f32>, String> {
    items
        .iter()
        .map(|x| match x.as_f64().map(|f| f as f32) {
            Some(f) if f.is_finite() => Ok(f),
            Some(_) => Err(format!("vector element {x} does not fit a 32-bit float")),
            None => Err(format!("vector elements must be numbers, got {x}")),
        })
        .collect()
}

fn vector_value(v: &Value) -> Result<VectorValue, String> {
    match v {
        Value::Array(items) if items.first().is_some_and(Value::is_array) => {
            Ok(VectorValue::Unsupported("multi-vectors"))
        }
        Value::Array(items) => dense(items).map(VectorValue::Dense),
        Value::Object(o) if o.contains_key("indices") => {
            Ok(VectorValue::Unsupported("sparse vectors"))
        }
        Value::Object(_) => Ok(VectorValue::Unsupported(
            "inference objects (text, image or document to embed server-side)",
        )),
        other => Err(format!("a vector must be a list of numbers, got {other}")),
    }
}

impl VectorInput {
    /// Reads a point's `vector` value.
    pub fn parse(v: &Value) -> Result<VectorInput, String> {
        match v {
            // Sparse vectors carry `indices`; inference objects (text/image to embed) a `model`.
            Value::Object(o)
                if !o.contains_key("indices") && !o.get("model").is_some_and(Value::is_string) =>
            {
                o.iter()
                    .map(|(k, x)| vector_value(x).map(|vv| (k.clone(), vv)))
                    .collect::<Result<_, _>>()
                    .map(VectorInput::Named)
            }
            other => vector_value(other).map(VectorInput::Single),
        }
    }
}

impl<'de> Deserialize<'de> for VectorInput {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        VectorInput::parse(&v).map_err(serde::de::Error::custom)
    }
}

/// Which payload keys to return.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum WithPayload {
    /// No payload (`false`).
    #[default]
    None,
    /// The whole payload (`true`).
    All,
    /// Only these keys (`["a", "b"]` or `{"include": [..]}`).
    Include(Vec<String>),
    /// Everything but these keys (`{"exclude": [..]}`).
    Exclude(Vec<String>),
}

fn key_list(v: &Value, what: &str) -> Result<Vec<String>, String> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|x| {
                x.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("`{what}` must list strings, got {x}"))
            })
            .collect(),
        other => Err(format!("`{what}` must be a list of keys, got {other}")),
    }
}

impl WithPayload {
    /// Reads `with_payload`.
    pub fn parse(v: &Value) -> Result<WithPayload, String> {
        match v {
            Value::Bool(true) => Ok(WithPayload::All),
            Value::Bool(false) | Value::Null => Ok(WithPayload::None),
            Value::Array(_) => key_list(v, "with_payload").map(WithPayload::Include),
            Value::Object(o) => {
                if let Some(x) = o.get("include") {
                    key_list(x, "with_payload.include").map(WithPayload::Include)
                } else if let Some(x) = o.get("exclude") {
                    key_list(x, "with_payload.exclude").map(WithPayload::Exclude)
                } else {
                    Err("`with_payload` object needs `include` or `exclude`".into())
                }
            }
            other => Err(format!(
                "`with_payload` must be a bool, a list of keys or {{\"include\"|\"exclude\": [..]}}, got {other}"
            )),
        }
    }

    /// The payload to return for a stored one.
    pub fn select(&self, stored: &Arc<Map<String, Value>>) -> Option<Payload> {
        match self {
            WithPayload::None => None,
            WithPayload::All => Some(Payload(Arc::clone(stored))),
            WithPayload::Include(keys) => Some(Payload(Arc::new(
                keys.iter()
                    .filter_map(|k| stored.get(k).map(|v| (k.clone(), v.clone())))
                    .collect(),
            ))),
            WithPayload::Exclude(keys) => Some(Payload(Arc::new(
                stored
                    .iter()
                    .filter(|(k, _)| !keys.contains(k))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            ))),
        }
    }
}

impl<'de> Deserialize<'de> for WithPayload {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        WithPayload::parse(&v).map_err(serde::de::Error::custom)
    }
}

/// Which vectors to return.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum WithVector {
    /// None (`false`).
    #[default]
    None,
    /// All of them (`true`).
    All,
    /// Only these names.
    Names(Vec<String>),
}

impl WithVector {
    /// Is the vector space `name` selected?
    pub fn wants(&self, name: &str) -> bool {
        match self {
            WithVector::None => false,
            WithVector::All => true,
            WithVector::Names(n) => n.iter().any(|x| x == name),
        }
    }
}

impl<'de> Deserialize<'de> for WithVector {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Bool(true) => Ok(WithVector::All),
            Value::Bool(false) | Value::Null => Ok(WithVector::None),
            v @ Value::Array(_) => key_list(&v, "with_vector")
                .map(WithVector::Names)
                .map_err(serde::de::Error::custom),
            other => Err(serde::de::Error::custom(format!(
                "`with_vector` must be a bool or a list of vector names, got {other}"
            ))),
        }
    }
}

/// A payload as returned: shared with the store, so returning it costs a reference count.
#[derive(Clone, Debug, PartialEq)]
pub struct Payload(pub Arc<Map<String, Value>>);

impl Serialize for Payload {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.as_ref().serialize(s)
    }
}

/// Vectors as returned: a bare list for an unnamed collection, a dict for named ones.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum VectorOutput {
    /// The unnamed vector.
    Single(Vec<f32>),
    /// Named vectors.
    Named(BTreeMap<String, Vec<f32>>),
}

/// A search hit (Qdrant's `ScoredPoint`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScoredPoint {
    /// Point id.
    pub id: PointId,
    /// Operation id of the upsert that last wrote the point.
    pub version: u64,
    /// Similarity (Cosine, Dot: higher is closer) or distance (Euclid, Manhattan: lower is closer).
    pub score: f32,
    /// The selected payload, absent when not asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<Payload>,
    /// The selected vectors, absent when not asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vector: Option<VectorOutput>,
}

/// A point as returned by scroll and retrieve (Qdrant's `Record`: no score, no version).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Record {
    /// Point id.
    pub id: PointId,
    /// The selected payload, absent when not asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<Payload>,
    /// The selected vectors, absent when not asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vector: Option<VectorOutput>,
}

/// One page of `scroll`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScrollPage {
    /// The points, in id order.
    pub points: Vec<Record>,
    /// Id to pass as `offset` for the next page; `null` on the last page.
    pub next_page_offset: Option<PointId>,
}

/// The result of a write (Qdrant's `UpdateResult`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct UpdateResult {
    /// Sequence number of the operation in its collection.
    pub operation_id: u64,
    /// `completed` (applied before answering) or `acknowledged` (`?wait=false`).
    pub status: UpdateStatus,
}

/// `UpdateResult.status`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UpdateStatus {
    /// Applied before the answer.
    Completed,
    /// Accepted; the mock applies it at once anyway.
    Acknowledged,
}

/// What a point upsert carries.
#[derive(Clone, Debug, PartialEq)]
pub struct PointInput {
    /// Id.
    pub id: PointId,
    /// Vectors.
    pub vector: VectorInput,
    /// Payload (`None` = empty).
    pub payload: Option<Map<String, Value>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn vectors_config_single_and_named() {
        let s: VectorsConfig =
            serde_json::from_value(json!({"size": 4, "distance": "Cosine", "on_disk": true}))
                .unwrap();
        let VectorsConfig::Single(p) = &s else {
            panic!("{s:?}")
        };
        assert_eq!((p.size, p.distance), (4, Distance::Cosine));
        assert_eq!(serde_json::to_value(&s).unwrap()["on_disk"], json!(true));
        let n: VectorsConfig = serde_json::from_value(
            json!({"text-dense": {"size": 3, "distance": "Dot"}, "img": {"size": 2, "distance": "Euclid"}}),
        )
        .unwrap();
        assert_eq!(n.spaces().len(), 2);
        let e = serde_json::from_value::<VectorsConfig>(json!({"size": 4, "distance": "Cos"}))
            .unwrap_err();
        assert!(e.to_string().contains("unknown variant `Cos`"), "{e}");
    }

    #[test]
    fn vector_input_forms() {
        assert_eq!(
            VectorInput::parse(&json!([1, 2.5])).unwrap(),
            VectorInput::Single(VectorValue::Dense(vec![1.0, 2.5]))
        );
        assert_eq!(
            VectorInput::parse(&json!({"": [1]})).unwrap(),
            VectorInput::Named(vec![(String::new(), VectorValue::Dense(vec![1.0]))])
        );
        assert_eq!(
            VectorInput::parse(&json!({"indices": [1], "values": [0.5]})).unwrap(),
            VectorInput::Single(VectorValue::Unsupported("sparse vectors"))
        );
        assert_eq!(
            VectorInput::parse(&json!([[1], [2]])).unwrap(),
            VectorInput::Single(VectorValue::Unsupported("multi-vectors"))
        );
        assert!(VectorInput::parse(&json!(["a"])).is_err());
        assert!(VectorInput::parse(&json!(3)).is_err());
        assert!(VectorInput::parse(&json!([1e39])).is_err());
    }

    #[test]
    fn payload_selectors() {
        let stored = Arc::new(json!({"a": 1, "b": 2, "c": 3}).as_object().unwrap().clone());
        let sel = |v: Value| {
            WithPayload::parse(&v)
                .unwrap()
                .select(&stored)
                .map(|p| serde_json::to_value(&p).unwrap())
        };
        assert_eq!(sel(json!(false)), None);
        assert_eq!(sel(json!(true)), Some(json!({"a": 1, "b": 2, "c": 3})));
        assert_eq!(sel(json!(["a", "zz"])), Some(json!({"a": 1})));
        assert_eq!(sel(json!({"include": ["b"]})), Some(json!({"b": 2})));
        assert_eq!(
            sel(json!({"exclude": ["b"]})),
            Some(json!({"a": 1, "c": 3}))
        );
        assert!(WithPayload::parse(&json!(3)).is_err());
        assert!(WithPayload::parse(&json!({"x": 1})).is_err());
    }

    #[test]
    fn scored_point_omits_what_was_not_asked_for() {
        let p = ScoredPoint {
            id: PointId::Num(1),
            version: 3,
            score: 0.5,
            payload: None,
            vector: None,
        };
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            json!({"id": 1, "version": 3, "score": 0.5})
        );
    }
}
