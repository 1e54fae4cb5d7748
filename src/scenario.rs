//! The scenario: everything a run injects and asks, as one TOML file plus CLI overrides.
//!
//! ```toml
//! time_scale = 1.0          # multiplies every injected latency
//! seed = 42
//! [qdrant]                  # mock Qdrant  (see mock_services::config)
//! [bedrock]                 # mock Bedrock generation
//! [embedding]               # mock Bedrock embeddings
//! [faults.converse_stream]  # injected failures per endpoint
//! [request]                 # what one RAG request does
//! [client]                  # timeouts, retries, pools
//! [load]                    # who sends requests, how many, how fast
//! ```
//!
//! Every section is optional; the defaults reproduce the seed Q&A (retrieval ~100 ms, generation
//! 2–5 s). Unknown keys are errors that name the key, so a typo never silently runs the default.

use std::path::Path;
use std::time::Duration;

use mock_services::MockConfig;
use mock_services::config::{
    BedrockConfig, ConnectionsConfig, EmbeddingConfig, FaultsConfig, QdrantConfig,
};
use serde::{Deserialize, Serialize};

use crate::client::ClientConfig;
use crate::load::arrivals::Arrivals;

/// A whole scenario file.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Scenario {
    /// Multiplies every injected latency (0.01 runs the seed's seconds-long requests in tens of
    /// milliseconds). Client backoff and think time scale with it too.
    pub time_scale: f64,
    /// Seed for latency draws, generated answers, arrivals and question choice.
    pub seed: u64,
    /// Mock Qdrant.
    pub qdrant: QdrantConfig,
    /// Mock Bedrock generation.
    pub bedrock: BedrockConfig,
    /// Mock Bedrock embeddings.
    pub embedding: EmbeddingConfig,
    /// Injected failures.
    pub faults: FaultsConfig,
    /// The mocks' connection cap and timeouts.
    pub connections: ConnectionsConfig,
    /// What one RAG request does.
    pub request: RequestConfig,
    /// HTTP client behaviour.
    pub client: ClientConfig,
    /// The load.
    pub load: LoadConfig,
    /// A real service to drive instead of the variants (`ragperf run --target`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<crate::target::config::TargetConfig>,
}

impl Default for Scenario {
    fn default() -> Self {
        let mock = MockConfig::default();
        Scenario {
            time_scale: mock.time_scale,
            seed: mock.seed,
            qdrant: mock.qdrant,
            bedrock: mock.bedrock,
            embedding: mock.embedding,
            faults: mock.faults,
            connections: mock.connections,
            request: RequestConfig::default(),
            client: ClientConfig::default(),
            load: LoadConfig::default(),
            target: None,
        }
    }
}

