//! `ragperf calibrate`: its flags, how they become a [`CalibrationPlan`], the calibration with
//! each phase's report written as it ends, and the calibrated scenario file.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;

use super::flags::{flag_err, parse_duration};
use super::run::CommonArgs;
use super::target::TargetArgs;
use crate::calibrate::CalibrationPlan;
use crate::calibrate::model::Observation;
use crate::pipeline::VariantKind;
use crate::run::ServerSource;

/// `ragperf calibrate`.
#[derive(Debug, Args)]
pub struct CalibrateArgs {
    /// The service: --target URL and --target-cmd (ragperf starts it against its embedded
    /// mocks, once per answer length).
    #[command(flatten)]
    pub target: TargetArgs,
    /// Scenario TOML whose mocks (latencies, time scale) the service is measured under; the
    /// calibrated scenario keeps them.
    #[arg(long, short = 's')]
    pub scenario: Option<PathBuf>,
    /// Multiply every injected latency.
    #[arg(long)]
    pub time_scale: Option<f64>,
    /// Seed for latency draws and answers.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Low loads to measure, closed-loop users, comma-separated (at least two, to see whether
    /// threads grow with the users).
    #[arg(long, short = 'c', value_delimiter = ',', default_values_t = [2usize, 8])]
    pub levels: Vec<usize>,
    /// The two fixed answer lengths, tokens (per-request and per-token CPU are told apart by
    /// the difference).
    #[arg(long, value_delimiter = ',', default_values_t = [20u32, 120])]
    pub tokens: Vec<u32>,
    /// Users of the probe after each phase's levels: above a pool's cap its threads stop
    /// growing, and its CPU per request is the loaded figure the scenario uses (0: no probe).
    /// For Starlette's sync streaming whose probe did not queue, a burst phase measures the
    /// highest level again with every answer sent at once (the CPU of a token waited for on the
    /// socket); an event loop it did not saturate is measured again with twice the users (see
    /// --no-deeper-probe).
    #[arg(long, default_value_t = 64)]
    pub probe: usize,
    /// Measure each probe this many times (odd: 1, 3, 5 …), back to back (each its warm-up and
    /// duration); the model takes the window with the median CPU per answer. A Python service's CPU per answer
    /// moved by up to ×1.30 between 10 s windows of one probe in one start of the service.
    #[arg(long, default_value_t = 1)]
    pub probe_runs: usize,
    /// Measure each probe window on a fresh start of the service (stopped and started again
    /// before it) instead of back to back in the start that measured the levels: the median is
    /// then over starts of the service, which spend differently too (the seed's async endpoint:
    /// 103 ms per answer in three windows of one start, 93-96 on three fresh starts).
    #[arg(long)]
    pub probe_starts: bool,
    /// The service's pool size when known (the probe's estimate is then only shown).
    #[arg(long)]
    pub pool: Option<usize>,
    /// Model the service with this variant instead of the detected one.
    #[arg(long, short = 'v')]
    pub variant: Option<String>,
    /// The service runs its CPU in parallel (not CPython): no global lock in the model.
    #[arg(long)]
    pub no_gil: bool,
    /// Measured time per point.
    #[arg(long, short = 'd', value_parser = parse_duration, default_value = "10s")]
    pub duration: Duration,
    /// Unmeasured warm-up per point (default: 5s, or 4 expected service times of the phase's
    /// answers when that is longer: the first rounds of a CPU-bound service are not its steady
    /// state). Given, it is taken as it is.
    #[arg(long, value_parser = parse_duration)]
    pub warmup: Option<Duration>,
    /// Output directory: one result per answer length (tokens-N/), calibration.json, and the
    /// calibrated scenario.
    #[arg(long, short = 'o', default_value = "reports/calibrate")]
    pub out: PathBuf,
    /// Where to write the calibrated scenario (default: OUT/calibrated.toml).
    #[arg(long)]
    pub write: Option<PathBuf>,
    /// Worker threads of the embedded mocks.
    #[arg(long, default_value_t = 2)]
    pub mock_threads: usize,
    /// Never draw progress bars.
    #[arg(long)]
    pub no_progress: bool,
    /// Measure nothing: derive the model again from the observations of an earlier
    /// calibration (its calibration.json), e.g. after a ragperf upgrade changed the model.
    /// Give the flags that calibration had (--target, --time-scale, …); the scenario is written
    /// beside FILE unless --write says where.
    #[arg(long, value_name = "FILE")]
    pub from: Option<PathBuf>,
    /// Do not run the model at the probes after the fit (by default it runs once at each, the
    /// probe's warm-up and duration, to show how well it reproduces them).
    #[arg(long)]
    pub no_probe_check: bool,
    /// For an event loop (`async-single`): fit the GIL's share of its off-loop CPU by running
    /// the model at the probes until it runs as fast as the service did there (up to 5 splits,
    /// each a run at every probe), instead of taking the split as measured (py-spy, or the
    /// part beyond one core).
    #[arg(long, conflicts_with = "no_probe_check")]
    pub probe_fit: bool,
    /// Keep the first probe of an event loop (`async-single`) that did not saturate it. By
    /// default, when the probe's requests at the longer answers took under 1.8x as long as at
    /// the highest level (e2e p50), the levels and a probe at twice the users are measured again
    /// (under OUT/probe-U/) and the model takes that pass: a loop's CPU per answer falls until it
    /// is saturated.
    #[arg(long)]
    pub no_deeper_probe: bool,
}

