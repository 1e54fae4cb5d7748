//! Mock AWS Bedrock Runtime: `Converse`, `ConverseStream` (AWS event-stream framing) and
//! `InvokeModel` for Titan text embeddings, protocol-faithful enough that unmodified boto3 and
//! `aws-sdk-bedrockruntime` clients work against it (docs/wire-facts.md §A is the specification).
//!
//! - [`model`]: decoding the percent-encoded `{modelId}` label and resolving it.
//! - [`request`]: the Converse request: read, parsed and validated.
//! - [`answer`]: the deterministic answer text, citing the prompt's `[source: id]` passages.
//! - [`generate`]: what a Converse or ConverseStream call generates and when
//!   ([`generate::Generation`], [`generate::Schedule`]), shared by both handlers.
//! - [`converse`]: the non-streaming Converse handler (request → one JSON response).
//! - [`stream`]: the ConverseStream handler, tokens sent at absolute deadlines.
//! - [`eventstream`]: event-stream frames, encoded with `aws-smithy-eventstream`.
//! - [`generator`]: the allocation-light body stream a ConverseStream response is written with.
//! - [`invoke`]: InvokeModel on Titan embedding models.
//! - [`errors`]: the rest-json error replies.
//!
//! Every handler counts the request, validates it (400/404 before any fault), takes a slot under
//! the endpoint's concurrency quota (429 when full), draws at most one fault, then injects the
//! configured latency (times the time scale, times a slow fault's factor).

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use rand::rngs::StdRng;

use crate::faults::{Admission, Fault, FaultInjector};
use crate::state::MockState;
use crate::stats::Operation;

pub mod answer;
pub mod converse;
pub mod errors;
pub mod eventstream;
pub mod generate;
pub mod generator;
pub mod invoke;
pub mod model;
pub mod request;
pub mod stream;

pub use answer::cited_sources;
pub use errors::{BedrockError, ErrorCode};

/// The Bedrock Runtime routes (plus a rest-json `UnknownOperationException` for anything else).
pub fn router() -> Router<Arc<MockState>> {
    Router::new()
        .route("/model/{model_id}/converse", post(converse::handle))
        .route("/model/{model_id}/converse-stream", post(stream::handle))
        .route("/model/{model_id}/invoke", post(invoke::handle))
        .fallback(unknown_operation)
        .method_not_allowed_fallback(unknown_operation)
}

async fn unknown_operation(uri: Uri) -> Response {
    BedrockError::new(
        ErrorCode::UnknownOperation,
        format!(
            "No operation matches {}. This mock serves POST /model/{{modelId}}/converse, \
             /converse-stream and /invoke.",
            uri.path()
        ),
    )
    .into_response()
}

/// A request that ends in an error reply, with the outcome it is counted as.
#[derive(Debug)]
pub struct Failure {
    /// The reply.
    pub error: BedrockError,
    /// One of [`crate::stats::OUTCOME_KINDS`].
    pub outcome: &'static str,
}

impl From<BedrockError> for Failure {
    fn from(error: BedrockError) -> Self {
        let outcome = error.code.outcome();
        Failure { error, outcome }
    }
}

impl Failure {
    /// Counts the outcome for `op` and turns the error into its reply.
    pub fn respond(self, state: &MockState, op: Operation) -> Response {
        state.stats.outcome(op, self.outcome);
        self.error.into_response()
    }
}

/// The frame of every Bedrock handler: counts the request under `op`, runs `work` with the
/// request's arrival time, and answers a failure with the real service's error response.
pub async fn serve<Fut>(
    state: &MockState,
    op: Operation,
    work: impl FnOnce(tokio::time::Instant) -> Fut,
) -> Response
where
    Fut: std::future::Future<Output = Result<Response, Failure>>,
{
    let t0 = tokio::time::Instant::now();
    state.stats.request(op);
    let mut pending = Pending {
        state,
        op,
        ended: false,
    };
    let response = match work(t0).await {
        Ok(response) => response,
        Err(failure) => failure.respond(state, op),
    };
    pending.ended = true;
    response
}

