//! Shared helpers for the integration tests: scenarios with a fast, fixed latency model and a
//! one-call way to run a plan against in-process mocks on port 0.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use mock_services::latency::Dist;
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

/// A closed-loop point.
pub fn closed(concurrency: usize) -> LoadPoint {
    LoadPoint::closed(concurrency)
}

/// An open-loop point.
pub fn open(rate: f64, max_in_flight: Option<usize>) -> LoadPoint {
    LoadPoint {
        mode: "open".into(),
        concurrency: 0,
        rate: Some(rate),
        arrivals: Some("constant".into()),
        max_in_flight,
    }
}

/// A plan running `variants` at `points` against embedded mocks, sampling the OS every 10 ms.
pub fn plan(scenario: Scenario, variants: &[VariantKind], points: Vec<LoadPoint>) -> RunPlan {
    RunPlan::new("run", scenario, variants, points)
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
