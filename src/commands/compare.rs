//! `ragperf compare` from flags to exit code: 0 no gated regression, 1 a gated regression,
//! 2 anything that prevents a comparison (usage, unreadable input, schema mismatch, missing
//! variant). Errors are printed here, once, so they keep exit code 2 (the generic error path of
//! `main` exits 1, which CI would read as "regressed").

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::compare::gates::{self, GateSet};
use crate::compare::metric::Metric;
use crate::compare::stats::bootstrap::Settings;
use crate::compare::{BOOTSTRAP_SEED, CompareError, Comparison, Options, markdown, read};

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

/// Exit code of a regression.
pub const EXIT_REGRESSION: u8 = 1;
/// Exit code of a usage or input error.
pub const EXIT_USAGE: u8 = 2;

/// Builds the options from the flags.
pub fn options(args: &CompareArgs) -> Result<Options, CompareError> {
    if !(args.confidence > 0.5 && args.confidence < 1.0) {
        return Err(CompareError::Usage(format!(
            "--confidence: must be between 0.5 and 1 (e.g. 0.95), got {}",
            args.confidence
        )));
    }
    if !(100..=1_000_000).contains(&args.resamples) {
        return Err(CompareError::Usage(format!(
            "--resamples: must be from 100 to 1000000, got {}",
            args.resamples
        )));
    }
    let mut gates = match &args.thresholds {
        Some(path) => GateSet::from_file(path).map_err(CompareError::Usage)?,
        None if args.fail_on.is_empty() => GateSet::defaults(),
        None => GateSet {
            global: Vec::new(),
            source: "gates from --fail-on".into(),
            ..GateSet::defaults()
        },
    };
    if !args.fail_on.is_empty() {
        let flags = gates::parse_gates(&args.fail_on.join(","))
            .map_err(|e| CompareError::Usage(format!("--fail-on: {e}")))?;
        if args.thresholds.is_some() {
            gates.source.push_str(" and --fail-on");
        }
        gates.override_with(flags);
    }
    let metrics = if args.metrics.is_empty() {
        // A metric named both by default and in the thresholds file is one row, not two.
        let mut metrics: Vec<Metric> = Vec::new();
        for m in gates::DEFAULT_INFO_METRICS
            .iter()
            .filter_map(|m| Metric::parse(m).ok())
            .chain(gates.extra_metrics.iter().copied())
        {
            if !metrics.contains(&m) {
                metrics.push(m);
            }
        }
        metrics
    } else {
        args.metrics
            .iter()
            .filter(|m| !m.trim().is_empty())
            .map(|m| Metric::parse(m).map_err(|e| CompareError::Usage(format!("--metrics: {e}"))))
            .collect::<Result<Vec<_>, _>>()?
    };
    Ok(Options {
        gates,
        metrics,
        variants: args
            .variants
            .iter()
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect(),
        bootstrap: Settings {
            confidence: args.confidence,
            resamples: args.resamples,
            seed: BOOTSTRAP_SEED,
        },
    })
}

/// Reads both files and compares them.
pub fn comparison(args: &CompareArgs) -> Result<Comparison, CompareError> {
    let mut opts = options(args)?;
    let base = read(&args.baseline, "baseline")?;
    let cur = read(&args.current, "current")?;
    // Results of a sampled target server show its figures too (unless --metrics chose).
    let sampled = |r: &crate::result::RunResult| r.runs.iter().any(|v| v.server.is_some());
    if args.metrics.is_empty() && (sampled(&base) || sampled(&cur)) {
        for name in gates::SERVER_INFO_METRICS {
            if let Ok(m) = Metric::parse(name)
                && !opts.metrics.contains(&m)
            {
                opts.metrics.push(m);
            }
        }
    }
    crate::compare::compare(
        &base,
        &args.baseline.display().to_string(),
        &cur,
        &args.current.display().to_string(),
        &opts,
    )
}

/// Runs `ragperf compare`; never returns an error (it becomes exit code 2).
pub fn compare(args: &CompareArgs) -> ExitCode {
    let c = match comparison(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("Error: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let text = if args.json {
        match serde_json::to_string_pretty(&c) {
            Ok(t) => t + "\n",
            Err(e) => {
                eprintln!("Error: cannot serialise the comparison: {e}");
                return ExitCode::from(EXIT_USAGE);
            }
        }
    } else {
        markdown::render(&c)
    };
    print!("{text}");
    if let Some(path) = &args.output
        && let Err(e) = std::fs::write(path, &text)
    {
        eprintln!("Error: --output: cannot write {}: {e}", path.display());
        return ExitCode::from(EXIT_USAGE);
    }
    eprintln!(
        "ragperf compare: {} gated regression(s), {} improvement(s) over {} row(s)",
        c.regressions,
        c.improvements,
        c.rows.len()
    );
    if c.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_REGRESSION)
    }
}
