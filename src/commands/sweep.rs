//! `ragperf sweep`: the flags of `run` at several load points (`--concurrency 1,8,64` or
//! `--rates 5,10,20`), run one after another into one result.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use super::flags::{self, flag_err};
use super::run::{CommonArgs, closed_point, execute, open_point, plan, scenario, sharded};
use crate::result::LoadPoint;
use crate::run::RunPlan;

/// `ragperf sweep`.
#[derive(Debug, Args)]
pub struct SweepArgs {
    /// Closed-loop points, comma-separated (e.g. 1,8,64,512).
    #[arg(long, short = 'c', value_delimiter = ',', value_parser = flags::positive_count,
          allow_negative_numbers = true)]
    pub concurrency: Vec<usize>,
    /// Open-loop points in requests/s, comma-separated (e.g. 5,10,20).
    #[arg(long, value_delimiter = ',', conflicts_with = "concurrency", value_parser = flags::rate,
          allow_negative_numbers = true)]
    pub rates: Vec<f64>,
    /// Shared flags.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// `ragperf sweep`.
pub fn sweep(args: &SweepArgs) -> Result<ExitCode> {
    let plan = sweep_plan(args)?;
    execute(&plan, &args.common)
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
