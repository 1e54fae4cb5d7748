//! One subject at one load point: start its executor and samplers, drive the load, stop, and
//! summarise what was recorded into a [`VariantRun`].

mod policy;
mod summarise;

use policy::{Phases, progress_bar};
use summarise::{Measured, summarise};

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result};
use indicatif::ProgressBar;

use super::{RunPlan, Subject, TIMELINE_CAP};
use crate::backends::Backend;
use crate::client::Endpoints;
use crate::load::closed_loop::ClosedLoop;
use crate::load::open_loop::OpenLoop;
use crate::load::{DrivePlan, Source, drive};
use crate::metrics::gil::GilSampler;
use crate::metrics::process::ProcessSampler;
use crate::metrics::recorder::Recorder;
use crate::metrics::server::{ServerFigures, ServerSampler};
use crate::pipeline::cpu::Gil;
use crate::pipeline::steps::RequestContext;
use crate::pipeline::{Executor, ExecutorOptions, RequestRecord, start_executor};
use crate::result::{LoadPoint, VariantRun};
use crate::shard::start;
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

/// A started subject: its executor, the name prefixes of its threads, and a model's GIL (read
/// after the run for the time its cap kept it idle).
struct Started {
    executor: Box<dyn Executor>,
    prefixes: Vec<String>,
    gil: Option<Arc<Gil>>,
}

