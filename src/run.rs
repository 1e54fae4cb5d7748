//! Running a plan: start (or find) the backends, then for each load point and variant start the
//! executor, drive the load, stop, and turn what was recorded into a [`VariantRun`].
//!
//! Variants run one after another against the same mocks, whose statistics are reset in
//! between, so each variant's figures are its own. The result is handed to `on_update` after
//! every variant (the CLI rewrites `result.json` there), so an interrupted or crashed run still
//! leaves everything measured so far on disk.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use mock_services::hist::Percentiles;
use mock_services::stats::StatsSnapshot;
use mock_services::{Bind, MockServices, OwnedMockServices};

use crate::client::Endpoints;
use crate::load::closed_loop::ClosedLoop;
use crate::load::open_loop::OpenLoop;
use crate::load::{DrivePlan, Source, drive};
use crate::metrics::ideal::{self, Ideal};
use crate::metrics::machine::MachineInfo;
use crate::metrics::process::ProcessSampler;
use crate::metrics::recorder::{Recorder, Slo};
use crate::pipeline::steps::RequestContext;
use crate::pipeline::{ExecutorOptions, VariantKind, cpu, start_executor};
use crate::result::{
    Backends, Counters, LoadPoint, MockSide, PlanInfo, RunResult, SCHEMA, Throughput, VariantRun,
};
use crate::scenario::Scenario;

/// Requests kept per variant for the timeline chart.
pub const TIMELINE_CAP: usize = 2_000;

/// Everything a run needs, after the CLI has applied its overrides.
#[derive(Clone, Debug)]
pub struct RunPlan {
    /// `run` or `sweep`.
    pub command: String,
    /// The scenario.
    pub scenario: Scenario,
    /// Variants in run order.
    pub variants: Vec<VariantKind>,
    /// Load points in run order.
    pub points: Vec<LoadPoint>,
    /// Goodput SLO.
    pub slo: Slo,
    /// Repetitions of every point.
    pub repeat: u32,
    /// External backends (None = embedded mocks).
    pub external: Option<(String, String)>,
    /// Worker threads of the embedded mocks.
    pub mock_threads: usize,
    /// Draw progress bars (when stderr is a terminal).
    pub progress: bool,
    /// Interval of the OS sampler.
    pub sample_interval: Duration,
}

/// The backends for the whole run: embedded mocks (owned) or external URLs.
enum Backend {
    Embedded(OwnedMockServices),
    External { qdrant: String, bedrock: String },
}

impl Backend {
    fn urls(&self) -> (String, String) {
        match self {
            Backend::Embedded(m) => (m.qdrant_url(), m.bedrock_url()),
            Backend::External { qdrant, bedrock } => (qdrant.clone(), bedrock.clone()),
        }
    }

    fn reset_stats(&self) {
        match self {
            Backend::Embedded(m) => m.stats().reset(),
            Backend::External { qdrant, bedrock } => {
                for base in [qdrant, bedrock] {
                    reset_mock_stats(base);
                }
            }
        }
    }

    /// CPU seconds of an external mock process so far (None when embedded or unknown).
    fn external_cpu_s(&self) -> Option<f64> {
        match self {
            Backend::Embedded(_) => None,
            Backend::External { .. } => self.stats().map(|s| s.process_cpu_s),
        }
    }

    /// The mocks' statistics (one snapshot covers both servers in-process; external mocks
    /// started by `ragperf mock` share one state too, so either URL answers for both).
    fn stats(&self) -> Option<StatsSnapshot> {
        match self {
            Backend::Embedded(m) => Some(m.stats().snapshot()),
            Backend::External { bedrock, .. } => fetch_mock_stats(bedrock),
        }
    }
}

/// The statistics of a ragperf mock at `base` (`GET /__ragperf/stats`); None when the server
/// is not a ragperf mock or does not answer.
pub fn fetch_mock_stats(base: &str) -> Option<StatsSnapshot> {
    let mut resp = ureq::get(&format!("{base}/__ragperf/stats")).call().ok()?;
    let text = resp.body_mut().read_to_string().ok()?;
    serde_json::from_str::<StatsSnapshot>(&text).ok()
}

