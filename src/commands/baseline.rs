//! `ragperf baseline`: the flags of `run`, then the slim result CI compares against
//! (`reports/baseline/result.json`), and a one-line-per-point summary of it.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use super::flags;
use super::run::{RunArgs, run_plan};
use crate::compare::baseline::{slim, write};
use crate::compare::metric::Metric;
use crate::compare::stats::median::median;
use crate::result::RunResult;

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

/// `ragperf baseline`: runs the plan, then writes the slim result to `--to`. An interrupted run
/// writes nothing (a partial baseline would fail every later comparison) and exits 130 (SIGINT) or 143 (SIGTERM).
pub fn baseline(args: &BaselineArgs) -> Result<ExitCode> {
    let plan = run_plan(&args.run)?;
    if let Some(parent) = args.to.parent().filter(|p| !p.as_os_str().is_empty()) {
        flags::writable_dir("--to", parent)?;
    }
    let stop = crate::interrupt::stop_flag();
    eprintln!(
        "ragperf baseline: {} variant(s) x {} point(s) x {} repetition(s), time scale {}, \
         writing {}",
        plan.variants.len(),
        plan.points.len(),
        plan.repeat,
        plan.scenario.time_scale,
        args.to.display()
    );
    let mut result = crate::run::execute(&plan, &stop, |_| Ok(()))?;
    if result.partial {
        eprintln!("interrupted: the baseline was not written");
        return Ok(ExitCode::from(crate::interrupt::exit_code()));
    }
    if let Some(message) = args
        .run
        .common
        .max_error_rate
        .and_then(|limit| flags::error_budget_exceeded(&result, limit))
    {
        eprintln!("{message}: the baseline was not written");
        return Ok(ExitCode::FAILURE);
    }
    slim(&mut result);
    write(&args.to, &result)?;
    print!("{}", summary(&result));
    eprintln!("wrote {}", args.to.display());
    Ok(ExitCode::SUCCESS)
}

/// Medians over repetitions of a few headline metrics, one line per variant × point.
fn summary(result: &RunResult) -> String {
    let names = ["requests_per_s", "e2e.p50", "e2e.p99", "cpu_per_request_ms"];
    let metrics: Vec<Metric> = names.iter().filter_map(|n| Metric::parse(n).ok()).collect();
    let mut keys: Vec<(String, String)> = Vec::new();
    for r in &result.runs {
        let k = (r.variant.clone(), r.point.label());
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    let mut out = format!("{:<18} {:>6} {:>5}", "variant", "load", "runs");
    // Each column names its metric as `compare` and gates.toml spell it, and its unit.
    for m in &metrics {
        out.push_str(&format!(" {:>26}", format!("{} ({})", m.name(), m.unit())));
    }
    out.push('\n');
    for (variant, point) in keys {
        let runs: Vec<_> = result
            .runs
            .iter()
            .filter(|r| r.variant == variant && r.point.label() == point)
            .collect();
        out.push_str(&format!("{variant:<18} {point:>6} {:>5}", runs.len()));
        for m in &metrics {
            let values: Vec<f64> = runs.iter().filter_map(|r| m.value(r)).collect();
            // No value (e.g. no successful request for a latency): "—", never a 0.
            let cell = median(&values).map_or("—".to_string(), |v| format!("{v:.3}"));
            out.push_str(&format!(" {cell:>26}"));
        }
        out.push('\n');
    }
    out
}
