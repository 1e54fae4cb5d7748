//! What a Converse call generates and when, and the non-streaming `Converse` handler.
//!
//! [`Generation`] is drawn from the prompt alone (`content_rng`), so Converse and ConverseStream
//! give the same text for the same prompt and seed. [`Schedule`] is drawn from the request's
//! RNG: the time to first token and every gap, as absolute offsets from the request's arrival.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use rand::Rng;
use tokio::time::Instant;

use super::answer;
use super::errors::{BedrockError, REQUEST_ID_HEADER, request_id};
use super::eventstream::Usage;
use super::model::{self, ModelKind};
use super::request::{self, ConverseInput};
use super::{Failure, admit, read_body};
use crate::config::BedrockConfig;
use crate::embedding::token_count;
use crate::state::MockState;
use crate::stats::Operation;

/// Most output tokens one answer gets, whatever the configured distribution draws (a guard
/// against a heavy-tailed `output_tokens` exhausting memory).
pub const MAX_OUTPUT_TOKENS: u32 = 65_536;

/// The answer to one prompt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Generation {
    /// The answer as word pieces (one text delta each).
    pub pieces: Vec<String>,
    /// `end_turn`, or `max_tokens` when the request's `maxTokens` cut the answer short.
    pub stop_reason: &'static str,
    /// Input and output token counts.
    pub usage: Usage,
}

impl Generation {
    /// Draws the answer to `input`: its length from `bedrock.output_tokens` (capped by
    /// `maxTokens`) and its words, all from the prompt-seeded RNG.
    pub fn new(state: &MockState, input: &ConverseInput) -> Self {
        let prompt = input.prompt();
        let mut rng = state.content_rng(prompt.as_bytes());
        let drawn = state
            .config
            .bedrock
            .output_tokens
            .sample_count(&mut rng, 1)
            .min(MAX_OUTPUT_TOKENS) as usize;
        let (n, stop_reason) = match input.max_tokens {
            Some(max) if (max as usize) < drawn => (max as usize, "max_tokens"),
            _ => (drawn, "end_turn"),
        };
        let mut pieces = answer::compose(&prompt, &input.question(), drawn, &mut rng);
        pieces.truncate(n);
        Generation {
            usage: Usage::new(token_count(&prompt) as u64, pieces.len() as u64),
            pieces,
            stop_reason,
        }
    }

    /// The whole answer text.
    pub fn text(&self) -> String {
        self.pieces.concat()
    }
}

/// When each token of one answer is due.
#[derive(Clone, Debug, PartialEq)]
pub struct Schedule {
    /// From the request's arrival to the first token.
    pub ttft: Duration,
    /// `gaps[i]` separates token `i` from token `i + 1`.
    pub gaps: Vec<Duration>,
}

impl Schedule {
    /// Draws the time to first token and `tokens - 1` gaps, each scaled by `factor`
    /// (time scale times a slow fault's multiplier).
    pub fn draw<R: Rng + ?Sized>(
        cfg: &BedrockConfig,
        rng: &mut R,
        tokens: usize,
        factor: f64,
    ) -> Self {
        let ttft = cfg.ttft_ms.sample_duration(rng, factor);
        let gaps = (1..tokens)
            .map(|_| cfg.itl_ms.sample_duration(rng, factor))
            .collect();
        Schedule { ttft, gaps }
    }

    /// Time to first token plus every gap: the whole injected latency.
    pub fn total(&self) -> Duration {
        self.ttft + self.gaps.iter().sum::<Duration>()
    }
}

/// The checks both Converse operations make before any fault: the model id, the body size and
/// the body itself.
pub async fn read_request(
    state: &MockState,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
) -> Result<ConverseInput, BedrockError> {
    let model = model::from_path(uri.path())?;
    if model.kind != ModelKind::Text {
        return Err(BedrockError::validation(format!(
            "This action doesn't support the model that you provided ({}). Try again with a \
             supported text or chat model.",
            model.id
        )));
    }
    let body = read_body(
        headers,
        body,
        state.config.bedrock.max_body_bytes,
        state.config.connections.body_timeout(),
    )
    .await?;
    let input = request::parse(&body)?;
    let limit = model::output_limit(&model.base);
    if input.max_tokens.is_some_and(|m| m > limit) {
        return Err(request::max_tokens_over_limit(limit));
    }
    Ok(input)
}

/// `POST /model/{modelId}/converse`.
pub async fn handle(
    State(state): State<Arc<MockState>>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    super::serve(&state, Operation::Converse, |t0| {
        converse(&state, t0, &uri, &headers, body)
    })
    .await
}

async fn converse(
    state: &MockState,
    t0: Instant,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, Failure> {
    let op = Operation::Converse;
    let input = read_request(state, uri, headers, body).await?;
    let mut admitted = admit(state, &state.converse_faults, op)?;
    let generation = Generation::new(state, &input);
    let schedule = Schedule::draw(
        &state.config.bedrock,
        &mut admitted.rng,
        generation.pieces.len(),
        state.time_scale() * admitted.slow,
    );
    state.stats.injected(op, schedule.total());
    // The whole answer is "generated" before anything is sent, as with the real service.
    tokio::time::sleep_until(t0 + schedule.total()).await;
    let body = serde_json::json!({
        "output": {"message": {"role": "assistant", "content": [{"text": generation.text()}]}},
        "stopReason": generation.stop_reason,
        "usage": generation.usage,
        "metrics": {"latencyMs": t0.elapsed().as_millis() as u64},
    });
    state.stats.outcome(op, "ok");
    drop(admitted);
    let mut response = body.to_string().into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(REQUEST_ID_HEADER, request_id());
    Ok(response)
}
