//! One simulated client: stream after stream on one kept-alive connection, every token's
//! arrival recorded, the figures merged into the shared totals as each stream ends.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::Result;
use hdrhistogram::Histogram;
use mock_services::hist::record_us;
use tokio::time::Instant;

use crate::client::ConverseStreamDecoder;
use crate::client::{ClientError, ErrorKind};
use crate::http1::{self, BodyEnd, Conn, HttpError};

/// Figures gathered by the streams, merged as each stream ends.
pub(super) struct Totals {
    pub(super) itl: Histogram<u64>,
    pub(super) ttft: Histogram<u64>,
    pub(super) tokens: u64,
    pub(super) completed: u64,
    pub(super) failed: BTreeMap<String, u64>,
    pub(super) samples: Vec<String>,
}

pub(super) struct Shared {
    pub(super) addr: SocketAddr,
    pub(super) requests: Vec<Vec<u8>>,
    pub(super) window_start: Instant,
    pub(super) window_end: Instant,
    pub(super) stop: AtomicBool,
    pub(super) stream_timeout: Duration,
    pub(super) totals: Mutex<Totals>,
}

impl Shared {
    pub(super) fn totals(&self) -> MutexGuard<'_, Totals> {
        self.totals.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn in_window(&self, at: Instant) -> bool {
        at >= self.window_start && at < self.window_end
    }

    fn over(&self) -> bool {
        self.stop.load(Ordering::Relaxed) || Instant::now() >= self.window_end
    }
}

/// One stream's figures, merged into [`Totals`] when it ends.
#[derive(Default)]
pub(super) struct Local {
    itl_us: Vec<u64>,
    ttft_us: Vec<u64>,
    tokens: u64,
}

/// How one stream ended.
pub(super) enum Outcome {
    Completed,
    /// The window closed while it was running (not counted either way).
    WindowClosed,
    Failed {
        kind: String,
        message: String,
    },
}

pub(super) fn failed(kind: impl Into<String>, message: impl std::fmt::Display) -> Outcome {
    Outcome::Failed {
        kind: kind.into(),
        message: message.to_string(),
    }
}

pub(super) fn http_failure(e: HttpError) -> Outcome {
    match e {
        HttpError::Io(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
            failed("stream_cut", format!("connection reset: {e}"))
        }
        HttpError::Io(e) => failed("io", e),
        HttpError::Closed(where_) => {
            failed("stream_cut", format!("the connection closed {where_}"))
        }
        e @ (HttpError::Bad(_) | HttpError::Chunked(_)) => failed("bad_response", e),
        e @ HttpError::Idle(_) => failed("timeout", e),
    }
}

