//! `ragperf run`: its flags (and the ones `sweep`, `baseline` and `calibrate` share,
//! [`CommonArgs`]), how they become a [`Scenario`] and a [`RunPlan`] (flags override the scenario
//! file, which overrides the defaults), the run itself with the report rewritten after every
//! variant, and the exit code.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::Args;

use super::flags::{self, flag_err, parse_duration};
use super::target::{self, TargetArgs};
use crate::export;
use crate::load::arrivals::Arrivals;
use crate::metrics::recorder::Slo;
use crate::pipeline::VariantKind;
use crate::result::LoadPoint;
use crate::run::{self as engine, RunPlan};
use crate::scenario::Scenario;

/// `ragperf run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Closed loop: simulated users (default 8 with no --scenario, else the scenario's, 32).
    #[arg(long, short = 'c', value_parser = flags::positive_count, allow_negative_numbers = true)]
    pub concurrency: Option<usize>,
    /// Open loop: offered requests per second (replaces the closed loop; not with -c).
    #[arg(long, value_parser = flags::rate, allow_negative_numbers = true)]
    pub rate: Option<f64>,
    /// Shared flags.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Flags shared by `run` and `sweep`.
#[derive(Debug, Args, Default)]
pub struct CommonArgs {
    /// Scenario TOML file (latencies, faults, request, client, load).
    #[arg(long, short = 's')]
    pub scenario: Option<PathBuf>,
    /// Variants to run, comma-separated (default: all); the help lists the registry's names.
    #[arg(long, alias = "variants", short = 'v', value_delimiter = ',', help = variant_help())]
    pub variant: Vec<String>,
    /// Stop each variant after this many measured requests.
    #[arg(long, short = 'n', value_parser = flags::positive_u64, allow_negative_numbers = true)]
    pub requests: Option<u64>,
    /// Measured time per variant, e.g. 30s (default 10s unless --requests is given; `run`
    /// with no --scenario: 3s).
    #[arg(long, short = 'd', value_parser = parse_duration, allow_hyphen_values = true)]
    pub duration: Option<Duration>,
    /// Unmeasured warm-up per variant, e.g. 2s (default: the connection ramp; a CPU-bound
    /// closed loop: one round of every user through the CPU plus a service time; an open
    /// loop: 1.5 service times; a --target: at least 2s).
    #[arg(long, value_parser = parse_duration, allow_hyphen_values = true)]
    pub warmup: Option<Duration>,
    /// Closed loop: spread the users' first requests over this long, e.g. 0s (default: one
    /// expected service time).
    #[arg(long, value_parser = parse_duration, allow_hyphen_values = true)]
    pub ramp: Option<Duration>,
    /// Closed loop: pause between a user's requests, model time (scaled), e.g. 500ms.
    #[arg(long, value_parser = parse_duration, allow_hyphen_values = true)]
    pub think_time: Option<Duration>,
    /// Open loop: arrivals: constant, poisson or gamma:<burstiness>.
    #[arg(long, value_parser = Arrivals::parse)]
    pub arrivals: Option<Arrivals>,
    /// Open loop: cap on requests in flight; the rest wait (counted as queue time).
    #[arg(long, value_parser = flags::positive_count, allow_negative_numbers = true)]
    pub max_in_flight: Option<usize>,
    /// Multiply every injected latency (0.01 = 100x faster; > 0, at most 1000; default 1, but
    /// 0.1 for `run` with no --scenario: --time-scale 1 gives the seed's real latencies).
    #[arg(long, value_parser = flags::time_scale, allow_negative_numbers = true)]
    pub time_scale: Option<f64>,
    /// Seed for latency draws, answers and arrivals.
    #[arg(long, value_parser = flags::non_negative_u64, allow_negative_numbers = true)]
    pub seed: Option<u64>,
    /// `sync`: bounded pool of N threads (default: one per in-flight request); `sync-stream`:
    /// the shared pool's N threads (default 40, anyio's limiter).
    #[arg(long, value_parser = flags::positive_count, allow_negative_numbers = true)]
    pub workers: Option<usize>,
    /// Tokio worker threads for async, hybrid and blocking-in-async (default: cores).
    #[arg(long, value_parser = flags::positive_count, allow_negative_numbers = true)]
    pub worker_threads: Option<usize>,
    /// `hybrid`: size of tokio's blocking pool (default 512).
    #[arg(long, value_parser = flags::positive_count, allow_negative_numbers = true)]
    pub max_blocking_threads: Option<usize>,
    /// CPU work per request, µs of calibrated computation.
    #[arg(long, value_parser = flags::non_negative_u64, allow_negative_numbers = true)]
    pub cpu_work_us: Option<u64>,
    /// CPU work per received token event, µs of calibrated computation (every variant; under
    /// the GIL with --gil). Python stacks spend ~400 µs per streamed token.
    #[arg(long, value_parser = flags::non_negative_u64, allow_negative_numbers = true)]
    pub cpu_per_token_us: Option<u64>,
    /// CPU per socket read of the answer stream that brings a token, µs, on top of
    /// --cpu-per-token-us (in sync-stream: a `next()` that found no token already buffered); a
    /// stream read later than its tokens' spacing reads several per read, so the cost falls away
    /// under load. `ragperf calibrate` measures it.
    #[arg(long, value_parser = flags::non_negative_u64, allow_negative_numbers = true)]
    pub cpu_per_read_us: Option<u64>,
    /// Spread --cpu-work-us over 1 (the prompt), 2 (+ before the retrieval) or 3 (+ before the
    /// embedding) points: in an event loop each is its own turn on the loop.
    #[arg(long, value_parser = flags::cpu_steps, allow_negative_numbers = true)]
    pub cpu_steps: Option<u8>,
    /// Share of --cpu-work-us (0–1) that runs off the event loop on another thread, still under
    /// the GIL (Python code in an executor); `ragperf calibrate` measures it.
    #[arg(long, value_parser = flags::share, allow_negative_numbers = true)]
    pub cpu_offloop_share: Option<f64>,
    /// Share of --cpu-work-us (0–1) that runs in parallel, off the event loop and outside the
    /// GIL (C code that releases it); `ragperf calibrate` measures it.
    #[arg(long, value_parser = flags::share, allow_negative_numbers = true)]
    pub cpu_parallel_share: Option<f64>,
    /// Share of --cpu-per-token-us (0–1) that `sync-stream`'s event loop spends on every token,
    /// serially on its one thread (Starlette's loop sends each chunk and dispatches the next
    /// `next()`); `ragperf calibrate` measures it. The other variants ignore it.
    #[arg(long, value_parser = flags::share, allow_negative_numbers = true)]
    pub cpu_token_loop_share: Option<f64>,
    /// Share of --cpu-work-us (0–1) that `sync-stream`'s event loop spends on every new request
    /// before its body runs (reading it, dispatching the body), serially on its one thread;
    /// `ragperf calibrate` measures it. The other variants ignore it.
    #[arg(long, value_parser = flags::share, allow_negative_numbers = true)]
    pub cpu_request_loop_share: Option<f64>,
    /// Share (0–1) of every CPU section under the GIL that its thread spends without it, before
    /// taking it (a CPython thread's system calls release the GIL); `ragperf calibrate` sets it
    /// to the service's system share of its CPU. Only with --gil.
    #[arg(long, value_parser = flags::share, allow_negative_numbers = true)]
    pub cpu_outside_gil_share: Option<f64>,
    /// The most of each second (0.01–1, default 1: no cap) the GIL may be held over sustained
    /// use, as CPython's, whose hand-offs between threads leave it idle; `ragperf calibrate`
    /// sets it for a thread pool to 1 − its share outside the GIL. Only with --gil.
    #[arg(long, value_parser = flags::share, allow_negative_numbers = true)]
    pub gil_max_busy: Option<f64>,
    /// Serialise every CPU section through one global lock, as CPython's GIL.
    #[arg(long)]
    pub gil: bool,
    /// Goodput SLO, e.g. ttft=1s,e2e=6s,tpot=50ms.
    #[arg(long, value_parser = Slo::parse)]
    pub slo: Option<Slo>,
    /// Run every point K times (for noise-aware comparisons).
    #[arg(long, default_value_t = 1, value_parser = flags::positive_u32, allow_negative_numbers = true)]
    pub repeat: u32,
    /// Exit 1 when more than this fraction of the measured requests failed or did not finish
    /// (e.g. 0.01; default: exit 1 only when every request failed).
    #[arg(long, value_parser = flags::error_rate_fraction, allow_negative_numbers = true)]
    pub max_error_rate: Option<f64>,
    /// Output directory.
    #[arg(long, short = 'o', default_value = "reports/latest")]
    pub out: PathBuf,
    /// Print result.json to stdout instead of the table.
    #[arg(long)]
    pub json: bool,
    /// External Qdrant base URL (with --bedrock-url; no embedded mocks are started).
    #[arg(long, requires = "bedrock_url")]
    pub qdrant_url: Option<String>,
    /// External Bedrock Runtime base URL (with --qdrant-url).
    #[arg(long, requires = "qdrant_url")]
    pub bedrock_url: Option<String>,
    /// Worker threads of the embedded mocks (they share the machine with the variant).
    #[arg(long, default_value_t = 2, value_parser = flags::positive_count, allow_negative_numbers = true)]
    pub mock_threads: usize,
    /// Never draw progress bars.
    #[arg(long)]
    pub no_progress: bool,
    /// Drive a real HTTP endpoint instead of the variants.
    #[command(flatten)]
    pub target: TargetArgs,
    /// Shards: one load over several processes (`--shard`, `--shards`, `--start-at`).
    #[command(flatten)]
    pub shard: super::shard::ShardArgs,
}

