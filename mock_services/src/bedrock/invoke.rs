//! `POST /model/{modelId}/invoke` for Titan text-embedding models (docs/wire-facts.md §A6).
//!
//! - Titan Text Embeddings V2 (`amazon.titan-embed-text-v2:0`): `inputText`, `dimensions`
//!   (1024, 512 or 256; default 1024), `normalize` (default true), `embeddingTypes` (`float`,
//!   `binary`); answers `{"embedding","inputTextTokenCount","embeddingsByType"}`.
//! - Titan Embeddings G1 – Text (`amazon.titan-embed-text-v1`): `inputText` only; 1536
//!   dimensions; answers `{"embedding","inputTextTokenCount"}`.
//!
//! Vectors come from [`crate::embedding::embed`], the function the Qdrant demo corpus is built
//! with, so a question embedded here retrieves the passages that share its words. Body errors are
//! worded as Titan's JSON-schema validator words them ("Malformed input request: #/...").

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use tokio::time::Instant;

use super::errors::{BedrockError, REQUEST_ID_HEADER, request_id};
use super::model::{self, ModelKind};
use super::{Failure, admit, read_body};
use crate::embedding::{embed, token_count};
use crate::state::MockState;
use crate::stats::Operation;

/// Dimensions Titan V2 accepts.
pub const V2_DIMENSIONS: [usize; 3] = [1024, 512, 256];

/// Dimensions of Titan G1 (v1) vectors.
pub const V1_DIMENSIONS: usize = 1536;

/// Longest `inputText` Titan accepts, in characters.
pub const MAX_INPUT_CHARS: usize = 50_000;

/// A validated Titan embedding request.
#[derive(Clone, Debug, PartialEq)]
pub struct EmbedRequest {
    /// The text to embed.
    pub text: String,
    /// Vector length.
    pub dimensions: usize,
    /// Unit-length vectors (V2 `normalize`).
    pub normalize: bool,
    /// Also answer a binary (sign bit) vector.
    pub binary: bool,
    /// Answer the float vector in `embeddingsByType` (V2 only).
    pub by_type: bool,
}

fn malformed(detail: impl std::fmt::Display) -> BedrockError {
    BedrockError::validation(format!(
        "Malformed input request: {detail}, please reformat your input and try again."
    ))
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "Null",
        Value::Bool(_) => "Boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "Integer",
        Value::Number(_) => "BigDecimal",
        Value::String(_) => "String",
        Value::Array(_) => "JSONArray",
        Value::Object(_) => "JSONObject",
    }
}

fn expect_type(path: &str, expected: &str, v: &Value) -> BedrockError {
    malformed(format!(
        "#/{path}: expected type: {expected}, found: {}",
        json_type(v)
    ))
}

fn input_text(obj: &Map<String, Value>) -> Result<String, BedrockError> {
    match obj.get("inputText") {
        None => Err(malformed("#: required key [inputText] not found")),
        Some(Value::String(t)) if t.is_empty() => {
            Err(malformed("#/inputText: expected minLength: 1, actual: 0"))
        }
        Some(Value::String(t)) if t.chars().count() > MAX_INPUT_CHARS => Err(malformed(format!(
            "#/inputText: expected maxLength: {MAX_INPUT_CHARS}, actual: {}",
            t.chars().count()
        ))),
        Some(Value::String(t)) => Ok(t.clone()),
        Some(other) => Err(expect_type("inputText", "String", other)),
    }
}

