//! `ragperf`: parse, run, print `Error: {:#}` once, exit non-zero (2 for bad input: a flag,
//! scenario, target setting or result file that names what to fix; 1 for a run that failed).
//! README "Exit codes" has the whole table.

use std::process::ExitCode;

use clap::Parser;
use ragperf::cli::{Cli, Command, FlagError};
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
    let outcome = match cli.command {
        Command::Run(args) => ragperf::commands::run(&args),
        Command::Sweep(args) => ragperf::commands::sweep(&args),
        Command::Mock(args) => ragperf::commands::mock(&args),
        Command::Report(args) => ragperf::commands::report(&args),
        Command::Compare(args) => ragperf::commands::compare(&args),
        Command::Baseline(args) => ragperf::commands::baseline(&args),
        Command::Tour(args) => ragperf::commands::tour(&args),
        Command::Streams(args) => ragperf::streams::command(&args),
        Command::Calibrate(args) => ragperf::commands::calibrate(&args),
        Command::Merge(args) => ragperf::merge::command(&args),
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