/// The most windows `--probe-runs` measures each probe in.
const MAX_PROBE_RUNS: usize = 9;

/// Calibrate starts the service itself: `--target` and `--target-cmd`, no `--target-pid`.
fn check_target_flags(args: &CalibrateArgs) -> anyhow::Result<()> {
    if args.target.target.is_none() {
        return Err(flag_err(
            "--target",
            "calibrate measures a service: add --target http://127.0.0.1:8080/chat/stream and --target-cmd '…'",
        ));
    }
    if args.target.target_cmd.is_none() && args.from.is_none() {
        return Err(flag_err(
            "--target-cmd",
            "calibrate starts the service itself against its embedded mocks (it varies the answer length and reads the mocks' statistics); give the command that starts it, e.g. --target-cmd 'uvicorn app:app --port 8080'",
        ));
    }
    if args.target.target_pid.is_some() {
        return Err(flag_err(
            "--target-pid",
            "calibrate starts the service itself (--target-cmd); leave --target-pid out",
        ));
    }
    Ok(())
}

/// `--levels`, sorted and deduplicated: at least two, each at least 1 user.
fn levels(args: &CalibrateArgs) -> anyhow::Result<Vec<usize>> {
    let mut levels = args.levels.clone();
    if levels.contains(&0) {
        return Err(flag_err("--levels", "every level must be at least 1 user"));
    }
    levels.sort_unstable();
    levels.dedup();
    if levels.len() < 2 {
        return Err(flag_err(
            "--levels",
            "give at least two low loads, e.g. 2,8: threads that grow between them tell a thread pool from an event loop",
        ));
    }
    Ok(levels)
}

