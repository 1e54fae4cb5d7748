//! Request bodies of the Qdrant REST API and their checks: parse (serde: a failure is 400
//! "Format error"), then validate (a failure is 422 "Validation error", labelled with the field
//! path Qdrant uses, e.g. `internal.limit`), then convert to the store's requests. Anything the
//! mock cannot honour (prefetch, fusion, sparse vectors, order_by…) is a 400 naming it, never a
//! silently different answer.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::filter::Filter;
use super::http::ApiError;
use super::ids::PointId;
use super::model::{PointInput, VectorInput, VectorValue, WithPayload, WithVector, dense};
use super::store::{PointSelector, Query, ScrollRequest, SearchRequest};

/// Qdrant's default `limit` for query, search and scroll.
pub const DEFAULT_LIMIT: usize = 10;

/// What `query` asks for.
#[derive(Clone, Debug, PartialEq)]
pub enum QueryInput {
    /// Nearest to a vector or a point.
    Nearest(Query),
    /// A query kind the mock does not implement, described.
    Unsupported(String),
}

fn nearest_target(v: &Value) -> Result<QueryInput, String> {
    match v {
        Value::Array(items) if items.first().is_some_and(Value::is_array) => {
            Ok(QueryInput::Unsupported("multi-vector queries".into()))
        }
        Value::Array(items) => dense(items).map(|v| QueryInput::Nearest(Query::Vector(v))),
        Value::Number(_) | Value::String(_) => {
            PointId::from_json(v).map(|id| QueryInput::Nearest(Query::Point(id)))
        }
        Value::Object(o) if o.contains_key("indices") => {
            Ok(QueryInput::Unsupported("sparse vector queries".into()))
        }
        Value::Object(_) => Ok(QueryInput::Unsupported(
            "inference objects (text or image embedded server-side)".into(),
        )),
        other => Err(format!(
            "`query` must be a vector, a point id or an object such as {{\"nearest\": [..]}}, got {other}"
        )),
    }
}

impl<'de> Deserialize<'de> for QueryInput {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        let parsed = match &v {
            Value::Object(o) if o.contains_key("nearest") => nearest_target(&o["nearest"]),
            Value::Object(o) if !o.contains_key("indices") && !o.contains_key("text") => {
                Ok(QueryInput::Unsupported(match o.keys().next() {
                    Some(kind) => format!("`{kind}` queries"),
                    None => "an empty `query` object".to_string(),
                }))
            }
            other => nearest_target(other),
        };
        parsed.map_err(serde::de::Error::custom)
    }
}

fn limit_problem(label: &str, limit: Option<usize>) -> Option<String> {
    (limit == Some(0)).then(|| format!("{label}.limit: value 0 invalid, must be 1 or larger"))
}

/// `POST /collections/{c}/points/query` (and each entry of `query/batch`).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct QueryBody {
    /// What to search near (absent: points in id order).
    #[serde(default)]
    pub query: Option<QueryInput>,
    /// Sub-queries (unsupported).
    #[serde(default)]
    pub prefetch: Option<Value>,
    /// Vector space name.
    #[serde(default)]
    pub using: Option<String>,
    /// Payload filter.
    #[serde(default)]
    pub filter: Option<Filter>,
    /// Search parameters (ignored: the mock always searches exactly).
    #[serde(default)]
    pub params: Option<Value>,
    /// Minimal score.
    #[serde(default)]
    pub score_threshold: Option<f32>,
    /// Maximum number of results (default 10).
    #[serde(default)]
    pub limit: Option<usize>,
    /// Results to skip.
    #[serde(default)]
    pub offset: Option<usize>,
    /// Vector selection (default none).
    #[serde(default)]
    pub with_vector: Option<WithVector>,
    /// Payload selection (default none).
    #[serde(default)]
    pub with_payload: Option<WithPayload>,
    /// Look vectors up in another collection (unsupported).
    #[serde(default)]
    pub lookup_from: Option<Value>,
}

impl QueryBody {
    /// 422 items for this body, labelled under `prefix` (e.g. `internal`).
    pub fn problems(&self, prefix: &str) -> Vec<String> {
        limit_problem(prefix, self.limit).into_iter().collect()
    }

