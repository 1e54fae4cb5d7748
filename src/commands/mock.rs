//! `ragperf mock`: serve the mock Qdrant and Bedrock services until Ctrl-C, for the user's own
//! application (boto3, LlamaIndex …) or a `run --qdrant-url/--bedrock-url` in another process.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use mock_services::{Bind, MockServices};

use super::flags;
use crate::scenario::Scenario;

/// `ragperf mock`.
#[derive(Debug, Args)]
pub struct MockArgs {
    /// Mock Qdrant address (port 0 = any free port).
    #[arg(long, default_value = "127.0.0.1:6333")]
    pub qdrant: SocketAddr,
    /// Mock Bedrock Runtime address (port 0 = any free port).
    #[arg(long, default_value = "127.0.0.1:8000")]
    pub bedrock: SocketAddr,
    /// Scenario TOML file (its [qdrant], [bedrock], [embedding] and [faults] sections apply).
    #[arg(long, short = 's')]
    pub scenario: Option<PathBuf>,
    /// Multiply every injected latency (> 0, at most 1000).
    #[arg(long, value_parser = flags::time_scale, allow_negative_numbers = true)]
    pub time_scale: Option<f64>,
    /// Seed for latency draws and answers.
    #[arg(long, value_parser = flags::non_negative_u64, allow_negative_numbers = true)]
    pub seed: Option<u64>,
    /// Worker threads (default: cores).
    #[arg(long, value_parser = flags::positive_count, allow_negative_numbers = true)]
    pub threads: Option<usize>,
}

/// `ragperf mock`.
pub fn mock(args: &MockArgs) -> Result<ExitCode> {
    let mut scenario = match &args.scenario {
        Some(p) => Scenario::from_file(p)?,
        None => Scenario::default(),
    };
    if let Some(t) = args.time_scale {
        scenario.time_scale = t;
    }
    if let Some(s) = args.seed {
        scenario.seed = s;
    }
    let config = scenario.mock_config();
    config
        .validate()
        .map_err(|e| anyhow::anyhow!("{e} (from --scenario / --time-scale)"))?;
    match crate::backends::raise_fd_limit() {
        Ok((before, after)) if after > before => {
            eprintln!("raised the open-files limit from {before} to {after}")
        }
        _ => {}
    }
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .thread_name("mock-worker")
        .enable_all()
        .build()
        .context("starting the mock runtime")?;
    runtime.block_on(async {
        let bind = Bind {
            qdrant: args.qdrant,
            bedrock: args.bedrock,
        };
        let services = MockServices::start(config, bind).await?;
        println!("qdrant  {}", services.qdrant_url());
        println!("bedrock {}", services.bedrock_url());
        eprintln!(
            "serving mock Qdrant and Bedrock (time scale {}); stats at {}/__ragperf/stats; Ctrl-C stops",
            scenario.time_scale,
            services.bedrock_url()
        );
        use std::io::Write;
        let _ = std::io::stdout().flush();
        tokio::signal::ctrl_c()
            .await
            .context("waiting for Ctrl-C")?;
        eprintln!("stopping: letting open responses finish (up to 5 s)");
        services.shutdown(Duration::from_secs(5)).await;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}
