//! Collection configuration as created (`PUT /collections/{c}`) and reported
//! (`GET /collections/{c}`: Qdrant's `CollectionInfo`).
//!
//! The report carries every field qdrant-client 1.20's pydantic model requires (docs/wire-facts.md §B1):
//! `status`, `optimizer_status`, `segments_count`, `payload_schema` and a `config` with `params`,
//! `hnsw_config` (`m`, `ef_construct`, `full_scan_threshold`) and `optimizer_config`
//! (`default_segment_number`, `flush_interval_sec`), filled with Qdrant's defaults and overlaid
//! with whatever the client sent at creation.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::model::VectorsConfig;

/// The body of `PUT /collections/{c}`. Only `vectors` changes behaviour; the rest is kept to be
/// echoed back in the collection info.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct CollectionSpec {
    /// Dense vector spaces (`None`: a collection without dense vectors).
    #[serde(default)]
    pub vectors: Option<VectorsConfig>,
    /// Sparse vector spaces (kept verbatim; the mock stores no sparse vectors).
    #[serde(default)]
    pub sparse_vectors: Option<Value>,
    /// Shard count (reported only).
    #[serde(default)]
    pub shard_number: Option<u32>,
    /// Replication factor (reported only).
    #[serde(default)]
    pub replication_factor: Option<u32>,
    /// Write consistency factor (reported only).
    #[serde(default)]
    pub write_consistency_factor: Option<u32>,
    /// Payload on disk (reported only).
    #[serde(default)]
    pub on_disk_payload: Option<bool>,
    /// HNSW settings overlaid on the defaults (reported only: the mock searches exactly).
    #[serde(default)]
    pub hnsw_config: Option<Map<String, Value>>,
    /// Optimizer settings overlaid on the defaults (reported only).
    #[serde(default)]
    pub optimizers_config: Option<Map<String, Value>>,
    /// WAL settings overlaid on the defaults (reported only).
    #[serde(default)]
    pub wal_config: Option<Map<String, Value>>,
    /// Quantization (reported only).
    #[serde(default)]
    pub quantization_config: Option<Value>,
    /// Strict mode (reported only).
    #[serde(default)]
    pub strict_mode_config: Option<Value>,
    /// Free-form collection metadata (reported only).
    #[serde(default)]
    pub metadata: Option<Value>,
}

impl CollectionSpec {
    /// A collection with one unnamed vector space.
    pub fn single(size: usize, distance: super::model::Distance) -> Self {
        CollectionSpec {
            vectors: Some(VectorsConfig::Single(super::model::VectorParams::new(
                size, distance,
            ))),
            ..CollectionSpec::default()
        }
    }
}

/// A payload index (`PUT /collections/{c}/index`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PayloadIndex {
    /// `keyword`, `integer`, `float`, `geo`, `text`, `bool`, `datetime` or `uuid`.
    pub data_type: String,
    /// The index parameters when the client sent an object schema.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub params: Option<Value>,
}

/// The payload types Qdrant can index.
pub const PAYLOAD_TYPES: [&str; 8] = [
    "keyword", "integer", "float", "geo", "text", "bool", "datetime", "uuid",
];

impl PayloadIndex {
    /// Reads `field_schema`: a type name or an object with `type`.
    pub fn parse(schema: &Value) -> Result<PayloadIndex, String> {
        let (name, params) = match schema {
            Value::String(s) => (s.as_str(), None),
            Value::Object(o) => match o.get("type").and_then(Value::as_str) {
                Some(t) => (t, Some(schema.clone())),
                None => return Err("`field_schema` object needs a `type`".into()),
            },
            Value::Null => {
                return Err(
                    "`field_schema` is required by the ragperf mock (e.g. \"keyword\")".into(),
                );
            }
            other => {
                return Err(format!(
                    "`field_schema` must be a type name or an object, got {other}"
                ));
            }
        };
        if !PAYLOAD_TYPES.contains(&name) {
            return Err(format!(
                "unknown variant `{name}`, expected one of {}",
                PAYLOAD_TYPES.map(|t| format!("`{t}`")).join(", ")
            ));
        }
        Ok(PayloadIndex {
            data_type: name.to_string(),
            params,
        })
    }
}

fn overlay(mut base: Value, over: &Option<Map<String, Value>>) -> Value {
    if let (Value::Object(b), Some(o)) = (&mut base, over) {
        for (k, v) in o {
            b.insert(k.clone(), v.clone());
        }
    }
    base
}

