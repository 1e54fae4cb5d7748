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

mod plan;
mod stream;
mod summary;

pub use plan::{StreamsPlan, expected_stream_s};
pub use summary::{EndpointSide, StreamsSummary, render};

use plan::{expected_gap_ms, requests, resolve};
use stream::{Shared, Totals, user, wait_until};

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use mock_services::hist::{Percentiles, new_us};
use mock_services::stats::StatsSnapshot;
use tokio::time::Instant;

use crate::backends::Backend;

/// What the measured window saw, besides the per-stream totals.
struct Measured {
    interrupted: bool,
    window: Duration,
    client_cpu_s: f64,
    endpoint_cpu_before: Option<f64>,
    endpoint_after: Option<StatsSnapshot>,
}

/// The Bedrock endpoint to measure: `--bedrock-url`, or an embedded mock built from the scenario.
fn endpoint(plan: &StreamsPlan) -> Result<Backend> {
    Ok(match &plan.bedrock_url {
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
    })
}

/// The state every stream task shares: where to connect, what to send, the window, the totals.
fn shared_state(plan: &StreamsPlan, addr: SocketAddr, host: &str, t0: Instant) -> Arc<Shared> {
    let window_start = t0 + plan.ramp;
    Arc::new(Shared {
        addr,
        requests: requests(plan, host),
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
    })
}

/// Starts the N streams along the ramp, measures the window (client CPU, the endpoint's
/// statistics around it), then ends the streams.
async fn measure(
    plan: &StreamsPlan,
    shared: &Arc<Shared>,
    endpoint: &Backend,
    t0: Instant,
    stop: &Arc<AtomicBool>,
) -> Measured {
    let n = plan.streams;
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let start_at = t0 + plan.ramp.mul_f64(i as f64 / n as f64);
            tokio::spawn(user(Arc::clone(shared), i, start_at))
        })
        .collect();
    let mut interrupted = wait_until(shared.window_start, stop).await;
    let endpoint_cpu_before = tokio::task::block_in_place(|| {
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
    let client_cpu_s = mock_services::stats::process_cpu_s() - cpu_before;
    let endpoint_after = tokio::task::block_in_place(|| endpoint.stats());
    shared.stop.store(true, Ordering::Relaxed);
    end_streams(plan, shared, tasks).await;
    Measured {
        interrupted,
        window: closed.saturating_duration_since(opened.min(closed)),
        client_cpu_s,
        endpoint_cpu_before,
        endpoint_after,
    }
}

/// Waits for the streams to notice the end at their next token; one silent for three gaps is
/// stalled, aborted and counted as a failure.
async fn end_streams(plan: &StreamsPlan, shared: &Shared, tasks: Vec<tokio::task::JoinHandle<()>>) {
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
}

/// Runs one measurement; `stop` (Ctrl-C) ends the window early, and the figures so far are
/// still returned.
pub fn run(plan: &StreamsPlan, stop: &Arc<AtomicBool>) -> Result<StreamsSummary> {
    let _ = crate::backends::raise_fd_limit();
    let (checked, warnings) = check_endpoint(plan);
    let plan = &checked;
    let endpoint = endpoint(plan)?;
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
    let shared = shared_state(plan, addr, &host, t0);
    let measured = runtime.block_on(measure(plan, &shared, &endpoint, t0, stop));
    runtime.shutdown_timeout(Duration::from_secs(1));
    let t = shared.totals();
    let mut summary = summarize(plan, &endpoint, &t, measured);
    summary.warnings = warnings;
    Ok(summary)
}

/// Before any stream opens, checks an external `--bedrock-url` as `run` checks its backends
/// ([`crate::backends::probe`]): nothing answering (wrong port?), a Qdrant there (URLs
/// swapped?), a ragperf mock with another time scale or latencies — whose settings then
/// replace the scenario's, so the expected gap and the verdict follow what the mock really
/// injects. Returns the plan to run and the warnings, already printed.
fn check_endpoint(plan: &StreamsPlan) -> (StreamsPlan, Vec<String>) {
    let mut checked = plan.clone();
    let Some(url) = &plan.bedrock_url else {
        return (checked, Vec::new());
    };
    let notes = crate::backends::probe::check_bedrock(url, &mut checked.scenario);
    for n in &notes {
        eprintln!("warning: {n}");
    }
    (checked, notes)
}

/// The summary of one measurement from its totals and window.
fn summarize(
    plan: &StreamsPlan,
    endpoint: &Backend,
    t: &Totals,
    measured: Measured,
) -> StreamsSummary {
    let Measured {
        interrupted,
        window,
        client_cpu_s,
        endpoint_cpu_before,
        endpoint_after,
    } = measured;
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
    StreamsSummary {
        streams: plan.streams,
        endpoint: match endpoint {
            Backend::External { bedrock, .. } => bedrock.clone(),
            _ => "embedded".into(),
        },
        window_s,
        ramp_s: plan.ramp.as_secs_f64(),
        expected_gap_ms,
        expected_tokens_per_s: expected_tokens_per_s(plan),
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
        warnings: Vec::new(),
    }
}

/// Token events per second the scenario asks of all the streams together.
fn expected_tokens_per_s(plan: &StreamsPlan) -> f64 {
    let stream_s = expected_stream_s(&plan.scenario);
    let tokens_per_stream = plan
        .scenario
        .bedrock
        .output_tokens
        .mean()
        .round()
        .clamp(1.0, f64::from(plan.scenario.request.max_tokens));
    if stream_s > 0.0 {
        plan.streams as f64 * tokens_per_stream / stream_s
    } else {
        0.0
    }
}
