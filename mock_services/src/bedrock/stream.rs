//! `POST /model/{modelId}/converse-stream`: the answer as AWS event-stream frames, one text delta
//! per token, at absolute deadlines.
//!
//! The 200 headers and `messageStart` go out at once; token `i` is due at
//! `t0 + ttft + gaps[0] + … + gaps[i-1]` (`t0` = the request's arrival) and waits with
//! `sleep_until` on that deadline, so timer and scheduling delays never accumulate into drift.
//! How late each token actually left (now − deadline) is the mock's own timer error, recorded per
//! stream and merged into the statistics once, when the stream ends or the client goes away.
//!
//! Event order (docs/wire-facts.md §A3): `messageStart`, `contentBlockDelta` × tokens, `contentBlockStop`,
//! `messageStop`, `metadata`. A mid-stream exception fault replaces the rest with one exception
//! frame and ends the body cleanly; a cut fault makes the body fail, so the client sees the
//! connection end inside a chunked body.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use rand::Rng;
use rand::rngs::StdRng;
use tokio::time::Instant;

use super::errors::{REQUEST_ID_HEADER, THROTTLING_MESSAGE, request_id};
use super::eventstream::{self, MAX_PADDING, padding};
use super::generate::{self, Generation, Schedule};
use super::generator::{Yielder, generate};
use super::request::read_request;
use super::{Failure, admit};
use crate::faults::{Admission, Fault};
use crate::state::MockState;
use crate::stats::{MockStats, Operation, StreamRecorder};

const OP: Operation = Operation::ConverseStream;

/// The message of a mid-stream exception of `kind`.
pub fn exception_message(kind: &str) -> &'static str {
    match kind {
        "throttlingException" => THROTTLING_MESSAGE,
        "validationException" => {
            "The model output failed validation. Check the request and try again."
        }
        "internalServerException" => {
            "The server encountered an internal error while processing the request."
        }
        "serviceUnavailableException" => {
            "The service is temporarily unable to handle the request. Try again later."
        }
        _ => "The model encountered an error while streaming the response. Retry your request.",
    }
}

/// `POST /model/{modelId}/converse-stream`.
pub async fn handle(
    State(state): State<Arc<MockState>>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    super::serve(&state, OP, |t0| start(&state, t0, &uri, &headers, body)).await
}

async fn start(
    state: &Arc<MockState>,
    t0: Instant,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, Failure> {
    let input = read_request(state, uri, headers, body).await?;
    let mut admitted = admit(state, &state.stream_faults, OP)?;
    let (generation, schedule) = generate::draw(state, &input, &mut admitted);
    state.stats.injected(OP, schedule.total());
    state.stats.injected_ttft(schedule.ttft);
    let plan = Plan {
        state: Arc::clone(state),
        t0,
        generation,
        schedule,
        fault: admitted.fault,
        rng: admitted.rng,
        admission: admitted.admission,
    };
    let frames = generate(move |y| emit(y, plan));
    let mut response = (StatusCode::OK, Body::new(frames)).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(eventstream::CONTENT_TYPE),
    );
    h.insert(REQUEST_ID_HEADER, request_id());
    Ok(response)
}

/// Everything one stream needs, moved into its body.
struct Plan {
    state: Arc<MockState>,
    t0: Instant,
    generation: Generation,
    schedule: Schedule,
    fault: Option<Fault>,
    rng: StdRng,
    /// Held until the body ends (or is dropped), so the quota counts open streams.
    admission: Admission,
}

/// The per-token figures of one stream; merged into the statistics when dropped, which also
/// covers a client that hangs up mid-stream (counted as `client_closed`).
struct Recording<'a> {
    stats: &'a MockStats,
    rec: StreamRecorder,
    /// An outcome (`ok`, a fault) was counted; when dropped without one, the client left.
    ended: bool,
}

