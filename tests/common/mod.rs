//! Shared helpers for the integration tests: scenarios with a fast, fixed latency model, and a
//! one-call way to run a plan against in-process mocks on port 0. Plans and load points are
//! built by `ragperf run`'s own code (`commands::run`): its flag parser, defaults and checks.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use clap::Parser;
use mock_services::latency::Dist;
use ragperf::commands::run::{self as run_command, CommonArgs};
use ragperf::commands::{Cli, Command};
use ragperf::pipeline::VariantKind;
use ragperf::result::{LoadPoint, RunResult, VariantRun};
use ragperf::run::{RunPlan, execute};
use ragperf::scenario::Scenario;

/// A scenario whose every latency is fixed, so expected times are exact sums:
/// embed `embed_ms`, search `search_ms`, first token `ttft_ms`, then `tokens` tokens `itl_ms`
/// apart (model milliseconds; `time_scale` 1).
pub fn fixed_scenario(
    embed_ms: f64,
    search_ms: f64,
    ttft_ms: f64,
    itl_ms: f64,
    tokens: f64,
) -> Scenario {
    let mut s = Scenario {
        time_scale: 1.0,
        ..Scenario::default()
    };
    s.embedding.latency_ms = Dist::fixed(embed_ms);
    s.qdrant.search_ms = Dist::fixed(search_ms);
    s.bedrock.ttft_ms = Dist::fixed(ttft_ms);
    s.bedrock.itl_ms = Dist::fixed(itl_ms);
    s.bedrock.output_tokens = Dist::fixed(tokens);
    s.request.cpu_work_us = 50;
    s.load.warmup = Some(Duration::ZERO);
    s.load.ramp = Some(Duration::ZERO);
    s.load.duration = None;
    s
}

/// The seed's latency model, 100x faster.
pub fn fast_seed_scenario() -> Scenario {
    let mut s = Scenario {
        time_scale: 0.01,
        ..Scenario::default()
    };
    s.load.warmup = Some(Duration::ZERO);
    s.load.ramp = Some(Duration::ZERO);
    s
}

/// A closed-loop point, as `ragperf run -c` makes it.
pub fn closed(concurrency: usize) -> LoadPoint {
    run_command::closed_point(concurrency)
}

/// An open-loop point with constant arrivals, as `ragperf run --rate` makes it.
pub fn open(rate: f64, max_in_flight: Option<usize>) -> LoadPoint {
    let mut s = Scenario::default();
    s.load.max_in_flight = max_in_flight;
    run_command::open_point(&s, rate)
}

/// `ragperf run`'s shared flags as its parser reads `ragperf run --no-progress <flags>`: every
/// default (mock threads, repetitions, SLO, URLs) is the command line's own.
pub fn run_flags(flags: &[&str]) -> CommonArgs {
    let argv = ["ragperf", "run", "--no-progress"].iter().chain(flags);
    match Cli::try_parse_from(argv) {
        Ok(Cli {
            command: Command::Run(args),
        }) => args.common,
        Ok(other) => panic!("not a run: {other:?}"),
        Err(e) => panic!("ragperf run {flags:?} does not parse: {e}"),
    }
}

/// A plan running `variants` at `points` against embedded mocks, sampling the OS every 10 ms.
pub fn plan(scenario: Scenario, variants: &[VariantKind], points: Vec<LoadPoint>) -> RunPlan {
    plan_with_flags(scenario, variants, points, &[])
}

/// The plan `ragperf run <flags>` builds (`commands::run::plan`: the flags' defaults and
/// checks) for this scenario, `variants` and `points`; the OS is sampled every 10 ms instead of
/// 100 ms, since a test's run lasts well under a second.
pub fn plan_with_flags(
    mut scenario: Scenario,
    variants: &[VariantKind],
    points: Vec<LoadPoint>,
    flags: &[&str],
) -> RunPlan {
    scenario.load.variants = variants.iter().map(|v| v.name().to_string()).collect();
    let mut plan = match run_command::plan("run", &run_flags(flags), scenario, points) {
        Ok(p) => p,
        Err(e) => panic!("ragperf run {flags:?}: no plan: {e:#}"),
    };
    plan.sample_interval = Duration::from_millis(10);
    plan
}

/// Runs a plan to completion.
pub fn run(plan: &RunPlan) -> RunResult {
    let stop = Arc::new(AtomicBool::new(false));
    match execute(plan, &stop, |_| Ok(())) {
        Ok(r) => r,
        Err(e) => panic!("run failed: {e:#}"),
    }
}

/// The run of `variant` in `result`.
pub fn variant<'a>(result: &'a RunResult, variant: &str) -> &'a VariantRun {
    result
        .runs
        .iter()
        .find(|r| r.variant == variant)
        .unwrap_or_else(|| panic!("no run of {variant}"))
}

/// A percentile of histogram `name`, ms.
pub fn ms(run: &VariantRun, name: &str, pick: fn(&mock_services::hist::Percentiles) -> f64) -> f64 {
    pick(&run.latency_ms[name])
}

/// A request context for running the pipeline directly against `mocks`, every setting from `s`
/// (the GIL lock when `s.request.gil`).
pub fn request_context(
    mocks: &mock_services::OwnedMockServices,
    s: &Scenario,
) -> ragperf::pipeline::RequestContext {
    ragperf::pipeline::RequestContext {
        epoch: std::time::Instant::now(),
        endpoints: ragperf::client::Endpoints {
            qdrant_url: mocks.qdrant_url(),
            bedrock_url: mocks.bedrock_url(),
            collection: s.qdrant.collection.clone(),
            embed_model: s.request.embed_model.clone(),
            embed_dimensions: s.request.embed_dimensions as u32,
            chat_model: s.request.chat_model.clone(),
        },
        client: s.client.clone(),
        time_scale: s.time_scale,
        top_k: s.request.top_k,
        cpu_work_us: s.request.cpu_work_us,
        cpu_per_token_us: s.request.cpu_per_token_us,
        cpu_per_read_us: s.request.cpu_per_read_us,
        cpu_steps: s.request.cpu_steps,
        cpu_offloop_share: s.request.cpu_offloop_share,
        cpu_parallel_share: s.request.cpu_parallel_share,
        cpu_token_loop_share: s.request.cpu_token_loop_share,
        cpu_request_loop_share: s.request.cpu_request_loop_share,
        gil: s.request.gil.then(|| {
            Arc::new(ragperf::pipeline::cpu::Gil::new(
                s.request.cpu_outside_gil_share,
                s.request.gil_max_busy,
            ))
        }),
        max_tokens: s.request.max_tokens,
        temperature: s.request.temperature,
    }
}