pub(super) fn us(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Connects (or reuses `conn`), sends the request and reads the response head.
pub(super) async fn open(
    shared: &Shared,
    conn: &mut Option<Conn>,
    request: &[u8],
) -> Result<(Conn, http1::Head, Instant), Outcome> {
    let mut fresh_retry_done = false;
    loop {
        let reused = conn.is_some();
        let mut c = match conn.take() {
            Some(c) => c,
            None => match Conn::connect(shared.addr).await {
                Ok(c) => c,
                Err(e) => {
                    return Err(failed(
                        "connect",
                        format!("connecting to {}: {e}", shared.addr),
                    ));
                }
            },
        };
        let sent_at = Instant::now();
        let sent = c.send(request).await;
        let head = match sent {
            Ok(()) => c.read_head().await,
            Err(e) => Err(HttpError::Io(e)),
        };
        match head {
            Ok(Some(head)) => return Ok((c, head, sent_at)),
            // A kept-alive connection the server had closed: once more on a new one, as
            // HTTP clients do for requests that never got a byte back.
            Ok(None) | Err(HttpError::Io(_)) if reused && !fresh_retry_done => {
                fresh_retry_done = true;
            }
            // Closed before any response byte: `connect`, as in every client stack.
            Ok(None) => {
                return Err(failed("connect", "the connection closed before a response"));
            }
            Err(HttpError::Io(e)) => {
                return Err(failed(
                    "connect",
                    format!("the connection failed before a response: {e}"),
                ));
            }
            Err(e) => return Err(http_failure(e)),
        }
    }
}

/// Sends one ConverseStream request and reads its answer, recording every token's arrival.
pub(super) async fn one_stream(
    shared: &Shared,
    conn: &mut Option<Conn>,
    request: &[u8],
    local: &mut Local,
) -> Outcome {
    let opened = tokio::time::timeout(shared.stream_timeout, open(shared, conn, request)).await;
    let (mut c, head, sent_at) = match opened {
        Ok(Ok(opened)) => opened,
        Ok(Err(failure)) => return failure,
        Err(_) => {
            return failed(
                "timeout",
                format!("no response head within {:?}", shared.stream_timeout),
            );
        }
    };

    if head.status != 200 {
        return refused(shared, conn, c, head).await;
    }
    if let Some(failure) = not_eventstream(&head) {
        return failure;
    }

    let mut decoder = ConverseStreamDecoder::new();
    let mut last: Option<Instant> = None;
    let read = c
        .read_body(head.body, None, |data: &[u8], at: Instant| {
            if at.saturating_duration_since(sent_at) > shared.stream_timeout {
                return Err(ClientError::new(
                    ErrorKind::Timeout,
                    format!("the stream did not end within {:?}", shared.stream_timeout),
                ));
            }
            let in_window = shared.in_window(at);
            decoder.feed(data, &mut |_text: &str| {
                match last {
                    Some(prev) if in_window => local.itl_us.push(us(at - prev)),
                    None if in_window => local.ttft_us.push(us(at - sent_at)),
                    _ => {}
                }
                if in_window {
                    local.tokens += 1;
                }
                last = Some(at);
            })?;
            Ok::<bool, ClientError>(at < shared.window_end && !shared.stop.load(Ordering::Relaxed))
        })
        .await;
    match read {
        Err(e) => http_failure(e),
        Ok(Err(e)) => failed(e.kind.name(), e.message),
        Ok(Ok(BodyEnd::Stopped { .. })) => Outcome::WindowClosed,
        Ok(Ok(BodyEnd::Complete)) => match decoder.finish() {
            Ok(_) => {
                if !head.close {
                    *conn = Some(c);
                }
                Outcome::Completed
            }
            Err(e) => failed(e.kind.name(), e.message),
        },
    }
}

/// A response other than 200: reads (the start of) its body for the message, keeps the
/// connection when the body ended cleanly, and names the failure by status or error type.
async fn refused(
    shared: &Shared,
    conn: &mut Option<Conn>,
    mut c: Conn,
    head: http1::Head,
) -> Outcome {
    let mut body = Vec::new();
    let read = c
        .read_body(head.body, Some(shared.stream_timeout), |d: &[u8], _| {
            if body.len() < 2048 {
                body.extend_from_slice(&d[..d.len().min(2048 - body.len())]);
            }
            Ok::<bool, ()>(true)
        })
        .await;
    if !head.close && matches!(read, Ok(Ok(BodyEnd::Complete))) {
        *conn = Some(c);
    }
    let kind = match (head.status, head.error_type.as_deref()) {
        (429, _) | (_, Some("ThrottlingException")) => "throttled".to_string(),
        (_, Some(code)) => code.to_string(),
        (status, None) => format!("http_{status}"),
    };
    failed(
        kind,
        format!("HTTP {}: {}", head.status, String::from_utf8_lossy(&body)),
    )
}

/// A 200 whose body is not an event stream, as a failure; `None` when it is one.
fn not_eventstream(head: &http1::Head) -> Option<Outcome> {
    if head
        .content_type
        .as_deref()
        .is_some_and(|t| t.starts_with("application/vnd.amazon.eventstream"))
    {
        return None;
    }
    Some(failed(
        "bad_response",
        format!(
            "a 200 whose Content-Type is {:?}, not application/vnd.amazon.eventstream",
            head.content_type
        ),
    ))
}

/// One simulated client: stream after stream until the window closes.
pub(super) async fn user(shared: Arc<Shared>, index: usize, start_at: Instant) {
    tokio::time::sleep_until(start_at).await;
    let mut conn = None;
    let mut local = Local::default();
    let mut next = index;
    while !shared.over() {
        let request = &shared.requests[next % shared.requests.len()];
        next += 1;
        // No timer per token: the head has a timeout, the body checks its age at every read,
        // and a stream that goes silent is counted as `stalled` when the window ends.
        let outcome = one_stream(&shared, &mut conn, request, &mut local).await;
        let ended_at = Instant::now();
        let pause = {
            let mut t = shared.totals();
            for v in local.itl_us.drain(..) {
                record_us(&mut t.itl, v);
            }
            for v in local.ttft_us.drain(..) {
                record_us(&mut t.ttft, v);
            }
            t.tokens += std::mem::take(&mut local.tokens);
            match outcome {
                Outcome::Completed => {
                    if shared.in_window(ended_at) {
                        t.completed += 1;
                    }
                    false
                }
                Outcome::WindowClosed => false,
                Outcome::Failed { kind, message } => {
                    *t.failed.entry(kind).or_default() += 1;
                    if t.samples.len() < 5 {
                        t.samples.push(message);
                    }
                    true
                }
            }
        };
        if pause {
            // Whatever failed, don't hammer the endpoint in a tight loop.
            conn = None;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Waits until `at`, or until `stop` is set (checked every 50 ms); true if stopped.
pub(super) async fn wait_until(at: Instant, stop: &AtomicBool) -> bool {
    while Instant::now() < at {
        if stop.load(Ordering::Relaxed) {
            return true;
        }
        let step = (at - Instant::now()).min(Duration::from_millis(50));
        tokio::time::sleep(step).await;
    }
    stop.load(Ordering::Relaxed)
}
