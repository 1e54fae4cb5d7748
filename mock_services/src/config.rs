//! The mocks' latency and fault model, as read from a scenario file's `[qdrant]`, `[bedrock]`,
//! `[embedding]` and `[faults]` sections (plus the top-level `time_scale` and `seed`).
//!
//! Defaults follow the seed Q&A: retrieval ~100 ms ("blocks ~100ms"), generation 2–5 s
//! ("blocks ~2-5s"): a time to first token around 0.5 s, then 60–150 tokens 30 ms apart.

use serde::{Deserialize, Serialize};

use crate::latency::Dist;

/// Everything the mocks need to know to answer like the real services.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct MockConfig {
    /// Multiplies every injected latency (0.01 runs a seconds-long scenario in tens of ms).
    pub time_scale: f64,
    /// Seed for every latency draw and generated answer, so runs repeat.
    pub seed: u64,
    /// Mock Qdrant.
    pub qdrant: QdrantConfig,
    /// Mock Bedrock text generation (Converse and ConverseStream).
    pub bedrock: BedrockConfig,
    /// Mock Bedrock embeddings (InvokeModel on a Titan text-embeddings model).
    pub embedding: EmbeddingConfig,
    /// Injected failures, per endpoint.
    pub faults: FaultsConfig,
    /// Connection limits and timeouts of both servers (hostile or stuck clients).
    pub connections: ConnectionsConfig,
}

impl Default for MockConfig {
    fn default() -> Self {
        MockConfig {
            time_scale: 1.0,
            seed: 42,
            qdrant: QdrantConfig::default(),
            bedrock: BedrockConfig::default(),
            embedding: EmbeddingConfig::default(),
            faults: FaultsConfig::default(),
            connections: ConnectionsConfig::default(),
        }
    }
}

/// How each mock server treats connections: a cap on how many are open, and how long a client
/// may take to send a request head, a body, or the next request on a kept-alive connection.
///
/// Timeouts are wall-clock milliseconds and are **not** multiplied by `time_scale`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ConnectionsConfig {
    /// Most connections open at once, per server. One more is answered with a 503 in the
    /// service's error shape and closed (high enough for c = 10,000 streams plus their
    /// embedding and search connections).
    pub max_open: usize,
    /// A new connection must deliver its whole first request head within this, and a kept-alive
    /// one its next head within this of the head's first byte, ms.
    pub header_timeout_ms: u64,
    /// A kept-alive connection with no request for this long is closed, ms (longer than common
    /// client pool idle timeouts, 90 s for reqwest/hyper, so clients close first).
    pub idle_timeout_ms: u64,
    /// A request body must arrive in full within this of the request head, ms (408 otherwise).
    pub body_timeout_ms: u64,
}

impl Default for ConnectionsConfig {
    fn default() -> Self {
        ConnectionsConfig {
            max_open: 25_000,
            header_timeout_ms: 30_000,
            idle_timeout_ms: 120_000,
            body_timeout_ms: 60_000,
        }
    }
}

impl ConnectionsConfig {
    /// [`Self::header_timeout_ms`] as a duration.
    pub fn header_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.header_timeout_ms)
    }

    /// [`Self::idle_timeout_ms`] as a duration.
    pub fn idle_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.idle_timeout_ms)
    }

    /// [`Self::body_timeout_ms`] as a duration.
    pub fn body_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.body_timeout_ms)
    }
}

/// Mock Qdrant settings.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct QdrantConfig {
    /// Injected time of a search (`points/query`, `points/search`, their batches), ms.
    pub search_ms: Dist,
    /// Injected time of every other operation (upsert, scroll, collection info…), ms.
    pub other_ms: Dist,
    /// Name of the preloaded demo collection.
    pub collection: String,
    /// Number of synthetic passages preloaded into the demo collection.
    pub corpus_size: usize,
    /// Vector size of the demo collection (must match the embedding dimensions the harness asks
    /// for: 256, 512 or 1024).
    pub dimensions: usize,
    /// Largest accepted request body, bytes (Qdrant's own default is 32 MiB).
    pub max_body_bytes: usize,
}