/// Zeroes the statistics of a ragperf mock at `base`; other servers ignore it (best effort).
pub fn reset_mock_stats(base: &str) {
    let _ = ureq::post(&format!("{base}/__ragperf/stats/reset")).send_empty();
}

/// Gives the memory earlier variants freed back to the OS (glibc's `malloc_trim`), so the next
/// variant's RSS starts from what is live rather than from what the allocator kept.
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free heap pages to the OS; it touches no live memory.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Runs the plan; `on_update` sees the result after every variant.
pub fn execute(
    plan: &RunPlan,
    stop: &Arc<AtomicBool>,
    mut on_update: impl FnMut(&RunResult) -> Result<()>,
) -> Result<RunResult> {
    let fd_limit = mock_services::server::raise_fd_limit().unwrap_or((0, 0));
    let rounds = cpu::calibrate();
    let backend = match &plan.external {
        Some((q, b)) => Backend::External {
            qdrant: q.clone(),
            bedrock: b.clone(),
        },
        None => Backend::Embedded(
            MockServices::start_on_own_runtime(
                plan.scenario.mock_config(),
                Bind::default(),
                plan.mock_threads,
            )
            .context("starting the embedded mock services")?,
        ),
    };
    let (qdrant_url, bedrock_url) = backend.urls();
    let mut result = RunResult {
        schema: SCHEMA.into(),
        ragperf_version: env!("CARGO_PKG_VERSION").into(),
        created_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        partial: true,
        machine: MachineInfo::detect(),
        scenario: plan.scenario.clone(),
        plan: PlanInfo {
            command: plan.command.clone(),
            variants: plan.variants.iter().map(|v| v.name().to_string()).collect(),
            points: plan.points.clone(),
            slo: plan.slo.clone(),
            repeat: plan.repeat,
            fd_limit,
            cpu_rounds_per_us: rounds,
        },
        backends: Backends {
            mode: if plan.external.is_some() {
                "external"
            } else {
                "embedded"
            }
            .into(),
            qdrant_url: qdrant_url.clone(),
            bedrock_url: bedrock_url.clone(),
            mock_threads: if plan.external.is_some() {
                0
            } else {
                plan.mock_threads
            },
        },
        runs: Vec::new(),
    };
    let endpoints = Endpoints {
        qdrant_url,
        bedrock_url,
        collection: plan.scenario.qdrant.collection.clone(),
        embed_model: plan.scenario.request.embed_model.clone(),
        embed_dimensions: plan.scenario.request.embed_dimensions as u32,
        chat_model: plan.scenario.request.chat_model.clone(),
    };
    'points: for point in &plan.points {
        for repetition in 0..plan.repeat.max(1) {
            for &kind in &plan.variants {
                if stop.load(Ordering::Relaxed) {
                    break 'points;
                }
                backend.reset_stats();
                release_freed_memory();
                let run = run_variant(plan, &backend, &endpoints, kind, point, repetition, stop)
                    .with_context(|| format!("running `{}` at {}", kind.name(), point.label()))?;
                result.runs.push(run);
                on_update(&result)?;
            }
        }
    }
    let planned = plan.points.len() * plan.variants.len() * plan.repeat.max(1) as usize;
    result.partial = stop.load(Ordering::Relaxed) || result.runs.len() < planned;
    if let Backend::Embedded(m) = backend {
        m.shutdown(Duration::from_millis(500));
    }
    on_update(&result)?;
    Ok(result)
}

