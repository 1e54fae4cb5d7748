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
//! server said so in the stream) and `missing_done`.

use std::sync::Arc;
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use super::config::TargetSpec;
use super::protocol::Interpreted;
use super::sse::SseDecoder;
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
    client: reqwest::Client,
    epoch: Instant,
}

impl TargetExecutor {
    /// Builds the runtime and the HTTP client (its pool sized for the expected concurrency).
    pub fn start(
        spec: TargetSpec,
        epoch: Instant,
        opts: &ExecutorOptions,
        done: Sender<RequestRecord>,
    ) -> Result<Self, ExecutorError> {
        let runtime = named_runtime("target", THREAD_PREFIX, opts.worker_threads, None)?;
        let client = reqwest::Client::builder()
            .http1_only()
            .tcp_nodelay(true)
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(spec.connect_timeout)
            .pool_max_idle_per_host(opts.expected_concurrency.max(1))
            .build()
            .map_err(|e| ExecutorError::Clients {
                variant: "target",
                message: e.to_string(),
            })?;
        Ok(TargetExecutor {
            runtime: Some(runtime),
            shared: Arc::new(Shared {
                spec,
                client,
                epoch,
            }),
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

/// Why a request failed: its counter key and a message.
struct Failure(&'static str, String);

fn chain(e: &reqwest::Error) -> String {
    let mut detail = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        detail.push_str(": ");
        detail.push_str(&s.to_string());
        source = s.source();
    }
    detail
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
    let mut resp = send(shared, ticket).await?;
    if !spec.protocol.is_streaming() {
        let body = read_body(&mut resp, spec.idle_timeout, shared.epoch, rec).await?;
        let (_answer, citations) = spec
            .protocol
            .interpret_json_body(&body)
            .map_err(|e| Failure("malformed_event", e.to_string()))?;
        rec.citations = citations;
        return Ok(());
    }
    read_events(spec, &mut resp, rec, clock).await
}

/// Sends the request; a response that is not a success is a failure of its status class.
async fn send(shared: &Shared, ticket: &Ticket) -> Result<reqwest::Response, Failure> {
    let spec = &shared.spec;
    let mut req = shared.client.request(spec.method.clone(), spec.url.clone());
    for (k, v) in &spec.headers {
        req = req.header(k.as_str(), v.as_str());
    }
    if let Some(body) = &spec.body {
        req = req.body(body.render(&ticket.question, &session_id(ticket), ticket.id));
    }
    let mut resp = match tokio::time::timeout(spec.response_timeout, req.send()).await {
        Err(_) => {
            return Err(Failure(
                "timeout",
                format!(
                    "no response headers within {} ms (client.request_timeout_ms)",
                    spec.response_timeout.as_millis()
                ),
            ));
        }
        Ok(Err(e)) if e.is_timeout() => return Err(Failure("timeout", chain(&e))),
        Ok(Err(e)) if e.is_connect() => {
            return Err(Failure(
                "connect",
                format!("could not connect: {}", chain(&e)),
            ));
        }
        // Connected, but what came back was not an HTTP response (or the server hung up).
        Ok(Err(e)) => {
            return Err(Failure(
                "bad_response",
                format!("no valid HTTP response: {}", chain(&e)),
            ));
        }
        Ok(Ok(r)) => r,
    };
    let status = resp.status();
    if !status.is_success() {
        let snippet = read_some(&mut resp, spec.idle_timeout, ERROR_BODY_SNIPPET).await;
        return Err(Failure(
            status_kind(status.as_u16()),
            format!("HTTP {status}: {snippet}"),
        ));
    }
    Ok(resp)
}

/// Reads SSE events until the done event: every token event ticks the clock.
async fn read_events(
    spec: &TargetSpec,
    resp: &mut reqwest::Response,
    rec: &mut RequestRecord,
    clock: &mut TokenClock,
) -> Result<(), Failure> {
    let mut decoder = SseDecoder::new(MAX_EVENT_BYTES);
    let mut events = Vec::new();
    loop {
        let chunk = match tokio::time::timeout(spec.idle_timeout, resp.chunk()).await {
            Err(_) => {
                return Err(Failure(
                    "timeout",
                    format!(
                        "the stream stalled: no bytes for {} ms (client.stream_idle_timeout_ms) after {} token events",
                        spec.idle_timeout.as_millis(),
                        clock.tokens
                    ),
                ));
            }
            Ok(Err(e)) => {
                return Err(Failure(
                    "stream_cut",
                    format!("the connection failed mid-stream: {}", chain(&e)),
                ));
            }
            Ok(Ok(None)) => break,
            Ok(Ok(Some(c))) => c,
        };
        decoder
            .feed(&chunk, &mut events)
            .map_err(|e| Failure("malformed_event", e.to_string()))?;
        for ev in events.drain(..) {
            match spec.protocol.interpret_event(&ev) {
                Ok(Interpreted::Token { .. }) => clock.token(),
                Ok(Interpreted::Done { citations }) => {
                    rec.citations = citations;
                    return Ok(());
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

/// The whole body of a non-streaming response; the first byte is the "first token".
async fn read_body(
    resp: &mut reqwest::Response,
    idle: Duration,
    epoch: Instant,
    rec: &mut RequestRecord,
) -> Result<Vec<u8>, Failure> {
    let mut body = Vec::new();
    loop {
        match tokio::time::timeout(idle, resp.chunk()).await {
            Err(_) => {
                return Err(Failure(
                    "timeout",
                    format!(
                        "the body stalled: no bytes for {} ms (client.stream_idle_timeout_ms)",
                        idle.as_millis()
                    ),
                ));
            }
            Ok(Err(e)) => {
                return Err(Failure(
                    "stream_cut",
                    format!(
                        "the connection failed while reading the body: {}",
                        chain(&e)
                    ),
                ));
            }
            Ok(Ok(None)) => return Ok(body),
            Ok(Ok(Some(c))) => {
                if rec.first_token_us.is_none() && !c.is_empty() {
                    rec.first_token_us = Some(since(epoch, Instant::now()));
                }
                if body.len() + c.len() > MAX_BODY_BYTES {
                    return Err(Failure(
                        "malformed_event",
                        format!("the body is over {MAX_BODY_BYTES} bytes"),
                    ));
                }
                body.extend_from_slice(&c);
            }
        }
    }
}

/// Up to `limit` bytes of an error response's body, as text (best effort, bounded in time).
async fn read_some(resp: &mut reqwest::Response, idle: Duration, limit: usize) -> String {
    let mut body = Vec::new();
    let wait = idle.min(Duration::from_secs(2));
    while body.len() < limit {
        match tokio::time::timeout(wait, resp.chunk()).await {
            Ok(Ok(Some(c))) => body.extend_from_slice(&c),
            _ => break,
        }
    }
    body.truncate(limit);
    let text = String::from_utf8_lossy(&body).trim().to_string();
    if text.is_empty() {
        "(empty body)".into()
    } else {
        text
    }
}