/// What one RAG request does (docs/design.md §3).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RequestConfig {
    /// Questions, used round-robin from a seeded start; empty = the built-in set.
    pub questions: Vec<String>,
    /// Passages retrieved per question.
    pub top_k: usize,
    /// CPU work per request (prompt building), microseconds of real computation.
    pub cpu_work_us: u64,
    /// CPU work per received token event (text delta), microseconds of real computation, in
    /// every variant: what a Python service spends per streamed chunk (event-stream parsing,
    /// LlamaIndex's per-chunk objects, JSON, the thread hop). Under the GIL when `gil` is on.
    pub cpu_per_token_us: u64,
    /// CPU work per socket read of the answer stream that brings a token, µs, on top of that
    /// token's `cpu_per_token_us`, in every variant (in CPython: a blocking `recv` that drops
    /// the GIL, sleeps, wakes and takes it back; on asyncio the selector, `data_received` and
    /// the task's wake-up). In `sync-stream` a read is a `next()` that found no event already
    /// buffered. A stream read later than its tokens' spacing finds several tokens in one read,
    /// so this cost falls away under load, as the real service's CPU per answer does.
    pub cpu_per_read_us: u64,
    /// Points before the stream over which `cpu_work_us` is spread evenly: 1 = all of it while
    /// building the prompt; 2 = also before the retrieval; 3 = also before the embedding. A
    /// Python service spends its per-request CPU at several points (client set-up, parsing each
    /// reply, building the prompt); in an event loop each is a separate turn on the loop, so a
    /// saturated loop delays the first token once per point.
    pub cpu_steps: u8,
    /// Share of `cpu_work_us` (0 to 1) that runs off the event loop on another thread but still
    /// under the GIL: Python code in an executor (`run_in_executor`, `to_thread`). The request
    /// waits for it; in async variants it runs on the runtime's blocking pool, in the others on
    /// the request's own thread (no different from the rest there).
    pub cpu_offloop_share: f64,
    /// Share of `cpu_work_us` (0 to 1) that runs in parallel, off the event loop and outside the
    /// GIL: C code that releases the GIL (`ragperf calibrate` reads both shares from the server's
    /// threads). Like the off-loop share, on the blocking pool in async variants; without the
    /// GIL on the request's own thread in the others. The two shares add up to at most 1.
    pub cpu_parallel_share: f64,
    /// Share of `cpu_per_token_us` (0 to 1) that a `sync-stream` service's event loop spends on
    /// every token, serially on its one thread and under the GIL: Starlette's loop wakes when a
    /// pool thread's `next()` returns, sends the chunk, and dispatches the next `next()`. The
    /// rest runs on the pool thread that read the token. Only `sync-stream` has such a loop; the
    /// other variants spend all of `cpu_per_token_us` where the token is read.
    pub cpu_token_loop_share: f64,
    /// Share of `cpu_work_us` (0 to 1) that a `sync-stream` service's event loop spends on every
    /// new request before its body runs (reading the request, dispatching the body to the
    /// pool), serially on its one thread and under the GIL; the body spends the rest. Only
    /// `sync-stream` has such a loop.
    pub cpu_request_loop_share: f64,
    /// Share of every CPU section that would hold the GIL (per request, per token event, per
    /// read; on an event loop or a pool thread) that its thread spends without it, before
    /// taking it: the kernel's part of a CPython service's CPU, whose system calls (socket reads
    /// and writes, the loop's poll, waking another thread) run with the GIL released. With it a
    /// model under the GIL can use more than one core, as the service does (the seed's
    /// streaming `def` endpoint: 1.00–1.05 cores at saturation, a quarter of it system time).
    /// `ragperf calibrate` sets it to the service's system share at its probes. Only with `gil`.
    pub cpu_outside_gil_share: f64,
    /// The most of each second the GIL may be held (0.01 to 1; 1, the default: no cap), over
    /// sustained use: a hold past its share stands idle, holding the lock, before releasing it
    /// (a token bucket of CPU time that lets ~50 ms through at once). CPython's GIL has such a
    /// ceiling: its hand-offs between threads leave it free while no thread runs Python. The
    /// seed's streaming `def` endpoint, saturated, used 1.00–1.03 cores of which 0.76–0.80 user
    /// time, with a system share of 22–28 %. `ragperf calibrate` sets it for a thread pool to
    /// 1 − `cpu_outside_gil_share`: one core in all at saturation, split as the service splits
    /// it. Only with `gil`.
    pub gil_max_busy: f64,
    /// Run every CPU section under one global lock, as CPython's GIL does (Q6).
    pub gil: bool,
    /// `inferenceConfig.maxTokens`.
    pub max_tokens: u32,
    /// `inferenceConfig.temperature`, from 0 to 1.
    pub temperature: f64,
    /// Embedding model id (InvokeModel).
    pub embed_model: String,
    /// Embedding dimensions (256, 512 or 1024; must match the collection).
    pub embed_dimensions: usize,
    /// Chat model id (ConverseStream).
    pub chat_model: String,
}

