//! The HTTP clients of the three backends a RAG request calls: Bedrock `InvokeModel` (Titan
//! embeddings), Qdrant `points/query`, and Bedrock `ConverseStream`/`Converse` (generation).
//!
//! # Two stacks, on purpose
//!
//! Every backend has a **blocking** client and an **async** client with the same shape (same
//! constructor arguments, same method names and results), so the pipeline's steps read the same
//! in every variant:
//!
//! - Blocking clients use [`ureq`]: the socket I/O happens **on the calling thread**, as it does
//!   with Python's `requests`/`boto3`. That is the property the `sync`, `sequential`, `hybrid`
//!   (inside `spawn_blocking`) and `blocking-in-async` variants exist to measure: a thread is
//!   blocked for the whole call. `reqwest::blocking` would not do: it forwards every call to a
//!   hidden runtime thread (`reqwest-internal-sync-runtime`), so the "sync" variant would really
//!   be async plus a thread hop, and it panics when called inside an async context — which the
//!   `blocking-in-async` anti-pattern does on purpose (docs/design.md §10).
//! - Async clients use [`reqwest`] on whatever tokio runtime the caller runs.
//!
//! Both stacks are configured identically by [`ClientConfig`] (see `transport.rs` for TCP_NODELAY,
//! pooling, proxies and HTTP/1.1).
//!
//! # Results, errors, retries
//!
//! A successful call returns a [`Reply`] carrying the value and the number of HTTP attempts it
//! took; a failed call a [`ClientError`] with an [`ErrorKind`] (a stable counter key) and its
//! attempts. Retries follow botocore's standard mode ([`retry`]); their backoff is multiplied by
//! the `backoff_scale` given to the constructors — the run's `time_scale`, so a run at 0.01 backs
//! off 100× shorter. Timeouts are not scaled.
//!
//! Streaming generation decodes the AWS event stream incrementally ([`eventstream`]) and calls a
//! token callback as each text delta is decoded — the pipeline's TTFT and inter-token clock.
//! The blocking client can also hand the open stream back
//! ([`BlockingBedrockClient::open_stream`]) to be pulled one event at a time
//! ([`BlockingConverseStream::next_event`]), possibly from a different thread each time: the
//! shape of a Python generator iterated by Starlette's `iterate_in_threadpool` (the `sync-stream`
//! variant).
//!
//! # Building
//!
//! One client set per variant: [`BlockingClients::new`] or [`AsyncClients::new`] with the
//! [`Endpoints`], the `[client]` config, the variant's concurrency (sizes the connection pool
//! unless `pool_size` is set) and the backoff scale. The three clients of a set share one
//! connection pool; cloning a set (or a client) shares it too.

pub(crate) mod bedrock;
pub(crate) mod config;
pub(crate) mod embed;
pub(crate) mod error;
pub mod eventstream;
mod lean;
mod outcome;
pub(crate) mod qdrant;
pub(crate) mod retry;
mod transport;
pub(crate) mod url;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

pub use bedrock::{
    AsyncBedrockClient, BlockingBedrockClient, BlockingConverseStream, ChatRequest,
    GenerateOutcome, Piece, StreamEvent,
};
pub use config::{ClientConfig, Endpoints};
pub use embed::{AsyncEmbedClient, BlockingEmbedClient};
pub use error::{ClientError, ErrorKind};
pub use eventstream::ConverseStreamDecoder;
pub use qdrant::{AsyncQdrantClient, BlockingQdrantClient, Passage};
pub use retry::{Backoff, RetryPolicy};

/// A successful call: its value and how many HTTP attempts it took.
#[derive(Clone, Debug, PartialEq)]
pub struct Reply<T> {
    /// What the call returned.
    pub value: T,
    /// HTTP requests sent, the successful one included (1 = no retry).
    pub attempts: u32,
}

impl<T> Reply<T> {
    /// Retries spent (`attempts - 1`), for the pipeline's retry counter.
    pub fn retries(&self) -> u32 {
        self.attempts.saturating_sub(1)
    }
}

/// The clients could not be built (a bad URL or config); the message names the field and fix.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ClientBuildError(pub String);

/// botocore's URI-label encoding: everything but ASCII alphanumerics and `-._~` is
/// percent-encoded (`utils.SAFE_CHARS`), so `:` becomes `%3A` and `/` becomes `%2F`.
const LABEL: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Encodes a model id (or ARN) or collection name as one URI path segment, as botocore does:
/// `anthropic.claude-3-haiku-20240307-v1:0` → `anthropic.claude-3-haiku-20240307-v1%3A0`.
pub fn encode_path_segment(segment: &str) -> String {
    utf8_percent_encode(segment, LABEL).to_string()
}

