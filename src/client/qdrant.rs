//! Retrieval: Qdrant REST `points/query` (what qdrant-client ≥ 1.16 and LlamaIndex's
//! `QdrantVectorStore` send, docs/wire-facts.md §B1/§B3).
//!
//! `POST {qdrant}/collections/{c}/points/query` with
//! `{"query":{"nearest":[..]},"limit":k,"with_payload":true,"with_vector":false}`; the answer is
//! `{"result":{"points":[ScoredPoint]},"status":"ok","time":..}`. Each point becomes a
//! [`Passage`] read the way LlamaIndex reads its payloads: the text from the `_node_content`
//! JSON string's `text` (falling back to a plain `text` key), `doc_id`, and `title` if present.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::config::{ClientConfig, Endpoints};
use super::error::{ClientError, ErrorKind, Service};
use super::retry::Backoff;
use super::transport::{async_json, base_url, blocking_json, path_name};
use super::{ClientBuildError, Reply};

const OPERATION: &str = "qdrant points/query";

/// One retrieved passage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Passage {
    /// Qdrant point id (an integer or a UUID, as a string).
    pub id: String,
    /// The source document (payload `doc_id`), what the answer cites as `[doc_id]`.
    pub doc_id: String,
    /// Cosine similarity to the question (higher is closer).
    pub score: f32,
    /// Payload `title`; empty when the payload has none.
    pub title: String,
    /// The passage text.
    pub text: String,
}

#[derive(Serialize)]
struct QueryRequest<'a> {
    query: Nearest<'a>,
    limit: usize,
    with_payload: bool,
    with_vector: bool,
}

#[derive(Serialize)]
struct Nearest<'a> {
    nearest: &'a [f32],
}

#[derive(Deserialize)]
struct QueryResponse {
    result: Option<QueryResult>,
}

#[derive(Deserialize)]
struct QueryResult {
    points: Vec<ScoredPoint>,
}

#[derive(Deserialize)]
struct ScoredPoint {
    id: Value,
    score: f32,
    #[serde(default)]
    payload: Option<serde_json::Map<String, Value>>,
}

fn bad(msg: String) -> ClientError {
    ClientError::new(ErrorKind::BadResponse, format!("{OPERATION}: {msg}"))
}

