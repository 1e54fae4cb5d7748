//! `ragperf calibrate`: measure a real service at a few low loads and write the scenario that
//! makes a built-in variant reproduce it, so `ragperf run --scenario calibrated.toml` predicts
//! higher loads without the service.
//!
//! The service runs against the embedded mocks (ragperf starts both: `--target-cmd`), so every
//! backend wait is known. Each phase restarts the service with a fixed answer length (short,
//! then long), measures the low levels, then a probe above them. From the points
//! ([`model::Observation`]):
//! - **CPU** per request and per token event: the service's CPU from `/proc` per finished
//!   request, fitted against the tokens per request the mock sent ([`model::fit_cpu`]). The
//!   scenario takes the probes' fit: a Python server spends less CPU per request under load
//!   than at low load (measured on the seed's app: 101 ms at 2 users, 71 ms at 8, 49 ms at 64,
//!   for 120-token answers — fewer idle wake-ups per event), and the loaded figure is the one
//!   that predicts high loads. The low levels' fit is reported beside it. For one event loop
//!   the fit is read on the loop's thread, which bounds it ([`loop_cpu::event_loop_cpu`]);
//! - **the kind**: threads that grow with the users mean a thread pool, threads that do not
//!   mean one event loop; the probe's threads give the pool's size, and where its extra wait
//!   falls (before the first token or spread over the stream) tells a held thread from
//!   Starlette's one-call-per-token streaming ([`model::classify`]);
//! - **CPU per socket read**, for Starlette's sync streaming whose probe did not queue: a
//!   burst phase ([`burst_users`]) measures the highest low level again with every answer sent
//!   at once, and the paced probes' CPU per token beyond the burst's is what a token waited for
//!   on the socket costs ([`model::split_reads`]) — a cost a stream that queues seldom pays;
//! - **a deeper probe**, for one event loop whose probe at the longer answers did not saturate
//!   it (e2e p50 under [`deeper::LOOP_SATURATED`] × the highest level's): the paced phases are
//!   measured again with a probe at twice the users (`OUT/probe-U/tokens-N/`) and the model
//!   takes that pass, the first kept beside it ([`deeper`]) — a loop's CPU per answer falls
//!   until it is saturated;
//! - **the machine's speed** beside each point's CPU (`server.samples[].speed`): the fits take
//!   every point's CPU at the median speed of the points ([`observe::at_reference_speed`]), so
//!   a point measured while the shared machine ran slow does not make the model dear;
//! - **the backend calls** per request, from the mocks' statistics (shown; the model makes one
//!   embedding, one search and one generation per request).
//!
//! Then the model written is run at the probes and held against them ([`check_at_probes`]):
//! measured / model in the evidence, a note for a figure outside the prediction goal; with
//! `--probe-fit` an event loop's GIL share off the loop is fitted there first
//! ([`probe_fit`]).
//!
//! Every phase's result is written like a `run` (`OUT/tokens-N/`), so each number can be read
//! in its report.

mod at_probes;
mod deeper;
pub use deeper::{DeeperProbe, pass_dir};
mod loop_cpu;
pub(crate) mod model;
mod observe;
mod placement;
pub mod probe_fit;
mod scenario_file;
mod waits;
mod warmup;
use warmup::steady_warmup;
pub use warmup::{DEFAULT_WARMUP, WARMUP_SERVICES};

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use mock_services::latency::Dist;
use serde::Serialize;

use crate::pipeline::VariantKind;
use crate::result::LoadPoint;
use crate::run::{RunPlan, TargetPlan};
use crate::scenario::Scenario;
pub use at_probes::check_at_probes;
use model::{CpuFit, Observation, Shape};
use observe::observe;
pub use observe::reobserve;