/// Builds the scenario: defaults, then the file, then the flags.
pub fn scenario(common: &CommonArgs) -> anyhow::Result<Scenario> {
    let mut s = match &common.scenario {
        Some(p) => Scenario::from_file(p)?,
        None => Scenario::default(),
    };
    if let Some(v) = common.time_scale {
        s.time_scale = v;
    }
    if let Some(v) = common.seed {
        s.seed = v;
    }
    if !common.variant.is_empty() {
        s.load.variants = common.variant.clone();
    }
    if common.requests.is_some() {
        s.load.requests = common.requests;
        if common.duration.is_none() {
            s.load.duration = None;
        }
    }
    if common.duration.is_some() {
        s.load.duration = common.duration;
    }
    if common.warmup.is_some() {
        s.load.warmup = common.warmup;
    }
    if common.ramp.is_some() {
        s.load.ramp = common.ramp;
    }
    if let Some(t) = common.think_time {
        s.load.think_time_ms = t.as_secs_f64() * 1000.0;
    }
    if let Some(a) = common.arrivals {
        s.load.arrivals = a;
    }
    if common.max_in_flight.is_some() {
        s.load.max_in_flight = common.max_in_flight;
    }
    if common.workers.is_some() {
        s.load.workers = common.workers;
    }
    if common.worker_threads.is_some() {
        s.load.worker_threads = common.worker_threads;
    }
    if common.max_blocking_threads.is_some() {
        s.load.max_blocking_threads = common.max_blocking_threads;
    }
    if let Some(v) = common.cpu_work_us {
        s.request.cpu_work_us = v;
    }
    if let Some(v) = common.cpu_per_token_us {
        s.request.cpu_per_token_us = v;
    }
    if let Some(v) = common.cpu_per_read_us {
        s.request.cpu_per_read_us = v;
    }
    if let Some(v) = common.cpu_steps {
        s.request.cpu_steps = v;
    }
    if let Some(v) = common.cpu_offloop_share {
        s.request.cpu_offloop_share = v;
    }
    if let Some(v) = common.cpu_parallel_share {
        s.request.cpu_parallel_share = v;
    }
    if let Some(v) = common.cpu_token_loop_share {
        s.request.cpu_token_loop_share = v;
    }
    if let Some(v) = common.cpu_request_loop_share {
        s.request.cpu_request_loop_share = v;
    }
    if let Some(v) = common.cpu_outside_gil_share {
        s.request.cpu_outside_gil_share = v;
    }
    if let Some(v) = common.gil_max_busy {
        s.request.gil_max_busy = v;
    }
    if common.gil {
        s.request.gil = true;
    }
    // Keeps the ScenarioError in the chain: bad input exits 2.
    s.validate().map_err(|e| {
        anyhow::Error::new(e).context("the scenario (--scenario file, then the flags) is invalid")
    })?;
    Ok(s)
}

