//! Command-line interface: clap definitions and their mapping onto a [`Scenario`] and a
//! [`RunPlan`]. Flags override the scenario file, which overrides the defaults.

pub mod calibrate;
mod checks;
mod target;

pub use checks::{MAX_DURATION, MAX_TIME_SCALE, error_budget_exceeded, writable_dir};

pub use target::{TargetArgs, read_questions};

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::load::arrivals::Arrivals;
use crate::metrics::recorder::Slo;
use crate::pipeline::VariantKind;
use crate::result::LoadPoint;
use crate::run::RunPlan;
use crate::scenario::Scenario;

/// Measure how sync, hybrid and async designs of a RAG service behave under concurrent load.
#[derive(Debug, Parser)]
#[command(name = "ragperf", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run variants at one load point against embedded mocks (or --qdrant-url/--bedrock-url).
    Run(RunArgs),
    /// Run variants at several load points (--concurrency 1,8,64 or --rates 10,20).
    Sweep(SweepArgs),
    /// Serve the mock Qdrant and Bedrock services until Ctrl-C.
    Mock(MockArgs),
    /// Re-render the report (summary.md, results.csv, hgrm/, charts/, index.html) of a result.
    Report(ReportArgs),
    /// Compare two result.json files: per variant and metric the change and a verdict;
    /// exit 1 on a gated regression, 2 on unusable input (see README "Performance regressions").
    Compare(crate::compare::CompareArgs),
    /// Run (flags of `run`, e.g. --scenario scenarios/ci.toml --repeat 3) and write the slim
    /// CI baseline, reports/baseline/result.json.
    Baseline(crate::compare::BaselineArgs),
    /// Run every claim of the seed Q&A (docs/seed-questions.md) as a small experiment and write
    /// a report with a measured verdict for each (--quick: under a minute).
    Tour(TourArgs),
    /// Hold N ConverseStream streams open against a Bedrock endpoint (the embedded mock or
    /// --bedrock-url) and measure the inter-token gaps as received: the mock's capacity benchmark.
    Streams(crate::streams::StreamsArgs),
    /// Measure a real service (--target, --target-cmd) at a few low loads and write the
    /// scenario that makes a built-in variant reproduce it (CPU per request and per token,
    /// thread pool or event loop, pool size): then `run --scenario` predicts higher loads.
    Calibrate(calibrate::CalibrateArgs),
    /// Merge the results of `run --shard I/N` into one result (histograms added losslessly,
    /// counters summed, efficiency recomputed); exit 2 when the shards do not belong together.
    Merge(crate::merge::MergeArgs),
}

/// `ragperf run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Closed loop: simulated users (default 8 with no --scenario, else the scenario's, 32).
    #[arg(long, short = 'c', value_parser = checks::positive_count, allow_negative_numbers = true)]
    pub concurrency: Option<usize>,
    /// Open loop: offered requests per second (replaces the closed loop; not with -c).
    #[arg(long, value_parser = checks::rate, allow_negative_numbers = true)]
    pub rate: Option<f64>,
    /// Shared flags.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// `ragperf sweep`.