/// What `calibrate` does.
#[derive(Clone, Debug)]
pub struct CalibrationPlan {
    /// The scenario the service is measured under (mocks, time scale); `[target]` set.
    pub scenario: Scenario,
    /// The service.
    pub target: TargetPlan,
    /// Low loads (closed-loop users), ascending.
    pub levels: Vec<usize>,
    /// The two fixed answer lengths (tokens), short then long.
    pub tokens: [u32; 2],
    /// Users of the pool probe (None: no probe).
    pub probe: Option<usize>,
    /// Measured windows of each probe, back to back on the same service (`--probe-runs`, at
    /// least 1); the model takes the median window ([`observe::median_window`]).
    pub probe_runs: usize,
    /// Each probe window on a fresh start of the service (`--probe-starts`): the median is
    /// then over starts, not over windows of the start that measured the levels.
    pub probe_starts: bool,
    /// A pool size the user knows.
    pub pool: Option<usize>,
    /// Force this variant instead of the detected one.
    pub variant: Option<VariantKind>,
    /// CPU under one global lock in the model (CPython's GIL).
    pub gil: bool,
    /// Where the phases' results go.
    pub out: PathBuf,
    /// Embedded mock worker threads.
    pub mock_threads: usize,
    /// Progress bars.
    pub progress: bool,
    /// Run the model at the probes after the fit, to show how well it reproduces them
    /// ([`check_at_probes`]).
    pub probe_check: bool,
    /// For an event loop: fit the GIL's share of its off-loop CPU by running the model at the
    /// probes ([`probe_fit`]); false keeps the split as measured.
    pub probe_fit: bool,
    /// For an event loop whose probe did not saturate it: measure the paced phases again with
    /// a probe at twice the users ([`deeper`]); false (`--no-deeper-probe`) keeps the first.
    pub deeper_probe: bool,
}

/// What calibration found.
#[derive(Clone, Debug, Serialize)]
pub struct Calibration {
    /// The service measured.
    pub target: String,
    /// The time scale it was measured at.
    pub time_scale: f64,
    /// Every point measured.
    pub observations: Vec<Observation>,
    /// The burst phase's points (the highest low level, every answer sent at once), when one
    /// ran.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub bursts: Vec<Observation>,
    /// The first pass, when its probe did not saturate an event loop and the paced phases were
    /// measured again with a probe at twice the users (`observations` are then the second
    /// pass's, written under `probe-U/`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deeper_probe: Option<deeper::DeeperProbe>,
    /// The CPU model written to the scenario: the probes' fit when there are probes (a Python
    /// server's CPU per request falls with load, so the loaded figure predicts high loads),
    /// else the low levels'.
    pub cpu: CpuFit,
    /// Where `cpu` comes from: `probe`, `burst` (the probes' fit split by the bursts':
    /// [`model::split_reads`]), `loop` (an event loop's fit at the probes on its loop's thread:
    /// [`loop_cpu::event_loop_cpu`]) or `low`.
    pub cpu_from: String,
    /// The fit over the low levels alone (shown beside the loaded one).
    pub cpu_low: Option<CpuFit>,
    /// The machine speed every point's CPU was put at before the fits (rounds of ragperf's
    /// work function per µs of CPU, the median of the points'; None: not recorded, the CPU
    /// used as measured). The model's CPU is what the service spends at this speed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub machine_speed: Option<f64>,
    /// The variant and pool.
    pub shape: Shape,
    /// Backend calls per request, averaged over the low-load points.
    pub calls_per_request: BTreeMap<String, f64>,
    /// The waits the service saw per backend call (the mocks' statistics, every point) beside
    /// what the scenario makes the model wait ([`waits::backend_waits`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub backend_waits: Vec<waits::BackendWait>,
    /// Points the per-request CPU is spread over (`request.cpu_steps`): one per backend call
    /// before the generation, plus the prompt.
    pub cpu_steps: u8,
    /// Where an event loop's per-request CPU ran (`request.cpu_offloop_share` and
    /// `request.cpu_parallel_share`; both 0 unless the service is one event loop).
    pub cpu_placement: placement::CpuPlacement,
    /// For a thread pool under the GIL: the share of every CPU section outside it (the
    /// kernel's share of the server's CPU, [`placement::outside_gil_share`];
    /// `request.cpu_outside_gil_share`); 0 for an event loop.
    #[serde(default)]
    pub outside_gil_share: f64,
    /// For an event loop with off-loop CPU: the threads that ran it at most (its executor;
    /// `load.max_blocking_threads`).
    pub offloop_threads: Option<usize>,
    /// For Starlette's sync streaming: the shares of the CPU its event loop spent
    /// (`request.cpu_request_loop_share`, `request.cpu_token_loop_share`; None for the other
    /// shapes or when they cannot be told).
    pub loop_shares: Option<placement::LoopShares>,
    /// The model run at the probes ([`check_at_probes`]): how well it reproduces them, and
    /// with `--probe-fit` the splits tried for an event loop; None when none ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_at_probes: Option<probe_fit::ProbeFit>,
    /// Things the model does not reproduce, said plainly.
    pub warnings: Vec<String>,
}