impl Default for QdrantConfig {
    fn default() -> Self {
        QdrantConfig {
            search_ms: Dist::Lognormal {
                median: 90.0,
                p99: 250.0,
            },
            other_ms: Dist::fixed(5.0),
            collection: "ragperf-demo".into(),
            corpus_size: 1000,
            dimensions: 256,
            max_body_bytes: 32 * 1024 * 1024,
        }
    }
}

/// Mock Bedrock text-generation settings.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct BedrockConfig {
    /// Time from the request to the first text delta, ms.
    pub ttft_ms: Dist,
    /// Gap between consecutive text deltas, ms.
    pub itl_ms: Dist,
    /// Number of output tokens (text deltas) per answer, capped by the request's `maxTokens`.
    pub output_tokens: Dist,
    /// Largest accepted request body, bytes.
    pub max_body_bytes: usize,
}

impl Default for BedrockConfig {
    fn default() -> Self {
        BedrockConfig {
            ttft_ms: Dist::Lognormal {
                median: 450.0,
                p99: 1200.0,
            },
            itl_ms: Dist::fixed(30.0),
            output_tokens: Dist::Uniform {
                min: 60.0,
                max: 150.0,
            },
            max_body_bytes: 20 * 1024 * 1024,
        }
    }
}

/// Mock Bedrock embedding settings.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct EmbeddingConfig {
    /// Injected time of one InvokeModel embedding call, ms.
    pub latency_ms: Dist,
}

impl Default for EmbeddingConfig {
    fn default() -> Self {
        EmbeddingConfig {
            latency_ms: Dist::Lognormal {
                median: 25.0,
                p99: 80.0,
            },
        }
    }
}

/// Injected failures per endpoint. Each endpoint has its own [`FaultSpec`].
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct FaultsConfig {
    /// Bedrock `InvokeModel` (embeddings).
    pub embed: FaultSpec,
    /// Bedrock `Converse`.
    pub converse: FaultSpec,
    /// Bedrock `ConverseStream` (the only endpoint where the mid-stream faults apply).
    pub converse_stream: FaultSpec,
    /// Every Qdrant operation.
    pub qdrant: FaultSpec,
}

/// Probabilities (0–1, per request) of each injected failure on one endpoint.
///
/// At most one fault is drawn per request; the probabilities must add up to at most 1.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct FaultSpec {
    /// 429 before any response byte (`ThrottlingException` / Qdrant "Too many requests").
    pub throttle: f64,
    /// 500 `InternalServerException`.
    pub server_error: f64,
    /// 503 `ServiceUnavailableException`.
    pub unavailable: f64,
    /// A slow response: every injected latency of the request multiplied by `slow_multiplier`.
    pub slow: f64,
    /// Latency multiplier of a slow response (>= 1).
    pub slow_multiplier: f64,
    /// ConverseStream only: an exception event part-way through the stream.
    pub stream_exception: f64,
    /// Which exception the mid-stream fault sends: `throttlingException`,
    /// `modelStreamErrorException`, `internalServerException`, `serviceUnavailableException` or
    /// `validationException`.
    pub stream_exception_kind: String,
    /// ConverseStream only: the connection is closed part-way through the stream.
    pub stream_cut: f64,
    /// Requests beyond this many in flight get 429 at once, like a Bedrock quota (0 = no limit).
    pub max_concurrency: u32,
}

impl Default for FaultSpec {
    fn default() -> Self {
        FaultSpec {
            throttle: 0.0,
            server_error: 0.0,
            unavailable: 0.0,
            slow: 0.0,
            slow_multiplier: 5.0,
            stream_exception: 0.0,
            stream_exception_kind: "modelStreamErrorException".into(),
            stream_cut: 0.0,
            max_concurrency: 0,
        }
    }
}

/// The exception names a ConverseStream may send mid-stream (docs/wire-facts.md §A3).
pub const STREAM_EXCEPTION_KINDS: [&str; 5] = [
    "throttlingException",
    "modelStreamErrorException",
    "validationException",
    "internalServerException",
    "serviceUnavailableException",
];

/// Longest connection timeout accepted, ms (one day).
pub const MAX_TIMEOUT_MS: u64 = 86_400_000;

