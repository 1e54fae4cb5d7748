//! `ragperf`: parse, run, print `Error: {:#}` once, exit non-zero (2 for bad input: a flag,
//! scenario, target setting or result file that names what to fix; 1 for a run that failed).
//! README "Exit codes" has the whole table.

use std::process::ExitCode;

use clap::Parser;
use ragperf::commands::{
    Cli, Command, FlagError, baseline, calibrate, compare, merge, mock, report, run, streams,
    sweep, tour,
};
use ragperf::result::ResultError;
use ragperf::scenario::ScenarioError;
use ragperf::target::config::TargetError;

/// True when the error is about the user's input rather than the run.
fn is_bad_input(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.is::<FlagError>()
            || c.is::<TargetError>()
            || c.is::<ScenarioError>()
            || c.is::<ResultError>()
            || c.is::<ragperf::merge::MergeError>()
            || c.is::<ragperf::shard::ShardError>()
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match &cli.command {
        Command::Run(args) => run::run(args),
        Command::Sweep(args) => sweep::sweep(args),
        Command::Mock(args) => mock::mock(args),
        Command::Report(args) => report::report(args),
        // `compare` prints its own errors so they exit 2 (1 means "regressed").
        Command::Compare(args) => Ok(compare::compare(args)),
        Command::Baseline(args) => baseline::baseline(args),
        Command::Tour(args) => tour::tour(args),
        Command::Streams(args) => streams::streams(args),
        Command::Calibrate(args) => calibrate::calibrate(args),
        Command::Merge(args) => merge::merge(args),
    };
    match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("Error: {e:#}");
            if is_bad_input(&e) {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
