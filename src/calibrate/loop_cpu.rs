//! For one event loop (`async-single`): the CPU fit read where the service is bound — on the
//! loop's own thread.
//!
//! An `async def` service under load is bound by its loop: every request's Python runs there
//! in turns, and the loop's CPU per answer sets how many answers a second it can serve. The
//! rest of its CPU runs on the executor's threads beside it and only competes for the cores.
//! Fitting the whole server's CPU against the answer length and then cutting a share off for
//! the executor puts the loop's per-token cost in the wrong place when the executor's part
//! moves between the probes: on the seed's `async def` endpoint at time scale 1 (tenth sitting,
//! at one machine speed) the whole server spent ~152 ms per answer at 20 tokens and ~151 at 120,
//! a fit of 152 ms per request and nothing per token, while its loop's thread spent ~47 and
//! ~69 ms — 0.22 ms per token the model left out. The model's loop then ran ~10 % lighter than
//! the service's at the points' ~105-token answers, where the loop is what bounds them.
//!
//! Read from the server's threads side by side with the model on the same machine
//! (`reports/loop-threads/`): at 50 and 100 users the service's loop thread ran 0.62–0.70 of a
//! core and waited on the run queue 0.19–0.35 (runnable 88–97 % of the time), its six executor
//! threads 0.12–0.17 each; the model's loop was runnable as much, on a core 0.69–0.71 of the
//! time, and served within 3 % of the service's rate. The loop's CPU per answer is the figure
//! to get right.

use super::model::{CpuFit, Observation, fit_cpu, worst_residual};
use super::placement::{on_the_loop, placement_points};

/// The CPU model fitted on the loop: the loop's CPU per answer (the busiest thread's share of
/// the server's) against the answer length gives the CPU per token event and the loop's part
/// of the CPU per request; the CPU off the loop, averaged over the points, is per request (the
/// executor's work — clients, SSL contexts — does not grow with the answer). Read at the
/// probes (the loaded points; the low levels when there are none), like the whole fit.
///
/// The whole server's CPU at each point is kept on average (the fit's CPU per request is the
/// loop's plus the mean off it), not point by point: `worst_residual` says how far a point is.
/// None unless every point used has the busiest thread's figures and there are two answer
/// lengths (with one, this fit says what the whole one does).
pub fn event_loop_cpu(obs: &[Observation]) -> Option<CpuFit> {
    let used = placement_points(obs);
    // Every point, or none: a fit over some of them would not be the probes' any more.
    let on_loop: Vec<Observation> = used
        .iter()
        .map(|&o| on_the_loop(o))
        .collect::<Option<_>>()?;
    let mut lengths: Vec<u64> = used
        .iter()
        .filter_map(|o| o.tokens_per_request.map(f64::to_bits))
        .collect();
    lengths.sort_unstable();
    lengths.dedup();
    if lengths.len() < 2 {
        return None;
    }
    let on = fit_cpu(&on_loop, used.first()?.probe)?;
    // What the loop did not run, per answer: the server's CPU less the loop's.
    let off_ms: Vec<f64> = used
        .iter()
        .zip(&on_loop)
        .filter_map(|(o, l)| Some(o.cpu_per_request_ms? - l.cpu_per_request_ms?))
        .collect();
    let off_us = 1000.0 * off_ms.iter().sum::<f64>() / off_ms.len() as f64;
    let per_request_us = on.per_request_us + off_us;
    let measured: Vec<(f64, f64)> = used
        .iter()
        .filter_map(|o| Some((o.tokens_per_request?, o.cpu_per_request_ms? * 1000.0)))
        .collect();
    Some(CpuFit {
        per_request_us,
        per_token_us: on.per_token_us,
        per_read_us: 0.0,
        worst_residual: worst_residual(&measured, per_request_us, on.per_token_us),
        points: on.points,
    })
}

#[cfg(test)]
#[path = "loop_cpu_tests.rs"]
mod tests;