/// Parses a Titan body for a model of `kind` (one of the two Titan text-embedding kinds).
pub fn parse(body: &[u8], kind: ModelKind) -> Result<EmbedRequest, BedrockError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| malformed(format!("the body is not valid JSON ({e})")))?;
    let Value::Object(obj) = &v else {
        return Err(malformed(format!(
            "#: expected type: JSONObject, found: {}",
            json_type(&v)
        )));
    };
    let allowed: &[&str] = if kind == ModelKind::TitanEmbedV2 {
        &["inputText", "dimensions", "normalize", "embeddingTypes"]
    } else {
        &["inputText"]
    };
    if let Some(extra) = obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(malformed(format!(
            "#: extraneous key [{extra}] is not permitted"
        )));
    }
    let text = input_text(obj)?;
    if kind != ModelKind::TitanEmbedV2 {
        return Ok(EmbedRequest {
            text,
            dimensions: V1_DIMENSIONS,
            normalize: true,
            binary: false,
            by_type: false,
        });
    }
    let dimensions = match obj.get("dimensions") {
        None => 1024,
        Some(Value::Number(n)) => match n.as_u64() {
            Some(d) if V2_DIMENSIONS.contains(&(d as usize)) => d as usize,
            _ => {
                return Err(malformed(format!(
                    "#/dimensions: {n} is not a valid enum value"
                )));
            }
        },
        Some(other) => return Err(expect_type("dimensions", "Integer", other)),
    };
    let normalize = match obj.get("normalize") {
        None => true,
        Some(Value::Bool(b)) => *b,
        Some(other) => return Err(expect_type("normalize", "Boolean", other)),
    };
    let (mut float, mut binary) = (true, false);
    match obj.get("embeddingTypes") {
        None => {}
        Some(Value::Array(types)) => {
            if types.is_empty() {
                return Err(malformed(
                    "#/embeddingTypes: expected minimum item count: 1, found: 0",
                ));
            }
            float = false;
            for (i, t) in types.iter().enumerate() {
                match t.as_str() {
                    Some("float") => float = true,
                    Some("binary") => binary = true,
                    Some(other) => {
                        return Err(malformed(format!(
                            "#/embeddingTypes/{i}: {other} is not a valid enum value"
                        )));
                    }
                    None => return Err(expect_type(&format!("embeddingTypes/{i}"), "String", t)),
                }
            }
        }
        Some(other) => return Err(expect_type("embeddingTypes", "JSONArray", other)),
    }
    Ok(EmbedRequest {
        text,
        dimensions,
        normalize,
        binary,
        by_type: float,
    })
}

/// The response body for `req`.
pub fn respond_json(req: &EmbedRequest, kind: ModelKind) -> Value {
    let vector = embed(&req.text, req.dimensions, req.normalize);
    let tokens = token_count(&req.text);
    if kind != ModelKind::TitanEmbedV2 {
        return json!({ "embedding": vector, "inputTextTokenCount": tokens });
    }
    let mut by_type = Map::new();
    if req.by_type {
        by_type.insert("float".into(), json!(vector));
    }
    if req.binary {
        let bits: Vec<u8> = vector.iter().map(|x| u8::from(*x >= 0.0)).collect();
        by_type.insert("binary".into(), json!(bits));
    }
    json!({ "embedding": vector, "inputTextTokenCount": tokens, "embeddingsByType": by_type })
}

/// `POST /model/{modelId}/invoke`.
pub async fn handle(
    State(state): State<Arc<MockState>>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    super::serve(&state, Operation::Embed, |t0| {
        invoke(&state, t0, &uri, &headers, body)
    })
    .await
}

