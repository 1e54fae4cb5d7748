//! The committed CI baseline: a normal result file without the per-request timeline and the
//! OS time series (charts need them, comparisons do not), so it stays around 200 KB instead of
//! several MB while keeping every figure and histogram `compare` reads.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};

use super::BaselineArgs;
use super::metric::Metric;
use super::stats::median::median;
use crate::result::RunResult;

/// Drops what only charts use: each run's timeline and its process samples.
pub fn slim(result: &mut RunResult) {
    for run in &mut result.runs {
        run.timeline.clear();
        run.process.samples.clear();
    }
}

/// Writes `result` to `path` atomically (a temporary file, then a rename), creating the folder.
pub fn write(path: &Path, result: &RunResult) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the baseline folder {}", dir.display()))?;
    }
    let text = serde_json::to_string_pretty(result).context("serialising the baseline")?;
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text + "\n").with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// `ragperf baseline`: runs the plan, then writes the slim result to `--to`. An interrupted run
/// writes nothing (a partial baseline would fail every later comparison) and exits 130 (SIGINT) or 143 (SIGTERM).
pub fn run(args: &BaselineArgs) -> Result<ExitCode> {
    let plan = crate::cli::run_plan(&args.run)?;
    if let Some(parent) = args.to.parent().filter(|p| !p.as_os_str().is_empty()) {
        crate::cli::writable_dir("--to", parent)?;
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
        .and_then(|limit| crate::cli::error_budget_exceeded(&result, limit))
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
    for n in names {
        out.push_str(&format!(" {n:>18}"));
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
            let cell = median(&values).map_or("-".to_string(), |v| format!("{v:.3}"));
            out.push_str(&format!(" {cell:>18}"));
        }
        out.push('\n');
    }
    out
}
