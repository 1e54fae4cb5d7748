//! The model run at the probes: checked by default, and with `--probe-fit` the GIL's share of
//! an event loop's off-loop CPU fitted there.
//!
//! **The check.** After the fit, calibrate runs the model once at each probe (its users and
//! answer length, the calibration's time scale and durations) and shows measured / model there,
//! with a note for a figure outside the prediction goal: a model that does not reproduce the
//! loaded points it was fitted on says so before any prediction is made.
//!
//! **The fit (`--probe-fit`).** An event loop's CPU off its thread is split by what was
//! measured (py-spy's share of the GIL's samples, or the part beyond one core,
//! [`super::placement::cpu_placement`]): what ran outside the GIL goes to `cpu_parallel_share`, the
//! rest to `cpu_offloop_share`. On the seed's async endpoint that split leaves the model too
//! fast at its own probes: with py-spy seeing the executor's threads hold the GIL in ~1 % of its
//! samples, the model of 64 users with 120-token answers at time scale 1 served 14.4 req/s where
//! the service served 10.8, its first token at 0.84 s against 2.24 s, its embedding call in
//! ~100 ms where the instrumented service's took ~600 ms. The fit moves the off-loop CPU under
//! the GIL until the model runs as fast as the service did at the probes (the mean over them
//! of [`excess`]: req/s, e2e p50 and TTFT p50 together): bisection on the share between the
//! measured split and all of it, at most [`MAX_TRIALS`] splits, the last bracket interpolated.
//! The share it finds is what the model needs, not a measurement of who held the GIL.
//!
//! Measured against the three committed sittings' measurements (`reports/probe-fit/`), it took
//! the async endpoint at time scale 1 from 22 to 26 of 27 ratios inside the goal, and at time
//! scale 0.25 from 25 to 18: there the services spent less CPU per answer at 100 and 200 users
//! than at their probes, and a model fitted to the probes inherits them. Hence a flag.

use anyhow::Result;
use serde::Serialize;

use super::model::Observation;
use super::placement::CpuPlacement;

/// Model within this much of the service at the probe ([`excess`], a log ratio: ~3 %): no
/// more trials.
pub const TOLERANCE: f64 = 0.03;

/// Most splits one fit tries (the first two are the bracket's ends), each a run of the model
/// at every probe.
pub const MAX_TRIALS: usize = 5;

/// The figures of one probe's load (its users, one answer length): what the service did
/// there, or what the model did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Figures {
    /// Tokens per answer.
    pub tokens: u32,
    /// Throughput (req/s).
    pub requests_per_s: f64,
    /// e2e p50, ms (None: no request succeeded).
    pub e2e_p50_ms: Option<f64>,
    /// TTFT p50, ms (None: none, or a whole answer, which has no first token of its own).
    pub ttft_p50_ms: Option<f64>,
}

/// What the model did at one probe, held against the service there.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Run {
    /// The model's figures.
    #[serde(flatten)]
    pub at: Figures,
    /// How much faster than the service it ran there ([`excess`]).
    pub excess: f64,
}

/// One split tried: the model run at every probe.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Trial {
    /// The share of the per-request CPU off the loop under the GIL (`cpu_offloop_share`).
    pub offloop: f64,
    /// The share off the loop outside it (`cpu_parallel_share`).
    pub parallel: f64,
    /// The runs, one per probe.
    pub runs: Vec<Run>,
    /// The mean of their [`excess`]: how much faster than the service the model ran.
    pub excess: f64,
}

impl Trial {
    /// A trial of the model's figures at the probes, each held against the service's figures
    /// in `aims` for its answer length.
    pub fn of(offloop: f64, parallel: f64, model: Vec<Figures>, aims: &[Figures]) -> Trial {
        let runs: Vec<Run> = model
            .into_iter()
            .map(|at| Run {
                at,
                excess: aims
                    .iter()
                    .find(|a| a.tokens == at.tokens)
                    .map_or(f64::NEG_INFINITY, |a| excess(&at, a)),
            })
            .collect();
        let excess = if runs.is_empty() {
            f64::NEG_INFINITY
        } else {
            runs.iter().map(|r| r.excess).sum::<f64>() / runs.len() as f64
        };
        Trial {
            offloop,
            parallel,
            runs,
            excess,
        }
    }
}

/// How much faster than the service the model ran at a probe: the mean of the log ratios of
/// its throughput to the service's and of the service's e2e p50 and TTFT p50 to its own (the
/// figures the prediction is judged on; a latency either side lacks is left out). Positive:
/// the model is too fast. A model that served nothing is infinitely slow.
pub fn excess(r: &Figures, aim: &Figures) -> f64 {
    if r.requests_per_s <= 0.0 || aim.requests_per_s <= 0.0 {
        return f64::NEG_INFINITY;
    }
    let mut logs = vec![(r.requests_per_s / aim.requests_per_s).ln()];
    for (service, model) in [
        (aim.e2e_p50_ms, r.e2e_p50_ms),
        (aim.ttft_p50_ms, r.ttft_p50_ms),
    ] {
        if let (Some(s), Some(m)) = (service, model)
            && s > 0.0
            && m > 0.0
        {
            logs.push((s / m).ln());
        }
    }
    logs.iter().sum::<f64>() / logs.len() as f64
}

/// The model at the probes — checked, or fitted (`--probe-fit`) — kept in `calibration.json`
/// and shown in the scenario's header.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProbeFit {
    /// The probes' users.
    pub users: usize,
    /// What the service did at each probe, shortest answers first.
    pub measured: Vec<Figures>,
    /// The split as measured (before the fit).
    pub measured_placement: CpuPlacement,
    /// The splits tried, in order.
    pub trials: Vec<Trial>,
    /// The split chosen (written to the scenario).
    pub chosen: CpuPlacement,
    /// Whether the split was fitted (`--probe-fit`); otherwise the one trial is the model as
    /// calibrated, checked.
    pub fitted: bool,
    /// How it was chosen, or how the model did, in words.
    pub how: String,
}

