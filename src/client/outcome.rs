//! [`GenerateOutcome`]: what a finished generation produced, whether it came from `Converse`
//! ([`super::bedrock`]) or a decoded `ConverseStream` ([`super::eventstream`]). A leaf, so the two
//! need not import each other.

use serde::{Deserialize, Serialize};

/// What a finished generation produced.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenerateOutcome {
    /// The whole answer text.
    pub text: String,
    /// Streaming: non-empty text deltas received (the token events the pipeline timed).
    /// Converse: the service's `usage.outputTokens` (0 if absent).
    pub output_tokens: u32,
    /// `usage.outputTokens` reported by the service (`metadata` event when streaming), if any.
    pub usage_output_tokens: Option<u64>,
    /// Why generation stopped (`end_turn`, `max_tokens`, …).
    pub stop_reason: String,
}
