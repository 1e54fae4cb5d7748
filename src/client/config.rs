//! How the HTTP clients behave (TOML `[client]`) and which backends they talk to.
//!
//! ```toml
//! [client]
//! connect_timeout_ms = 2000        # TCP connect
//! request_timeout_ms = 30000       # whole non-streaming call; time to headers of a stream
//! stream_idle_timeout_ms = 30000   # max silence between two body chunks of a stream
//! # pool_size = 64                 # idle connections kept per host; default: the concurrency
//! [client.retry]
//! max_attempts = 3
//! base_backoff_ms = 100
//! max_backoff_ms = 20000
//! ```
//!
//! Timeouts are wall-clock safety limits and are *not* multiplied by `time_scale`; backoffs are
//! model time and are (see [`super::retry`]).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::retry::RetryPolicy;

/// HTTP client behaviour (TOML `[client]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClientConfig {
    /// Limit on establishing a TCP connection, milliseconds (wall clock).
    pub connect_timeout_ms: u64,
    /// Limit on a whole non-streaming call (embed, search, Converse), and on the time until a
    /// stream's response headers arrive, milliseconds (wall clock).
    pub request_timeout_ms: u64,
    /// Longest silence allowed between two body chunks of a ConverseStream response,
    /// milliseconds (wall clock). A stalled stream fails with `timeout` after this long.
    pub stream_idle_timeout_ms: u64,
    /// Idle keep-alive connections kept per host. `None` (the default) = the variant's
    /// concurrency, so that every in-flight request can reuse a warm connection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pool_size: Option<usize>,
    /// Retries of failed calls.
    pub retry: RetryPolicy,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            connect_timeout_ms: 2_000,
            request_timeout_ms: 30_000,
            stream_idle_timeout_ms: 30_000,
            pool_size: None,
            retry: RetryPolicy::default(),
        }
    }
}

impl ClientConfig {
    /// Checks the values; the error is `(field relative to [client], message with the fix)`.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        for (field, v) in [
            ("connect_timeout_ms", self.connect_timeout_ms),
            ("request_timeout_ms", self.request_timeout_ms),
            ("stream_idle_timeout_ms", self.stream_idle_timeout_ms),
        ] {
            if v == 0 {
                return Err((field, "must be at least 1 ms".to_string()));
            }
        }
        if self.pool_size == Some(0) {
            return Err((
                "pool_size",
                "must be at least 1 (or leave it out to use the concurrency)".to_string(),
            ));
        }
        self.retry.validate()
    }

    /// Connect limit.
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }

    /// Whole-call limit of non-streaming calls; time-to-headers limit of streams.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    /// Longest gap between two body chunks of a stream.
    pub fn stream_idle_timeout(&self) -> Duration {
        Duration::from_millis(self.stream_idle_timeout_ms)
    }

    /// Idle connections kept per host: `pool_size`, else `concurrency` (at least 1).
    pub fn pool_size_for(&self, concurrency: usize) -> usize {
        self.pool_size.unwrap_or(concurrency).max(1)
    }
}

/// Where the backends are and which models and collection a request uses.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Endpoints {
    /// Qdrant REST base URL, e.g. `http://127.0.0.1:6333` (plain HTTP only).
    pub qdrant_url: String,
    /// Bedrock Runtime base URL, e.g. `http://127.0.0.1:8000` (plain HTTP only).
    pub bedrock_url: String,
    /// Qdrant collection searched.
    pub collection: String,
    /// Bedrock embedding model id (Titan Text Embeddings v2 body), e.g.
    /// `amazon.titan-embed-text-v2:0`.
    pub embed_model: String,
    /// Embedding size asked of the model (256, 512 or 1024); must match the collection.
    pub embed_dimensions: u32,
    /// Bedrock chat model id for Converse/ConverseStream.
    pub chat_model: String,
}

impl Endpoints {
    /// The defaults (demo collection, Titan v2 at 256 dimensions, Claude 3 Haiku) at the given
    /// base URLs.
    pub fn new(qdrant_url: impl Into<String>, bedrock_url: impl Into<String>) -> Self {
        Endpoints {
            qdrant_url: qdrant_url.into(),
            bedrock_url: bedrock_url.into(),
            collection: "ragperf-demo".into(),
            embed_model: "amazon.titan-embed-text-v2:0".into(),
            embed_dimensions: 256,
            chat_model: "anthropic.claude-3-haiku-20240307-v1:0".into(),
        }
    }
}

impl Default for Endpoints {
    /// The ports `ragperf mock` listens on by default.
    fn default() -> Self {
        Endpoints::new("http://127.0.0.1:6333", "http://127.0.0.1:8000")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_section_round_trips_and_rejects_unknown_keys() {
        let c: ClientConfig =
            toml::from_str("connect_timeout_ms = 50\npool_size = 8\n[retry]\nmax_attempts = 5\n")
                .unwrap();
        assert_eq!(c.connect_timeout(), Duration::from_millis(50));
        assert_eq!(c.pool_size_for(100), 8);
        assert_eq!(c.retry.max_attempts, 5);
        assert_eq!(c.retry.base_backoff_ms, 100);
        let back: ClientConfig = toml::from_str(&toml::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
        let d: ClientConfig =
            toml::from_str(&toml::to_string(&ClientConfig::default()).unwrap()).unwrap();
        assert_eq!(d, ClientConfig::default());
        assert_eq!(d.pool_size_for(0), 1);
        let err = toml::from_str::<ClientConfig>("conect_timeout_ms = 5").unwrap_err();
        assert!(err.to_string().contains("conect_timeout_ms"), "{err}");
    }

    #[test]
    fn validate_names_the_field() {
        let mut c = ClientConfig::default();
        assert!(c.validate().is_ok());
        c.stream_idle_timeout_ms = 0;
        assert_eq!(c.validate().unwrap_err().0, "stream_idle_timeout_ms");
        let c = ClientConfig {
            pool_size: Some(0),
            ..Default::default()
        };
        assert_eq!(c.validate().unwrap_err().0, "pool_size");
        let mut c = ClientConfig::default();
        c.retry.max_attempts = 0;
        assert_eq!(c.validate().unwrap_err().0, "retry.max_attempts");
    }
}
