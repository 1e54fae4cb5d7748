//! Starts mock Qdrant and mock Bedrock Runtime and serves them until Ctrl-C.
//!
//! ```text
//! cargo run -p mock-services --example serve -- [--time-scale X] [--config mocks.toml]
//!     [--qdrant 127.0.0.1:6333] [--bedrock 127.0.0.1:8000]
//! ```
//!
//! `--config` reads a TOML file with the mocks' sections (`time_scale`, `seed`, `[qdrant]`,
//! `[bedrock]`, `[embedding]`, `[faults.*]`, `[connections]`); `--time-scale` overrides its `time_scale`.
//! Addresses default to port 0 (any free port); both URLs are printed on start.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, bail};
use mock_services::server::raise_fd_limit;
use mock_services::{Bind, MockConfig, MockServices};

const USAGE: &str =
    "usage: serve [--time-scale X] [--config FILE.toml] [--qdrant ADDR] [--bedrock ADDR]";

fn value<'a>(args: &'a [String], i: usize, flag: &str) -> anyhow::Result<&'a str> {
    args.get(i + 1)
        .map(String::as_str)
        .with_context(|| format!("{flag} needs a value\n{USAGE}"))
}

fn addr(s: &str, flag: &str) -> anyhow::Result<SocketAddr> {
    s.parse()
        .with_context(|| format!("{flag} {s:?}: expected an address such as 127.0.0.1:8000"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut config = MockConfig::default();
    let mut time_scale = None;
    let mut bind = Bind::default();
    let mut i = 0;
    while i < args.len() {
        let flag = args[i].as_str();
        match flag {
            "--time-scale" => {
                let v = value(&args, i, flag)?;
                time_scale = Some(v.parse::<f64>().with_context(|| {
                    format!("--time-scale {v:?}: expected a number, e.g. 0.1 for 10x faster")
                })?);
            }
            "--config" => {
                let path = value(&args, i, flag)?;
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("--config: cannot read {path}"))?;
                config = toml::from_str(&text)
                    .with_context(|| format!("--config: {path} is not a valid mock config"))?;
            }
            "--qdrant" => bind.qdrant = addr(value(&args, i, flag)?, flag)?,
            "--bedrock" => bind.bedrock = addr(value(&args, i, flag)?, flag)?,
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
        i += 2;
    }
    if let Some(t) = time_scale {
        config.time_scale = t;
    }
    match raise_fd_limit() {
        Ok((before, after)) if after > before => {
            eprintln!("raised the open-files limit from {before} to {after}")
        }
        Ok(_) => {}
        Err(e) => eprintln!("could not raise the open-files limit: {e}"),
    }
    let services = MockServices::start(config, bind).await?;
    println!("qdrant:  {}", services.qdrant_url());
    println!("bedrock: {}", services.bedrock_url());
    println!(
        "stats:   {}/__ragperf/stats (Ctrl-C to stop)",
        services.bedrock_url()
    );
    tokio::signal::ctrl_c()
        .await
        .context("cannot wait for Ctrl-C")?;
    services.shutdown(Duration::from_secs(1)).await;
    Ok(())
}
