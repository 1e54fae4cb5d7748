//! The model run at the probes after the fit: checked by default, fitted with `--probe-fit`
//! ([`super::probe_fit`] has the rules; this runs the model against the embedded mocks).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result};
use mock_services::latency::Dist;

use super::{Calibration, CalibrationPlan, placement, probe_fit};
use crate::pipeline::VariantKind;
use crate::result::LoadPoint;
use crate::run::RunPlan;
use crate::scenario::Scenario;

/// The model run at the probes (their users and answer lengths, with the calibration's time
/// scale, warm-up and duration, against the embedded mocks): how well it reproduces the loaded
/// points it was fitted on, kept in `model_at_probes` with a warning when a figure falls
/// outside the prediction goal. With `--probe-fit`, for an event loop under the GIL with CPU
/// off its thread, that CPU is first moved under the GIL until the model runs as fast as the
/// service did there ([`probe_fit`]). An interrupt ends it with an error, nothing written.
pub fn check_at_probes(
    plan: &CalibrationPlan,
    stop: &Arc<AtomicBool>,
    cal: &mut Calibration,
) -> Result<()> {
    let measured = cal.cpu_placement;
    let fit = plan.probe_fit
        && plan.gil
        && cal.shape.variant == VariantKind::AsyncSingle
        && measured.offloop + measured.parallel > 0.0;
    let Some((users, aims)) = probe_aims(plan, cal, fit) else {
        return Ok(());
    };
    if plan.probe_fit && !fit {
        cal.warnings.push(format!(
            "--probe-fit moves an event loop's off-loop CPU under the GIL; this model ({}{}) has none to move: checked, not fitted",
            cal.shape.variant.name(),
            if plan.gil { "" } else { ", --no-gil" }
        ));
    }
    let model = cal.clone();
    let at =
        |split: Option<placement::CpuPlacement>| trial_at(plan, stop, &model, users, &aims, split);
    let (chosen, trials, how) = if fit {
        probe_fit::search(measured, |offloop| {
            let parallel = (measured.offloop + measured.parallel - offloop).max(0.0);
            at(Some(placement::CpuPlacement { offloop, parallel }))
        })?
    } else {
        let t = at(None)?;
        let how = probe_fit::checked(&t);
        (measured, vec![t], how)
    };
    cal.cpu_placement = chosen;
    let result = probe_fit::ProbeFit {
        users,
        measured: aims,
        measured_placement: measured,
        trials,
        chosen,
        fitted: fit,
        how,
    };
    if !fit {
        cal.warnings.extend(result.outside_goal());
    }
    cal.model_at_probes = Some(result);
    Ok(())
}

/// The probes' users and what the service did at each (a whole answer's "first token" is its
/// end: the model, which streams, has nothing to hold against it), announced; None without
/// probes or with the check off.
fn probe_aims(
    plan: &CalibrationPlan,
    cal: &Calibration,
    fit: bool,
) -> Option<(usize, Vec<probe_fit::Figures>)> {
    let (users, mut aims) = probe_fit::probes_of(&cal.observations).filter(|_| plan.probe_check)?;
    if !plan.target.spec.protocol.is_streaming() {
        for a in &mut aims {
            a.ttft_p50_ms = None;
        }
    }
    let served: Vec<String> = aims
        .iter()
        .map(|a| format!("{:.1} req/s at {} tokens", a.requests_per_s, a.tokens))
        .collect();
    eprintln!(
        "ragperf calibrate: running the model at the probes ({users} users; the service served {}){}",
        served.join(", "),
        if fit {
            " to fit the GIL's share of the CPU off the event loop"
        } else {
            ""
        }
    );
    Some((users, aims))
}

/// The model run at every probe — with its off-loop CPU split as `split` says, or as the
/// calibrated scenario has it — and held against the service there; the figures printed.
fn trial_at(
    plan: &CalibrationPlan,
    stop: &Arc<AtomicBool>,
    cal: &Calibration,
    users: usize,
    aims: &[probe_fit::Figures],
    split: Option<placement::CpuPlacement>,
) -> Result<probe_fit::Trial> {
    let mut s = cal.scenario(&plan.scenario, plan.gil);
    if let Some(split) = split {
        s.request.cpu_offloop_share = split.offloop;
        s.request.cpu_parallel_share = split.parallel;
    }
    let mut runs = Vec::new();
    for aim in aims {
        runs.push(model_at_probe(plan, stop, &s, users, aim.tokens)?);
    }
    let (offloop, parallel) = (s.request.cpu_offloop_share, s.request.cpu_parallel_share);
    let trial = probe_fit::Trial::of(offloop, parallel, runs, aims);
    let shown: Vec<String> = trial
        .runs
        .iter()
        .map(|r| format!("{:.1} req/s at {} tokens", r.at.requests_per_s, r.at.tokens))
        .collect();
    let label = match split {
        Some(_) => format!("{:.0} % under the GIL off the loop", offloop * 100.0),
        None => "the model as calibrated".into(),
    };
    eprintln!("  {label}: {} ({:+.3})", shown.join(", "), trial.excess);
    Ok(trial)
}

/// One run of the model `scenario` at `users` with answers of `tokens`.
fn model_at_probe(
    plan: &CalibrationPlan,
    stop: &Arc<AtomicBool>,
    scenario: &Scenario,
    users: usize,
    tokens: u32,
) -> Result<probe_fit::Figures> {
    let mut s = scenario.clone();
    s.bedrock.output_tokens = Dist::fixed(tokens as f64);
    s.request.max_tokens = s.request.max_tokens.max(tokens);
    // Warmed up as the service's probe was: the calibration's warm-up, at least its floor for
    // these answers (from the service's side of the scenario, without the model's CPU).
    let mut service = plan.scenario.clone();
    service.bedrock.output_tokens = s.bedrock.output_tokens.clone();
    service.request.max_tokens = s.request.max_tokens;
    s.load.warmup = super::warmup::steady_warmup(&service);
    let variant = s
        .load
        .variants
        .first()
        .and_then(|v| VariantKind::parse(v))
        .context("the calibrated scenario names no variant")?;
    let mut run_plan = RunPlan::new("calibrate", s, &[variant], vec![LoadPoint::closed(users)]);
    run_plan.mock_threads = plan.mock_threads;
    run_plan.progress = plan.progress;
    let result = crate::run::execute(&run_plan, stop, |_| Ok(()))
        .context("running the model at the probe")?;
    if stop.load(Ordering::Relaxed) {
        anyhow::bail!("interrupted while running the model at the probe; nothing written");
    }
    let r = result
        .runs
        .first()
        .context("the model's run at the probe returned no result")?;
    let p = |k: &str| r.latency_ms.get(k).filter(|p| p.count > 0).map(|p| p.p50);
    Ok(probe_fit::Figures {
        tokens,
        requests_per_s: r.throughput.requests_per_s,
        e2e_p50_ms: p("e2e"),
        ttft_p50_ms: p("ttft"),
    })
}