/// Renders `CollectionInfo`. `indexed_points` gives, per indexed field, how many points have a
/// value there.
pub fn collection_info(
    spec: &CollectionSpec,
    points_count: usize,
    payload_schema: &BTreeMap<String, PayloadIndex>,
    indexed_points: impl Fn(&str) -> usize,
) -> Value {
    let mut params = json!({
        "shard_number": spec.shard_number.unwrap_or(1),
        "replication_factor": spec.replication_factor.unwrap_or(1),
        "write_consistency_factor": spec.write_consistency_factor.unwrap_or(1),
        "on_disk_payload": spec.on_disk_payload.unwrap_or(true),
    });
    if let Some(v) = &spec.vectors {
        params["vectors"] = json!(v);
    } else {
        params["vectors"] = json!({});
    }
    if let Some(s) = &spec.sparse_vectors {
        params["sparse_vectors"] = s.clone();
    }
    let hnsw = overlay(
        json!({"m": 16, "ef_construct": 100, "full_scan_threshold": 10000,
               "max_indexing_threads": 0, "on_disk": false}),
        &spec.hnsw_config,
    );
    let optimizer = overlay(
        json!({"deleted_threshold": 0.2, "vacuum_min_vector_number": 1000,
               "default_segment_number": 0, "max_segment_size": null, "memmap_threshold": null,
               "indexing_threshold": 10000, "flush_interval_sec": 5,
               "max_optimization_threads": null}),
        &spec.optimizers_config,
    );
    let wal = overlay(
        json!({"wal_capacity_mb": 32, "wal_segments_ahead": 0}),
        &spec.wal_config,
    );
    let mut config = json!({
        "params": params,
        "hnsw_config": hnsw,
        "optimizer_config": optimizer,
        "wal_config": wal,
        "quantization_config": spec.quantization_config.clone().unwrap_or(Value::Null),
        "strict_mode_config": spec.strict_mode_config.clone().unwrap_or(json!({"enabled": false})),
    });
    if let Some(m) = &spec.metadata {
        config["metadata"] = m.clone();
    }
    let schema: Map<String, Value> = payload_schema
        .iter()
        .map(|(field, idx)| {
            let mut v = json!(idx);
            v["points"] = json!(indexed_points(field));
            (field.clone(), v)
        })
        .collect();
    json!({
        "status": "green",
        "optimizer_status": "ok",
        // The mock searches exactly, so nothing is ever "indexed" (as a real collection below
        // its indexing threshold).
        "indexed_vectors_count": 0,
        "points_count": points_count,
        "segments_count": 1,
        "config": config,
        "payload_schema": schema,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qdrant::model::Distance;

    #[test]
    fn info_has_the_required_fields_and_echoes_the_spec() {
        let mut spec: CollectionSpec = serde_json::from_value(json!({
            "vectors": {"size": 4, "distance": "Dot"},
            "hnsw_config": {"m": 32},
            "sparse_vectors": {"text-sparse": {}}
        }))
        .unwrap();
        let mut schema = BTreeMap::new();
        schema.insert(
            "doc_id".to_string(),
            PayloadIndex::parse(&json!("keyword")).unwrap(),
        );
        let info = collection_info(&spec, 3, &schema, |_| 2);
        for k in [
            "status",
            "optimizer_status",
            "segments_count",
            "payload_schema",
            "config",
        ] {
            assert!(info.get(k).is_some(), "{k}");
        }
        assert_eq!(info["points_count"], 3);
        assert_eq!(
            info["config"]["params"]["vectors"],
            json!({"size": 4, "distance": "Dot"})
        );
        assert_eq!(info["config"]["hnsw_config"]["m"], 32);
        assert_eq!(info["config"]["hnsw_config"]["ef_construct"], 100);
        assert_eq!(info["config"]["optimizer_config"]["flush_interval_sec"], 5);
        assert_eq!(
            info["config"]["params"]["sparse_vectors"],
            json!({"text-sparse": {}})
        );
        assert_eq!(
            info["payload_schema"]["doc_id"],
            json!({"data_type": "keyword", "points": 2})
        );
        spec = CollectionSpec::single(8, Distance::Cosine);
        let info = collection_info(&spec, 0, &BTreeMap::new(), |_| 0);
        assert_eq!(info["config"]["params"]["vectors"]["distance"], "Cosine");
    }

    #[test]
    fn payload_index_schema_forms() {
        assert_eq!(
            PayloadIndex::parse(&json!("integer")).unwrap().data_type,
            "integer"
        );
        let p = PayloadIndex::parse(&json!({"type": "keyword", "is_tenant": true})).unwrap();
        assert_eq!(p.data_type, "keyword");
        assert!(p.params.is_some());
        assert!(
            PayloadIndex::parse(&json!("nope"))
                .unwrap_err()
                .contains("unknown variant")
        );
        assert!(PayloadIndex::parse(&Value::Null).is_err());
        assert!(PayloadIndex::parse(&json!({"x": 1})).is_err());
    }
}
