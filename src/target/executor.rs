//! The `--target` executor: every ticket becomes one HTTP request to the user's endpoint, on a
//! multi-thread tokio runtime (`target-rt-N` threads, `--worker-threads`, default one per core),
//! read as the protocol says, into the same [`RequestRecord`]s the variants produce.
//!
//! Timing: the record's start is when a runtime thread began the request; TTFT is the first
//! *token event* decoded from the body (never the response headers); every later token event
//! adds a gap (ITL); the request ends at the done event (`json`: at the end of the body, and its
//! "first token" is the first body byte). Nothing is retried: a load generator that retried would
//! hide the failures it is there to count. Failure kinds: `connect`, `bad_response` (connected,
//! but no valid HTTP response), `timeout`, `http_429`,
//! `http_4xx`, `http_5xx`, `http_other`, `stream_cut`, `malformed_event`, `error_event` (the
//! server said so in the stream) and `missing_done`. (One exception to "nothing is retried": a
//! kept-alive connection the server closed before reading the request is retried once on a new
//! connection, as every HTTP client does; the request never reached the server.)
//!
//! The HTTP client is [`crate::http1`] (the one `ragperf streams` uses), through [`super::http`]:
//! one task wake-up and one `read` per batch of body bytes, no connection task in between.

use std::sync::Arc;
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use super::config::TargetSpec;
use super::http::{Failure, RequestBuf, Wire};
use super::protocol::Interpreted;
use super::sse::SseDecoder;
use crate::http1::{BodyEnd, Conn, Head, HttpError};
use crate::pipeline::record::{TokenClock, since};
use crate::pipeline::steps::InFlight;
use crate::pipeline::{
    Executor, ExecutorError, ExecutorOptions, RequestRecord, Ticket, named_runtime,
};

/// Largest SSE line or event the decoder buffers (a hostile server cannot grow it further).
pub const MAX_EVENT_BYTES: usize = 1 << 20;
/// Largest non-streaming body read (`json`), and the most of an error body kept.
pub const MAX_BODY_BYTES: usize = 16 << 20;
const ERROR_BODY_SNIPPET: usize = 300;

/// Prefix of the executor's thread names (its `threads` in the table).
pub const THREAD_PREFIX: &str = "target-rt-";

/// Drives a target endpoint.
pub struct TargetExecutor {
    runtime: Option<tokio::runtime::Runtime>,
    shared: Arc<Shared>,
    done: Sender<RequestRecord>,
    in_flight: InFlight,
}

struct Shared {
    spec: TargetSpec,
    wire: Wire,
    epoch: Instant,
}

impl TargetExecutor {
    /// Builds the runtime, resolves the target's host and prepares the connection pool (sized
    /// for the expected concurrency).
    pub fn start(
        spec: TargetSpec,
        epoch: Instant,
        opts: &ExecutorOptions,
        done: Sender<RequestRecord>,
    ) -> Result<Self, ExecutorError> {
        let runtime = named_runtime("target", THREAD_PREFIX, opts.worker_threads, None)?;
        let wire = Wire::new(&spec, opts.expected_concurrency);
        Ok(TargetExecutor {
            runtime: Some(runtime),
            shared: Arc::new(Shared { spec, wire, epoch }),
            done,
            in_flight: InFlight::default(),
        })
    }
}

impl Executor for TargetExecutor {
    fn submit(&self, ticket: Ticket) {
        let Some(rt) = &self.runtime else { return };
        let (shared, done) = (self.shared.clone(), self.done.clone());
        let guard = self.in_flight.enter();
        rt.spawn(async move {
            let record = request(&shared, &ticket).await;
            let _ = done.send(record);
            drop(guard);
        });
    }

    fn shutdown(mut self: Box<Self>, grace: Duration) {
        self.in_flight.wait_idle(grace);
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_timeout(Duration::from_millis(100));
        }
    }
}

/// The session id a request's body gets: one per closed-loop user (a conversation), one per
/// request in open loop.
pub fn session_id(ticket: &Ticket) -> String {
    match ticket.user {
        Some(u) => format!("ragperf-user-{u}"),
        None => format!("ragperf-req-{}", ticket.id),
    }
}