    /// The store request (400 for what the mock does not implement).
    pub fn into_search(self) -> Result<SearchRequest, ApiError> {
        if self.prefetch.as_ref().is_some_and(|p| !p.is_null()) {
            return Err(ApiError::unsupported("`prefetch`"));
        }
        if self.lookup_from.as_ref().is_some_and(|p| !p.is_null()) {
            return Err(ApiError::unsupported("`lookup_from`"));
        }
        let query = match self.query {
            None => Query::None,
            Some(QueryInput::Nearest(q)) => q,
            Some(QueryInput::Unsupported(what)) => return Err(ApiError::unsupported(what)),
        };
        Ok(SearchRequest {
            query,
            using: self.using,
            filter: self.filter,
            limit: self.limit.unwrap_or(DEFAULT_LIMIT),
            offset: self.offset.unwrap_or(0),
            score_threshold: self.score_threshold,
            with_payload: self.with_payload.unwrap_or_default(),
            with_vector: self.with_vector.unwrap_or_default(),
        })
    }
}

/// `POST /collections/{c}/points/query/batch`.
#[derive(Clone, Debug, Deserialize)]
pub struct QueryBatchBody {
    /// The queries.
    pub searches: Vec<QueryBody>,
}

/// The legacy `vector` of `points/search`: a list, or `{"name": .., "vector": [..]}`.
#[derive(Clone, Debug, PartialEq)]
pub struct NamedVector {
    /// Vector space (`None`: the unnamed one).
    pub name: Option<String>,
    /// The vector, or what unsupported form it was.
    pub vector: VectorValue,
}

impl<'de> Deserialize<'de> for NamedVector {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        let parsed = match &v {
            Value::Object(o) => match (o.get("name").and_then(Value::as_str), o.get("vector")) {
                (Some(name), Some(inner)) => VectorInput::parse(inner).map(|vi| match vi {
                    VectorInput::Single(vector) => NamedVector {
                        name: Some(name.to_string()),
                        vector,
                    },
                    VectorInput::Named(_) => NamedVector {
                        name: Some(name.to_string()),
                        vector: VectorValue::Unsupported("sparse vectors"),
                    },
                }),
                _ => Err("`vector` object needs a string `name` and a `vector`".to_string()),
            },
            other => VectorInput::parse(other).map(|vi| match vi {
                VectorInput::Single(vector) => NamedVector { name: None, vector },
                VectorInput::Named(_) => NamedVector {
                    name: None,
                    vector: VectorValue::Unsupported("named vector maps"),
                },
            }),
        };
        parsed.map_err(serde::de::Error::custom)
    }
}

/// Legacy `POST /collections/{c}/points/search` (`vector` and `limit` required).
#[derive(Clone, Debug, Deserialize)]
pub struct SearchBody {
    /// Query vector.
    pub vector: NamedVector,
    /// Payload filter.
    #[serde(default)]
    pub filter: Option<Filter>,
    /// Search parameters (ignored).
    #[serde(default)]
    pub params: Option<Value>,
    /// Maximum number of results.
    pub limit: usize,
    /// Results to skip.
    #[serde(default)]
    pub offset: Option<usize>,
    /// Payload selection (default none).
    #[serde(default)]
    pub with_payload: Option<WithPayload>,
    /// Vector selection (default none).
    #[serde(default)]
    pub with_vector: Option<WithVector>,
    /// Minimal score.
    #[serde(default)]
    pub score_threshold: Option<f32>,
}

impl SearchBody {
    /// 422 items, labelled under `prefix` (e.g. `search_request`).
    pub fn problems(&self, prefix: &str) -> Vec<String> {
        limit_problem(prefix, Some(self.limit))
            .into_iter()
            .collect()
    }

    /// The store request.
    pub fn into_search(self) -> Result<SearchRequest, ApiError> {
        let vector = match self.vector.vector {
            VectorValue::Dense(v) => v,
            VectorValue::Unsupported(what) => return Err(ApiError::unsupported(what)),
        };
        Ok(SearchRequest {
            query: Query::Vector(vector),
            using: self.vector.name,
            filter: self.filter,
            limit: self.limit,
            offset: self.offset.unwrap_or(0),
            score_threshold: self.score_threshold,
            with_payload: self.with_payload.unwrap_or_default(),
            with_vector: self.with_vector.unwrap_or_default(),
        })
    }
}