#[derive(Debug, Args)]
pub struct SweepArgs {
    /// Closed-loop points, comma-separated (e.g. 1,8,64,512).
    #[arg(long, short = 'c', value_delimiter = ',', value_parser = checks::positive_count,
          allow_negative_numbers = true)]
    pub concurrency: Vec<usize>,
    /// Open-loop points in requests/s, comma-separated (e.g. 5,10,20).
    #[arg(long, value_delimiter = ',', conflicts_with = "concurrency", value_parser = checks::rate,
          allow_negative_numbers = true)]
    pub rates: Vec<f64>,
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
    /// Variants to run, comma-separated (default: all): sequential, sync, sync-stream, hybrid,
    /// async, async-single, blocking-in-async.
    #[arg(long, alias = "variants", short = 'v', value_delimiter = ',')]
    pub variant: Vec<String>,
    /// Stop each variant after this many measured requests.
    #[arg(long, short = 'n', value_parser = checks::positive_u64, allow_negative_numbers = true)]
    pub requests: Option<u64>,
    /// Measured time per variant, e.g. 30s (default 10s unless --requests is given; `run`
    /// with no --scenario: 3s).
    #[arg(long, short = 'd', value_parser = parse_duration, allow_hyphen_values = true)]
    pub duration: Option<Duration>,
    /// Unmeasured warm-up per variant, e.g. 2s (default: the connection ramp).
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
    #[arg(long, value_parser = checks::positive_count, allow_negative_numbers = true)]
    pub max_in_flight: Option<usize>,
    /// Multiply every injected latency (0.01 = 100x faster; > 0, at most 1000; default 1, but
    /// 0.1 for `run` with no --scenario: --time-scale 1 gives the seed's real latencies).
    #[arg(long, value_parser = checks::time_scale, allow_negative_numbers = true)]
    pub time_scale: Option<f64>,
    /// Seed for latency draws, answers and arrivals.
    #[arg(long, value_parser = checks::non_negative_u64, allow_negative_numbers = true)]
    pub seed: Option<u64>,
    /// `sync`: bounded pool of N threads (default: one per in-flight request); `sync-stream`:
    /// the shared pool's N threads (default 40, anyio's limiter).
    #[arg(long, value_parser = checks::positive_count, allow_negative_numbers = true)]
    pub workers: Option<usize>,
    /// Tokio worker threads for async, hybrid and blocking-in-async (default: cores).
    #[arg(long, value_parser = checks::positive_count, allow_negative_numbers = true)]
    pub worker_threads: Option<usize>,
    /// `hybrid`: size of tokio's blocking pool (default 512).
    #[arg(long, value_parser = checks::positive_count, allow_negative_numbers = true)]
    pub max_blocking_threads: Option<usize>,
    /// CPU work per request, µs of calibrated computation.
    #[arg(long, value_parser = checks::non_negative_u64, allow_negative_numbers = true)]
    pub cpu_work_us: Option<u64>,
    /// CPU work per received token event, µs of calibrated computation (every variant; under
    /// the GIL with --gil). Python stacks spend ~400 µs per streamed token.
    #[arg(long, value_parser = checks::non_negative_u64, allow_negative_numbers = true)]
    pub cpu_per_token_us: Option<u64>,
    /// Serialise every CPU section through one global lock, as CPython's GIL.
    #[arg(long)]
    pub gil: bool,
    /// Goodput SLO, e.g. ttft=1s,e2e=6s,tpot=50ms.
    #[arg(long, value_parser = Slo::parse)]
    pub slo: Option<Slo>,
    /// Run every point K times (for noise-aware comparisons).
    #[arg(long, default_value_t = 1, value_parser = checks::positive_u32, allow_negative_numbers = true)]
    pub repeat: u32,
    /// Exit 1 when more than this fraction of the measured requests failed or did not finish
    /// (e.g. 0.01; default: exit 1 only when every request failed).
    #[arg(long, value_parser = checks::error_rate_fraction, allow_negative_numbers = true)]
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
    #[arg(long, default_value_t = 2, value_parser = checks::positive_count, allow_negative_numbers = true)]
    pub mock_threads: usize,
    /// Never draw progress bars.
    #[arg(long)]
    pub no_progress: bool,
    /// Drive a real HTTP endpoint instead of the variants.
    #[command(flatten)]
    pub target: TargetArgs,
    /// Shards: one load over several processes (`--shard`, `--shards`, `--start-at`).
    #[command(flatten)]
    pub shard: crate::shard::ShardArgs,
}

/// `ragperf report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A result directory (holding result.json, e.g. reports/latest) or a result.json file.
    pub input: PathBuf,
    /// Output directory (default: the result's own directory).
    #[arg(long, short = 'o')]
    pub out: Option<PathBuf>,
    /// Formats, comma-separated: json, md, csv, hgrm, svg, png, html (default: all; json only
    /// when --out is another directory).
    #[arg(long, short = 'f', value_delimiter = ',', value_parser = crate::export::Format::parse)]
    pub format: Vec<crate::export::Format>,
}

/// `ragperf tour`.
#[derive(Debug, Args)]
pub struct TourArgs {
    /// Small time scales and request counts: under a minute on two cores (the full tour takes
    /// a few minutes).
    #[arg(long)]
    pub quick: bool,
    /// Only these experiments, comma-separated: Q1/Q3 (or Q1, Q3), Q5, Q4, Q6, Q7, Q16, Q22,
    /// Q30, X1 (blocking-in-async), X2 (cpu-on-loop).
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Output directory (tour.md, index.html, tour.json, charts/, one folder per experiment).
    #[arg(long, short = 'o', default_value = "reports/tour-latest")]
    pub out: PathBuf,
}

/// `ragperf mock`.
#[derive(Debug, Args)]
pub struct MockArgs {
    /// Mock Qdrant address (port 0 = any free port).
    #[arg(long, default_value = "127.0.0.1:6333")]
    pub qdrant: SocketAddr,
    /// Mock Bedrock Runtime address (port 0 = any free port).
    #[arg(long, default_value = "127.0.0.1:8000")]
    pub bedrock: SocketAddr,
    /// Scenario TOML file (its [qdrant], [bedrock], [embedding] and [faults] sections apply).
    #[arg(long, short = 's')]
    pub scenario: Option<PathBuf>,
    /// Multiply every injected latency (> 0, at most 1000).
    #[arg(long, value_parser = checks::time_scale, allow_negative_numbers = true)]
    pub time_scale: Option<f64>,
    /// Seed for latency draws and answers.
    #[arg(long, value_parser = checks::non_negative_u64, allow_negative_numbers = true)]
    pub seed: Option<u64>,
    /// Worker threads (default: cores).
    #[arg(long, value_parser = checks::positive_count, allow_negative_numbers = true)]
    pub threads: Option<usize>,
}