/// The failure kind of an HTTP status that is not a success.
pub fn status_kind(status: u16) -> &'static str {
    match status {
        429 => "http_429",
        400..=499 => "http_4xx",
        500..=599 => "http_5xx",
        _ => "http_other",
    }
}

async fn request(shared: &Shared, ticket: &Ticket) -> RequestRecord {
    let mut rec = RequestRecord::begin(ticket, shared.epoch);
    let mut clock = TokenClock::new(shared.epoch);
    let outcome = exchange(shared, ticket, &mut rec, &mut clock).await;
    rec.first_token_us = rec.first_token_us.or(clock.first_us);
    rec.tokens = clock.tokens;
    rec.stream_tid = clock.tid;
    rec.token_gaps_us = std::mem::take(&mut clock.gaps_us);
    match outcome {
        Ok(()) => {
            rec.finished_us = since(shared.epoch, Instant::now());
            rec.citations_ok = !shared.spec.expect_citations || !rec.citations.is_empty();
        }
        Err(Failure(kind, message)) => rec.fail(shared.epoch, kind, "target", message),
    }
    rec
}

async fn exchange(
    shared: &Shared,
    ticket: &Ticket,
    rec: &mut RequestRecord,
    clock: &mut TokenClock,
) -> Result<(), Failure> {
    let spec = &shared.spec;
    let (mut conn, head) = send(shared, ticket).await?;
    let read = if spec.protocol.is_streaming() {
        read_events(spec, &mut conn, &head, rec, clock).await
    } else {
        read_json(shared, &mut conn, &head, rec).await
    };
    let end = read?;
    if head.reusable_after(end) {
        shared.wire.put_back(conn);
    }
    Ok(())
}

/// Sends the request and reads the response head, within the response timeout; a response
/// that is not a success is a failure of its status class.
async fn send(shared: &Shared, ticket: &Ticket) -> Result<(Conn, Head), Failure> {
    let spec = &shared.spec;
    let mut buf = RequestBuf::take();
    let body = spec.body.as_ref().map(|t| {
        |out: &mut String| t.render_into(&ticket.question, &session_id(ticket), ticket.id, out)
    });
    shared.wire.render(&mut buf, body);
    let opened = tokio::time::timeout(spec.response_timeout, shared.wire.open(&buf.wire)).await;
    buf.give_back();
    let (conn, head) = match opened {
        Err(_) => {
            return Err(Failure(
                "timeout",
                format!(
                    "no response headers within {} ms (client.request_timeout_ms)",
                    spec.response_timeout.as_millis()
                ),
            ));
        }
        Ok(r) => r?,
    };
    if !(200..300).contains(&head.status) {
        let snippet = read_some(&shared.wire, conn, &head, spec.idle_timeout).await;
        return Err(Failure(
            status_kind(head.status),
            format!("HTTP {} {}: {snippet}", head.status, reason(head.status)),
        ));
    }
    Ok((conn, head))
}

/// The canonical reason phrase of a status, as the failure messages quote it.
fn reason(status: u16) -> &'static str {
    reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("<unknown status code>")
}

/// The failure of a body read that broke off: of the SSE stream (with its token events so far)
/// or of a `json` body (`tokens` None).
fn body_failure(e: HttpError, tokens: Option<u32>) -> Failure {
    match (e, tokens) {
        (HttpError::Idle(d), Some(n)) => Failure(
            "timeout",
            format!(
                "the stream stalled: no bytes for {} ms (client.stream_idle_timeout_ms) after {n} \
                 token events",
                d.as_millis()
            ),
        ),
        (HttpError::Idle(d), None) => Failure(
            "timeout",
            format!(
                "the body stalled: no bytes for {} ms (client.stream_idle_timeout_ms)",
                d.as_millis()
            ),
        ),
        (e, Some(_)) => Failure(
            "stream_cut",
            format!("the connection failed mid-stream: {e}"),
        ),
        (e, None) => Failure(
            "stream_cut",
            format!("the connection failed while reading the body: {e}"),
        ),
    }
}

