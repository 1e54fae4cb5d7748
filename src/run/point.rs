//! One subject at one load point: start its executor and samplers, drive the load, stop, and
//! summarise what was recorded into a [`VariantRun`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use mock_services::hist::Percentiles;
use mock_services::stats::StatsSnapshot;

use super::{RunPlan, Subject, TIMELINE_CAP};
use crate::backends::Backend;
use crate::client::Endpoints;
use crate::load::closed_loop::ClosedLoop;
use crate::load::open_loop::OpenLoop;
use crate::load::{DriveOutcome, DrivePlan, Source, drive};
use crate::metrics::ideal::{self, Ideal};
use crate::metrics::process::{ProcessFigures, ProcessSampler};
use crate::metrics::recorder::{Recorder, WindowWork};
use crate::metrics::server::{ServerFigures, ServerSampler};
use crate::pipeline::steps::RequestContext;
use crate::pipeline::{Executor, ExecutorOptions, RequestRecord, VariantKind, start_executor};
use crate::result::{
    Counters, LoadPoint, MockSide, TargetInfo, Throughput, VariantRun, WarmupCounters,
};
use crate::shard::{WindowClock, start};
use crate::target::executor::{THREAD_PREFIX, TargetExecutor};

/// Where one measurement happens.
pub(super) struct At<'a> {
    pub plan: &'a RunPlan,
    pub backend: &'a Backend,
    pub endpoints: &'a Endpoints,
    pub subject: Subject<'a>,
    pub point: &'a LoadPoint,
    pub repetition: u32,
    /// The target server's process, when it is sampled.
    pub server_pid: Option<u32>,
}

/// A target's service time is unknown before it is measured: these stand in for the model's
/// expected service time when choosing the ramp, warm-up and drain defaults.
const TARGET_RAMP: Duration = Duration::from_secs(1);
const TARGET_WARMUP: Duration = Duration::from_secs(2);
const TARGET_DRAIN: Duration = Duration::from_secs(30);
/// The open loop's default warm-up, in expected service times.
pub(crate) const OPEN_LOOP_WARMUP_SERVICES: f64 = 1.5;

/// How long each phase lasts and how much is expected in flight.
struct Phases {
    /// Expected service time of the model (variants) or a stand-in (target), seconds.
    service_s: f64,
    /// Peak in-flight requests expected (sizes connection pools).
    concurrency_hint: usize,
    ramp: Duration,
    warmup: Duration,
    duration: Option<Duration>,
    drain: Duration,
}

