//! `ragperf streams`: how many concurrent ConverseStream streams does a Bedrock endpoint hold on
//! time? It opens N streams, starts the next one on the same connection as each ends, and
//! measures the token events as they arrive: the gap between consecutive text deltas of a stream
//! (client-measured inter-token latency), the first-token time, the token-event rate, failures
//! by kind, and the CPU each side spent per token event.
//!
//! This is the instrument for the mock's capacity target (issue #2: 10,000 streams at a 100 ms
//! gap, within 2 ms at p99), not a RAG variant: no embedding or retrieval, and a client built to
//! cost less per token than the server it measures ([`crate::http1`]), the way wrk measures HTTP servers
//! with its own parser. The RAG variants measure client designs; `ragperf run --variant async`
//! against the same mock shows what a general-purpose client (reqwest) adds on top.
//!
//! Timing: stream `i` of N starts at `ramp · i / N`; the measured window opens when the ramp is
//! over and lasts `--duration`. A gap is counted when its later token arrived inside the window;
//! every token of one read gets that read's arrival time (tokens that arrive together were
//! delivered together).

use std::collections::BTreeMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use hdrhistogram::Histogram;
use mock_services::hist::{Percentiles, new_us, record_us};
use mock_services::latency::Dist;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::backends::Backend;
use crate::client::ConverseStreamDecoder;
use crate::client::bedrock::{ChatRequest, request_body};
use crate::client::encode_path_segment;
use crate::client::{ClientError, ErrorKind};
use crate::http1::{self, BodyEnd, Conn, HttpError};
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
fn expected_gap_ms(s: &Scenario) -> f64 {
    let gap = match s.bedrock.itl_ms {
        Dist::Fixed { value } => value,
        ref other => other.mean(),
    };
    gap * s.time_scale
}

/// What the endpoint's own statistics said about the window (ragperf mocks only).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct EndpointSide {
    /// How late the mock's token events left vs their deadlines, ms.
    pub timer_lateness_ms: Percentiles,
    /// Token events the mock counted as sent (streams that ended in the window).
    pub tokens_sent: u64,
    /// Most streams open at once.
    pub streams_peak: u64,
    /// An external mock process: its CPU seconds during the window.
    pub process_cpu_s: Option<f64>,
    /// An external mock process: CPU per token event received in the window, µs.
    pub cpu_per_token_us: Option<f64>,
}

/// The result of one `ragperf streams` measurement.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct StreamsSummary {
    /// Streams held open.
    pub streams: usize,
    /// The endpoint measured (`embedded` or its URL).
    pub endpoint: String,
    /// Length of the measured window, s (shorter than asked when interrupted).
    pub window_s: f64,
    /// Ramp before the window, s.
    pub ramp_s: f64,
    /// The configured gap between tokens, ms.
    pub expected_gap_ms: f64,
    /// Token events a perfect server would deliver per second (N / mean stream length × tokens).
    pub expected_tokens_per_s: f64,
    /// Token events received in the window.
    pub tokens: u64,
    /// Token events received per second.
    pub tokens_per_s: f64,
    /// Gap between consecutive text deltas of a stream, as received, ms.
    pub itl_ms: Percentiles,
    /// Request sent to first text delta, ms.
    pub ttft_ms: Percentiles,
    /// p99 of the gap minus the configured gap, ms.
    pub gap_error_p99_ms: f64,
    /// The bound the verdict checks, ms.
    pub max_gap_error_ms: f64,
    /// No failures, and `gap_error_p99_ms` within the bound.
    pub on_time: bool,
    /// Streams that completed in the window.
    pub completed: u64,
    /// Failed streams by kind (`throttled`, `stream_cut`, `timeout`, `stalled`: silent when
    /// the window closed, …), whole run.
    pub failed: BTreeMap<String, u64>,
    /// A few failure messages, for diagnosis.
    pub failure_samples: Vec<String>,
    /// Client worker threads.
    pub client_threads: usize,
    /// CPU seconds of this process during the window (the embedded mocks included, if used).
    pub client_cpu_s: f64,
    /// `client_cpu_s` per token event, µs.
    pub client_cpu_per_token_us: f64,
    /// The endpoint's own figures, when it serves `/__ragperf/stats`.
    pub endpoint_side: Option<EndpointSide>,
    /// Ctrl-C ended the window early.
    pub interrupted: bool,
    /// `release` or `debug`: the CPU figures of the two are not comparable.
    pub build_profile: String,
}

/// Figures gathered by the streams, merged as each stream ends.
struct Totals {
    itl: Histogram<u64>,
    ttft: Histogram<u64>,
    tokens: u64,
    completed: u64,
    failed: BTreeMap<String, u64>,
    samples: Vec<String>,
}

struct Shared {
    addr: SocketAddr,
    requests: Vec<Vec<u8>>,
    window_start: Instant,
    window_end: Instant,
    stop: AtomicBool,
    stream_timeout: Duration,
    totals: Mutex<Totals>,
}

