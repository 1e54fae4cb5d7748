//! Running a plan: start (or find) the backends, then for each load point and subject (a
//! variant, or the `--target` endpoint) start its executor, drive the load, stop, and turn what
//! was recorded into a [`VariantRun`] ([`point`]).
//!
//! Subjects run one after another against the same backends, whose statistics are reset in
//! between, so each subject's figures are its own. The result is handed to `on_update` after
//! every subject (the CLI rewrites `result.json` there), so an interrupted or crashed run still
//! leaves everything measured so far on disk.

mod point;
mod target;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};

pub use target::{ServerSource, TargetPlan};

use crate::backends::{Backend, release_freed_memory};
use crate::client::Endpoints;
use crate::metrics::machine::MachineInfo;
use crate::metrics::recorder::Slo;
use crate::pipeline::{VariantKind, cpu};
use crate::result::{Backends, LoadPoint, PlanInfo, RunResult, SCHEMA};
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
    /// Variants in run order (empty for a `--target` run).
    pub variants: Vec<VariantKind>,
    /// Load points in run order.
    pub points: Vec<LoadPoint>,
    /// Goodput SLO.
    pub slo: Slo,
    /// Repetitions of every point.
    pub repeat: u32,
    /// External backends (None = embedded mocks, or none for a target without `--target-cmd`).
    pub external: Option<(String, String)>,
    /// Worker threads of the embedded mocks.
    pub mock_threads: usize,
    /// Draw progress bars (when stderr is a terminal).
    pub progress: bool,
    /// Interval of the OS sampler.
    pub sample_interval: Duration,
    /// Drive this HTTP endpoint instead of the variants (`--target`).
    pub target: Option<TargetPlan>,
    /// This process's shard and the common start (`--shard`, `--start-at`; none by default).
    pub sharding: crate::shard::Sharding,
    /// Indices into `points` before which a target server ragperf started (`--target-cmd`) is
    /// stopped and started again, so the point measures a fresh start of it (calibrate's
    /// `--probe-starts`); its log goes to `target-server-N.log` beside the first. Empty: one
    /// start for the whole run.
    pub restart_target_before: Vec<usize>,
}

/// What runs the requests at one point: one of the built-in variants, or the target endpoint.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Subject<'a> {
    /// A built-in variant.
    Variant(VariantKind),
    /// The `--target` endpoint.
    Target(&'a TargetPlan),
}

impl Subject<'_> {
    /// The name in results (`sync`, …, or `target`).
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Subject::Variant(k) => k.name(),
            Subject::Target(_) => "target",
        }
    }
}

impl RunPlan {
    /// A plan of `variants` at `points` against embedded mocks, with the library defaults: one
    /// repetition, no SLO, two mock threads, no progress bars, a 10 ms sampler.
    pub fn new(
        command: &str,
        scenario: Scenario,
        variants: &[VariantKind],
        points: Vec<LoadPoint>,
    ) -> RunPlan {
        RunPlan {
            command: command.into(),
            scenario,
            variants: variants.to_vec(),
            points,
            slo: Slo::default(),
            repeat: 1,
            external: None,
            mock_threads: 2,
            progress: false,
            sample_interval: Duration::from_millis(10),
            target: None,
            sharding: crate::shard::Sharding::default(),
            restart_target_before: Vec::new(),
        }
    }

    /// How many subjects each point runs: one per variant, or the one `--target`.
    pub fn subject_count(&self) -> usize {
        self.subjects().len()
    }

    /// The subjects in run order.
    fn subjects(&self) -> Vec<Subject<'_>> {
        match &self.target {
            Some(t) => vec![Subject::Target(t)],
            None => self.variants.iter().map(|k| Subject::Variant(*k)).collect(),
        }
    }

    /// The backends this plan needs: external URLs when given; embedded mocks for the
    /// variants, and for a target whose server ragperf starts (its environment then names the
    /// mocks); none otherwise.
    fn backend(&self) -> Result<Backend> {
        if let Some((q, b)) = &self.external {
            return Ok(Backend::External {
                qdrant: Some(q.clone()),
                bedrock: b.clone(),
            });
        }
        match &self.target {
            Some(t) if !matches!(t.server, ServerSource::Command { .. }) => Ok(Backend::Unknown),
            _ => Backend::embedded(self.scenario.mock_config(), self.mock_threads),
        }
    }
}

/// The result before anything is measured: what ran where, and the plan.
fn header(
    plan: &RunPlan,
    backend: &Backend,
    subjects: &[Subject],
    fd_limit: (u64, u64),
    rounds: f64,
) -> RunResult {
    let (qdrant_url, bedrock_url) = backend.urls();
    RunResult {
        schema: SCHEMA.into(),
        ragperf_version: env!("CARGO_PKG_VERSION").into(),
        created_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        partial: true,
        machine: MachineInfo::detect(),
        scenario: plan.scenario.clone(),
        plan: PlanInfo {
            command: plan.command.clone(),
            variants: subjects.iter().map(|s| s.name().to_string()).collect(),
            points: plan.points.clone(),
            slo: plan.slo.clone(),
            repeat: plan.repeat,
            fd_limit,
            cpu_rounds_per_us: rounds,
        },
        backends: Backends {
            mode: backend.mode().into(),
            qdrant_url,
            bedrock_url,
            mock_threads: match backend {
                Backend::Embedded(_) => plan.mock_threads,
                _ => 0,
            },
            notes: Vec::new(),
        },
        runs: Vec::new(),
        origin: Some(crate::shard::Origin::here()),
        shard: plan.sharding.shard.map(|s| crate::shard::ShardInfo {
            index: s.index,
            count: s.count,
            whole: plan.sharding.whole.clone().unwrap_or_default(),
            start_at: plan
                .sharding
                .start_at
                .map(|t| humantime::format_rfc3339(t).to_string()),
        }),
        merged: None,
    }
}

