//! The subcommands, one file each: its clap arguments, how its flags become the plan its engine
//! takes, the entry function `main.rs` dispatches to, and what it prints. [`flags`] holds what
//! they share ([`FlagError`], value parsers, the URL rule, pre-load checks).
//!
//! The rule of direction: nothing outside this folder (but `main.rs`) imports it; the engines
//! below take plain values and plans (`tests/layering.rs` checks it).

pub mod baseline;
pub mod calibrate;
pub mod compare;
pub(crate) mod flags;
pub mod merge;
pub mod mock;
pub mod report;
pub mod run;
pub(crate) mod shard;
pub mod streams;
pub mod sweep;
pub(crate) mod target;
pub mod tour;

use clap::{Parser, Subcommand};

pub use flags::FlagError;

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
    Run(run::RunArgs),
    /// Run variants at several load points (--concurrency 1,8,64 or --rates 10,20).
    Sweep(sweep::SweepArgs),
    /// Serve the mock Qdrant and Bedrock services until Ctrl-C.
    Mock(mock::MockArgs),
    /// Re-render the report (summary.md, results.csv, hgrm/, charts/, index.html) of a result.
    Report(report::ReportArgs),
    /// Compare two result.json files: per variant and metric the change and a verdict;
    /// exit 1 on a gated regression, 2 on unusable input (see README "Performance regressions").
    Compare(compare::CompareArgs),
    /// Run (flags of `run`, e.g. --scenario scenarios/ci.toml --repeat 3) and write the slim
    /// CI baseline, reports/baseline/result.json.
    Baseline(baseline::BaselineArgs),
    /// Run every claim of the seed Q&A (docs/seed-questions.md) as a small experiment and write
    /// a report with a measured verdict for each (--quick: under a minute).
    Tour(tour::TourArgs),
    /// Hold N ConverseStream streams open against a Bedrock endpoint (the embedded mock or
    /// --bedrock-url) and measure the inter-token gaps as received: the mock's capacity benchmark.
    Streams(streams::StreamsArgs),
    /// Measure a real service (--target, --target-cmd) at a few low loads and write the
    /// scenario that makes a built-in variant reproduce it (CPU per request and per token,
    /// thread pool or event loop, pool size): then `run --scenario` predicts higher loads.
    Calibrate(calibrate::CalibrateArgs),
    /// Merge the results of `run --shard I/N` into one result (histograms added losslessly,
    /// counters summed, efficiency recomputed); exit 2 when the shards do not belong together.
    Merge(merge::MergeArgs),
}
