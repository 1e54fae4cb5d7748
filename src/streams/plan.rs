//! What one measurement needs ([`StreamsPlan`]), what the scenario leads to expect (stream
//! length, the gap), the endpoint's address and the requests the streams cycle through.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use mock_services::latency::Dist;

use crate::client::bedrock::{ChatRequest, request_body};
use crate::client::encode_path_segment;
use crate::scenario::Scenario;

/// Everything one measurement needs, validated.
#[derive(Clone, Debug)]
pub struct StreamsPlan {
    /// The scenario (expected latencies; the embedded mocks' configuration).
    pub scenario: Scenario,
    /// Streams held open.
    pub streams: usize,
    /// Measured window.
    pub duration: Duration,
    /// Start-up ramp before the window.
    pub ramp: Duration,
    /// External endpoint, or None for embedded mocks.
    pub bedrock_url: Option<String>,
    /// Model id.
    pub model: String,
    /// Client worker threads.
    pub threads: usize,
    /// Embedded mocks' worker threads.
    pub mock_threads: usize,
    /// Per-stream time limit.
    pub stream_timeout: Duration,
    /// The verdict's bound on the p99 gap error, ms.
    pub max_gap_error_ms: f64,
}

/// Mean length of one stream under the scenario's latencies: TTFT + (tokens − 1) · ITL, s.
pub fn expected_stream_s(s: &Scenario) -> f64 {
    let b = &s.bedrock;
    let tokens = b
        .output_tokens
        .mean()
        .round()
        .clamp(1.0, f64::from(s.request.max_tokens));
    (b.ttft_ms.mean() + b.itl_ms.mean() * (tokens - 1.0)) * s.time_scale / 1000.0
}

/// The configured inter-token gap, ms (the mean when it is not fixed).
pub(super) fn expected_gap_ms(s: &Scenario) -> f64 {
    let gap = match s.bedrock.itl_ms {
        Dist::Fixed { value } => value,
        ref other => other.mean(),
    };
    gap * s.time_scale
}

/// The address of the endpoint at `url` (checked by the one URL rule, [`crate::client::url`]:
/// a URL without a port gets http's 80).
pub(super) fn resolve(url: &str) -> Result<SocketAddr> {
    let parsed = crate::client::url::check_http(url)
        .map_err(|e| anyhow!("--bedrock-url: {}", e.describe(url)))?;
    let hostport = format!(
        "{}:{}",
        parsed.host_str().unwrap_or_default(),
        parsed.port_or_known_default().unwrap_or(80)
    );
    hostport
        .to_socket_addrs()
        .with_context(|| format!("--bedrock-url: cannot resolve `{hostport}`"))?
        .next()
        .ok_or_else(|| anyhow!("--bedrock-url: `{hostport}` resolves to no address"))
}

/// The ConverseStream requests the streams cycle through: one per scenario question.
pub(super) fn requests(plan: &StreamsPlan, host: &str) -> Vec<Vec<u8>> {
    let path = format!(
        "/model/{}/converse-stream",
        encode_path_segment(&plan.model)
    );
    let s = &plan.scenario;
    s.questions()
        .iter()
        .map(|q| {
            let body = request_body(&ChatRequest {
                system: "You are a helpful assistant. Answer the question briefly.",
                user: q,
                max_tokens: s.request.max_tokens,
                temperature: s.request.temperature as f32,
            });
            let mut r = format!(
                "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
                 Accept: application/vnd.amazon.eventstream\r\nUser-Agent: ragperf-streams/{}\r\n\
                 Content-Length: {}\r\n\r\n",
                env!("CARGO_PKG_VERSION"),
                body.len()
            )
            .into_bytes();
            r.extend_from_slice(&body);
            r
        })
        .collect()
}