/// The plan of `ragperf calibrate`, every flag checked before any load.
pub fn calibration_plan(args: &CalibrateArgs) -> anyhow::Result<CalibrationPlan> {
    check_target_flags(args)?;
    let levels = levels(args)?;
    let tokens: [u32; 2] = match args.tokens.as_slice() {
        [a, b] if *a >= 1 && a < b => [*a, *b],
        _ => {
            return Err(flag_err(
                "--tokens",
                "give two answer lengths, short then long, e.g. 20,120 (at least 1 token each)",
            ));
        }
    };
    let top = *levels.last().unwrap_or(&1);
    let probe = match args.probe {
        0 => None,
        p if p <= top => {
            return Err(flag_err(
                "--probe",
                format!(
                    "must be above the highest level ({top}) to see a pool's cap, or 0 for none"
                ),
            ));
        }
        p => Some(p),
    };
    if !(1..=MAX_PROBE_RUNS).contains(&args.probe_runs) || args.probe_runs.is_multiple_of(2) {
        return Err(flag_err(
            "--probe-runs",
            format!(
                "an odd number of windows from 1 to {MAX_PROBE_RUNS}, e.g. 3, so that one window is the median (with two, the model would take the cheaper one)"
            ),
        ));
    }
    if probe.is_none() && args.probe_starts {
        return Err(flag_err(
            "--probe-starts",
            "needs a probe to start the service for: --probe 0 measures none (drop --probe-starts, or give --probe)",
        ));
    }
    if probe.is_none() && args.probe_runs > 1 {
        return Err(flag_err(
            "--probe-runs",
            "needs a probe to repeat: --probe 0 measures none (drop --probe-runs, or give --probe)",
        ));
    }
    if args.pool == Some(0) {
        return Err(flag_err("--pool", "must be at least 1 thread"));
    }
    let variant = match &args.variant {
        Some(v) => Some(VariantKind::parse(v).ok_or_else(|| {
            flag_err(
                "--variant",
                format!(
                    "unknown variant {v:?}; one of {}",
                    VariantKind::names().join(", ")
                ),
            )
        })?),
        None => None,
    };
    if args.mock_threads == 0 {
        return Err(flag_err("--mock-threads", "must be at least 1"));
    }
    let common = CommonArgs {
        scenario: args.scenario.clone(),
        time_scale: args.time_scale,
        seed: args.seed,
        duration: Some(args.duration),
        warmup: args.warmup,
        out: args.out.clone(),
        mock_threads: args.mock_threads,
        repeat: 1,
        no_progress: args.no_progress,
        target: args.target.clone(),
        ..CommonArgs::default()
    };
    let mut scenario = super::run::scenario(&common)?;
    let Some(target) = super::target::target_plan(&common, &mut scenario)? else {
        return Err(flag_err("--target", "is required"));
    };
    // `--from` measures nothing: the service need not be started.
    if args.from.is_none() && !matches!(target.server, ServerSource::Command { .. }) {
        return Err(flag_err("--target-cmd", "is required"));
    }
    use std::io::IsTerminal;
    Ok(CalibrationPlan {
        scenario,
        target,
        levels,
        tokens,
        probe,
        probe_runs: args.probe_runs,
        probe_starts: args.probe_starts,
        pool: args.pool,
        variant,
        gil: !args.no_gil,
        out: args.out.clone(),
        mock_threads: args.mock_threads,
        progress: !args.no_progress && std::io::stderr().is_terminal(),
        probe_check: !args.no_probe_check,
        probe_fit: args.probe_fit,
        deeper_probe: !args.no_deeper_probe,
    })
}

/// `ragperf calibrate`.
pub fn calibrate(args: &CalibrateArgs) -> Result<ExitCode> {
    let plan = calibration_plan(args)?;
    if let Some(from) = &args.from {
        return rederive(args, &plan, from);
    }
    let stop = crate::interrupt::stop_flag();
    let write = args
        .write
        .clone()
        .unwrap_or_else(|| plan.out.join("calibrated.toml"));
    eprintln!(
        "ragperf calibrate: {} at {} users x answers of {} and {} tokens{}, time scale {}, writing {}",
        plan.target.spec.url,
        plan.levels
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(","),
        plan.tokens[0],
        plan.tokens[1],
        plan.probe
            .map(|p| match (plan.probe_runs, plan.probe_starts) {
                (1, false) => format!(", then a probe at {p} users"),
                (1, true) => format!(", then a probe at {p} users on a fresh start"),
                (n, false) => format!(", then a probe at {p} users measured {n} times"),
                (n, true) => format!(", then a probe at {p} users measured {n} times, each on a fresh start"),
            })
            .unwrap_or_default(),
        plan.scenario.time_scale,
        plan.out.display()
    );
    let mut writers: std::collections::BTreeMap<String, crate::export::RunWriter> =
        Default::default();
    let cal = crate::calibrate::run(&plan, &stop, |label, r| {
        writers
            .entry(label.to_string())
            .or_insert_with(|| crate::export::RunWriter::new(&plan.out.join(label)))
            .write(r)
    });
    if crate::interrupt::requested() {
        // The phases measured so far are written; no scenario from a partial calibration.
        eprintln!(
            "interrupted: no calibrated scenario written; the phases measured so far are under {}",
            plan.out.display()
        );
        return Ok(ExitCode::from(crate::interrupt::exit_code()));
    }
    write_model(&plan, &cal?, &plan.out.join("calibration.json"), &write)
}

