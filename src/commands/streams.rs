//! `ragperf streams`: its flags, the [`StreamsPlan`] they make, the measurement and its
//! summary on stdout (a table, or JSON with `--json`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::Args;

use super::flags::{self, parse_duration};
use crate::scenario::Scenario;
use crate::streams::{StreamsPlan, expected_stream_s};

/// `ragperf streams`.
#[derive(Debug, Args)]
pub struct StreamsArgs {
    /// Concurrent streams to hold open (each starts its next stream when one ends).
    #[arg(long, short = 'c', default_value_t = 1000)]
    pub streams: usize,
    /// Measured window, after the ramp.
    #[arg(long, short = 'd', default_value = "20s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Streams start spread over this long; measuring starts after it (default: one expected
    /// stream of the scenario, at most 30 s).
    #[arg(long, value_parser = parse_duration)]
    pub ramp: Option<Duration>,
    /// Scenario TOML: its [bedrock] latencies give the expected gap, and configure the embedded
    /// mocks when no --bedrock-url is given.
    #[arg(long, short = 's')]
    pub scenario: Option<PathBuf>,
    /// Bedrock Runtime base URL to measure, e.g. a `ragperf mock` in another process (default:
    /// the embedded mocks, in this process).
    #[arg(long)]
    pub bedrock_url: Option<String>,
    /// Model id in the request path (default: the scenario's request.chat_model).
    #[arg(long)]
    pub model: Option<String>,
    /// Tokio worker threads of the client (default: cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Worker threads of the embedded mocks (default: cores).
    #[arg(long)]
    pub mock_threads: Option<usize>,
    /// Give up on a stream that has not ended after this long (counted as `timeout`).
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub stream_timeout: Duration,
    /// The bound the verdict checks: p99 of the measured gap minus the configured gap, ms.
    #[arg(long, default_value_t = 2.0, allow_negative_numbers = true)]
    pub max_gap_error_ms: f64,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Builds the plan from the flags, naming the flag when one makes no sense.
pub fn streams_plan(args: &StreamsArgs) -> Result<StreamsPlan> {
    let scenario = match &args.scenario {
        Some(p) => Scenario::from_file(p)?,
        None => Scenario::default(),
    };
    if args.streams == 0 {
        return Err(flags::flag_err("--streams", "must be at least 1"));
    }
    if args.duration.is_zero() {
        return Err(flags::flag_err(
            "--duration",
            "must be longer than 0 (e.g. 20s)",
        ));
    }
    if args.stream_timeout.is_zero() {
        return Err(flags::flag_err(
            "--stream-timeout",
            "must be longer than 0 (e.g. 60s)",
        ));
    }
    if !(args.max_gap_error_ms.is_finite() && args.max_gap_error_ms >= 0.0) {
        return Err(flags::flag_err(
            "--max-gap-error-ms",
            "must be a number of milliseconds ≥ 0 (e.g. 2)",
        ));
    }
    let bedrock_url = args
        .bedrock_url
        .as_deref()
        .map(|u| flags::check_url("--bedrock-url", u))
        .transpose()?;
    let model = args
        .model
        .clone()
        .unwrap_or_else(|| scenario.request.chat_model.clone());
    if model.trim().is_empty() {
        return Err(flags::flag_err("--model", "must not be empty"));
    }
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let ramp = args
        .ramp
        .unwrap_or_else(|| Duration::from_secs_f64(expected_stream_s(&scenario).clamp(0.1, 30.0)));
    Ok(StreamsPlan {
        streams: args.streams,
        duration: args.duration,
        ramp,
        bedrock_url,
        model,
        threads: args.threads.unwrap_or(cores).max(1),
        mock_threads: args.mock_threads.unwrap_or(cores).max(1),
        stream_timeout: args.stream_timeout,
        max_gap_error_ms: args.max_gap_error_ms,
        scenario,
    })
}

/// `ragperf streams`.
pub fn streams(args: &StreamsArgs) -> Result<ExitCode> {
    let plan = streams_plan(args)?;
    let stop = crate::interrupt::stop_flag();
    if !args.json {
        eprintln!(
            "opening {} streams over {:.1} s, then measuring for {:.1} s …",
            plan.streams,
            plan.ramp.as_secs_f64(),
            plan.duration.as_secs_f64()
        );
    }
    let summary = crate::streams::run(&plan, &stop)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print!("{}", crate::streams::render(&summary));
    }
    Ok(if summary.interrupted {
        ExitCode::from(crate::interrupt::exit_code())
    } else {
        ExitCode::SUCCESS
    })
}