fn id_string(id: &Value) -> String {
    match id {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn payload_string(payload: &serde_json::Map<String, Value>, key: &str) -> Option<String> {
    match payload.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// The text of a point: `_node_content`'s `text`, else the `text` key.
fn passage_text(payload: &serde_json::Map<String, Value>) -> Option<String> {
    let from_node = payload
        .get("_node_content")
        .and_then(Value::as_str)
        .and_then(|s| serde_json::from_str::<Value>(s).ok())
        .and_then(|node| node.get("text").and_then(Value::as_str).map(str::to_string));
    from_node.or_else(|| {
        payload
            .get("text")
            .and_then(Value::as_str)
            .map(str::to_string)
    })
}

/// Parses a `points/query` answer into passages, best first (as returned).
pub(crate) fn parse_points(body: &[u8]) -> Result<Vec<Passage>, ClientError> {
    let resp: QueryResponse = serde_json::from_slice(body)
        .map_err(|e| bad(format!("response is not a query result: {e}")))?;
    let result = resp
        .result
        .ok_or_else(|| bad("response has no `result`".into()))?;
    result
        .points
        .into_iter()
        .map(|p| {
            let id = id_string(&p.id);
            let payload = p.payload.unwrap_or_default();
            let text = passage_text(&payload).ok_or_else(|| {
                bad(format!(
                    "point {id} has neither `_node_content.text` nor `text` in its payload \
                     (was the collection written by LlamaIndex or ragperf?)"
                ))
            })?;
            Ok(Passage {
                doc_id: payload_string(&payload, "doc_id").unwrap_or_default(),
                title: payload_string(&payload, "title").unwrap_or_default(),
                score: p.score,
                text,
                id,
            })
        })
        .collect()
}

/// What both stacks share.
#[derive(Clone, Debug)]
struct QueryTarget {
    url: String,
    timeout: Duration,
    backoff: Backoff,
}

impl QueryTarget {
    fn new(
        endpoints: &Endpoints,
        config: &ClientConfig,
        backoff: Backoff,
    ) -> Result<Self, ClientBuildError> {
        let base = base_url("qdrant_url", &endpoints.qdrant_url)?;
        let collection = path_name("collection", &endpoints.collection, "ragperf-demo")?;
        Ok(QueryTarget {
            url: format!("{base}/collections/{collection}/points/query"),
            timeout: config.request_timeout(),
            backoff,
        })
    }

    fn body(vector: &[f32], limit: usize) -> Vec<u8> {
        let req = QueryRequest {
            query: Nearest { nearest: vector },
            limit,
            with_payload: true,
            with_vector: false,
        };
        // Non-finite floats serialise as null (Qdrant then answers 400), never an error here.
        serde_json::to_vec(&req).unwrap_or_default()
    }
}

/// Blocking Qdrant client (ureq; I/O on the calling thread).
#[derive(Clone, Debug)]
pub struct BlockingQdrantClient {
    agent: ureq::Agent,
    target: QueryTarget,
}

impl BlockingQdrantClient {
    /// A client on `agent` (usually built by [`super::BlockingClients::new`]).
    pub fn new(
        agent: ureq::Agent,
        endpoints: &Endpoints,
        config: &ClientConfig,
        backoff: Backoff,
    ) -> Result<Self, ClientBuildError> {
        Ok(BlockingQdrantClient {
            agent,
            target: QueryTarget::new(endpoints, config, backoff)?,
        })
    }

    /// The `limit` passages nearest to `vector`, best first.
    pub fn search(&self, vector: &[f32], limit: usize) -> Result<Reply<Vec<Passage>>, ClientError> {
        let t = &self.target;
        let body = QueryTarget::body(vector, limit);
        blocking_json(
            &self.agent,
            &t.backoff,
            Service::Qdrant,
            OPERATION,
            &t.url,
            &body,
            t.timeout,
            parse_points,
        )
    }
}

/// Async Qdrant client (reqwest).
#[derive(Clone, Debug)]
pub struct AsyncQdrantClient {
    client: reqwest::Client,
    target: QueryTarget,
}

impl AsyncQdrantClient {
    /// A client on `client` (usually built by [`super::AsyncClients::new`]).
    pub fn new(
        client: reqwest::Client,
        endpoints: &Endpoints,
        config: &ClientConfig,
        backoff: Backoff,
    ) -> Result<Self, ClientBuildError> {
        Ok(AsyncQdrantClient {
            client,
            target: QueryTarget::new(endpoints, config, backoff)?,
        })
    }

    /// The `limit` passages nearest to `vector`, best first.
    pub async fn search(
        &self,
        vector: &[f32],
        limit: usize,
    ) -> Result<Reply<Vec<Passage>>, ClientError> {
        let t = &self.target;
        let body = QueryTarget::body(vector, limit);
        async_json(
            &self.client,
            &t.backoff,
            Service::Qdrant,
            OPERATION,
            &t.url,
            &body,
            t.timeout,
            parse_points,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_body_matches_query_points() {
        let v: Value = serde_json::from_slice(&QueryTarget::body(&[0.5, -1.0], 3)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"query":{"nearest":[0.5,-1.0]},"limit":3,"with_payload":true,"with_vector":false})
        );
        let ep = Endpoints {
            collection: "my docs/v1".into(),
            ..Default::default()
        };
        let t = QueryTarget::new(
            &ep,
            &ClientConfig::default(),
            Backoff::new(Default::default(), 1.0),
        )
        .unwrap();
        assert_eq!(
            t.url,
            "http://127.0.0.1:6333/collections/my%20docs%2Fv1/points/query"
        );
    }

    #[test]
    fn parses_llamaindex_and_plain_payloads() {
        let node = serde_json::json!({"id_":"n1","text":"Paris is in France.","embedding":null})
            .to_string();
        let body = serde_json::json!({
            "result": {"points": [
                {"id": 7, "version": 0, "score": 0.9,
                 "payload": {"_node_content": node, "doc_id": "doc-7", "title": "France"}},
                {"id": "5c56c793-69f3-4fbf-87e6-c4bf54c28c26", "version": 1, "score": 0.5,
                 "payload": {"text": "plain text", "doc_id": 12}}
            ]},
            "status": "ok", "time": 0.001
        });
        let ps = parse_points(body.to_string().as_bytes()).unwrap();
        assert_eq!(
            ps,
            [
                Passage {
                    id: "7".into(),
                    doc_id: "doc-7".into(),
                    score: 0.9,
                    title: "France".into(),
                    text: "Paris is in France.".into(),
                },
                Passage {
                    id: "5c56c793-69f3-4fbf-87e6-c4bf54c28c26".into(),
                    doc_id: "12".into(),
                    score: 0.5,
                    title: String::new(),
                    text: "plain text".into(),
                }
            ]
        );
    }

    #[test]
    fn missing_text_or_result_is_bad_response() {
        let e = parse_points(
            br#"{"result":{"points":[{"id":1,"score":0.1,"payload":{"doc_id":"d"}}]}}"#,
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::BadResponse);
        assert!(e.message.contains("point 1"), "{}", e.message);
        assert_eq!(
            parse_points(br#"{"status":"ok"}"#).unwrap_err().kind,
            ErrorKind::BadResponse
        );
        assert_eq!(
            parse_points(br#"[]"#).unwrap_err().kind,
            ErrorKind::BadResponse
        );
        assert!(
            parse_points(br#"{"result":{"points":[]}}"#)
                .unwrap()
                .is_empty()
        );
    }
}