/// External backends are checked before the load: what answers where, with which settings
/// (the mocks' latency model replaces the scenario's when they differ). Returns the plan with
/// the checked scenario (None without external backends) and the warnings, already printed.
fn check_external(plan: &RunPlan) -> (Option<RunPlan>, Vec<String>) {
    let Some((q, b)) = &plan.external else {
        return (None, Vec::new());
    };
    let mut notes = Vec::new();
    let mut checked = plan.clone();
    // Abandoned at a signal: a silent backend can take a few timeouts to answer.
    let (q, b, mut scenario) = (q.clone(), b.clone(), checked.scenario.clone());
    if let Some((n, s)) = crate::interrupt::unless_stopped(move || {
        let n = crate::backends::probe::check_external(&q, &b, &mut scenario);
        (n, scenario)
    }) {
        notes = n;
        checked.scenario = s;
    }
    for n in &notes {
        eprintln!("warning: {n}");
    }
    (Some(checked), notes)
}

/// Where every request of the run goes, and with which models.
fn endpoints(plan: &RunPlan, qdrant_url: String, bedrock_url: String) -> Endpoints {
    Endpoints {
        qdrant_url,
        bedrock_url,
        collection: plan.scenario.qdrant.collection.clone(),
        embed_model: plan.scenario.request.embed_model.clone(),
        embed_dimensions: plan.scenario.request.embed_dimensions as u32,
        chat_model: plan.scenario.request.chat_model.clone(),
    }
}

/// The target plan for the `n`th start of its server: its log to `target-server-N.log`
/// beside the first start's.
fn restarted(t: &TargetPlan, n: usize) -> TargetPlan {
    let mut t = t.clone();
    if let ServerSource::Command { log, .. } = &mut t.server {
        let stem = log
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "target-server".into());
        *log = log.with_file_name(format!("{stem}-{n}.log"));
    }
    t
}

/// Runs the plan; `on_update` sees the result after every subject.
pub fn execute(
    plan: &RunPlan,
    stop: &Arc<AtomicBool>,
    mut on_update: impl FnMut(&RunResult) -> Result<()>,
) -> Result<RunResult> {
    let fd_limit = crate::backends::raise_fd_limit().unwrap_or((0, 0));
    let rounds = cpu::calibrate();
    let backend = plan.backend()?;
    let (checked, notes) = check_external(plan);
    let plan = checked.as_ref().unwrap_or(plan);
    let (qdrant_url, bedrock_url) = backend.urls();
    let subjects = plan.subjects();
    let mut result = header(plan, &backend, &subjects, fd_limit, rounds);
    result.backends.notes = notes;
    // A target's server is started once for the whole run, after the mocks it talks to.
    let mut server = match &plan.target {
        Some(t) => Some(
            target::Server::start(t, &backend, stop)
                .with_context(|| format!("starting the target server for {}", t.spec.url))?,
        ),
        None => None,
    };
    let endpoints = endpoints(plan, qdrant_url, bedrock_url);
    let mut failure = None;
    let mut starts = 1;
    'points: for (index, point) in plan.points.iter().enumerate() {
        if let (true, Some(t)) = (
            index > 0 && plan.restart_target_before.contains(&index),
            &plan.target,
        ) {
            if stop.load(Ordering::Relaxed) {
                break 'points;
            }
            if let Some(s) = server.take() {
                s.stop();
            }
            starts += 1;
            match target::Server::start(&restarted(t, starts), &backend, stop) {
                Ok(s) => server = Some(s),
                Err(e) => {
                    failure = Some(format!(
                        "starting the target server again before {}: {e:#}",
                        point.label()
                    ));
                    break 'points;
                }
            }
        }
        for repetition in 0..plan.repeat.max(1) {
            for subject in &subjects {
                if stop.load(Ordering::Relaxed) {
                    break 'points;
                }
                if let Some(died) = server.as_mut().and_then(|s| s.died()) {
                    failure = Some(died);
                    break 'points;
                }
                backend.reset_stats();
                release_freed_memory();
                let at = point::At {
                    plan,
                    backend: &backend,
                    endpoints: &endpoints,
                    subject: *subject,
                    point,
                    repetition,
                    server_pid: server.as_ref().and_then(|s| s.pid()),
                };
                let run = point::run(&at, stop).with_context(|| {
                    format!("running `{}` at {}", subject.name(), point.label())
                })?;
                let Some(run) = run else {
                    // A signal while waiting for `--start-at`: no load was sent.
                    break 'points;
                };
                result.runs.push(run);
                on_update(&result)?;
            }
        }
    }
    if let Some(died) = server.as_mut().and_then(|s| s.died()) {
        failure.get_or_insert(died);
    }
    if let Some(s) = server.take() {
        s.stop();
    }
    let planned = plan.points.len() * subjects.len() * plan.repeat.max(1) as usize;
    result.partial =
        stop.load(Ordering::Relaxed) || result.runs.len() < planned || failure.is_some();
    backend.shutdown(Duration::from_millis(500));
    if result.runs.is_empty() && plan.sharding.start_at.is_some() && stop.load(Ordering::Relaxed) {
        // Stopped while waiting for `--start-at`: nothing was measured, nothing is written.
        return Ok(result);
    }
    on_update(&result)?;
    if let Some(message) = failure {
        // Everything measured is written (partial); the run still fails, saying why.
        anyhow::bail!("{message}");
    }
    Ok(result)
}