/// Runs the phases; `on_phase` sees each phase's result (to write it).
pub fn run(
    plan: &CalibrationPlan,
    stop: &Arc<AtomicBool>,
    mut on_phase: impl FnMut(&str, &crate::result::RunResult) -> Result<()>,
) -> Result<Calibration> {
    let mut observations = paced_pass(plan, stop, plan.probe, "", &mut on_phase)?;
    let deeper_probe = deeper::measure_again(plan, stop, &mut observations, &mut on_phase)?;
    let mut bursts = Vec::new();
    if let Some(users) = burst_users(plan, &observations) {
        for tokens in &plan.tokens {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            let point = vec![LoadPoint::closed(users)];
            let label = phase_label(*tokens, true);
            let result = phase(
                plan,
                stop,
                *tokens,
                true,
                &label,
                point,
                Vec::new(),
                &mut on_phase,
            )?;
            bursts.extend(result.runs.iter().map(|r| observe(r, *tokens, false)));
        }
    }
    if stop.load(Ordering::Relaxed) {
        anyhow::bail!(
            "interrupted; the phases measured so far are written under {}",
            plan.out.display()
        );
    }
    let mut cal = conclude(plan, observations, bursts)?.with_deeper_probe(deeper_probe);
    check_at_probes(plan, stop, &mut cal)?;
    Ok(cal)
}

/// The paced phases (each answer length: the levels, then `probe`'s windows), their results
/// written under `dir` (`""` or a deeper probe's `probe-U/`).
fn paced_pass(
    plan: &CalibrationPlan,
    stop: &Arc<AtomicBool>,
    probe: Option<usize>,
    dir: &str,
    on_phase: &mut impl FnMut(&str, &crate::result::RunResult) -> Result<()>,
) -> Result<Vec<Observation>> {
    let mut observations = Vec::new();
    for tokens in &plan.tokens {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let mut points: Vec<LoadPoint> =
            plan.levels.iter().map(|c| LoadPoint::closed(*c)).collect();
        let mut restarts = Vec::new();
        if let Some(p) = probe {
            if plan.probe_starts {
                restarts.extend(points.len()..points.len() + plan.probe_runs);
            }
            points.extend(std::iter::repeat_n(LoadPoint::closed(p), plan.probe_runs));
        }
        let label = format!("{dir}{}", phase_label(*tokens, false));
        let result = phase(
            plan, stop, *tokens, false, &label, points, restarts, on_phase,
        )?;
        observations.extend(observe::observe_phase(&result.runs, *tokens, probe));
    }
    Ok(observations)
}

/// One phase: the service restarted and measured at `points` with answers of `tokens` — paced
/// as the scenario says (`tokens-N/`), or all at once (`burst`: no wait between two token
/// events, `burst-tokens-N/`) — and started again before each point in `restarts`; its results
/// under `label`.
#[allow(clippy::too_many_arguments)]
fn phase(
    plan: &CalibrationPlan,
    stop: &Arc<AtomicBool>,
    tokens: u32,
    burst: bool,
    label: &str,
    points: Vec<LoadPoint>,
    restarts: Vec<usize>,
    on_phase: &mut impl FnMut(&str, &crate::result::RunResult) -> Result<()>,
) -> Result<crate::result::RunResult> {
    let mut s = plan.scenario.clone();
    s.bedrock.output_tokens = Dist::fixed(tokens as f64);
    s.request.max_tokens = s.request.max_tokens.max(tokens);
    if burst {
        s.bedrock.itl_ms = Dist::fixed(0.0);
    }
    s.load.warmup = steady_warmup(&s);
    let mut target = plan.target.clone();
    if let crate::run::ServerSource::Command { log, .. } = &mut target.server {
        *log = plan.out.join(label).join("target-server.log");
    }
    let mut run_plan = RunPlan::new("calibrate", s, &[], points);
    run_plan.target = Some(target);
    run_plan.restart_target_before = restarts;
    run_plan.mock_threads = plan.mock_threads;
    run_plan.progress = plan.progress;
    run_plan.sample_interval = Duration::from_millis(100);
    crate::run::execute(&run_plan, stop, |r| on_phase(label, r))
        .with_context(|| format!("calibration phase {label}"))
}

/// Where a phase's results go under the calibration's `--out`: `tokens-N/`, or
/// `burst-tokens-N/` for answers sent all at once.
pub fn phase_label(tokens: u32, burst: bool) -> String {
    format!("{}tokens-{tokens}", if burst { "burst-" } else { "" })
}