/// Legacy `POST /collections/{c}/points/search/batch`.
#[derive(Clone, Debug, Deserialize)]
pub struct SearchBatchBody {
    /// The searches.
    pub searches: Vec<SearchBody>,
}

/// `POST /collections/{c}/points/scroll`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ScrollBody {
    /// First id of the page.
    #[serde(default)]
    pub offset: Option<PointId>,
    /// Page size (default 10).
    #[serde(default)]
    pub limit: Option<usize>,
    /// Payload filter.
    #[serde(default)]
    pub filter: Option<Filter>,
    /// Payload selection (default all).
    #[serde(default)]
    pub with_payload: Option<WithPayload>,
    /// Vector selection (default none).
    #[serde(default)]
    pub with_vector: Option<WithVector>,
    /// Order by a payload field (unsupported).
    #[serde(default)]
    pub order_by: Option<Value>,
}

impl ScrollBody {
    /// 422 items.
    pub fn problems(&self) -> Vec<String> {
        limit_problem("scroll_request", self.limit)
            .into_iter()
            .collect()
    }

    /// The store request.
    pub fn into_scroll(self) -> Result<ScrollRequest, ApiError> {
        if self.order_by.as_ref().is_some_and(|o| !o.is_null()) {
            return Err(ApiError::unsupported("`order_by`"));
        }
        Ok(ScrollRequest {
            offset: self.offset,
            limit: self.limit.unwrap_or(DEFAULT_LIMIT),
            filter: self.filter,
            with_payload: self.with_payload.unwrap_or(WithPayload::All),
            with_vector: self.with_vector.unwrap_or_default(),
        })
    }
}

/// `POST /collections/{c}/points/count`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct CountBody {
    /// Payload filter.
    #[serde(default)]
    pub filter: Option<Filter>,
    /// Exact count (the mock always counts exactly).
    #[serde(default)]
    pub exact: Option<bool>,
}

/// One point of `PUT /collections/{c}/points`.
#[derive(Clone, Debug, Deserialize)]
pub struct PointBody {
    /// Id.
    pub id: PointId,
    /// Vectors.
    pub vector: VectorInput,
    /// Payload.
    #[serde(default)]
    pub payload: Option<Map<String, Value>>,
}

/// The column form of an upsert: `{"ids": [..], "vectors": [[..]] | {name: [[..]]}, "payloads": [..]}`.
#[derive(Clone, Debug, Deserialize)]
pub struct BatchBody {
    /// Ids.
    pub ids: Vec<PointId>,
    /// Vectors, one per id (a list of lists, or per name).
    pub vectors: Value,
    /// Payloads, one per id.
    #[serde(default)]
    pub payloads: Option<Vec<Option<Map<String, Value>>>>,
}

/// `PUT /collections/{c}/points`: a list of points or a batch.
#[derive(Clone, Debug, Deserialize)]
pub struct UpsertBody {
    /// Points (the form qdrant-client's `upsert` and `upload_points` send).
    #[serde(default)]
    pub points: Option<Vec<PointBody>>,
    /// Column batch (`upload_collection`).
    #[serde(default)]
    pub batch: Option<BatchBody>,
}

fn batch_vectors(v: &Value, n: usize) -> Result<Vec<VectorInput>, String> {
    let rows = |x: &Value, name: &str| -> Result<Vec<VectorValue>, String> {
        let list = x
            .as_array()
            .ok_or_else(|| format!("`batch.vectors{name}` must be a list of vectors"))?;
        if list.len() != n {
            return Err(format!(
                "`batch.vectors{name}` has {} vectors for {n} ids",
                list.len()
            ));
        }
        list.iter()
            .map(|r| match r {
                Value::Array(items) => dense(items).map(VectorValue::Dense),
                other => Err(format!("a vector must be a list of numbers, got {other}")),
            })
            .collect()
    };
    match v {
        Value::Array(_) => Ok(rows(v, "")?.into_iter().map(VectorInput::Single).collect()),
        Value::Object(o) => {
            let mut out: Vec<Vec<(String, VectorValue)>> = vec![Vec::new(); n];
            for (name, x) in o {
                for (i, vv) in rows(x, &format!(".{name}"))?.into_iter().enumerate() {
                    out[i].push((name.clone(), vv));
                }
            }
            Ok(out.into_iter().map(VectorInput::Named).collect())
        }
        other => Err(format!(
            "`batch.vectors` must be a list or a map, got {other}"
        )),
    }
}