/// The prediction goal's bands, per figure: measured / model.
const GOAL: [(&str, f64, f64); 3] = [
    ("req/s", 0.85, 1.15),
    ("e2e p50", 0.85, 1.15),
    ("TTFT p50", 0.7, 1.4),
];

impl ProbeFit {
    /// The figures of the chosen split's runs outside the prediction goal, said plainly.
    pub fn outside_goal(&self) -> Vec<String> {
        let Some(last) = self.trials.last() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for run in &last.runs {
            let run = &run.at;
            let Some(aim) = self.measured.iter().find(|a| a.tokens == run.tokens) else {
                continue;
            };
            let pairs = [
                (Some(aim.requests_per_s), Some(run.requests_per_s)),
                (aim.e2e_p50_ms, run.e2e_p50_ms),
                (aim.ttft_p50_ms, run.ttft_p50_ms),
            ];
            for ((name, lo, hi), pair) in GOAL.iter().zip(pairs) {
                if let (Some(s), Some(m)) = pair
                    && m > 0.0
                    && !(*lo..=*hi).contains(&(s / m))
                {
                    out.push(format!(
                        "the model does not reproduce its own probe ({} users, {} tokens): {name} measured / model = {:.2}, outside {lo}–{hi}; predictions near that load inherit it",
                        self.users,
                        run.tokens,
                        s / m
                    ));
                }
            }
        }
        out
    }
}

/// How the model as calibrated did at the probes, in words.
pub fn checked(t: &Trial) -> String {
    format!(
        "the model as calibrated ran {} than the service there (checked, not fitted)",
        pct(t.excess)
    )
}

/// The probes a fit runs at, shortest answers first: those that served something, at the
/// probes' users (None without any).
pub fn probes_of(observations: &[Observation]) -> Option<(usize, Vec<Figures>)> {
    let probes: Vec<&Observation> = observations
        .iter()
        .filter(|o| o.probe && o.requests_per_s > 0.0)
        .collect();
    let users = probes.first()?.concurrency;
    let mut aims: Vec<Figures> = probes
        .iter()
        .filter(|o| o.concurrency == users)
        .map(|o| Figures {
            tokens: o.tokens_setting,
            requests_per_s: o.requests_per_s,
            e2e_p50_ms: o.e2e_p50_ms,
            ttft_p50_ms: o.ttft_p50_ms,
        })
        .collect();
    aims.sort_by_key(|a| a.tokens);
    aims.dedup_by_key(|a| a.tokens);
    Some((users, aims))
}

fn pct(excess: f64) -> String {
    let p = (excess.exp() - 1.0) * 100.0;
    if p >= 0.0 {
        format!("{p:.0} % faster")
    } else {
        format!("{:.0} % slower", -p)
    }
}

/// Finds the share of the per-request CPU off the loop to run under the GIL so that the model
/// runs as fast as the service did at the probe ([`excess`] near 0). `run(offloop)` runs the
/// model with that share under the GIL and the rest of the off-loop CPU
/// (`measured.offloop + measured.parallel`) outside it, its `excess` filled in; the model
/// slows as the share rises. Returns the chosen split, the trials and how it was chosen.
pub fn search(
    measured: CpuPlacement,
    mut run: impl FnMut(f64) -> Result<Trial>,
) -> Result<(CpuPlacement, Vec<Trial>, String)> {
    let off = (measured.offloop + measured.parallel).clamp(0.0, 1.0);
    let split = |offloop: f64| CpuPlacement {
        offloop,
        parallel: (off - offloop).max(0.0),
    };
    let mut trials = Vec::new();
    let first = run(measured.offloop)?;
    trials.push(first.clone());
    if first.excess <= TOLERANCE {
        let how = format!(
            "with the split as measured the model ran {} than the service: kept",
            pct(first.excess)
        );
        return Ok((measured, trials, how));
    }
    let last = run(off)?;
    trials.push(last.clone());
    if last.excess >= -TOLERANCE {
        let how = format!(
            "with all of its off-loop CPU under the GIL the model still ran {} than the service: all of it put there",
            pct(last.excess)
        );
        return Ok((split(off), trials, how));
    }
    // Bisection between a share too fast (lo) and one too slow (hi).
    let (mut lo, mut hi) = (first, last);
    while trials.len() < MAX_TRIALS {
        let mid = run((lo.offloop + hi.offloop) / 2.0)?;
        trials.push(mid.clone());
        if mid.excess.abs() <= TOLERANCE {
            let how = format!(
                "{:.0} % of the per-request CPU under the GIL off the loop, where the model ran {} than the service",
                mid.offloop * 100.0,
                pct(mid.excess)
            );
            return Ok((split(mid.offloop), trials, how));
        }
        if mid.excess > 0.0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    // Where the line through the last bracket's ends crosses "as fast as the service".
    let span = lo.excess - hi.excess;
    let at = if span.is_finite() && span > 0.0 {
        (lo.excess / span).clamp(0.0, 1.0)
    } else {
        0.5
    };
    let offloop = lo.offloop + (hi.offloop - lo.offloop) * at;
    let how = format!(
        "{:.0} % of the per-request CPU under the GIL off the loop: between {:.0} % (the model {}) and {:.0} % ({})",
        offloop * 100.0,
        lo.offloop * 100.0,
        pct(lo.excess),
        hi.offloop * 100.0,
        pct(hi.excess)
    );
    Ok((split(offloop), trials, how))
}

#[cfg(test)]
#[path = "probe_fit_tests.rs"]
mod tests;