/// The users of a burst phase, when one is needed: Starlette's sync streaming whose probe at
/// the longest answers did not queue. Every token there was a read that waited, so the paced
/// probes alone cannot tell what a stream that queues (and finds its tokens buffered) spends.
/// The burst runs at the highest low level: a burst at the probe's users saturates the service
/// (every answer's CPU at once, under one GIL), and there the seed's streaming `def` endpoint
/// read 46 to 64 ms per 120-token answer within one evening, where at 8 users it read 42 to 50.
///
/// Not for an event loop, though its waited-for tokens cost more too (the seed's `async def`
/// endpoint at 8 users: 161–166 ms per 120-token answer paced, 107–112 sent at once): beyond
/// its probe its CPU per answer did not fall (122.6 ms at an unqueued 64-user probe, 130–142 at
/// 50, 100 and 200 users in the same sitting), where its calibrated model's loop reads only 46 %
/// and 29 % of its tokens at 100 and 200 users — a read cost split off would have it spend less.
fn burst_users(plan: &CalibrationPlan, observations: &[Observation]) -> Option<usize> {
    plan.probe?;
    let users = plan.levels.iter().copied().max()?;
    let longest = observations
        .iter()
        .filter(|o| o.probe)
        .max_by_key(|o| o.tokens_setting)?;
    let unqueued = unqueued_probes(observations)
        .iter()
        .any(|u| u.probe.tokens_setting == longest.tokens_setting);
    (unqueued && chosen_shape(plan, observations).variant == VariantKind::SyncStream)
        .then_some(users)
}

/// From the observations to the model.
pub fn conclude(
    plan: &CalibrationPlan,
    observations: Vec<Observation>,
    bursts: Vec<Observation>,
) -> Result<Calibration> {
    let low: Vec<&Observation> = observations.iter().filter(|o| !o.probe).collect();
    if low.iter().all(|o| o.ok == 0) {
        anyhow::bail!(
            "no request to the target succeeded at the calibration levels; check the target with `ragperf run --target … -c 1` first (the phases' results are under {})",
            plan.out.display()
        );
    }
    // The fits read every point's CPU at one machine speed; the calibration keeps what was
    // measured.
    let (at_speed, bursts_at_speed, machine_speed) = at_one_speed(&observations, &bursts);
    let cpu_low = model::fit_cpu(&at_speed, false);
    let cpu_probe = model::fit_cpu(&at_speed, true);
    let (cpu, cpu_from) = match (cpu_probe, cpu_low) {
        (Some(p), _) => (p, "probe"),
        (None, Some(l)) => (l, "low"),
        (None, None) => anyhow::bail!(
            "the server's CPU could not be read (calibrate samples it from /proc: Linux only)"
        ),
    };
    let (cpu, cpu_from, read_split) = match (cpu_from, model::fit_cpu(&bursts_at_speed, false)) {
        ("probe", Some(burst)) => {
            let split = ReadSplit {
                paced_per_token_us: cpu.per_token_us,
                burst_per_token_us: burst.per_token_us,
            };
            (model::split_reads(&cpu, &burst), "burst", Some(split))
        }
        other => (cpu, other.0, None),
    };
    let shape = chosen_shape(plan, &observations);
    // An event loop is bound by its loop's thread: at the probes, fit the CPU there and the
    // rest per request.
    let (cpu, cpu_from) = match (shape.variant, cpu_from) {
        (VariantKind::AsyncSingle, "probe") => match loop_cpu::event_loop_cpu(&at_speed) {
            Some(on_loop) => (on_loop, "loop"),
            None => (cpu, cpu_from),
        },
        _ => (cpu, cpu_from),
    };
    let calls = mean_calls(&low);
    let cpu_steps = model::cpu_steps(&calls);
    // Threads of a pool all run Python under one GIL: a thread's CPU says nothing about what
    // ran outside it. Only beside an event loop's one thread is the rest known to be parallel.
    let cpu_placement = match shape.variant {
        VariantKind::AsyncSingle => placement::cpu_placement(&at_speed, &cpu),
        _ => placement::CpuPlacement::default(),
    };
    let outside_gil_share = match shape.variant {
        VariantKind::AsyncSingle => 0.0,
        _ => placement::outside_gil_share(&at_speed),
    };
    let offloop_threads = (cpu_placement.offloop + cpu_placement.parallel > 0.0)
        .then(|| placement::offloop_threads(&at_speed))
        .flatten();
    let loop_shares = match shape.variant {
        VariantKind::SyncStream => placement::loop_shares(&at_speed, &cpu),
        _ => None,
    };
    let mut warnings = call_warnings(&calls);
    let backend_waits = waits::backend_waits(&plan.scenario, &observations);
    warnings.extend(waits::wait_warnings(&backend_waits));
    warnings.extend(cpu_warnings(plan, cpu, cpu_low, cpu_from));
    warnings.extend(probe_warnings(&observations, read_split));
    warnings.extend(deeper::shallow_warning(shape.variant, &observations));
    warnings.extend(observe::window_warnings(&observations));
    let failed: u64 = observations.iter().map(|o| o.failed).sum();
    if failed > 0 {
        warnings.push(format!(
            "{failed} requests failed during calibration (see the phases' reports)"
        ));
    }
    Ok(Calibration {
        target: plan.target.spec.url.to_string(),
        time_scale: plan.scenario.time_scale,
        observations,
        bursts,
        deeper_probe: None,
        cpu,
        cpu_from: cpu_from.into(),
        cpu_low,
        machine_speed,
        shape,
        calls_per_request: calls,
        backend_waits,
        cpu_steps,
        cpu_placement,
        outside_gil_share,
        offloop_threads,
        loop_shares,
        model_at_probes: None,
        warnings,
    })
}