async fn invoke(
    state: &MockState,
    t0: Instant,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, Failure> {
    let op = Operation::Embed;
    let model = model::from_path(uri.path())?;
    match model.kind {
        ModelKind::TitanEmbedV2 | ModelKind::TitanEmbedV1 => {}
        ModelKind::OtherEmbedding => {
            return Err(BedrockError::validation(format!(
                "The mock serves InvokeModel bodies of Titan text-embedding models only, not {}: \
                 use amazon.titan-embed-text-v2:0 or amazon.titan-embed-text-v1.",
                model.id
            ))
            .into());
        }
        ModelKind::Text => {
            return Err(BedrockError::validation(format!(
                "The mock serves InvokeModel for embedding models only ({} is a text model): \
                 use amazon.titan-embed-text-v2:0, or Converse / ConverseStream for text.",
                model.id
            ))
            .into());
        }
    }
    let body = read_body(
        headers,
        body,
        state.config.bedrock.max_body_bytes,
        state.config.connections.body_timeout(),
    )
    .await?;
    let request = parse(&body, model.kind)?;
    let mut admitted = admit(state, &state.embed_faults, op)?;
    let latency = state
        .config
        .embedding
        .latency_ms
        .sample_duration(&mut admitted.rng, state.time_scale() * admitted.slow);
    state.stats.injected(op, latency);
    let answer = respond_json(&request, model.kind).to_string();
    tokio::time::sleep_until(t0 + latency).await;
    state.stats.outcome(op, "ok");
    drop(admitted);
    let tokens = token_count(&request.text);
    let mut response = answer.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(REQUEST_ID_HEADER, request_id());
    h.insert(
        "x-amzn-bedrock-input-token-count",
        HeaderValue::from(tokens as u64),
    );
    h.insert(
        "x-amzn-bedrock-invocation-latency",
        HeaderValue::from(t0.elapsed().as_millis() as u64),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(body: &str, kind: ModelKind) -> String {
        parse(body.as_bytes(), kind).unwrap_err().message
    }

    #[test]
    fn v2_defaults_and_options() {
        let r = parse(br#"{"inputText":"pump"}"#, ModelKind::TitanEmbedV2).unwrap();
        assert_eq!(
            (r.dimensions, r.normalize, r.binary, r.by_type),
            (1024, true, false, true)
        );
        let r = parse(
            br#"{"inputText":"pump","dimensions":256,"normalize":false,"embeddingTypes":["binary"]}"#,
            ModelKind::TitanEmbedV2,
        )
        .unwrap();
        assert_eq!(
            (r.dimensions, r.normalize, r.binary, r.by_type),
            (256, false, true, false)
        );
        let j = respond_json(&r, ModelKind::TitanEmbedV2);
        assert_eq!(j["embedding"].as_array().unwrap().len(), 256);
        assert_eq!(
            j["embeddingsByType"]["binary"].as_array().unwrap().len(),
            256
        );
        assert!(j["embeddingsByType"].get("float").is_none());
    }

    #[test]
    fn v2_vectors_match_the_corpus_function() {
        let r = parse(
            br#"{"inputText":"cooling pump","dimensions":512}"#,
            ModelKind::TitanEmbedV2,
        )
        .unwrap();
        let j = respond_json(&r, ModelKind::TitanEmbedV2);
        let got: Vec<f32> = serde_json::from_value(j["embedding"].clone()).unwrap();
        assert_eq!(got, embed("cooling pump", 512, true));
        assert_eq!(j["embeddingsByType"]["float"], j["embedding"]);
        assert_eq!(j["inputTextTokenCount"], 2);
    }

    #[test]
    fn v1_is_1536_dims_and_takes_only_input_text() {
        let r = parse(br#"{"inputText":"x"}"#, ModelKind::TitanEmbedV1).unwrap();
        let j = respond_json(&r, ModelKind::TitanEmbedV1);
        assert_eq!(j["embedding"].as_array().unwrap().len(), 1536);
        assert!(j.get("embeddingsByType").is_none());
        assert!(
            err(
                r#"{"inputText":"x","dimensions":256}"#,
                ModelKind::TitanEmbedV1
            )
            .contains("extraneous key [dimensions]")
        );
    }

    #[test]
    fn rejects_bad_bodies_like_titan() {
        let v2 = ModelKind::TitanEmbedV2;
        assert!(err("nope", v2).starts_with("Malformed input request"));
        assert!(err(r#"{"inputText":""}"#, v2).contains("minLength"));
        assert!(err("{}", v2).contains("required key [inputText]"));
        assert!(err(r#"{"inputText":3}"#, v2).contains("expected type: String, found: Integer"));
        assert!(
            err(r#"{"inputText":"a","dimensions":100}"#, v2)
                .contains("100 is not a valid enum value")
        );
        assert!(err(r#"{"inputText":"a","dimensions":"256"}"#, v2).contains("#/dimensions"));
        assert!(err(r#"{"inputText":"a","normalize":"yes"}"#, v2).contains("#/normalize"));
        assert!(err(r#"{"inputText":"a","embeddingTypes":["int8"]}"#, v2).contains("int8"));
        assert!(err(r#"{"inputText":"a","embeddingTypes":[]}"#, v2).contains("minimum item count"));
        assert!(err(r#"{"inputText":"a","foo":1}"#, v2).contains("extraneous key [foo]"));
        assert!(err("[1]", v2).contains("JSONObject"));
    }
}