fn progress_bar(plan: &RunPlan, label: String, total: Duration) -> ProgressBar {
    let pb = ProgressBar::with_draw_target(
        Some(total.as_millis() as u64),
        if plan.progress {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        },
    );
    if let Ok(style) = ProgressStyle::with_template("{prefix:>28} [{bar:30}] {elapsed:>4} {msg}") {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.set_prefix(label);
    pb
}

/// One variant at one load point.
fn run_variant(
    plan: &RunPlan,
    backend: &Backend,
    endpoints: &Endpoints,
    kind: VariantKind,
    point: &LoadPoint,
    repetition: u32,
    stop: &Arc<AtomicBool>,
) -> Result<VariantRun> {
    let s = &plan.scenario;
    let service_s = ideal::expected_service_s(s, None);
    let concurrency_hint = match point.rate {
        None => point.concurrency,
        Some(rate) => point
            .max_in_flight
            .unwrap_or(((rate * service_s * 2.0).ceil() as usize).max(1)),
    };
    let opts = ExecutorOptions {
        workers: s.load.workers,
        worker_threads: s.load.worker_threads,
        max_blocking_threads: s.load.max_blocking_threads,
        expected_concurrency: concurrency_hint,
    };
    let epoch = Instant::now();
    let ctx = Arc::new(RequestContext {
        epoch,
        endpoints: endpoints.clone(),
        client: s.client.clone(),
        time_scale: s.time_scale,
        top_k: s.request.top_k,
        cpu_work_us: s.request.cpu_work_us,
        gil: s.request.gil.then(|| std::sync::Mutex::new(())),
        max_tokens: s.request.max_tokens,
        temperature: s.request.temperature,
    });
    let (tx, rx) = mpsc::channel();
    let executor = start_executor(kind, ctx, &opts, tx)?;
    // Started after the executor, so `threads_baseline` is the variant's idle threads (its
    // runtime workers) before any load.
    let sampler = ProcessSampler::start(plan.sample_interval, kind.thread_prefixes())
        .context("starting the OS sampler")?;

    let ramp = match point.rate {
        None => s
            .load
            .ramp
            .unwrap_or_else(|| ClosedLoop::default_ramp(Duration::from_secs_f64(service_s))),
        Some(_) => Duration::ZERO,
    };
    let warmup = s.load.warmup.unwrap_or(ramp);
    let duration = s.measured_duration();
    let drain = s
        .load
        .drain_timeout
        .unwrap_or_else(|| Duration::from_secs_f64((service_s * 3.0 + 2.0).min(120.0)));
    let start = Instant::now();
    let questions: Vec<Arc<str>> = s.questions().into_iter().map(Arc::from).collect();
    let drive_plan = DrivePlan {
        epoch,
        start,
        warmup,
        duration,
        requests: s.load.requests,
        drain,
        question_offset: (s.seed as usize) % questions.len().max(1),
        questions,
    };
    let mut source: Box<dyn Source> = match point.rate {
        None => Box::new(ClosedLoop::new(
            point.concurrency,
            start,
            s.scaled_ms(s.load.think_time_ms),
            ramp,
        )),
        Some(rate) => Box::new(OpenLoop::new(
            rate,
            s.load.arrivals,
            start,
            s.seed,
            point.max_in_flight,
        )),
    };
    let total = warmup + duration.unwrap_or(Duration::from_secs_f64(service_s * 4.0));
    let pb = progress_bar(plan, format!("{} {}", kind.name(), point.label()), total);
    let mock_cpu_before = backend.external_cpu_s();
    let mut recorder = Recorder::new(plan.slo.clone(), TIMELINE_CAP);
    let outcome = drive(
        executor.as_ref(),
        &rx,
        source.as_mut(),
        &drive_plan,
        &mut recorder,
        stop,
        &pb,
    );
    executor.shutdown(Duration::from_millis(500));
    pb.finish_and_clear();
    let process = sampler.stop();
    let mock_stats = backend.stats();

    let window_s = outcome.window_s();
    let (ok_in_window, tokens_in_window) =
        recorder.ok_within(outcome.window_start_us, outcome.window_end_us);
    let per_s = |n: u64| {
        if window_s > 0.0 {
            n as f64 / window_s
        } else {
            0.0
        }
    };
    let requests_per_s = per_s(ok_in_window);
    let good_share = if recorder.ok > 0 {
        recorder.good as f64 / recorder.ok as f64
    } else {
        0.0
    };
    let throughput = Throughput {
        window_s,
        requests_per_s,
        tokens_per_s: per_s(tokens_in_window),
        goodput_per_s: (!plan.slo.is_empty()).then_some(requests_per_s * good_share),
    };
    let capacity = kind.capacity(concurrency_hint, s.load.workers);
    let observed_tokens = (!recorder.ok_tokens.is_empty()).then(|| {
        recorder
            .ok_tokens
            .iter()
            .map(|t| f64::from(*t))
            .sum::<f64>()
            / recorder.ok_tokens.len() as f64
    });
    let service_s = ideal::expected_service_s(s, observed_tokens);
    let ideal = match point.rate {
        None => Ideal::closed(
            service_s,
            s.scaled_ms(s.load.think_time_ms).as_secs_f64(),
            point.concurrency,
            capacity,
        ),
        Some(rate) => Ideal::open(service_s, rate, capacity),
    }
    .with_measured(requests_per_s);
    let latency_ms = recorder.percentiles();
    let mock = mock_stats.map(|m| {
        let mut side = mock_side(&m, &latency_ms);
        if let Some(before) = mock_cpu_before {
            let cpu = (m.process_cpu_s - before).max(0.0);
            side.process_cpu_s = Some(cpu);
            side.cpu_per_token_us = (m.tokens_sent > 0).then(|| cpu * 1e6 / m.tokens_sent as f64);
        }
        side
    });
    let mut settings = BTreeMap::new();
    if kind == VariantKind::Sync {
        settings.insert(
            "workers".into(),
            s.load
                .workers
                .map_or("per request".into(), |w| w.to_string()),
        );
    }
    if matches!(
        kind,
        VariantKind::Async | VariantKind::Hybrid | VariantKind::BlockingInAsync
    ) {
        settings.insert(
            "worker_threads".into(),
            s.load
                .worker_threads
                .map_or("cores".into(), |w| w.to_string()),
        );
    }
    if kind == VariantKind::Hybrid {
        settings.insert(
            "max_blocking_threads".into(),
            s.load
                .max_blocking_threads
                .map_or("512".into(), |w| w.to_string()),
        );
    }
    Ok(VariantRun {
        variant: kind.name().into(),
        point: point.clone(),
        repetition,
        settings,
        counters: Counters {
            sent: outcome.measured_issued,
            ok: recorder.ok,
            failed: recorder.failed_total(),
            failed_by_kind: recorder.failed.clone(),
            abandoned: outcome.abandoned,
            never_sent: outcome.never_sent,
            retries: recorder.retries,
            tokens: recorder.tokens,
            citation_mismatches: recorder.citation_mismatches,
            warmup_completed: recorder.warmup_completed,
        },
        throughput,
        histograms: recorder.encoded(),
        latency_ms,
        process,
        ideal,
        mock,
        drive: outcome,
        timeline: std::mem::take(&mut recorder.timeline),
    })
}

/// The mocks' figures and the overhead they let us compute.
fn mock_side(m: &StatsSnapshot, measured: &BTreeMap<String, Percentiles>) -> MockSide {
    let mut side = MockSide {
        timer_lateness_ms: m.timer_lateness_ms.clone(),
        tokens_sent: m.tokens_sent,
        streams_peak: m.streams_peak,
        ..MockSide::default()
    };
    for (op, s) in &m.operations {
        if s.requests == 0 {
            continue;
        }
        side.injected_ms.insert(op.clone(), s.injected_ms.clone());
        side.requests.insert(op.clone(), s.requests);
        side.outcomes.insert(op.clone(), s.outcomes.clone());
    }
    let mean = |op: &str| m.operations.get(op).map_or(0.0, |s| s.injected_ms.mean);
    side.injected_request_mean_ms = mean("embed") + mean("qdrant_search") + mean("converse_stream");
    let get = |k: &str| measured.get(k).map_or(0.0, |p| p.mean);
    if measured.get("e2e").is_some_and(|p| p.count > 0) {
        side.overhead_mean_ms =
            get("e2e") - get("queue") - get("cpu") - side.injected_request_mean_ms;
    }
    side
}