/// The blocking clients of one variant (ureq; I/O on the calling thread).
#[derive(Clone, Debug)]
pub struct BlockingClients {
    /// Bedrock InvokeModel (Titan embeddings).
    pub embed: BlockingEmbedClient,
    /// Qdrant `points/query`.
    pub qdrant: BlockingQdrantClient,
    /// Bedrock Converse / ConverseStream.
    pub bedrock: BlockingBedrockClient,
}

impl BlockingClients {
    /// Builds the set on one shared agent. `concurrency` sizes the pool unless
    /// `config.pool_size` is set; `backoff_scale` multiplies retry backoffs (the `time_scale`).
    pub fn new(
        endpoints: &Endpoints,
        config: &ClientConfig,
        concurrency: usize,
        backoff_scale: f64,
    ) -> Result<Self, ClientBuildError> {
        validate(config)?;
        let agent = transport::build_agent(config, config.pool_size_for(concurrency));
        let backoff = Backoff::new(config.retry.clone(), backoff_scale);
        Ok(BlockingClients {
            embed: BlockingEmbedClient::new(agent.clone(), endpoints, config, backoff.clone())?,
            qdrant: BlockingQdrantClient::new(agent.clone(), endpoints, config, backoff.clone())?,
            bedrock: BlockingBedrockClient::new(agent, endpoints, config, backoff)?,
        })
    }
}

/// The async clients of one variant (reqwest on the caller's tokio runtime).
#[derive(Clone, Debug)]
pub struct AsyncClients {
    /// Bedrock InvokeModel (Titan embeddings).
    pub embed: AsyncEmbedClient,
    /// Qdrant `points/query`.
    pub qdrant: AsyncQdrantClient,
    /// Bedrock Converse / ConverseStream.
    pub bedrock: AsyncBedrockClient,
}

impl AsyncClients {
    /// Builds the set on one shared client; arguments as [`BlockingClients::new`]. May be called
    /// outside a runtime; the calls must run inside one (with time enabled).
    pub fn new(
        endpoints: &Endpoints,
        config: &ClientConfig,
        concurrency: usize,
        backoff_scale: f64,
    ) -> Result<Self, ClientBuildError> {
        validate(config)?;
        let client = transport::build_reqwest(config, config.pool_size_for(concurrency))?;
        let backoff = Backoff::new(config.retry.clone(), backoff_scale);
        Ok(AsyncClients {
            embed: AsyncEmbedClient::new(client.clone(), endpoints, config, backoff.clone())?,
            qdrant: AsyncQdrantClient::new(client.clone(), endpoints, config, backoff.clone())?,
            bedrock: AsyncBedrockClient::new(client, endpoints, config, backoff)?,
        })
    }

    /// The set of an event loop (`async-single`): as [`AsyncClients::new`], but the Bedrock
    /// stream is read as asyncio reads it — every frame that has arrived is decoded in the turn
    /// that reads it (`lean.rs` says why that decides how a busy loop streams).
    pub fn for_event_loop(
        endpoints: &Endpoints,
        config: &ClientConfig,
        concurrency: usize,
        backoff_scale: f64,
    ) -> Result<Self, ClientBuildError> {
        let mut set = Self::new(endpoints, config, concurrency, backoff_scale)?;
        set.bedrock
            .read_streams_whole(config, config.pool_size_for(concurrency))?;
        Ok(set)
    }
}

fn validate(config: &ClientConfig) -> Result<(), ClientBuildError> {
    config
        .validate()
        .map_err(|(field, msg)| ClientBuildError(format!("client.{field}: {msg}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_ids_are_encoded_like_botocore() {
        assert_eq!(
            encode_path_segment("anthropic.claude-3-haiku-20240307-v1:0"),
            "anthropic.claude-3-haiku-20240307-v1%3A0"
        );
        assert_eq!(
            encode_path_segment(
                "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.x-v1:0"
            ),
            "arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.anthropic.x-v1%3A0"
        );
        assert_eq!(encode_path_segment("a b~_-.é"), "a%20b~_-.%C3%A9");
    }

    #[test]
    fn reply_counts_retries() {
        let r = Reply {
            value: (),
            attempts: 3,
        };
        assert_eq!(r.retries(), 2);
    }

    #[test]
    fn sets_reject_bad_config_and_urls() {
        let mut cfg = ClientConfig::default();
        cfg.retry.max_attempts = 0;
        let e = BlockingClients::new(&Endpoints::default(), &cfg, 4, 1.0).unwrap_err();
        assert!(e.0.starts_with("client.retry.max_attempts"), "{}", e.0);
        let ep = Endpoints {
            bedrock_url: "localhost:8000".into(),
            ..Default::default()
        };
        let e = AsyncClients::new(&ep, &ClientConfig::default(), 4, 1.0).unwrap_err();
        assert!(e.0.contains("bedrock_url"), "{}", e.0);
        assert!(
            BlockingClients::new(&Endpoints::default(), &ClientConfig::default(), 4, 1.0).is_ok()
        );
    }
}