/// `--from`: the model of `from`'s observations, written beside it (or to `--write`).
fn rederive(args: &CalibrateArgs, plan: &CalibrationPlan, from: &Path) -> Result<ExitCode> {
    let Saved {
        observations: saved,
        bursts,
        deeper_probe,
        ..
    } = read_saved(from, plan)?;
    let dir = from.parent().unwrap_or_else(|| Path::new(""));
    let mut read = |label: &str| read_phase(&dir.join(label).join("result.json"));
    let points = saved.len() + bursts.len();
    // A deeper probe's pass (the one the model takes) is under probe-U/.
    let paced_dir = crate::calibrate::pass_dir(deeper_probe.as_ref());
    let (saved, paced_again) = crate::calibrate::reobserve(saved, false, &paced_dir, &mut read)?;
    let (bursts, bursts_again) = crate::calibrate::reobserve(bursts, true, "", &mut read)?;
    eprintln!(
        "ragperf calibrate: the model of the {points} points in {} (nothing measured; {} read again from the phases' result.json beside it)",
        from.display(),
        paced_again + bursts_again
    );
    let mut cal = crate::calibrate::conclude(plan, saved, bursts)?.with_deeper_probe(deeper_probe);
    let stop = crate::interrupt::stop_flag();
    crate::calibrate::check_at_probes(plan, &stop, &mut cal)?;
    let write = args.write.clone().unwrap_or_else(|| {
        from.parent()
            .unwrap_or_else(|| Path::new(""))
            .join("calibrated.toml")
    });
    write_model(plan, &cal, from, &write)
}

/// A phase's result beside a `calibration.json`: None when it was not kept, an error naming the
/// file when it is there but cannot be read.
fn read_phase(path: &Path) -> Result<Option<crate::result::RunResult>> {
    if !path.exists() {
        return Ok(None);
    }
    crate::result::RunResult::read(path).map(Some).map_err(|e| {
        flag_err(
            "--from",
            format!(
                "{} cannot be read ({e}); restore it, or move the phase's directory away to derive the model from the figures saved in calibration.json",
                path.display()
            ),
        )
    })
}

/// What `--from` reads of a `calibration.json`: the points, and (in files written since they
/// were recorded) the service and time scale they were measured at.
#[derive(serde::Deserialize)]
struct Saved {
    target: Option<String>,
    time_scale: Option<f64>,
    observations: Vec<Observation>,
    #[serde(default)]
    bursts: Vec<Observation>,
    #[serde(default)]
    deeper_probe: Option<crate::calibrate::DeeperProbe>,
}

/// The observations saved in `path` by an earlier calibration, checked against the plan: the
/// same service and time scale when the file records them, and at least one point.
fn read_saved(path: &Path, plan: &CalibrationPlan) -> Result<Saved> {
    let shown = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| {
        flag_err(
            "--from",
            format!("cannot read {shown} ({e}); give the calibration.json an earlier `ragperf calibrate` wrote in its --out directory"),
        )
    })?;
    let saved: Saved = serde_json::from_str(&text).map_err(|e| {
        flag_err(
            "--from",
            format!("{shown} is not a calibration.json written by `ragperf calibrate` ({e})"),
        )
    })?;
    let url = plan.target.spec.url.as_str();
    if let Some(t) = saved.target.as_deref().filter(|t| *t != url) {
        return Err(flag_err(
            "--target",
            format!("{shown} measured {t}, not {url}; give the calibration's own --target"),
        ));
    }
    let scale = plan.scenario.time_scale;
    if let Some(ts) = saved.time_scale.filter(|ts| (ts - scale).abs() > 1e-12) {
        return Err(flag_err(
            "--time-scale",
            format!("{shown} was measured at time scale {ts}, not {scale}; give --time-scale {ts}"),
        ));
    }
    if saved.observations.is_empty() {
        return Err(flag_err(
            "--from",
            format!("{shown} holds no observations (an interrupted calibration writes none)"),
        ));
    }
    Ok(saved)
}

/// Writes `calibration.json` and the calibrated scenario, and prints the scenario's summary.
fn write_model(
    plan: &CalibrationPlan,
    cal: &crate::calibrate::Calibration,
    json_path: &Path,
    write: &Path,
) -> Result<ExitCode> {
    let json = serde_json::to_string_pretty(cal)?;
    std::fs::write(json_path, json + "\n")
        .with_context(|| format!("writing {}", json_path.display()))?;
    let toml = cal.scenario_toml(&plan.scenario, plan.gil, plan.target.spec.url.as_str())?;
    if let Some(dir) = write.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(write, &toml).with_context(|| format!("writing {}", write.display()))?;
    // The header of the file is the summary.
    for line in toml.lines().take_while(|l| l.starts_with('#')) {
        println!("{}", line.trim_start_matches("# ").trim_start_matches('#'));
    }
    eprintln!("wrote {}", write.display());
    eprintln!(
        "predict: ragperf sweep --scenario {} -c 50,100,200",
        write.display()
    );
    Ok(ExitCode::SUCCESS)
}