impl Default for RequestConfig {
    fn default() -> Self {
        RequestConfig {
            questions: Vec::new(),
            top_k: 4,
            cpu_work_us: 200,
            cpu_per_token_us: 0,
            cpu_per_read_us: 0,
            cpu_steps: 1,
            cpu_offloop_share: 0.0,
            cpu_parallel_share: 0.0,
            cpu_token_loop_share: 0.0,
            cpu_request_loop_share: 0.0,
            cpu_outside_gil_share: 0.0,
            gil_max_busy: 1.0,
            gil: false,
            max_tokens: 512,
            temperature: 0.1,
            embed_model: "amazon.titan-embed-text-v2:0".into(),
            embed_dimensions: 256,
            chat_model: "anthropic.claude-3-haiku-20240307-v1:0".into(),
        }
    }
}

/// Longest duration a flag or scenario accepts (`--duration`, `load.duration`, …): a week.
pub const MAX_DURATION: Duration = Duration::from_secs(7 * 24 * 3600);
/// Largest time scale (`--time-scale`, `time_scale`): 1,000x slower than the seed's latencies.
pub const MAX_TIME_SCALE: f64 = 1000.0;
/// Largest `request.cpu_per_token_us`: 1 s of CPU per token event.
pub const MAX_CPU_PER_TOKEN_US: u64 = 1_000_000;

/// Most points `request.cpu_steps` spreads the per-request CPU over.
pub const MAX_CPU_STEPS: u8 = 3;

/// The built-in questions: each shares words with passages of the demo corpus.
pub const DEFAULT_QUESTIONS: &[&str] = &[
    "What is the site status?",
    "When is the next cooling pump maintenance scheduled?",
    "Which safety inspections failed at the plant last month?",
    "How did quarterly revenue change in the retail segment?",
    "What is the remote work policy for new employees?",
    "Which IT incidents affected the payment service?",
    "How long do customer support tickets wait for a first reply?",
    "Which shipments were delayed at the regional warehouse?",
    "What do the compliance audit findings say about data retention?",
];

/// Who sends requests and when.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LoadConfig {
    /// Variants to run, by name (empty = all).
    pub variants: Vec<String>,
    /// Closed loop: simulated users, each sending its next request when the last one ends.
    pub concurrency: usize,
    /// Closed loop: pause between a user's requests, ms (scaled by `time_scale`).
    pub think_time_ms: f64,
    /// Open loop: offered requests per second (replaces the closed loop when set).
    pub rate: Option<f64>,
    /// Open loop: inter-arrival pattern.
    pub arrivals: Arrivals,
    /// Open loop: at most this many requests in flight; the rest wait (time counted as `queue`).
    pub max_in_flight: Option<usize>,
    /// Stop after this many measured requests (per variant).
    pub requests: Option<u64>,
    /// Stop after this long (per variant), e.g. "10s". With neither bound: 10 s.
    #[serde(with = "opt_duration")]
    pub duration: Option<Duration>,
    /// Unmeasured warm-up before each variant, e.g. "2s" (default: the ramp).
    #[serde(with = "opt_duration")]
    pub warmup: Option<Duration>,
    /// Closed loop: spread the users' first requests evenly over this long, e.g. "0s" for all at
    /// once (default: one expected service time, at most 30 s).
    #[serde(with = "opt_duration")]
    pub ramp: Option<Duration>,
    /// `sync`: bound the thread pool to this many workers (default: one per in-flight request).
    /// `sync-stream`: the shared pool's size (default 40, anyio's limiter).
    pub workers: Option<usize>,
    /// `async`, `hybrid`, `blocking-in-async`: tokio worker threads (default: cores).
    pub worker_threads: Option<usize>,
    /// `hybrid`: tokio's blocking pool size (default: tokio's 512).
    pub max_blocking_threads: Option<usize>,
    /// After the load stops, how long in-flight requests may finish before they are abandoned.
    #[serde(with = "opt_duration")]
    pub drain_timeout: Option<Duration>,
}

