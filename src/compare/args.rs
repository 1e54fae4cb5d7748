//! The flags of `ragperf compare` and `ragperf baseline` (kept here so the shared CLI file only
//! names the subcommands).

use std::path::PathBuf;

use clap::Args;

use crate::cli::RunArgs;

/// `ragperf compare BASELINE CURRENT`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The reference result.json (e.g. reports/baseline/result.json).
    pub baseline: PathBuf,
    /// The result.json to judge (e.g. reports/latest/result.json).
    pub current: PathBuf,
    /// Gates, comma-separated metric=limit in the bad direction, e.g.
    /// e2e.p99=+10%,requests_per_s=-5%,error_rate=+0.01 (a bare number is absolute). Replaces
    /// the default gates; overrides --thresholds metric by metric.
    #[arg(long, value_delimiter = ',', value_name = "METRIC=LIMIT")]
    pub fail_on: Vec<String>,
    /// TOML file of gates: [fail_on], per-variant [variant.NAME], noise, metrics.
    #[arg(long, value_name = "FILE")]
    pub thresholds: Option<PathBuf>,
    /// Metrics to show, comma-separated (default: a standard set); gated metrics are always
    /// shown. Latency: <histogram>.<stat>, e.g. e2e.p99, ttft.p50.
    #[arg(long, value_delimiter = ',')]
    pub metrics: Vec<String>,
    /// Compare only these variants (default: every variant of the baseline).
    #[arg(long, alias = "variant", value_delimiter = ',')]
    pub variants: Vec<String>,
    /// Print the comparison as JSON instead of Markdown.
    #[arg(long)]
    pub json: bool,
    /// Also write the output (Markdown, or JSON with --json) to this file, e.g. for a PR comment.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Confidence level of the bootstrap interval (with >= 3 repetitions per side).
    #[arg(long, default_value_t = 0.95)]
    pub confidence: f64,
    /// Bootstrap resamples.
    #[arg(long, default_value_t = 10_000)]
    pub resamples: usize,
}

/// `ragperf baseline`: run, then write the slim result CI compares against.
#[derive(Debug, Args)]
pub struct BaselineArgs {
    /// Where the baseline goes (the run's --out and --json are not used).
    #[arg(
        long,
        default_value = "reports/baseline/result.json",
        value_name = "FILE"
    )]
    pub to: PathBuf,
    /// The flags of `ragperf run`, e.g. --scenario scenarios/ci.toml --repeat 3.
    #[command(flatten)]
    pub run: RunArgs,
}