/// Reads SSE events until the done event: every token event ticks the clock.
async fn read_events(
    spec: &TargetSpec,
    conn: &mut Conn,
    head: &Head,
    rec: &mut RequestRecord,
    clock: &mut TokenClock,
) -> Result<BodyEnd, Failure> {
    let mut decoder = SseDecoder::new(MAX_EVENT_BYTES);
    let mut events = Vec::new();
    let mut done = false;
    let read = conn
        .read_body(head.body, Some(spec.idle_timeout), |data: &[u8], _| {
            if done {
                return Ok(false);
            }
            decoder
                .feed(data, &mut events)
                .map_err(|e| Failure("malformed_event", e.to_string()))?;
            for ev in events.drain(..) {
                match spec.protocol.classify_event(&ev) {
                    Ok(Interpreted::Token { .. }) => clock.token(),
                    Ok(Interpreted::Done { citations }) => {
                        rec.citations = citations;
                        done = true;
                        return Ok(false);
                    }
                    Ok(Interpreted::Error(message)) => {
                        return Err(Failure(
                            "error_event",
                            format!("the server sent an error event: {message}"),
                        ));
                    }
                    Ok(Interpreted::Usage { .. } | Interpreted::Ignore) => {}
                    Err(e) => return Err(Failure("malformed_event", e.to_string())),
                }
            }
            Ok(true)
        })
        .await;
    let end = match read {
        Err(e) => return Err(body_failure(e, Some(clock.tokens))),
        Ok(r) => r?,
    };
    if done {
        return Ok(end);
    }
    let pending = decoder.finish();
    Err(Failure(
        "missing_done",
        format!(
            "the stream ended after {} token events without the done event{} (is --done-marker right for this server?)",
            clock.tokens,
            match pending {
                Some(n) => format!(" ({n} bytes of an unterminated event were discarded)"),
                None => String::new(),
            }
        ),
    ))
}

/// Reads a non-streaming body (its first byte is the "first token") and interprets it.
async fn read_json(
    shared: &Shared,
    conn: &mut Conn,
    head: &Head,
    rec: &mut RequestRecord,
) -> Result<BodyEnd, Failure> {
    let epoch = shared.epoch;
    let mut body = Vec::new();
    let read = conn
        .read_body(head.body, Some(shared.spec.idle_timeout), |c: &[u8], _| {
            if rec.first_token_us.is_none() && !c.is_empty() {
                rec.first_token_us = Some(since(epoch, Instant::now()));
            }
            if body.len() + c.len() > MAX_BODY_BYTES {
                return Err(Failure(
                    "malformed_event",
                    format!("the body is over {MAX_BODY_BYTES} bytes"),
                ));
            }
            body.extend_from_slice(c);
            Ok(true)
        })
        .await;
    let end = match read {
        Err(e) => return Err(body_failure(e, None)),
        Ok(r) => r?,
    };
    let (_answer, citations) = shared
        .spec
        .protocol
        .interpret_json_body(&body)
        .map_err(|e| Failure("malformed_event", e.to_string()))?;
    rec.citations = citations;
    Ok(end)
}

/// Up to `limit` bytes of an error response's body, as text (best effort, bounded in time);
/// the connection goes back to the pool when the whole body was read.
async fn read_some(wire: &Wire, mut conn: Conn, head: &Head, idle: Duration) -> String {
    let mut body = Vec::new();
    let wait = idle.min(Duration::from_secs(2));
    let read = conn
        .read_body(head.body, Some(wait), |c: &[u8], _| {
            let room = ERROR_BODY_SNIPPET.saturating_sub(body.len());
            body.extend_from_slice(&c[..c.len().min(room)]);
            Ok::<bool, ()>(body.len() < ERROR_BODY_SNIPPET)
        })
        .await;
    if let Ok(Ok(end)) = read
        && head.reusable_after(end)
    {
        wire.put_back(conn);
    }
    let text = String::from_utf8_lossy(&body).trim().to_string();
    if text.is_empty() {
        "(empty body)".into()
    } else {
        text
    }
}