impl Default for LoadConfig {
    fn default() -> Self {
        LoadConfig {
            variants: Vec::new(),
            concurrency: 32,
            think_time_ms: 0.0,
            rate: None,
            arrivals: Arrivals::Constant,
            max_in_flight: None,
            requests: None,
            duration: None,
            warmup: None,
            ramp: None,
            workers: None,
            worker_threads: None,
            max_blocking_threads: None,
            drain_timeout: None,
        }
    }
}

/// Durations written as strings like "10s", "500ms", "2m".
mod opt_duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&humantime::format_duration(*d).to_string()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let s: Option<String> = Option::deserialize(d)?;
        match s {
            None => Ok(None),
            Some(s) => humantime::parse_duration(&s).map(Some).map_err(|e| {
                serde::de::Error::custom(format!(
                    "`{s}` is not a duration ({e}); write e.g. \"10s\", \"500ms\" or \"2m\""
                ))
            }),
        }
    }
}

/// A scenario that cannot run, naming the field and the fix.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("cannot read scenario file {path} ({reason}): check the path given to --scenario")]
    Read {
        /// The path given.
        path: String,
        /// The OS error (in the message, not chained as a source: `{:#}` would print it twice).
        reason: std::io::Error,
    },
    /// The file is not valid TOML for a scenario (the message names the key and line).
    #[error("scenario file {path} is invalid: {message}")]
    Parse {
        /// The path given.
        path: String,
        /// The parser's message, with the key path.
        message: String,
    },
    /// A value is out of range.
    #[error("scenario field `{field}`: {message}")]
    Invalid {
        /// Dotted path of the field.
        field: String,
        /// What is wrong and the fix.
        message: String,
    },
}

fn invalid(field: &str, message: impl Into<String>) -> ScenarioError {
    ScenarioError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

impl Scenario {
    /// Reads and validates a scenario file.
    pub fn from_file(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|reason| ScenarioError::Read {
            path: path.display().to_string(),
            reason,
        })?;
        let scenario = Scenario::from_toml(&text).map_err(|e| match e {
            ScenarioError::Parse { message, .. } => ScenarioError::Parse {
                path: path.display().to_string(),
                message,
            },
            other => other,
        })?;
        Ok(scenario)
    }

    /// Parses and validates scenario TOML.
    pub fn from_toml(text: &str) -> Result<Scenario, ScenarioError> {
        let scenario: Scenario = toml::from_str(text).map_err(|e| ScenarioError::Parse {
            path: "<inline>".into(),
            message: e.to_string(),
        })?;
        scenario.validate()?;
        Ok(scenario)
    }

    /// The mocks' part of the scenario.
    pub fn mock_config(&self) -> MockConfig {
        MockConfig {
            time_scale: self.time_scale,
            seed: self.seed,
            qdrant: self.qdrant.clone(),
            bedrock: self.bedrock.clone(),
            embedding: self.embedding.clone(),
            faults: self.faults.clone(),
            connections: self.connections.clone(),
        }
    }

    /// The questions in use (the built-in set when none are configured).
    pub fn questions(&self) -> Vec<String> {
        if self.request.questions.is_empty() {
            DEFAULT_QUESTIONS.iter().map(|q| q.to_string()).collect()
        } else {
            self.request.questions.clone()
        }
    }

    /// The measured-phase length: `duration`, or 10 s when neither `requests` nor `duration`
    /// bounds the run.
    pub fn measured_duration(&self) -> Option<Duration> {
        match (self.load.duration, self.load.requests) {
            (Some(d), _) => Some(d),
            (None, Some(_)) => None,
            (None, None) => Some(Duration::from_secs(10)),
        }
    }

    /// Multiplies a model-time duration (ms) by the time scale.
    pub fn scaled_ms(&self, ms: f64) -> Duration {
        mock_services::latency::ms_to_duration(ms * self.time_scale)
    }
}

#[path = "scenario_validate.rs"]
mod validate;

#[cfg(test)]
#[path = "scenario_tests.rs"]
mod tests;