/// `--variant`'s help: every registered variant, in report order.
fn variant_help() -> String {
    format!(
        "Variants to run, comma-separated (default: all): {}",
        VariantKind::names().join(", ")
    )
}

fn variants(s: &Scenario) -> Vec<VariantKind> {
    if s.load.variants.is_empty() {
        VariantKind::ALL.to_vec()
    } else {
        s.load
            .variants
            .iter()
            .filter_map(|v| VariantKind::parse(v))
            .collect()
    }
}

/// A closed-loop point of `concurrency` users (`-c`).
pub fn closed_point(concurrency: usize) -> LoadPoint {
    LoadPoint::closed(concurrency)
}

/// An open-loop point at `rate` requests/s (`--rate`), with the scenario's arrivals and
/// in-flight cap.
pub fn open_point(s: &Scenario, rate: f64) -> LoadPoint {
    LoadPoint {
        mode: "open".into(),
        concurrency: 0,
        rate: Some(rate),
        arrivals: Some(s.load.arrivals.to_string()),
        max_in_flight: s.load.max_in_flight,
    }
}

/// The plan of `command` (`run`, `sweep`, `baseline`) for scenario `s` at `points`: the
/// flags' checks (URLs, users that fit, repetitions) and settings (SLO, mocks, progress). The
/// integration tests build their plans here too (`tests/common`).
pub fn plan(
    command: &str,
    common: &CommonArgs,
    mut s: Scenario,
    points: Vec<LoadPoint>,
) -> anyhow::Result<RunPlan> {
    let target = target::target_plan(common, &mut s)?;
    let external = match (&common.qdrant_url, &common.bedrock_url) {
        (Some(q), Some(b)) => Some((
            flags::check_url("--qdrant-url", q)?,
            flags::check_url("--bedrock-url", b)?,
        )),
        _ => None,
    };
    let embedded_mocks = external.is_none() && target.is_none();
    for p in points.iter().filter(|p| p.rate.is_none()) {
        flags::users_fit("--concurrency", p.concurrency, embedded_mocks)?;
    }
    if common.repeat == 0 {
        return Err(flag_err("--repeat", "must be at least 1"));
    }
    if common.mock_threads == 0 {
        return Err(flag_err("--mock-threads", "must be at least 1"));
    }
    use std::io::IsTerminal;
    Ok(RunPlan {
        command: command.into(),
        variants: variants(&s),
        points,
        slo: common.slo.clone().unwrap_or_default(),
        repeat: common.repeat,
        external,
        mock_threads: common.mock_threads,
        progress: !common.no_progress && !common.json && std::io::stderr().is_terminal(),
        sample_interval: Duration::from_millis(100),
        target,
        scenario: s,
        sharding: Default::default(),
        restart_target_before: Vec::new(),
    })
}