/// The detected shape, or the `--variant` given (with the detected one named in the reasons).
/// Copies of the points (paced and bursts) with their CPU put at the calibration's median
/// machine speed, and that speed (None, and the points unchanged, without speed readings).
fn at_one_speed(
    observations: &[Observation],
    bursts: &[Observation],
) -> (Vec<Observation>, Vec<Observation>, Option<f64>) {
    let mut paced = observations.to_vec();
    let mut burst = bursts.to_vec();
    let mut all: Vec<&mut Observation> = paced.iter_mut().chain(burst.iter_mut()).collect();
    let speed = observe::at_reference_speed(&mut all);
    (paced, burst, speed)
}

fn chosen_shape(plan: &CalibrationPlan, observations: &[Observation]) -> Shape {
    let streaming = plan.target.spec.protocol.is_streaming();
    let mut shape = model::classify(observations, streaming, plan.pool);
    if let Some(v) = plan.variant {
        shape.reasons.push(format!(
            "variant {} as given (--variant), detected {}",
            v.name(),
            shape.variant.name()
        ));
        shape.variant = v;
    }
    shape
}

/// Backend calls per request by mock operation, averaged over the low levels.
fn mean_calls(low: &[&Observation]) -> BTreeMap<String, f64> {
    let mut calls: BTreeMap<String, f64> = BTreeMap::new();
    for o in low {
        for (op, n) in &o.calls_per_request {
            *calls.entry(op.clone()).or_default() += n / low.len() as f64;
        }
    }
    calls
}

/// Where the service's backend calls differ from the model's one embed and one search.
fn call_warnings(calls: &BTreeMap<String, f64>) -> Vec<String> {
    let mut warnings = Vec::new();
    for (op, expected) in [("embed", 1.0), ("qdrant_search", 1.0)] {
        let n = calls.get(op).copied().unwrap_or(0.0);
        if (n - expected).abs() > 0.05 {
            warnings.push(format!(
                "the service made {n:.2} `{op}` calls per request; the model makes {expected:.0}"
            ));
        }
    }
    if let Some(n) = calls.get("qdrant_other").filter(|n| **n > 0.05) {
        warnings.push(format!(
            "the service made {n:.2} other Qdrant calls per request (collection checks…), which the model leaves out"
        ));
    }
    warnings
}

/// How much longer than at the highest low level a probe's requests must take (e2e p50) for
/// the probe to count as saturated. Stricter than the 10 % of [`model::queue_share`], which
/// asks only whether anything queued (to see where the wait went): the evening's unqueued probe
/// read 0.99×, the nearest saturated one 1.27×.
const PROBE_QUEUED: f64 = 1.25;

/// A probe beside the highest low level at its answer length, and their e2e p50s.
struct Unqueued<'a> {
    probe: &'a Observation,
    low: &'a Observation,
    at_probe: f64,
    at_low: f64,
}