impl UpsertBody {
    /// The points to write.
    pub fn into_points(self) -> Result<Vec<PointInput>, ApiError> {
        if let Some(points) = self.points {
            return Ok(points
                .into_iter()
                .map(|p| PointInput {
                    id: p.id,
                    vector: p.vector,
                    payload: p.payload,
                })
                .collect());
        }
        let Some(batch) = self.batch else {
            return Err(ApiError::bad_request(
                "Format error in JSON body: missing field `points` (or `batch`)",
            ));
        };
        let n = batch.ids.len();
        let vectors = batch_vectors(&batch.vectors, n).map_err(ApiError::bad_request)?;
        let mut payloads = batch.payloads.unwrap_or_default();
        if !payloads.is_empty() && payloads.len() != n {
            return Err(ApiError::bad_request(format!(
                "Wrong input: `batch.payloads` has {} entries for {n} ids",
                payloads.len()
            )));
        }
        payloads.resize(n, None);
        Ok(batch
            .ids
            .into_iter()
            .zip(vectors)
            .zip(payloads)
            .map(|((id, vector), payload)| PointInput {
                id,
                vector,
                payload,
            })
            .collect())
    }
}

/// `POST /collections/{c}/points` (retrieve).
#[derive(Clone, Debug, Deserialize)]
pub struct RetrieveBody {
    /// Ids to fetch.
    pub ids: Vec<PointId>,
    /// Payload selection (default all).
    #[serde(default)]
    pub with_payload: Option<WithPayload>,
    /// Vector selection (default none).
    #[serde(default)]
    pub with_vector: Option<WithVector>,
}

/// `POST /collections/{c}/points/delete`.
#[derive(Clone, Debug, Deserialize)]
pub struct DeleteBody {
    /// Ids to delete.
    #[serde(default)]
    pub points: Option<Vec<PointId>>,
    /// Or every point matching this filter.
    #[serde(default)]
    pub filter: Option<Filter>,
}

impl DeleteBody {
    /// Which points.
    pub fn selector(self) -> Result<PointSelector, ApiError> {
        match (self.points, self.filter) {
            (Some(ids), _) => Ok(PointSelector::Ids(ids)),
            (None, Some(f)) => Ok(PointSelector::Filter(f)),
            (None, None) => Err(ApiError::bad_request(
                "Format error in JSON body: expected `points` (a list of ids) or `filter`",
            )),
        }
    }
}

/// `PUT /collections/{c}/index`.
#[derive(Clone, Debug, Deserialize)]
pub struct IndexBody {
    /// Payload key.
    pub field_name: String,
    /// Type name or object with `type`.
    #[serde(default)]
    pub field_schema: Option<Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(s: &str) -> Result<QueryBody, serde_json::Error> {
        serde_json::from_str(s)
    }