/// `run`'s first-run defaults (no `--scenario`, no `--target`, embedded mocks): every injected
/// latency ×0.1 (a request takes ~0.35 s instead of ~3.5 s), 8 users and 3 s measured per
/// variant, so the seven variants finish in well under 45 s and even `sequential` and
/// `blocking-in-async` complete requests. `--time-scale 1` gives the seed's real latencies.
pub const FIRST_RUN_TIME_SCALE: f64 = 0.1;
/// Users of the first-run default (see [`FIRST_RUN_TIME_SCALE`]).
pub const FIRST_RUN_CONCURRENCY: usize = 8;
/// Measured time per variant of the first-run default (see [`FIRST_RUN_TIME_SCALE`]).
pub const FIRST_RUN_DURATION: Duration = Duration::from_secs(3);

/// Applies `run`'s first-run defaults to whatever the flags left unset.
fn first_run_defaults(args: &RunArgs, s: &mut Scenario) {
    let c = &args.common;
    if c.scenario.is_some() || c.target.target.is_some() || c.qdrant_url.is_some() {
        return;
    }
    if c.time_scale.is_none() {
        s.time_scale = FIRST_RUN_TIME_SCALE;
    }
    if args.concurrency.is_none() && args.rate.is_none() {
        s.load.concurrency = FIRST_RUN_CONCURRENCY;
    }
    if c.duration.is_none() && c.requests.is_none() {
        s.load.duration = Some(FIRST_RUN_DURATION);
    }
}