impl Shared {
    fn totals(&self) -> MutexGuard<'_, Totals> {
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
struct Local {
    itl_us: Vec<u64>,
    ttft_us: Vec<u64>,
    tokens: u64,
}

/// How one stream ended.
enum Outcome {
    Completed,
    /// The window closed while it was running (not counted either way).
    WindowClosed,
    Failed {
        kind: String,
        message: String,
    },
}

fn failed(kind: impl Into<String>, message: impl std::fmt::Display) -> Outcome {
    Outcome::Failed {
        kind: kind.into(),
        message: message.to_string(),
    }
}

fn http_failure(e: HttpError) -> Outcome {
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

fn us(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Connects (or reuses `conn`), sends the request and reads the response head.
async fn open(
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
async fn one_stream(
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
        return failed(
            kind,
            format!("HTTP {}: {}", head.status, String::from_utf8_lossy(&body)),
        );
    }
    if !head
        .content_type
        .as_deref()
        .is_some_and(|t| t.starts_with("application/vnd.amazon.eventstream"))
    {
        return failed(
            "bad_response",
            format!(
                "a 200 whose Content-Type is {:?}, not application/vnd.amazon.eventstream",
                head.content_type
            ),
        );
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

/// One simulated client: stream after stream until the window closes.
async fn user(shared: Arc<Shared>, index: usize, start_at: Instant) {
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

/// The address of the endpoint at `url` (checked by the one URL rule, [`crate::client::url`]:
/// a URL without a port gets http's 80).
fn resolve(url: &str) -> Result<SocketAddr> {
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
fn requests(plan: &StreamsPlan, host: &str) -> Vec<Vec<u8>> {
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

/// Waits until `at`, or until `stop` is set (checked every 50 ms); true if stopped.
async fn wait_until(at: Instant, stop: &AtomicBool) -> bool {
    while Instant::now() < at {
        if stop.load(Ordering::Relaxed) {
            return true;
        }
        let step = (at - Instant::now()).min(Duration::from_millis(50));
        tokio::time::sleep(step).await;
    }
    stop.load(Ordering::Relaxed)
}

/// Runs one measurement; `stop` (Ctrl-C) ends the window early, and the figures so far are
/// still returned.
pub fn run(plan: &StreamsPlan, stop: &Arc<AtomicBool>) -> Result<StreamsSummary> {
    let _ = crate::backends::raise_fd_limit();
    let endpoint = match &plan.bedrock_url {
        Some(u) => Backend::External {
            qdrant: None,
            bedrock: u.clone(),
        },
        None => {
            let config = plan.scenario.mock_config();
            config
                .validate()
                .map_err(|e| anyhow!("{e} (from --scenario)"))?;
            Backend::embedded(config, plan.mock_threads)?
        }
    };
    let url = endpoint.urls().1;
    let addr = resolve(&url)?;
    let host = url.trim_start_matches("http://").to_string();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(plan.threads)
        .thread_name("streams-client")
        .enable_all()
        .build()
        .context("starting the client runtime")?;

    let t0 = Instant::now() + Duration::from_millis(20);
    let window_start = t0 + plan.ramp;
    let shared = Arc::new(Shared {
        addr,
        requests: requests(plan, &host),
        window_start,
        window_end: window_start + plan.duration,
        stop: AtomicBool::new(false),
        stream_timeout: plan.stream_timeout,
        totals: Mutex::new(Totals {
            itl: new_us(),
            ttft: new_us(),
            tokens: 0,
            completed: 0,
            failed: BTreeMap::new(),
            samples: Vec::new(),
        }),
    });

    let measured = runtime.block_on(async {
        let n = plan.streams;
        let tasks: Vec<_> = (0..n)
            .map(|i| {
                let start_at = t0 + plan.ramp.mul_f64(i as f64 / n as f64);
                tokio::spawn(user(Arc::clone(&shared), i, start_at))
            })
            .collect();
        let mut interrupted = wait_until(window_start, stop).await;
        let endpoint_before = tokio::task::block_in_place(|| {
            let before = endpoint.stats().map(|s| s.process_cpu_s);
            endpoint.reset_stats();
            before
        });
        let cpu_before = mock_services::stats::process_cpu_s();
        let opened = Instant::now();
        if !interrupted {
            interrupted = wait_until(shared.window_end, stop).await;
        }
        let closed = Instant::now().min(shared.window_end);
        let cpu = mock_services::stats::process_cpu_s() - cpu_before;
        let endpoint_after = tokio::task::block_in_place(|| endpoint.stats());
        shared.stop.store(true, Ordering::Relaxed);
        // Streams notice the end at their next token; one silent for three gaps is stalled.
        let grace_len =
            Duration::from_secs_f64((3.0 * expected_gap_ms(&plan.scenario) / 1000.0).max(5.0));
        let grace = Instant::now() + grace_len;
        let mut stalled = 0u64;
        for t in tasks {
            let abort = t.abort_handle();
            if tokio::time::timeout_at(grace, t).await.is_err() {
                abort.abort();
                stalled += 1;
            }
        }
        if stalled > 0 {
            let mut t = shared.totals();
            *t.failed.entry("stalled".into()).or_default() += stalled;
            t.samples.push(format!(
                "{stalled} streams received nothing for {grace_len:?} after the window closed"
            ));
        }
        (
            interrupted,
            closed.saturating_duration_since(opened.min(closed)),
            cpu,
            endpoint_before,
            endpoint_after,
        )
    });
    let (interrupted, window, client_cpu_s, endpoint_cpu_before, endpoint_after) = measured;
    runtime.shutdown_timeout(Duration::from_secs(1));

    let t = shared.totals();
    let window_s = window.as_secs_f64();
    let per_token = |cpu_s: f64| {
        if t.tokens > 0 {
            cpu_s * 1e6 / t.tokens as f64
        } else {
            0.0
        }
    };
    let external = matches!(endpoint, Backend::External { .. });
    let endpoint_side = endpoint_after.map(|after| {
        let cpu = endpoint_cpu_before
            .filter(|_| external)
            .map(|before| (after.process_cpu_s - before).max(0.0));
        EndpointSide {
            timer_lateness_ms: after.timer_lateness_ms,
            tokens_sent: after.tokens_sent,
            streams_peak: after.streams_peak,
            process_cpu_s: cpu,
            cpu_per_token_us: cpu.map(per_token),
        }
    });
    let itl_ms = Percentiles::of_us(&t.itl);
    let expected_gap_ms = expected_gap_ms(&plan.scenario);
    let gap_error_p99_ms = if t.itl.is_empty() {
        f64::NAN
    } else {
        itl_ms.p99 - expected_gap_ms
    };
    let stream_s = expected_stream_s(&plan.scenario);
    let tokens_per_stream = plan
        .scenario
        .bedrock
        .output_tokens
        .mean()
        .round()
        .clamp(1.0, f64::from(plan.scenario.request.max_tokens));
    let summary = StreamsSummary {
        streams: plan.streams,
        endpoint: match &endpoint {
            Backend::External { bedrock, .. } => bedrock.clone(),
            _ => "embedded".into(),
        },
        window_s,
        ramp_s: plan.ramp.as_secs_f64(),
        expected_gap_ms,
        expected_tokens_per_s: if stream_s > 0.0 {
            plan.streams as f64 * tokens_per_stream / stream_s
        } else {
            0.0
        },
        tokens: t.tokens,
        tokens_per_s: if window_s > 0.0 {
            t.tokens as f64 / window_s
        } else {
            0.0
        },
        itl_ms,
        ttft_ms: Percentiles::of_us(&t.ttft),
        gap_error_p99_ms,
        max_gap_error_ms: plan.max_gap_error_ms,
        on_time: t.failed.is_empty()
            && gap_error_p99_ms.is_finite()
            && gap_error_p99_ms <= plan.max_gap_error_ms,
        completed: t.completed,
        failed: t.failed.clone(),
        failure_samples: t.samples.clone(),
        client_threads: plan.threads,
        client_cpu_s,
        client_cpu_per_token_us: per_token(client_cpu_s),
        endpoint_side,
        interrupted,
        build_profile: crate::metrics::machine::build_profile().to_string(),
    };
    Ok(summary)
}

/// The summary as text.
pub fn render(s: &StreamsSummary) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{} streams against {} for {:.1} s (after a {:.1} s ramp; {} build){}",
        s.streams,
        s.endpoint,
        s.window_s,
        s.ramp_s,
        s.build_profile,
        if s.interrupted { ", interrupted" } else { "" }
    );
    let _ = writeln!(
        o,
        "  token events/s     {:>10.0}   (a perfect server: {:.0})",
        s.tokens_per_s, s.expected_tokens_per_s
    );
    let i = &s.itl_ms;
    let _ = writeln!(
        o,
        "  gap ms             p50 {:.1}  p99 {:.1}  p99.9 {:.1}  max {:.1}   (configured {:.1})",
        i.p50, i.p99, i.p999, i.max, s.expected_gap_ms
    );
    let _ = writeln!(
        o,
        "  first token ms     p50 {:.1}  p99 {:.1}",
        s.ttft_ms.p50, s.ttft_ms.p99
    );
    let failed: u64 = s.failed.values().sum();
    let _ = writeln!(
        o,
        "  streams            {} completed in the window, {failed} failed{}",
        s.completed,
        if failed > 0 {
            format!(
                " ({})",
                s.failed
                    .iter()
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else {
            String::new()
        }
    );
    for m in &s.failure_samples {
        let _ = writeln!(o, "    e.g. {m}");
    }
    let _ = write!(
        o,
        "  CPU per token      client {:.1} µs",
        s.client_cpu_per_token_us
    );
    if let Some(e) = &s.endpoint_side {
        if let Some(c) = e.cpu_per_token_us {
            let _ = write!(o, ", server {c:.1} µs");
        }
        let _ = write!(
            o,
            "; server timer lateness p99 {:.1} ms",
            e.timer_lateness_ms.p99
        );
    }
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "  verdict            {} (gap p99 − configured = {:.2} ms; bound {:.1} ms{})",
        if s.on_time { "ON TIME" } else { "LATE" },
        s.gap_error_p99_ms,
        s.max_gap_error_ms,
        if failed > 0 { "; failures" } else { "" }
    );
    o
}