/// A configuration value that makes no sense, with the field's full path and the fix.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("`{field}`: {message}")]
pub struct ConfigError {
    /// Dotted path of the field, e.g. `faults.converse_stream.throttle`.
    pub field: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

fn err(field: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError {
        field: field.into(),
        message: message.into(),
    }
}

impl MockConfig {
    /// Checks the values that the parser cannot (ranges, sums, consistency).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !self.time_scale.is_finite() || self.time_scale < 0.0 {
            return Err(err(
                "time_scale",
                format!(
                    "must be a finite number >= 0 (1 = real time, 0.01 = 100x faster), got {}",
                    self.time_scale
                ),
            ));
        }
        let dists = [
            ("qdrant.search_ms", &self.qdrant.search_ms),
            ("qdrant.other_ms", &self.qdrant.other_ms),
            ("bedrock.ttft_ms", &self.bedrock.ttft_ms),
            ("bedrock.itl_ms", &self.bedrock.itl_ms),
            ("bedrock.output_tokens", &self.bedrock.output_tokens),
            ("embedding.latency_ms", &self.embedding.latency_ms),
        ];
        for (field, d) in dists {
            d.validate().map_err(|e| err(field, e.0))?;
        }
        if self.qdrant.collection.is_empty() {
            return Err(err("qdrant.collection", "must not be empty"));
        }
        if self.qdrant.corpus_size == 0 {
            return Err(err("qdrant.corpus_size", "must be at least 1"));
        }
        if ![256, 512, 1024].contains(&self.qdrant.dimensions) {
            return Err(err(
                "qdrant.dimensions",
                format!(
                    "must be 256, 512 or 1024 (the Titan v2 sizes), got {}",
                    self.qdrant.dimensions
                ),
            ));
        }
        if self.qdrant.max_body_bytes < 1024 {
            return Err(err("qdrant.max_body_bytes", "must be at least 1024"));
        }
        if self.bedrock.max_body_bytes < 1024 {
            return Err(err("bedrock.max_body_bytes", "must be at least 1024"));
        }
        let c = &self.connections;
        if c.max_open == 0 {
            return Err(err(
                "connections.max_open",
                "must be at least 1 (the default, 25000, holds c = 10,000 streams)",
            ));
        }
        for (name, ms) in [
            ("header_timeout_ms", c.header_timeout_ms),
            ("idle_timeout_ms", c.idle_timeout_ms),
            ("body_timeout_ms", c.body_timeout_ms),
        ] {
            if ms == 0 || ms > MAX_TIMEOUT_MS {
                return Err(err(
                    format!("connections.{name}"),
                    format!(
                        "must be from 1 to {MAX_TIMEOUT_MS} ms (one day), got {ms}: a wall-clock \
                         timeout, not scaled by time_scale"
                    ),
                ));
            }
        }
        for (name, spec) in [
            ("embed", &self.faults.embed),
            ("converse", &self.faults.converse),
            ("converse_stream", &self.faults.converse_stream),
            ("qdrant", &self.faults.qdrant),
        ] {
            spec.validate(&format!("faults.{name}"))?;
        }
        Ok(())
    }
}

impl FaultSpec {
    /// Checks ranges; `prefix` is the spec's path, e.g. `faults.qdrant`.
    pub fn validate(&self, prefix: &str) -> Result<(), ConfigError> {
        let probs = [
            ("throttle", self.throttle),
            ("server_error", self.server_error),
            ("unavailable", self.unavailable),
            ("slow", self.slow),
            ("stream_exception", self.stream_exception),
            ("stream_cut", self.stream_cut),
        ];
        let mut sum = 0.0;
        for (name, p) in probs {
            if !(0.0..=1.0).contains(&p) {
                return Err(err(
                    format!("{prefix}.{name}"),
                    format!("is a probability per request: use a number from 0 to 1, got {p}"),
                ));
            }
            sum += p;
        }
        if sum > 1.0 + 1e-9 {
            return Err(err(
                prefix,
                format!(
                    "the fault probabilities add up to {sum:.3}; at most one fault is drawn per request, so keep the sum <= 1"
                ),
            ));
        }
        if !self.slow_multiplier.is_finite() || self.slow_multiplier < 1.0 {
            return Err(err(
                format!("{prefix}.slow_multiplier"),
                format!(
                    "must be >= 1 (5 = five times slower), got {}",
                    self.slow_multiplier
                ),
            ));
        }
        if !STREAM_EXCEPTION_KINDS.contains(&self.stream_exception_kind.as_str()) {
            return Err(err(
                format!("{prefix}.stream_exception_kind"),
                format!(
                    "unknown exception `{}`: use one of {}",
                    self.stream_exception_kind,
                    STREAM_EXCEPTION_KINDS.join(", ")
                ),
            ));
        }
        Ok(())
    }