impl Recording<'_> {
    fn token(&mut self, gap: Option<Duration>, lateness: Duration) {
        self.rec.token(gap, lateness);
    }

    fn outcome(&mut self, kind: &str) {
        self.ended = true;
        self.stats.outcome(OP, kind);
    }
}

impl Drop for Recording<'_> {
    fn drop(&mut self) {
        if !self.ended {
            self.stats.outcome(OP, "client_closed");
        }
        self.stats.merge_stream(&self.rec);
    }
}

fn pad(rng: &mut StdRng) -> &'static str {
    padding(rng.random_range(1..=MAX_PADDING))
}

/// Index of the token a mid-stream fault replaces (`after_fraction` of `n` tokens were sent).
fn fault_index(fault: &Option<Fault>, n: usize) -> Option<usize> {
    match fault {
        Some(
            Fault::StreamException { after_fraction, .. } | Fault::StreamCut { after_fraction },
        ) => Some(((after_fraction.clamp(0.0, 1.0) * n as f64) as usize).min(n.saturating_sub(1))),
        _ => None,
    }
}

type Frame = Result<Bytes, io::Error>;

async fn emit(y: Yielder<Frame>, plan: Plan) {
    let Plan {
        state,
        t0,
        generation,
        schedule,
        fault,
        mut rng,
        admission,
    } = plan;
    let _admission = admission;
    let _open = state.stats.stream_opened();
    let mut recording = Recording {
        stats: &state.stats,
        rec: StreamRecorder::with_capacity(generation.pieces.len()),
        ended: false,
    };
    y.send(Ok(eventstream::message_start(pad(&mut rng)))).await;

    let stop_at = fault_index(&fault, generation.pieces.len());
    let mut deadline = t0 + schedule.ttft;
    for (i, piece) in generation.pieces.iter().enumerate() {
        let gap = i.checked_sub(1).map(|g| schedule.gaps[g]);
        if let Some(gap) = gap {
            deadline += gap;
        }
        state.clock.sleep_until(deadline).await;
        if stop_at == Some(i) {
            match &fault {
                Some(Fault::StreamException { kind, .. }) => {
                    recording.outcome("stream_exception");
                    y.send(Ok(eventstream::exception(kind, exception_message(kind))))
                        .await;
                }
                _ => {
                    recording.outcome("stream_cut");
                    // Pause once so the server flushes the frames it has buffered (hyper flushes
                    // when the body is pending); an error drops the connection without a flush,
                    // which would lose tokens already counted as sent.
                    tokio::task::yield_now().await;
                    y.send(Err(io::Error::new(
                        io::ErrorKind::ConnectionAborted,
                        "injected fault: the mock cut the ConverseStream connection",
                    )))
                    .await;
                }
            }
            return;
        }
        let lateness = Instant::now().saturating_duration_since(deadline);
        recording.token(gap, lateness);
        y.send(Ok(eventstream::text_delta(piece, pad(&mut rng))))
            .await;
    }

    y.send(Ok(eventstream::block_stop(pad(&mut rng)))).await;
    y.send(Ok(eventstream::message_stop(
        generation.stop_reason,
        pad(&mut rng),
    )))
    .await;
    let latency_ms = t0.elapsed().as_millis() as u64;
    y.send(Ok(eventstream::metadata(
        generation.usage,
        latency_ms,
        pad(&mut rng),
    )))
    .await;
    recording.outcome("ok");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_index_stays_inside_the_answer() {
        let cut = |f: f64| Some(Fault::StreamCut { after_fraction: f });
        assert_eq!(fault_index(&cut(0.0), 10), Some(0));
        assert_eq!(fault_index(&cut(0.55), 10), Some(5));
        assert_eq!(fault_index(&cut(0.999), 10), Some(9));
        assert_eq!(fault_index(&cut(1.0), 10), Some(9));
        assert_eq!(fault_index(&None, 10), None);
        assert_eq!(fault_index(&Some(Fault::Slow(2.0)), 10), None);
    }
}