/// The probes whose requests did not queue (e2e p50 under [`PROBE_QUEUED`] × the low level's):
/// the service was not saturated there.
fn unqueued_probes(observations: &[Observation]) -> Vec<Unqueued<'_>> {
    let mut out = Vec::new();
    for probe in observations.iter().filter(|o| o.probe) {
        let Some(low) = model::low_beside(observations, probe) else {
            continue;
        };
        let (Some(at_probe), Some(at_low)) = (probe.e2e_p50_ms, low.e2e_p50_ms) else {
            continue;
        };
        if at_low > 0.0 && at_probe < PROBE_QUEUED * at_low {
            out.push(Unqueued {
                probe,
                low,
                at_probe,
                at_low,
            });
        }
    }
    out
}

/// The CPU per token event of the paced probes and of the bursts (answers sent at once), µs: the
/// paced figure beyond the burst's is the CPU per read (`model::split_reads`).
#[derive(Clone, Copy, Debug)]
struct ReadSplit {
    paced_per_token_us: f64,
    burst_per_token_us: f64,
}

/// A probe whose requests did not queue: the service was not saturated there, and a saturated
/// Python service spends less CPU per request than one that still idles between events (the
/// seed's streaming `def` endpoint at time scale 1: 70 ms at an unqueued probe of 64 users,
/// 47–52 ms at 100 and 200). With a burst phase (`read_split`), the note says what it told
/// apart: the read cost a saturated stream saves, or that it found none.
fn probe_warnings(observations: &[Observation], read_split: Option<ReadSplit>) -> Vec<String> {
    unqueued_probes(observations)
        .iter()
        .map(|u| {
            let what = format!(
                "at {} tokens the probe's requests did not queue (e2e p50 {:.0} ms at {} users, {:.0} ms at {})",
                u.probe.tokens_setting, u.at_probe, u.probe.concurrency, u.at_low, u.low.concurrency
            );
            if let Some(split) = read_split {
                read_note(&what, split)
            } else {
                format!(
                    "{what}: the service was not saturated there, and a saturated service spends less CPU per request; predictions of loads that saturate it will be pessimistic (raise --probe until its requests queue)"
                )
            }
        })
        .collect()
}

/// The unqueued probe's note when a burst ran: the read cost it told apart, or that it found none
/// (the burst spent as much per token event as the paced probe, or more).
fn read_note(what: &str, split: ReadSplit) -> String {
    let (paced, burst) = (split.paced_per_token_us, split.burst_per_token_us);
    if paced > burst {
        format!(
            "{what}: every token there was a socket read that waited; a burst (answers sent at once) told that CPU apart, {:.0} us per read (cpu_per_read_us: {paced:.0} us per paced token event against {burst:.0} in the burst), which a stream that queues seldom pays",
            paced - burst
        )
    } else {
        format!(
            "{what}: a burst (answers sent at once) spent {burst:.0} us per token event against the paced probe's {paced:.0}, so no CPU per read was told apart (cpu_per_read_us 0); if the service spends less per answer when saturated, predictions of loads that saturate it will be pessimistic"
        )
    }
}

/// Where the CPU fit is less sure: a CPU per request that moved with the load, no probe, a
/// fit off at one of its points.
fn cpu_warnings(
    plan: &CalibrationPlan,
    cpu: CpuFit,
    cpu_low: Option<CpuFit>,
    cpu_from: &str,
) -> Vec<String> {
    let mut warnings = Vec::new();
    if let (Some(low), "probe" | "burst" | "loop") = (cpu_low, cpu_from) {
        // At a paced point every token event is a read (the probe's figure, split or not).
        let at = |f: &CpuFit| {
            f.per_request_us + (f.per_token_us + f.per_read_us) * plan.tokens[1] as f64
        };
        let (l, p) = (at(&low), at(&cpu));
        if p > 0.0 && (l / p - 1.0).abs() > 0.15 {
            warnings.push(format!(
                "at {} tokens the service spent {:.1} ms of CPU per request at the low levels and {:.1} ms at the probe: its CPU per request depends on the load; the scenario uses the probe's (loaded) figure",
                plan.tokens[1],
                l / 1000.0,
                p / 1000.0
            ));
        }
    } else if cpu_from == "low" {
        warnings.push("no probe: the CPU comes from the low levels, where a Python server spends more per request than under load (idle wake-ups); predictions of high loads will be pessimistic".into());
    }
    for f in [Some(cpu), cpu_low].into_iter().flatten() {
        if f.worst_residual > 0.25 {
            warnings.push(format!(
                "a fit is off by up to {:.0} % at one of its points: the CPU per request moved with the load between them",
                f.worst_residual * 100.0
            ));
            break;
        }
    }
    warnings
}

#[cfg(test)]
#[path = "mod_tests.rs"]
mod tests;