    /// True when this spec injects nothing.
    pub fn is_clean(&self) -> bool {
        self.throttle == 0.0
            && self.server_error == 0.0
            && self.unavailable == 0.0
            && self.slow == 0.0
            && self.stream_exception == 0.0
            && self.stream_cut == 0.0
            && self.max_concurrency == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_follow_the_seed() {
        let c = MockConfig::default();
        c.validate().unwrap();
        // Retrieval ~100 ms.
        let search = c.qdrant.search_ms.mean();
        assert!((80.0..130.0).contains(&search), "{search}");
        // Generation 2-5 s.
        let gen_ms =
            c.bedrock.ttft_ms.mean() + c.bedrock.itl_ms.mean() * c.bedrock.output_tokens.mean();
        assert!((2000.0..5000.0).contains(&gen_ms), "{gen_ms}");
    }

    #[test]
    fn parses_sections_and_rejects_unknown_fields() {
        let c: MockConfig = toml::from_str(
            r#"
            time_scale = 0.5
            [qdrant]
            search_ms = 100
            [bedrock]
            itl_ms = { dist = "normal", mean = 25, stddev = 3 }
            [faults.converse_stream]
            throttle = 0.1
            stream_cut = 0.05
            "#,
        )
        .unwrap();
        assert_eq!(c.qdrant.search_ms, Dist::fixed(100.0));
        assert_eq!(c.faults.converse_stream.throttle, 0.1);
        c.validate().unwrap();

        let e = toml::from_str::<MockConfig>("[bedrock]\nttft = 5\n").unwrap_err();
        assert!(e.to_string().contains("ttft"), "{e}");
    }

    #[test]
    fn validation_names_the_field() {
        let mut c = MockConfig::default();
        c.faults.qdrant.throttle = 1.5;
        let e = c.validate().unwrap_err();
        assert_eq!(e.field, "faults.qdrant.throttle");

        let mut c = MockConfig::default();
        c.faults.converse_stream.throttle = 0.6;
        c.faults.converse_stream.stream_cut = 0.6;
        assert_eq!(c.validate().unwrap_err().field, "faults.converse_stream");

        let mut c = MockConfig::default();
        c.qdrant.dimensions = 300;
        assert_eq!(c.validate().unwrap_err().field, "qdrant.dimensions");

        let c = MockConfig {
            time_scale: -1.0,
            ..MockConfig::default()
        };
        assert_eq!(c.validate().unwrap_err().field, "time_scale");

        let mut c = MockConfig::default();
        c.connections.max_open = 0;
        assert_eq!(c.validate().unwrap_err().field, "connections.max_open");

        let mut c = MockConfig::default();
        c.connections.idle_timeout_ms = 0;
        assert_eq!(
            c.validate().unwrap_err().field,
            "connections.idle_timeout_ms"
        );
        let mut c = MockConfig::default();
        c.connections.header_timeout_ms = MAX_TIMEOUT_MS + 1;
        let e = c.validate().unwrap_err();
        assert_eq!(e.field, "connections.header_timeout_ms");
        assert!(e.message.contains("not scaled by time_scale"), "{e}");

        let c: MockConfig = toml::from_str("[connections]\nmax_open = 3\n").unwrap();
        assert_eq!(c.connections.max_open, 3);
        assert_eq!(c.connections.body_timeout_ms, 60_000);

        let mut c = MockConfig::default();
        c.faults.converse_stream.stream_exception_kind = "Throttling".into();
        assert!(
            c.validate()
                .unwrap_err()
                .message
                .contains("throttlingException")
        );
    }
}