/// The plan of `ragperf run`.
pub fn run_plan(args: &RunArgs) -> anyhow::Result<RunPlan> {
    let mut s = scenario(&args.common)?;
    if let (Some(c), Some(r)) = (args.concurrency, args.rate.or(s.load.rate)) {
        return Err(flag_err(
            "--concurrency",
            format!(
                "-c {c} sets closed-loop users, but {} sets an open-loop arrival rate of {r}/s, \
                 which would ignore -c: keep one of them (--max-in-flight caps an open loop's \
                 requests in flight)",
                if args.rate.is_some() {
                    "--rate"
                } else {
                    "the scenario's [load] rate"
                }
            ),
        ));
    }
    first_run_defaults(args, &mut s);
    if let Some(c) = args.concurrency {
        if c == 0 {
            return Err(flag_err("--concurrency", "must be at least 1"));
        }
        s.load.concurrency = c;
    }
    if let Some(r) = args.rate {
        if !r.is_finite() || r <= 0.0 {
            return Err(flag_err(
                "--rate",
                format!("must be > 0 requests per second, got {r}"),
            ));
        }
        s.load.rate = Some(r);
    }
    let point = match s.load.rate {
        Some(r) => open_point(&s, r),
        None => closed_point(s.load.concurrency),
    };
    let mut plan = plan("run", &args.common, s, vec![point])?;
    sharded(&mut plan, &args.common)?;
    Ok(plan)
}

/// Applies `--shard`/`--shards`/`--start-at` (src/shard/) to a plan.
pub(super) fn sharded(plan: &mut RunPlan, common: &CommonArgs) -> anyhow::Result<()> {
    let index = std::env::var(crate::shard::INDEX_ENV).ok();
    let windows = plan.subject_count() * plan.points.len() * plan.repeat.max(1) as usize;
    plan.sharding = crate::shard::apply(
        &mut plan.points,
        &mut plan.scenario,
        windows,
        &common.shard.flags(),
        index.as_deref(),
    )?;
    Ok(())
}

/// `ragperf run`.
pub fn run(args: &RunArgs) -> Result<ExitCode> {
    let plan = run_plan(args)?;
    execute(&plan, &args.common)
}