impl Phases {
    fn of(at: &At) -> Phases {
        let s = &at.plan.scenario;
        let target = matches!(at.subject, Subject::Target(_));
        let service_s = if target {
            TARGET_RAMP.as_secs_f64()
        } else {
            ideal::expected_service_s(s, None)
        };
        let concurrency_hint = match at.point.rate {
            None => at.point.concurrency,
            Some(rate) => at
                .point
                .max_in_flight
                .unwrap_or(((rate * service_s * 2.0).ceil() as usize).max(1)),
        };
        let ramp = match at.point.rate {
            None => s.load.ramp.unwrap_or_else(|| {
                if target {
                    TARGET_RAMP
                } else {
                    ClosedLoop::default_ramp(Duration::from_secs_f64(service_s))
                }
            }),
            Some(_) => Duration::ZERO,
        };
        // CPU-bound (the CPU model dominates): one round of every user through the CPU.
        let cpu_cycle_s = match at.subject {
            Subject::Variant(kind)
                if at.point.rate.is_none() && kind != VariantKind::Sequential =>
            {
                let single = matches!(kind, VariantKind::AsyncSingle);
                let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
                let cycle = ideal::cpu_cycle_s(s, at.point.concurrency, single, cores);
                (cycle > service_s).then_some(cycle)
            }
            _ => None,
        };
        let default_warmup = match (target, at.point.rate) {
            (true, _) => TARGET_WARMUP.max(ramp),
            // An open loop starts empty: until the first requests finish, the window would
            // count arrivals with no completions (it under-reported by ~40 % with no warm-up).
            // One and a half expected service times fill it to its steady state.
            (false, Some(_)) => Duration::from_secs_f64(service_s * OPEN_LOOP_WARMUP_SERVICES),
            // The start-up burst of a CPU-bound point lasts one CPU cycle: warm up past it
            // (at most 2 min).
            (false, None) => match cpu_cycle_s {
                Some(cycle) => ramp.max(Duration::from_secs_f64((cycle + service_s).min(120.0))),
                None => ramp,
            },
        };
        let drain = s.load.drain_timeout.unwrap_or_else(|| {
            if target {
                TARGET_DRAIN
            } else {
                // A request in flight when the window closes may wait a whole CPU cycle.
                let longest = service_s.max(cpu_cycle_s.unwrap_or(0.0) + service_s);
                Duration::from_secs_f64((longest * 3.0 + 2.0).min(120.0))
            }
        });
        Phases {
            service_s,
            concurrency_hint,
            ramp,
            warmup: s.load.warmup.unwrap_or(default_warmup),
            duration: s.measured_duration(),
            drain,
        }
    }
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

fn start(
    at: &At,
    phases: &Phases,
    epoch: Instant,
    done: mpsc::Sender<RequestRecord>,
) -> Result<(Box<dyn Executor>, Vec<String>)> {
    let s = &at.plan.scenario;
    let opts = ExecutorOptions {
        workers: s.load.workers,
        worker_threads: s.load.worker_threads,
        max_blocking_threads: s.load.max_blocking_threads,
        expected_concurrency: phases.concurrency_hint,
    };
    Ok(match at.subject {
        Subject::Variant(kind) => {
            let ctx = Arc::new(RequestContext {
                epoch,
                endpoints: at.endpoints.clone(),
                client: s.client.clone(),
                time_scale: s.time_scale,
                top_k: s.request.top_k,
                cpu_work_us: s.request.cpu_work_us,
                cpu_per_token_us: s.request.cpu_per_token_us,
                gil: s.request.gil.then(|| std::sync::Mutex::new(())),
                max_tokens: s.request.max_tokens,
                temperature: s.request.temperature,
            });
            (
                start_executor(kind, ctx, &opts, done)?,
                kind.thread_prefixes(),
            )
        }
        Subject::Target(t) => (
            Box::new(TargetExecutor::start(t.spec.clone(), epoch, &opts, done)?),
            vec![THREAD_PREFIX.to_string()],
        ),
    })
}

fn load_source(at: &At, phases: &Phases, start: Instant) -> Box<dyn Source> {
    let s = &at.plan.scenario;
    // A shard starts its schedule a fraction of one of its own gaps late (0 unsharded), so N
    // shards interleave instead of firing together.
    let sharding = &at.plan.sharding;
    match at.point.rate {
        None => {
            let users = at.point.concurrency.max(1);
            Box::new(ClosedLoop::new(
                at.point.concurrency,
                start + sharding.schedule_offset(phases.ramp.div_f64(users as f64)),
                s.scaled_ms(s.load.think_time_ms),
                phases.ramp,
            ))
        }
        Some(rate) => Box::new(OpenLoop::new(
            rate,
            s.load.arrivals,
            start + sharding.schedule_offset(Duration::from_secs_f64(1.0 / rate.max(1e-9))),
            at.plan.sharding.seed(s.seed),
            at.point.max_in_flight,
        )),
    }
}

/// What a run of one subject at one point left behind, before it is summarised.
struct Measured {
    outcome: DriveOutcome,
    recorder: Recorder,
    process: ProcessFigures,
    server: Option<ServerFigures>,
    mock_stats: Option<StatsSnapshot>,
    mock_cpu_before: Option<f64>,
    /// The wall clock at the run's epoch (the monotonic → wall-clock mapping).
    epoch_wall: SystemTime,
}

/// How long before its load starts a `--start-at` run starts its executor and samplers.
const START_AT_SETUP: Duration = Duration::from_secs(1);

/// Runs one subject at one point; None when a signal came while it waited for `--start-at`
/// (nothing was sent).
pub(super) fn run(at: &At, stop: &Arc<AtomicBool>) -> Result<Option<VariantRun>> {
    let plan = at.plan;
    let s = &plan.scenario;
    let mut phases = Phases::of(at);
    // `--start-at`: the load starts one warm-up before the instant, so the window opens on it.
    let start_at = plan.sharding.start_at;
    let load_at = start_at.map(|t| t.checked_sub(phases.warmup).unwrap_or(t));
    let set_up_at = load_at.map(|t| t.checked_sub(START_AT_SETUP).unwrap_or(t));
    if set_up_at.is_some_and(|t| !start::wait_until(t, stop)) {
        return Ok(None);
    }
    let epoch = Instant::now();
    let epoch_wall = SystemTime::now();
    let (tx, rx) = mpsc::channel();
    let (executor, prefixes) = start(at, &phases, epoch, tx)?;
    // Started after the executor, so `threads_baseline` is the subject's idle threads (its
    // runtime workers) before any load.
    let sampler =
        ProcessSampler::start(plan.sample_interval, prefixes).context("starting the OS sampler")?;
    let server_sampler = match at.server_pid {
        Some(pid) => Some(
            ServerSampler::start(pid, plan.sample_interval)
                .context("sampling the target server")?,
        ),
        None => None,
    };
    if load_at.is_some_and(|t| !start::wait_until(t, stop)) {
        executor.shutdown(Duration::from_millis(500));
        let _ = sampler.stop();
        let _ = server_sampler.map(ServerSampler::stop);
        return Ok(None);
    }
    if let Some(at) = start_at {
        // Late (slow set-up, or started after `load_at`): a shorter warm-up keeps the window
        // on the instant while it is still ahead.
        let left = at.duration_since(SystemTime::now()).unwrap_or_default();
        phases.warmup = phases.warmup.min(left);
    }
    let start = Instant::now();
    let questions: Vec<Arc<str>> = s.questions().into_iter().map(Arc::from).collect();
    let drive_plan = DrivePlan {
        epoch,
        start,
        warmup: phases.warmup,
        duration: phases.duration,
        requests: s.load.requests,
        drain: phases.drain,
        question_offset: (s.seed as usize) % questions.len().max(1),
        questions,
    };
    let mut source = load_source(at, &phases, start);
    let total = phases.warmup
        + phases
            .duration
            .unwrap_or(Duration::from_secs_f64(phases.service_s * 4.0));
    let pb = progress_bar(
        plan,
        format!("{} {}", at.subject.name(), at.point.label()),
        total,
    );
    let mock_cpu_before = at.backend.external_cpu_s();
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
    let measured = Measured {
        outcome,
        recorder,
        process: sampler.stop(),
        server: server_sampler.map(ServerSampler::stop),
        mock_stats: at.backend.stats(),
        mock_cpu_before,
        epoch_wall,
    };
    Ok(Some(summarise(at, measured)))
}

/// Rates over the measured window, all from one population: the successful work done inside
/// the window ([`Recorder::ok_within`]), whatever phase issued it.
fn throughput(plan: &RunPlan, work: &WindowWork, window_s: f64, recorder: &Recorder) -> Throughput {
    let per_s = |n: f64| if window_s > 0.0 { n / window_s } else { 0.0 };
    let requests_per_s = per_s(work.requests);
    let good_share = if recorder.ok > 0 {
        recorder.good as f64 / recorder.ok as f64
    } else {
        0.0
    };
    Throughput {
        window_s,
        requests_per_s,
        tokens_per_s: per_s(work.tokens),
        goodput_per_s: (!plan.slo.is_empty()).then_some(requests_per_s * good_share),
    }
}

/// The ideal: the latency model's (variants), or the backends' injected wait per request when
/// a target's backends are ragperf mocks (no ideal otherwise: nothing to bound it with).
fn ideal_of(at: &At, m: &Measured, requests_per_s: f64, work: &WindowWork) -> Ideal {
    let s = &at.plan.scenario;
    let r = &m.recorder;
    let (service_s, capacity) = match at.subject {
        Subject::Variant(kind) => {
            let observed_tokens = r.ok_tokens_mean();
            let hint = Phases::of(at).concurrency_hint;
            let service = ideal::expected_service_s(s, observed_tokens);
            let share = ideal::min_thread_s(s, observed_tokens) / service.max(1e-9);
            (Some(service), kind.capacity(hint, s.load.workers, share))
        }
        Subject::Target(_) => {
            let finished = r.ok + r.failed_total() + r.warmup_completed;
            let injected = m.mock_stats.as_ref().map(|st| {
                st.operations
                    .values()
                    .map(|o| o.injected_total_s)
                    .sum::<f64>()
            });
            let service = injected
                .filter(|t| *t > 0.0 && finished > 0)
                .map(|t| t / finished as f64);
            let offered = at.point.max_in_flight.unwrap_or(at.point.concurrency);
            (service, offered.max(1))
        }
    };
    let Some(service_s) = service_s else {
        return Ideal::default();
    };
    match at.point.rate {
        None => Ideal::closed(
            service_s,
            s.scaled_ms(s.load.think_time_ms).as_secs_f64(),
            at.point.concurrency,
            capacity,
        ),
        Some(rate) => Ideal::open(
            service_s,
            offered_rate(at, &m.outcome, rate),
            match at.subject {
                Subject::Target(_) => at.point.max_in_flight.unwrap_or(usize::MAX),
                Subject::Variant(_) => capacity,
            },
        ),
    }
    .with_measured(requests_per_s, work.relative_error())
}

/// The rate an open loop really offered inside a time-bounded window (its schedule's arrivals
/// there, sent or held back), so that a Poisson schedule that happened to offer more than
/// `--rate` does not read as more than 100 %; the configured rate otherwise.
fn offered_rate(at: &At, outcome: &DriveOutcome, rate: f64) -> f64 {
    let window_s = outcome.window_s();
    if at.plan.scenario.measured_duration().is_some() && !outcome.interrupted && window_s > 0.0 {
        outcome.measured_issued as f64 / window_s
    } else {
        rate
    }
}

fn settings(at: &At) -> BTreeMap<String, String> {
    let l = &at.plan.scenario.load;
    let mut settings = BTreeMap::new();
    let threads = || l.worker_threads.map_or("cores".into(), |w| w.to_string());
    match at.subject {
        Subject::Variant(kind) => {
            if kind == VariantKind::Sync {
                settings.insert(
                    "workers".into(),
                    l.workers.map_or("per request".into(), |w| w.to_string()),
                );
            }
            if kind == VariantKind::SyncStream {
                let w = l
                    .workers
                    .unwrap_or(crate::pipeline::sync_stream::DEFAULT_WORKERS);
                settings.insert("workers".into(), w.to_string());
            }
            if matches!(
                kind,
                VariantKind::Async | VariantKind::Hybrid | VariantKind::BlockingInAsync
            ) {
                settings.insert("worker_threads".into(), threads());
            }
            if kind == VariantKind::Hybrid {
                settings.insert(
                    "max_blocking_threads".into(),
                    l.max_blocking_threads
                        .map_or("512".into(), |w| w.to_string()),
                );
            }
        }
        Subject::Target(_) => {
            settings.insert("worker_threads".into(), threads());
        }
    }
    settings
}

fn summarise(at: &At, mut m: Measured) -> VariantRun {
    let window_s = m.outcome.window_s();
    let work = m.recorder.ok_within(m.outcome.window_end_us);
    let throughput = throughput(at.plan, &work, window_s, &m.recorder);
    let ideal = ideal_of(at, &m, throughput.requests_per_s, &work);
    let latency_ms = m.recorder.percentiles();
    let mock = m.mock_stats.as_ref().map(|st| {
        let mut side = mock_side(st, &latency_ms);
        if let Some(before) = m.mock_cpu_before {
            let cpu = (st.process_cpu_s - before).max(0.0);
            side.process_cpu_s = Some(cpu);
            side.cpu_per_token_us = (st.tokens_sent > 0).then(|| cpu * 1e6 / st.tokens_sent as f64);
        }
        if matches!(at.subject, Subject::Target(_)) && ideal.expected_service_s > 0.0 {
            // The target's requests are whatever the server makes of them: the injected wait
            // per request is what the mocks injected, divided by the requests that finished.
            side.injected_request_mean_ms = ideal.expected_service_s * 1000.0;
            if latency_ms.get("e2e").is_some_and(|p| p.count > 0) {
                let get = |k: &str| latency_ms.get(k).map_or(0.0, |p| p.mean);
                side.overhead_mean_ms = get("e2e") - get("queue") - side.injected_request_mean_ms;
            }
        }
        side
    });
    let r = &mut m.recorder;
    let target = match at.subject {
        Subject::Target(t) => Some(TargetInfo {
            name: t.spec.name.clone(),
            url: t.spec.url.to_string(),
            protocol: t.spec.protocol.name().to_string(),
            method: t.spec.method.to_string(),
        }),
        Subject::Variant(_) => None,
    };
    VariantRun {
        variant: at.subject.name().into(),
        point: at.point.clone(),
        repetition: at.repetition,
        settings: settings(at),
        counters: Counters {
            sent: m.outcome.measured_issued,
            ok: r.ok,
            failed: r.failed_total(),
            failed_by_kind: r.failed.clone(),
            abandoned: m.outcome.abandoned,
            never_sent: m.outcome.never_sent,
            retries: r.retries,
            tokens: r.tokens,
            citation_mismatches: r.citation_mismatches,
            warmup_completed: r.warmup_completed,
            warmup: WarmupCounters {
                due: m.outcome.warmup_due,
                ok: r.warmup_completed - r.warmup_failed,
                failed: r.warmup_failed,
                abandoned: m.outcome.warmup_abandoned,
                never_sent: m.outcome.warmup_never_sent,
            },
        },
        throughput,
        histograms: r.encoded(),
        latency_ms,
        process: m.process,
        ideal,
        mock,
        timeline: std::mem::take(&mut r.timeline),
        target,
        server: m.server,
        clock: Some(WindowClock::new(
            m.epoch_wall,
            m.outcome.window_start_us,
            m.outcome.window_end_us,
            at.plan.sharding.start_at,
        )),
        shards: Vec::new(),
        drive: m.outcome,
    }
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
