//! A deeper probe for one event loop: when the probe at the longest answers did not saturate the
//! loop, the paced phases are measured again with a probe at twice the users, and the model takes
//! that pass.
//!
//! An event loop's CPU per answer keeps falling past the first queueing: the busier the loop, the
//! more events each turn of it handles. The seed's `async def` endpoint at time scale 1 (the
//! fifteenth sitting): 103 ms per 120-token answer at a 64-user probe whose requests took 1.24×
//! as long as at 8 users (1.15 cores), 93 ms at a 128-user probe (1.98×, 1.36 cores), 87–92 ms at
//! the 100 and 200 users the calibration was to predict. The service served 1.22–1.23× the
//! 64-user model's req/s there; the 128-user one read 9 of 9 inside the goal, twice (`--probe
//! 128`, in a second sitting with fresh points too), and the eighteenth sitting, with this rule,
//! 18 of 18 at both time scales. Every time-scale-1 calibration of that endpoint in 15 sittings
//! stretched its 64-user probe by 1.13–1.72×; at time scale 0.25, where 64 users saturate it and
//! the model read 9 of 9, by 2.9–5.1×, and the two 128-user probes by 1.95 and 1.98×. Hence
//! [`LOOP_SATURATED`].
//!
//! Not for a thread pool: the seed's streaming `def` endpoint probed at 128 users instead of 64
//! spent 48 ms per answer where the points it was to predict spent 41, 41 and 46 (medians at 50,
//! 100 and 200 users, time scale 0.25), and the service served 1.14–1.30× its model's req/s;
//! its unqueued probes have the burst phase instead.

use serde::{Deserialize, Serialize};

use super::model::{self, Observation};
use crate::pipeline::VariantKind;

/// How much longer than at the highest low level (e2e p50, the longest answers) an event loop's
/// probe must take to count as saturated: the 64-user probes that left the model slow stretched
/// by at most 1.72×, the probes whose models read inside the goal by at least 1.95× (see the
/// module's evidence).
pub const LOOP_SATURATED: f64 = 1.8;

/// The first pass of a calibration that measured again with a deeper probe.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct DeeperProbe {
    /// The first pass's probe users.
    pub first_users: usize,
    /// The users of the probe measured again (twice the first).
    pub users: usize,
    /// The first probe's e2e p50 over the highest low level's, at the longest answers.
    pub first_stretch: f64,
    /// The first pass's points (its levels and probes), kept for the record: the model takes
    /// the second pass's.
    pub first_pass: Vec<Observation>,
}

/// Where a pass writes its phases, under the calibration's `--out`: "" for the first pass
/// (`tokens-N/`; `deeper` None), `probe-U/` for a deeper one (`probe-U/tokens-N/`).
pub fn pass_dir(deeper: Option<&DeeperProbe>) -> String {
    deeper.map_or_else(String::new, |d| probe_dir(d.users))
}

fn probe_dir(users: usize) -> String {
    format!("probe-{users}/")
}

/// When an event loop's probe did not saturate it ([`needed`]; a probe, `plan.deeper_probe`, not
/// stopped): the paced phases measured again with twice the users under `probe-U/`.
/// `observations` become the second pass's, and the first is returned in the record.
pub(super) fn measure_again(
    plan: &super::CalibrationPlan,
    stop: &std::sync::Arc<std::sync::atomic::AtomicBool>,
    observations: &mut Vec<Observation>,
    on_phase: &mut impl FnMut(&str, &crate::result::RunResult) -> anyhow::Result<()>,
) -> anyhow::Result<Option<DeeperProbe>> {
    if plan.probe.is_none() || !plan.deeper_probe || stop.load(std::sync::atomic::Ordering::Relaxed)
    {
        return Ok(None);
    }
    let variant = super::chosen_shape(plan, observations).variant;
    let Some((first_users, first_stretch)) = needed(variant, observations) else {
        return Ok(None);
    };
    let users = 2 * first_users;
    eprintln!(
        "ragperf calibrate: the event loop's probe at {first_users} users took only {first_stretch:.2}x as long as the highest low level (under {LOOP_SATURATED}x): the levels and a probe at {users} users again"
    );
    let second = super::paced_pass(plan, stop, Some(users), &probe_dir(users), on_phase)?;
    Ok(Some(DeeperProbe {
        first_users,
        users,
        first_stretch,
        first_pass: std::mem::replace(observations, second),
    }))
}

/// The probe at the longest answers over the highest low level at them: its users and how many
/// times as long its requests took (e2e p50). None without both e2e figures.
pub fn stretch(observations: &[Observation]) -> Option<(usize, f64)> {
    let probe = model::longest_probe(observations)?;
    let low = model::low_beside(observations, probe)?;
    let (at_probe, at_low) = (probe.e2e_p50_ms?, low.e2e_p50_ms?);
    (at_low > 0.0).then_some((probe.concurrency, at_probe / at_low))
}

/// The first probe's users and stretch when the pass must be measured again with a deeper
/// probe: an event loop (`variant`) whose probe at the longest answers took under
/// [`LOOP_SATURATED`] times as long as at the highest low level.
pub fn needed(variant: VariantKind, observations: &[Observation]) -> Option<(usize, f64)> {
    if variant != VariantKind::AsyncSingle {
        return None;
    }
    stretch(observations).filter(|(_, s)| *s < LOOP_SATURATED)
}

/// The header's note on a deeper probe, with the final pass's stretch.
pub fn note(d: &DeeperProbe, observations: &[Observation]) -> String {
    let first_cpu = model::longest_probe(&d.first_pass)
        .and_then(|p| Some((p.cpu_per_request_ms?, p.server_cores?, p.tokens_setting)));
    let first = match first_cpu {
        Some((cpu, cores, tokens)) => {
            format!(" (there {cpu:.1} ms of CPU per {tokens}-token answer on {cores:.2} cores)")
        }
        None => String::new(),
    };
    let now = match stretch(observations) {
        Some((_, s)) => format!("{s:.2}×"),
        None => "no e2e figure".into(),
    };
    format!(
        "the event loop's probe at {} users took only {:.2}× as long as the highest low level{first}: not saturated, and a loop's CPU per answer falls until it is; the levels and a probe at {} users were measured again ({now}, under probe-{}/), and the model takes that pass (--no-deeper-probe keeps the first)",
        d.first_users, d.first_stretch, d.users, d.users
    )
}

/// A note for an event loop whose final probe still did not saturate it (no deeper probe was
/// allowed, or the deeper one stretched too little too). Below the burst phase's 1.25× the
/// probe warnings say it already.
pub fn shallow_warning(variant: VariantKind, observations: &[Observation]) -> Option<String> {
    let (users, s) = needed(variant, observations)?;
    (s >= super::PROBE_QUEUED).then(|| {
        format!(
            "the event loop's probe at {users} users took only {s:.2}× as long as the highest low level: not saturated (under {LOOP_SATURATED}×), and a loop's CPU per answer falls until it is; predictions of loads that saturate it will be pessimistic (raise --probe)"
        )
    })
}

impl super::Calibration {
    /// The calibration with the first pass of a deeper probe kept beside it, and the header's
    /// note saying why the model takes the second.
    pub fn with_deeper_probe(mut self, deeper: Option<DeeperProbe>) -> Self {
        if let Some(d) = &deeper {
            self.warnings.insert(0, note(d, &self.observations));
        }
        self.deeper_probe = deeper;
        self
    }
}

#[cfg(test)]
#[path = "deeper_tests.rs"]
mod tests;