/// Runs `plan` (for `run` and `sweep`), rewriting the report in `--out` after every variant,
/// and prints the table (or the result as JSON with `--json`).
pub(super) fn execute(plan: &RunPlan, common: &CommonArgs) -> Result<ExitCode> {
    let (out, json) = (common.out.as_path(), common.json);
    // Before the load: a run must not fail at its end for want of a folder.
    flags::writable_dir("--out", out)?;
    let stop = crate::interrupt::stop_flag();
    if !json {
        let what = match &plan.target {
            Some(t) => format!("target {}", t.spec.url),
            None => format!("{} variant(s)", plan.variants.len()),
        };
        eprintln!(
            "ragperf {}: {what} x {} point(s), time scale {}, writing {}",
            plan.command,
            plan.points.len(),
            plan.scenario.time_scale,
            out.display()
        );
    }
    if let Some(line) = crate::shard::start::announce(&plan.sharding) {
        eprintln!("{line}");
    }
    // The whole report (tables, .hgrm, charts, index.html) is rewritten after every variant.
    let mut writer = export::RunWriter::new(out);
    let result = engine::execute(plan, &stop, |partial| writer.write(partial))?;
    if result.runs.is_empty() && plan.sharding.start_at.is_some() && crate::interrupt::requested() {
        eprintln!("interrupted before --start-at: no load was sent and nothing was written");
        return Ok(ExitCode::from(crate::interrupt::exit_code()));
    }
    let (before, after) = result.plan.fd_limit;
    if !json && after > before {
        eprintln!("raised the open-files soft limit from {before} to {after}");
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        print!("{}", export::table::render(&result));
        eprintln!("wrote {}", out.join("result.json").display());
        eprintln!(
            "report: {} (rendering took {:.2} s per update)",
            out.join("index.html").display(),
            writer.last.as_secs_f64()
        );
    }
    Ok(exit_code(
        &result,
        stop.load(std::sync::atomic::Ordering::Relaxed),
        common.max_error_rate,
    ))
}

/// The exit code of a finished `run`/`sweep` (README "Exit codes"): 130/143 when a signal
/// stopped it, 1 when every request failed or the error rate exceeds `--max-error-rate`, 0
/// otherwise.
fn exit_code(
    result: &crate::result::RunResult,
    interrupted: bool,
    max_error_rate: Option<f64>,
) -> ExitCode {
    let sent: u64 = result.runs.iter().map(|r| r.counters.sent).sum();
    let ok: u64 = result.runs.iter().map(|r| r.counters.ok).sum();
    if interrupted {
        ExitCode::from(crate::interrupt::exit_code())
    } else if sent > 0 && ok == 0 {
        // A run in which nothing succeeded measured nothing worth a green light.
        eprintln!("every request failed (the table lists the failures by kind)");
        ExitCode::FAILURE
    } else if let Some(message) =
        max_error_rate.and_then(|limit| flags::error_budget_exceeded(result, limit))
    {
        eprintln!("{message}");
        ExitCode::FAILURE
    } else if result.partial {
        // Not every planned point ran, and no signal says why.
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::super::{Cli, Command};
    use super::*;

    fn run_args(args: &[&str]) -> RunArgs {
        let mut argv = vec!["ragperf", "run"];
        argv.extend_from_slice(args);
        match Cli::parse_from(argv).command {
            Command::Run(a) => a,
            other => panic!("not run: {other:?}"),
        }
    }

    #[test]
    fn a_bare_run_gets_the_first_run_defaults_and_flags_win() {
        let plan = run_plan(&run_args(&[])).expect("plan");
        assert_eq!(plan.scenario.time_scale, FIRST_RUN_TIME_SCALE);
        assert_eq!(plan.points[0].concurrency, FIRST_RUN_CONCURRENCY);
        assert_eq!(plan.scenario.load.duration, Some(FIRST_RUN_DURATION));
        let plan =
            run_plan(&run_args(&["--time-scale", "1", "-c", "32", "-d", "10s"])).expect("plan");
        assert_eq!(plan.scenario.time_scale, 1.0);
        assert_eq!(plan.points[0].concurrency, 32);
        assert_eq!(plan.scenario.load.duration, Some(Duration::from_secs(10)));
        // A scenario file keeps its own (here: default) settings.
        let plan = run_plan(&run_args(&["--scenario", "scenarios/seed.toml"])).expect("plan");
        assert_ne!(plan.scenario.time_scale, FIRST_RUN_TIME_SCALE);
        // -n alone keeps counting requests, with no 3 s limit.
        let plan = run_plan(&run_args(&["-n", "50"])).expect("plan");
        assert_eq!(plan.scenario.load.duration, None);
    }
}
