//! `ragperf`: parse, run, print `Error: {:#}` once, exit non-zero.

use std::process::ExitCode;

use clap::Parser;
use ragperf::cli::{Cli, Command};

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
    };
    match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("Error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
