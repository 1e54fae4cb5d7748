//! Embedding a question: Bedrock `InvokeModel` on a Titan Text Embeddings v2 model.
//!
//! `POST {bedrock}/model/{percent-encoded model id}/invoke` with
//! `{"inputText":..,"dimensions":N,"normalize":true}`; the answer's `embedding` is the vector
//! (docs/wire-facts.md §A6). A vector of another length than asked is a `bad_response`: it could not be
//! searched in a collection of `N` dimensions.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::config::{ClientConfig, Endpoints};
use super::error::{ClientError, ErrorKind, Service};
use super::retry::Backoff;
use super::transport::{async_json, base_url, blocking_json, path_name};
use super::{ClientBuildError, Reply};

const OPERATION: &str = "bedrock InvokeModel";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TitanRequest<'a> {
    input_text: &'a str,
    dimensions: u32,
    normalize: bool,
}

#[derive(Deserialize)]
struct TitanResponse {
    embedding: Option<Vec<f32>>,
}

/// What both stacks share: the URL, the body and the parsing.
#[derive(Clone, Debug)]
struct EmbedTarget {
    url: String,
    dimensions: u32,
    timeout: Duration,
    backoff: Backoff,
}

impl EmbedTarget {
    fn new(
        endpoints: &Endpoints,
        config: &ClientConfig,
        backoff: Backoff,
    ) -> Result<Self, ClientBuildError> {
        let base = base_url("bedrock_url", &endpoints.bedrock_url)?;
        let model = path_name(
            "embed_model",
            &endpoints.embed_model,
            "amazon.titan-embed-text-v2:0",
        )?;
        Ok(EmbedTarget {
            url: format!("{base}/model/{model}/invoke"),
            dimensions: endpoints.embed_dimensions,
            timeout: config.request_timeout(),
            backoff,
        })
    }

    fn body(&self, text: &str) -> Vec<u8> {
        let req = TitanRequest {
            input_text: text,
            dimensions: self.dimensions,
            normalize: true,
        };
        // Serialising a struct of a &str and two scalars cannot fail.
        serde_json::to_vec(&req).unwrap_or_default()
    }

    fn parse(&self, body: &[u8]) -> Result<Vec<f32>, ClientError> {
        let resp: TitanResponse = serde_json::from_slice(body).map_err(|e| {
            ClientError::new(
                ErrorKind::BadResponse,
                format!("{OPERATION}: response is not Titan JSON: {e}"),
            )
        })?;
        let v = resp.embedding.ok_or_else(|| {
            ClientError::new(
                ErrorKind::BadResponse,
                format!("{OPERATION}: response has no `embedding`"),
            )
        })?;
        if v.len() != self.dimensions as usize {
            return Err(ClientError::new(
                ErrorKind::BadResponse,
                format!(
                    "{OPERATION}: asked for {} dimensions, got {} (check embed_dimensions and the model)",
                    self.dimensions,
                    v.len()
                ),
            ));
        }
        Ok(v)
    }
}

/// Blocking embeddings client (ureq; I/O on the calling thread).
#[derive(Clone, Debug)]
pub struct BlockingEmbedClient {
    agent: ureq::Agent,
    target: EmbedTarget,
}

impl BlockingEmbedClient {
    /// A client on `agent` (usually built by [`super::BlockingClients::new`]).
    pub fn new(
        agent: ureq::Agent,
        endpoints: &Endpoints,
        config: &ClientConfig,
        backoff: Backoff,
    ) -> Result<Self, ClientBuildError> {
        Ok(BlockingEmbedClient {
            agent,
            target: EmbedTarget::new(endpoints, config, backoff)?,
        })
    }

    /// Embeds `text` into `embed_dimensions` floats (unit length), retrying transient failures.
    pub fn embed(&self, text: &str) -> Result<Reply<Vec<f32>>, ClientError> {
        let t = &self.target;
        let body = t.body(text);
        blocking_json(
            &self.agent,
            &t.backoff,
            Service::Bedrock,
            OPERATION,
            &t.url,
            &body,
            t.timeout,
            |raw| t.parse(raw),
        )
    }
}

/// Async embeddings client (reqwest).
#[derive(Clone, Debug)]
pub struct AsyncEmbedClient {
    client: reqwest::Client,
    target: EmbedTarget,
}

impl AsyncEmbedClient {
    /// A client on `client` (usually built by [`super::AsyncClients::new`]).
    pub fn new(
        client: reqwest::Client,
        endpoints: &Endpoints,
        config: &ClientConfig,
        backoff: Backoff,
    ) -> Result<Self, ClientBuildError> {
        Ok(AsyncEmbedClient {
            client,
            target: EmbedTarget::new(endpoints, config, backoff)?,
        })
    }

    /// Embeds `text` into `embed_dimensions` floats (unit length), retrying transient failures.
    pub async fn embed(&self, text: &str) -> Result<Reply<Vec<f32>>, ClientError> {
        let t = &self.target;
        let body = t.body(text);
        async_json(
            &self.client,
            &t.backoff,
            Service::Bedrock,
            OPERATION,
            &t.url,
            &body,
            t.timeout,
            |raw| t.parse(raw),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> EmbedTarget {
        EmbedTarget::new(
            &Endpoints::default(),
            &ClientConfig::default(),
            Backoff::new(Default::default(), 1.0),
        )
        .unwrap()
    }

    #[test]
    fn url_and_body() {
        let t = target();
        assert_eq!(
            t.url,
            "http://127.0.0.1:8000/model/amazon.titan-embed-text-v2%3A0/invoke"
        );
        let v: serde_json::Value = serde_json::from_slice(&t.body("what \"is\" it")).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"inputText":"what \"is\" it","dimensions":256,"normalize":true})
        );
    }

    #[test]
    fn parse_checks_shape_and_length() {
        let mut t = target();
        t.dimensions = 2;
        assert_eq!(
            t.parse(br#"{"embedding":[0.6,0.8],"inputTextTokenCount":3}"#)
                .unwrap(),
            [0.6, 0.8]
        );
        let e = t.parse(br#"{"embedding":[0.6]}"#).unwrap_err();
        assert_eq!(e.kind, ErrorKind::BadResponse);
        assert!(e.message.contains("asked for 2 dimensions, got 1"));
        assert_eq!(t.parse(b"{}").unwrap_err().kind, ErrorKind::BadResponse);
        assert_eq!(t.parse(b"nope").unwrap_err().kind, ErrorKind::BadResponse);
    }
}