    #[test]
    fn query_forms() {
        let q = query(r#"{"query":{"nearest":[1,2]},"limit":3}"#).unwrap();
        assert_eq!(
            q.query,
            Some(QueryInput::Nearest(Query::Vector(vec![1.0, 2.0])))
        );
        let q = query(r#"{"query":[1,2]}"#).unwrap();
        assert_eq!(
            q.query,
            Some(QueryInput::Nearest(Query::Vector(vec![1.0, 2.0])))
        );
        let q = query(r#"{"query":42}"#).unwrap();
        assert_eq!(
            q.query,
            Some(QueryInput::Nearest(Query::Point(PointId::Num(42))))
        );
        let q = query(r#"{"query":{"nearest":"550e8400-e29b-41d4-a716-446655440000"}}"#).unwrap();
        assert!(matches!(
            q.query,
            Some(QueryInput::Nearest(Query::Point(PointId::Uuid(_))))
        ));
        for (body, what) in [
            (r#"{"query":{"fusion":"rrf"}}"#, "`fusion` queries"),
            (
                r#"{"query":{"nearest":{"indices":[1],"values":[1]}}}"#,
                "sparse",
            ),
            (r#"{"query":[[1,2],[3,4]]}"#, "multi-vector"),
        ] {
            let Some(QueryInput::Unsupported(w)) = query(body).unwrap().query else {
                panic!("{body}")
            };
            assert!(w.contains(what), "{w}");
        }
        assert!(query(r#"{"query":true}"#).is_err());
        assert!(query(r#"{"query":"nope"}"#).is_err());
    }

    #[test]
    fn query_defaults_validation_and_unsupported() {
        let s = query("{}").unwrap().into_search().unwrap();
        assert_eq!((s.limit, s.offset, s.query), (10, 0, Query::None));
        assert_eq!(s.with_payload, WithPayload::None);
        let q = query(r#"{"limit":0}"#).unwrap();
        assert_eq!(
            q.problems("internal"),
            vec!["internal.limit: value 0 invalid, must be 1 or larger"]
        );
        let e = query(r#"{"query":[1],"prefetch":[{"query":[1]}]}"#)
            .unwrap()
            .into_search()
            .unwrap_err();
        assert!(e.message.contains("prefetch"), "{}", e.message);
        let e = query(r#"{"query":{"recommend":{}}}"#)
            .unwrap()
            .into_search()
            .unwrap_err();
        assert_eq!(e.status.as_u16(), 400);
    }

    #[test]
    fn legacy_search_forms() {
        let b: SearchBody = serde_json::from_str(r#"{"vector":[1,2],"limit":3}"#).unwrap();
        let s = b.into_search().unwrap();
        assert_eq!((s.using, s.limit), (None, 3));
        let b: SearchBody =
            serde_json::from_str(r#"{"vector":{"name":"text-dense","vector":[1]},"limit":1}"#)
                .unwrap();
        assert_eq!(
            b.into_search().unwrap().using.as_deref(),
            Some("text-dense")
        );
        let e = serde_json::from_str::<SearchBody>(r#"{"vector":[1]}"#).unwrap_err();
        assert!(e.to_string().contains("missing field `limit`"), "{e}");
        let b: SearchBody = serde_json::from_str(r#"{"vector":[1],"limit":0}"#).unwrap();
        assert_eq!(b.problems("search_request").len(), 1);
    }

    #[test]
    fn upsert_points_and_batch() {
        let b: UpsertBody = serde_json::from_str(
            r#"{"points":[{"id":1,"vector":[1,2],"payload":{"a":1}},{"id":"550e8400-e29b-41d4-a716-446655440000","vector":{"":[3,4]}}]}"#,
        )
        .unwrap();
        let p = b.into_points().unwrap();
        assert_eq!(p.len(), 2);
        assert!(p[1].payload.is_none());
        let b: UpsertBody = serde_json::from_str(
            r#"{"batch":{"ids":[1,2],"vectors":[[1,2],[3,4]],"payloads":[{"a":1},null]}}"#,
        )
        .unwrap();
        let p = b.into_points().unwrap();
        assert_eq!(
            p[1].vector,
            VectorInput::Single(VectorValue::Dense(vec![3.0, 4.0]))
        );
        let b: UpsertBody =
            serde_json::from_str(r#"{"batch":{"ids":[1,2],"vectors":{"x":[[1]]}}}"#).unwrap();
        assert!(
            b.into_points()
                .unwrap_err()
                .message
                .contains("1 vectors for 2 ids")
        );
        let e = serde_json::from_str::<UpsertBody>(r#"{"points":[{"id":1}]}"#).unwrap_err();
        assert!(e.to_string().contains("missing field `vector`"), "{e}");
        let b: UpsertBody = serde_json::from_str("{}").unwrap();
        assert_eq!(b.into_points().unwrap_err().status.as_u16(), 400);
    }

    #[test]
    fn scroll_and_delete_bodies() {
        let s: ScrollBody = serde_json::from_str(r#"{"limit":2,"offset":5}"#).unwrap();
        let r = s.into_scroll().unwrap();
        assert_eq!(
            (r.limit, r.offset, r.with_payload),
            (2, Some(PointId::Num(5)), WithPayload::All)
        );
        let s: ScrollBody = serde_json::from_str(r#"{"order_by":"x"}"#).unwrap();
        assert!(s.into_scroll().is_err());
        let d: DeleteBody = serde_json::from_str(r#"{"points":[1,2]}"#).unwrap();
        assert_eq!(
            d.selector().unwrap(),
            PointSelector::Ids(vec![PointId::Num(1), PointId::Num(2)])
        );
        let d: DeleteBody = serde_json::from_str("{}").unwrap();
        assert!(d.selector().is_err());
    }
}