/// Parses a duration flag (`10s`, `500ms`, `2m`), saying how to write one when it is not.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    checks::duration(s)
}

/// A flag that makes no sense, naming the flag and the fix.
#[derive(Debug, thiserror::Error)]
#[error("{flag}: {message}")]
pub struct FlagError {
    /// The flag, e.g. `--concurrency`.
    pub flag: &'static str,
    /// What is wrong and the fix.
    pub message: String,
}

pub(crate) fn flag_err(flag: &'static str, message: impl Into<String>) -> anyhow::Error {
    FlagError {
        flag,
        message: message.into(),
    }
    .into()
}

/// Checks that `url` is an `http://host:port` base URL.
pub fn check_url(flag: &'static str, url: &str) -> anyhow::Result<String> {
    let trimmed = url.trim().trim_end_matches('/');
    // One URL rule for every flag: scheme, host and port (1-65535) as `--target` checks them.
    let parsed = crate::target::config::check_http_url(flag, trimmed).map_err(|e| {
        flag_err(
            flag,
            format!(
                "{}; write a base URL, e.g. http://127.0.0.1:6333",
                // The --target example does not fit a base URL.
                e.message.split("; write e.g.").next().unwrap_or(&e.message)
            ),
        )
    })?;
    if parsed.path() != "/" || parsed.query().is_some() {
        return Err(flag_err(
            flag,
            format!("`{url}` must be a base URL like http://127.0.0.1:6333, without a path"),
        ));
    }
    Ok(trimmed.to_string())
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
    if common.gil {
        s.request.gil = true;
    }
    // Keeps the ScenarioError in the chain: bad input exits 2.
    s.validate().map_err(|e| {
        anyhow::Error::new(e).context("the scenario (--scenario file, then the flags) is invalid")
    })?;
    Ok(s)
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

fn closed_point(concurrency: usize) -> LoadPoint {
    LoadPoint::closed(concurrency)
}

fn open_point(s: &Scenario, rate: f64) -> LoadPoint {
    LoadPoint {
        mode: "open".into(),
        concurrency: 0,
        rate: Some(rate),
        arrivals: Some(s.load.arrivals.to_string()),
        max_in_flight: s.load.max_in_flight,
    }
}

fn plan(
    command: &str,
    common: &CommonArgs,
    mut s: Scenario,
    points: Vec<LoadPoint>,
) -> anyhow::Result<RunPlan> {
    let target = target::target_plan(common, &mut s)?;
    let external = match (&common.qdrant_url, &common.bedrock_url) {
        (Some(q), Some(b)) => Some((
            check_url("--qdrant-url", q)?,
            check_url("--bedrock-url", b)?,
        )),
        _ => None,
    };
    let embedded_mocks = external.is_none() && target.is_none();
    for p in points.iter().filter(|p| p.rate.is_none()) {
        checks::users_fit("--concurrency", p.concurrency, embedded_mocks)?;
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
fn sharded(plan: &mut RunPlan, common: &CommonArgs) -> anyhow::Result<()> {
    let index = std::env::var(crate::shard::INDEX_ENV).ok();
    let windows = plan.subject_count() * plan.points.len() * plan.repeat.max(1) as usize;
    plan.sharding = crate::shard::apply(
        &mut plan.points,
        &mut plan.scenario,
        windows,
        &common.shard,
        index.as_deref(),
    )?;
    Ok(())
}

/// The plan of `ragperf sweep`.
pub fn sweep_plan(args: &SweepArgs) -> anyhow::Result<RunPlan> {
    let s = scenario(&args.common)?;
    let points: Vec<LoadPoint> = if !args.rates.is_empty() {
        if let Some(r) = args.rates.iter().find(|r| !r.is_finite() || **r <= 0.0) {
            return Err(flag_err(
                "--rates",
                format!("every rate must be > 0, got {r}"),
            ));
        }
        args.rates.iter().map(|r| open_point(&s, *r)).collect()
    } else if !args.concurrency.is_empty() {
        if args.concurrency.contains(&0) {
            return Err(flag_err("--concurrency", "every point must be at least 1"));
        }
        args.concurrency.iter().map(|c| closed_point(*c)).collect()
    } else {
        return Err(flag_err(
            "--concurrency",
            "a sweep needs points: --concurrency 1,8,64 or --rates 5,10,20",
        ));
    };
    let mut plan = plan("sweep", &args.common, s, points)?;
    sharded(&mut plan, &args.common)?;
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

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