/// Counts `client_closed` for a request whose handler is dropped before it answered (the client
/// hung up while its body arrived or during the injected latency). Every other way out of a
/// handler counts its own outcome.
struct Pending<'a> {
    state: &'a MockState,
    op: Operation,
    ended: bool,
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if !self.ended {
            self.state.stats.outcome(self.op, "client_closed");
        }
    }
}

/// The answer to a connection beyond `connections.max_open`: a 503
/// `ServiceUnavailableException`, and the connection is closed.
pub fn over_cap(max_open: usize) -> Response {
    let mut response = BedrockError::new(
        ErrorCode::ServiceUnavailable,
        format!(
            "The mock already has {max_open} connections open (connections.max_open); this one \
             is closed. Close idle connections or raise the limit."
        ),
    )
    .into_response();
    response.headers_mut().insert(
        header::CONNECTION,
        axum::http::HeaderValue::from_static("close"),
    );
    response
}

/// Reads the whole request body, refusing more than `limit` bytes with a JSON
/// `ValidationException` (not axum's plain-text rejection), and a body that has not arrived in
/// full within `timeout` with a 408.
///
/// Memory grows with the bytes that arrive, never with the declared `Content-Length`.
pub async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    timeout: std::time::Duration,
) -> Result<Bytes, BedrockError> {
    match tokio::time::timeout(timeout, read_body_inner(headers, body, limit)).await {
        Ok(read) => read,
        Err(_) => Err(BedrockError::new(
            ErrorCode::RequestTimeout,
            format!(
                "The request body did not arrive within {} ms (the mock's \
                 `connections.body_timeout_ms`).",
                timeout.as_millis()
            ),
        )),
    }
}

async fn read_body_inner(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Bytes, BedrockError> {
    let too_long = || {
        BedrockError::validation(format!(
            "Input is too long for requested model: the request body is over {limit} bytes \
             (the mock's `bedrock.max_body_bytes`)."
        ))
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_long());
    }
    let mut buf = BytesMut::new();
    let mut data = body.into_data_stream();
    while let Some(chunk) = data.next().await {
        let chunk = chunk.map_err(|e| {
            BedrockError::validation(format!("Could not read the request body: {e}"))
        })?;
        if buf.len() + chunk.len() > limit {
            return Err(too_long());
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// A request admitted under its endpoint's quota, with its fault drawn.
#[derive(Debug)]
pub struct Admitted {
    /// The quota slot; keep it until the response is finished.
    pub admission: Admission,
    /// The request's RNG (latencies, padding), already past the fault draw.
    pub rng: StdRng,
    /// Factor on every injected latency (1, or a slow fault's multiplier).
    pub slow: f64,
    /// A fault still to act on (mid-stream faults); the early ones are answered by [`admit`].
    pub fault: Option<Fault>,
}

/// Takes a quota slot and draws the request's fault. Throttling, server errors and
/// unavailability become the error to answer at once, before any byte of the response.
pub fn admit(
    state: &MockState,
    faults: &FaultInjector,
    op: Operation,
) -> Result<Admitted, Failure> {
    let Some(admission) = faults.admit() else {
        return Err(Failure {
            error: BedrockError::throttling(),
            outcome: "quota",
        });
    };
    let mut rng = state.request_rng(op);
    let fault = faults.draw(&mut rng);
    let mut slow = 1.0;
    match &fault {
        Some(Fault::Throttle) => return Err(BedrockError::throttling().into()),
        Some(Fault::ServerError) => return Err(BedrockError::internal().into()),
        Some(Fault::Unavailable) => return Err(BedrockError::unavailable().into()),
        Some(Fault::Slow(factor)) => {
            state.stats.slow(op);
            slow = *factor;
        }
        _ => {}
    }
    Ok(Admitted {
        admission,
        rng,
        slow,
        fault,
    })
}
