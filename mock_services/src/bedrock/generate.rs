//! What a Converse or ConverseStream call generates, and when: the answer ([`Generation`]) and
//! the time to its first token and every gap ([`Schedule`]). Both operations draw them with
//! [`draw`], so they give the same text for the same prompt and seed; `converse.rs` and
//! `stream.rs` only turn them into a response.
//!
//! [`Generation`] is drawn from the prompt alone (`content_rng`). [`Schedule`] is drawn from the
//! request's RNG: the time to first token and every gap, as absolute offsets from the request's
//! arrival.

use std::time::Duration;

use rand::Rng;

use super::Admitted;
use super::answer;
use super::eventstream::Usage;
use super::request::ConverseInput;
use crate::config::BedrockConfig;
use crate::embedding::token_count;
use crate::state::MockState;

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
    /// `maxTokens`), seeded by the question alone, and its words, seeded by the whole prompt.
    ///
    /// Why the length follows the question, not the prompt: two services asked the same
    /// questions must get answers of the same lengths, or their latencies do not compare. The
    /// seed's FastAPI service words its prompt differently from ragperf's variants (its passage
    /// lines, its template), and with the length seeded by the whole prompt its answers averaged
    /// 121 tokens against the variants' 107 for the same questions — 11 % more waiting per
    /// request, which read as a model error in `ragperf calibrate`'s predictions.
    pub fn new(state: &MockState, input: &ConverseInput) -> Self {
        let prompt = input.prompt();
        let question = input.question();
        let drawn = state
            .config
            .bedrock
            .output_tokens
            .sample_count(&mut state.content_rng(question.as_bytes()), 1)
            .min(MAX_OUTPUT_TOKENS) as usize;
        let mut rng = state.content_rng(prompt.as_bytes());
        let (n, stop_reason) = match input.max_tokens {
            Some(max) if (max as usize) < drawn => (max as usize, "max_tokens"),
            _ => (drawn, "end_turn"),
        };
        let mut pieces = answer::compose(&prompt, &question, drawn, &mut rng);
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

/// The answer to `input` and when its tokens are due, for an admitted request (its RNG, its
/// slow fault's factor times the time scale).
pub fn draw(
    state: &MockState,
    input: &ConverseInput,
    admitted: &mut Admitted,
) -> (Generation, Schedule) {
    let generation = Generation::new(state, input);
    let schedule = Schedule::draw(
        &state.config.bedrock,
        &mut admitted.rng,
        generation.pieces.len(),
        state.time_scale() * admitted.slow,
    );
    (generation, schedule)
}