fn start(
    at: &At,
    phases: &Phases,
    epoch: Instant,
    done: mpsc::Sender<RequestRecord>,
) -> Result<Started> {
    let s = &at.plan.scenario;
    let opts = ExecutorOptions {
        workers: s.load.workers,
        worker_threads: s.load.worker_threads,
        max_blocking_threads: s.load.max_blocking_threads,
        expected_concurrency: phases.concurrency_hint,
    };
    Ok(match at.subject {
        Subject::Variant(kind) => {
            let gil = s.request.gil.then(|| {
                Arc::new(Gil::new(
                    s.request.cpu_outside_gil_share,
                    s.request.gil_max_busy,
                ))
            });
            let ctx = Arc::new(RequestContext {
                epoch,
                endpoints: at.endpoints.clone(),
                client: s.client.clone(),
                time_scale: s.time_scale,
                top_k: s.request.top_k,
                cpu_work_us: s.request.cpu_work_us,
                cpu_per_token_us: s.request.cpu_per_token_us,
                cpu_per_read_us: s.request.cpu_per_read_us,
                cpu_steps: s.request.cpu_steps,
                cpu_offloop_share: s.request.cpu_offloop_share,
                cpu_parallel_share: s.request.cpu_parallel_share,
                cpu_token_loop_share: s.request.cpu_token_loop_share,
                cpu_request_loop_share: s.request.cpu_request_loop_share,
                gil: gil.clone(),
                max_tokens: s.request.max_tokens,
                temperature: s.request.temperature,
            });
            Started {
                executor: start_executor(kind, ctx, &opts, done)?,
                prefixes: kind.thread_prefixes(),
                gil,
            }
        }
        Subject::Target(t) => Started {
            executor: Box::new(TargetExecutor::start(t.spec.clone(), epoch, &opts, done)?),
            prefixes: vec![THREAD_PREFIX.to_string()],
            gil: None,
        },
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

/// The OS sampler of ragperf's own threads (the subject's by `prefixes`), and the target
/// server's when its pid is known. Started after the executor, so `threads_baseline` is the
/// subject's idle threads (its runtime workers) before any load.
fn samplers(at: &At, prefixes: Vec<String>) -> Result<(ProcessSampler, Option<ServerSamplers>)> {
    let interval = at.plan.sample_interval;
    let sampler = ProcessSampler::start(interval, prefixes).context("starting the OS sampler")?;
    let server_sampler = match at.server_pid {
        Some(pid) => {
            let proc = ServerSampler::start(pid, interval).context("sampling the target server")?;
            let py_spy = at.plan.target.as_ref().is_some_and(|t| t.config.py_spy);
            let gil = py_spy
                .then(|| GilSampler::start(pid))
                .transpose()
                .context("starting py-spy (--py-spy)")?;
            Some(ServerSamplers { proc, gil })
        }
        None => None,
    };
    Ok((sampler, server_sampler))
}

/// The target server's samplers: `/proc`, and py-spy with `--py-spy`.
struct ServerSamplers {
    proc: ServerSampler,
    gil: Option<GilSampler>,
}

impl ServerSamplers {
    /// Stops both, `/proc` first (py-spy's window ends when it is asked to stop, not when it
    /// has written its file); a py-spy that recorded nothing is said on stderr, the `/proc`
    /// figures kept. `epoch` is the drive's clock: the figures say when sampling started on it.
    fn stop(self, epoch: Instant) -> ServerFigures {
        let started = self.proc.started().saturating_duration_since(epoch);
        let mut figures = self.proc.stop();
        figures.started_us = Some(u64::try_from(started.as_micros()).unwrap_or(u64::MAX));
        figures.gil = match self.gil.map(GilSampler::stop) {
            Some(Ok(g)) => Some(g),
            Some(Err(e)) => {
                eprintln!("ragperf: --py-spy: {e}");
                None
            }
            None => None,
        };
        figures
    }
}

/// What the driver needs: the clock, the phases, the questions and where they start.
fn drive_plan(at: &At, phases: &Phases, epoch: Instant, start: Instant) -> DrivePlan {
    let s = &at.plan.scenario;
    let questions: Vec<Arc<str>> = s.questions().into_iter().map(Arc::from).collect();
    DrivePlan {
        epoch,
        start,
        warmup: phases.warmup,
        duration: phases.duration,
        requests: s.load.requests,
        drain: phases.drain,
        question_offset: (s.seed as usize) % questions.len().max(1),
        questions,
    }
}

/// The point's progress bar, over the warm-up and the duration (or four service times).
fn progress(at: &At, phases: &Phases) -> ProgressBar {
    let total = phases.warmup
        + phases
            .duration
            .unwrap_or(Duration::from_secs_f64(phases.service_s * 4.0));
    progress_bar(
        at.plan,
        format!("{} {}", at.subject.name(), at.point.label()),
        total,
    )
}

/// How long before its load starts a `--start-at` run starts its executor and samplers.
const START_AT_SETUP: Duration = Duration::from_secs(1);

/// Runs one subject at one point; None when a signal came while it waited for `--start-at`
/// (nothing was sent).
pub(super) fn run(at: &At, stop: &Arc<AtomicBool>) -> Result<Option<VariantRun>> {
    let plan = at.plan;
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
    let Started {
        executor,
        prefixes,
        gil,
    } = start(at, &phases, epoch, tx)?;
    let (sampler, server_sampler) = samplers(at, prefixes)?;
    if load_at.is_some_and(|t| !start::wait_until(t, stop)) {
        executor.shutdown(Duration::from_millis(500));
        let _ = sampler.stop();
        let _ = server_sampler.map(|s| s.stop(epoch));
        return Ok(None);
    }
    if let Some(at) = start_at {
        // Late (slow set-up, or started after `load_at`): a shorter warm-up keeps the window
        // on the instant while it is still ahead.
        let left = at.duration_since(SystemTime::now()).unwrap_or_default();
        phases.warmup = phases.warmup.min(left);
    }
    let start = Instant::now();
    let drive_plan = drive_plan(at, &phases, epoch, start);
    let mut source = load_source(at, &phases, start);
    let pb = progress(at, &phases);
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
        server: server_sampler.map(|s| s.stop(epoch)),
        mock_stats: at.backend.stats(),
        mock_cpu_before,
        epoch_wall,
        // Read after the shutdown: a hold still idling then has added its time.
        gil_cap_idle_s: gil.filter(|g| g.capped()).map(|g| g.idle_us() as f64 / 1e6),
    };
    Ok(Some(summarise(at, measured)))
}
