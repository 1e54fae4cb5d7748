//! What each subcommand does, between the parsed flags and the library.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use mock_services::{Bind, MockServices};

use crate::cli::{MockArgs, ReportArgs, RunArgs, SweepArgs};
use crate::export;
use crate::run::{self, RunPlan};
use crate::scenario::Scenario;

/// `ragperf run`.
pub fn run(args: &RunArgs) -> Result<ExitCode> {
    let plan = crate::cli::run_plan(args)?;
    execute(&plan, &args.common)
}

/// `ragperf sweep`.
pub fn sweep(args: &SweepArgs) -> Result<ExitCode> {
    let plan = crate::cli::sweep_plan(args)?;
    execute(&plan, &args.common)
}

fn execute(plan: &RunPlan, common: &crate::cli::CommonArgs) -> Result<ExitCode> {
    let (out, json) = (common.out.as_path(), common.json);
    // Before the load: a run must not fail at its end for want of a folder.
    crate::cli::writable_dir("--out", out)?;
    let stop = crate::interrupt::stop_flag();
    if !json {
        let what = match &plan.target {
            Some(t) => format!("target {}", t.spec.url),
            None => format!("{} variant(s)", plan.variants.len()),
        };
        eprintln!(
            "ragperf {}: {what} x {} point(s), time scale {}, writing {}",
            plan.command,
            plan.points.len(),
            plan.scenario.time_scale,
            out.display()
        );
    }
    if let Some(line) = crate::shard::start::announce(&plan.sharding) {
        eprintln!("{line}");
    }
    // The whole report (tables, .hgrm, charts, index.html) is rewritten after every variant.
    let mut writer = crate::report::RunWriter::new(out);
    let result = run::execute(plan, &stop, |partial| writer.write(partial))?;
    if result.runs.is_empty() && plan.sharding.start_at.is_some() && crate::interrupt::requested() {
        eprintln!("interrupted before --start-at: no load was sent and nothing was written");
        return Ok(ExitCode::from(crate::interrupt::exit_code()));
    }
    let (before, after) = result.plan.fd_limit;
    if !json && after > before {
        eprintln!("raised the open-files soft limit from {before} to {after}");
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        print!("{}", export::table::render(&result));
        eprintln!("wrote {}", out.join("result.json").display());
        eprintln!(
            "report: {} (rendering took {:.2} s per update)",
            out.join("index.html").display(),
            writer.last.as_secs_f64()
        );
    }
    Ok(exit_code(
        &result,
        stop.load(std::sync::atomic::Ordering::Relaxed),
        common.max_error_rate,
    ))
}

/// The exit code of a finished `run`/`sweep` (README "Exit codes"): 130/143 when a signal
/// stopped it, 1 when every request failed or the error rate exceeds `--max-error-rate`, 0
/// otherwise.
fn exit_code(
    result: &crate::result::RunResult,
    interrupted: bool,
    max_error_rate: Option<f64>,
) -> ExitCode {
    let sent: u64 = result.runs.iter().map(|r| r.counters.sent).sum();
    let ok: u64 = result.runs.iter().map(|r| r.counters.ok).sum();
    if interrupted {
        ExitCode::from(crate::interrupt::exit_code())
    } else if sent > 0 && ok == 0 {
        // A run in which nothing succeeded measured nothing worth a green light.
        eprintln!("every request failed (the table lists the failures by kind)");
        ExitCode::FAILURE
    } else if let Some(message) =
        max_error_rate.and_then(|limit| crate::cli::error_budget_exceeded(result, limit))
    {
        eprintln!("{message}");
        ExitCode::FAILURE
    } else if result.partial {
        // Not every planned point ran, and no signal says why.
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
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
    match mock_services::server::raise_fd_limit() {
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

/// `ragperf report`.
pub fn report(args: &ReportArgs) -> Result<ExitCode> {
    crate::report::run(args)
}

/// `ragperf compare`: prints its own errors so they exit 2 (1 means "regressed").
pub fn compare(args: &crate::compare::CompareArgs) -> Result<ExitCode> {
    Ok(crate::compare::command::run(args))
}

/// `ragperf baseline`.
pub fn baseline(args: &crate::compare::BaselineArgs) -> Result<ExitCode> {
    crate::compare::baseline::run(args)
}

/// `ragperf tour`.
pub fn tour(args: &crate::cli::TourArgs) -> Result<ExitCode> {
    crate::tour::runner::command(args)
}

/// `ragperf calibrate`.
pub fn calibrate(args: &crate::cli::calibrate::CalibrateArgs) -> Result<ExitCode> {
    let plan = crate::cli::calibrate::calibration_plan(args)?;
    let stop = crate::interrupt::stop_flag();
    let write = args
        .write
        .clone()
        .unwrap_or_else(|| plan.out.join("calibrated.toml"));
    eprintln!(
        "ragperf calibrate: {} at {} users x answers of {} and {} tokens{}, time scale {}, writing {}",
        plan.target.spec.url,
        plan.levels
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(","),
        plan.tokens[0],
        plan.tokens[1],
        plan.probe
            .map(|p| format!(", then a probe at {p} users"))
            .unwrap_or_default(),
        plan.scenario.time_scale,
        plan.out.display()
    );
    let mut writers: std::collections::BTreeMap<String, crate::report::RunWriter> =
        Default::default();
    let cal = crate::calibrate::run(&plan, &stop, |label, r| {
        writers
            .entry(label.to_string())
            .or_insert_with(|| crate::report::RunWriter::new(&plan.out.join(label)))
            .write(r)
    });
    if crate::interrupt::requested() {
        // The phases measured so far are written; no scenario from a partial calibration.
        eprintln!(
            "interrupted: no calibrated scenario written; the phases measured so far are under {}",
            plan.out.display()
        );
        return Ok(ExitCode::from(crate::interrupt::exit_code()));
    }
    let cal = cal?;
    let json = serde_json::to_string_pretty(&cal)?;
    std::fs::write(plan.out.join("calibration.json"), json + "\n")
        .with_context(|| format!("writing {}", plan.out.join("calibration.json").display()))?;
    let toml = cal.scenario_toml(&plan.scenario, plan.gil, plan.target.spec.url.as_str())?;
    if let Some(dir) = write.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&write, &toml).with_context(|| format!("writing {}", write.display()))?;
    // The header of the file is the summary.
    for line in toml.lines().take_while(|l| l.starts_with('#')) {
        println!("{}", line.trim_start_matches("# ").trim_start_matches('#'));
    }
    eprintln!("wrote {}", write.display());
    eprintln!(
        "predict: ragperf sweep --scenario {} -c 50,100,200",
        write.display()
    );
    Ok(ExitCode::SUCCESS)
}
