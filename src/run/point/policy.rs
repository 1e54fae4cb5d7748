//! The options and policy of one measurement: how long the ramp, warm-up, measured window and
//! drain last (defaults from the scenario's expected service time, or a target's stand-ins),
//! and the progress bar (the load source that follows from them is built in `mod.rs`).

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::super::{RunPlan, Subject};
use super::At;
use crate::load::closed_loop::ClosedLoop;
use crate::metrics::ideal;
use crate::pipeline::VariantKind;

/// A target's service time is unknown before it is measured: these stand in for the model's
/// expected service time when choosing the ramp, warm-up and drain defaults.
pub(super) const TARGET_RAMP: Duration = Duration::from_secs(1);
pub(super) const TARGET_WARMUP: Duration = Duration::from_secs(2);
pub(super) const TARGET_DRAIN: Duration = Duration::from_secs(30);
/// The open loop's default warm-up, in expected service times.
pub(crate) const OPEN_LOOP_WARMUP_SERVICES: f64 = 1.5;

/// How long each phase lasts and how much is expected in flight.
pub(super) struct Phases {
    /// Expected service time of the model (variants) or a stand-in (target), seconds.
    pub(super) service_s: f64,
    /// Peak in-flight requests expected (sizes connection pools).
    pub(super) concurrency_hint: usize,
    pub(super) ramp: Duration,
    pub(super) warmup: Duration,
    pub(super) duration: Option<Duration>,
    pub(super) drain: Duration,
}

impl Phases {
    pub(super) fn of(at: &At) -> Phases {
        let s = &at.plan.scenario;
        let target = matches!(at.subject, Subject::Target(_));
        let service_s = if target {
            TARGET_RAMP.as_secs_f64()
        } else {
            ideal::expected_service_s(s, None)
        };
        let concurrency_hint = match at.point.rate {
            None => at.point.concurrency,
            Some(rate) => at
                .point
                .max_in_flight
                .unwrap_or(((rate * service_s * 2.0).ceil() as usize).max(1)),
        };
        let ramp = match at.point.rate {
            None => s.load.ramp.unwrap_or_else(|| {
                if target {
                    TARGET_RAMP
                } else {
                    ClosedLoop::default_ramp(Duration::from_secs_f64(service_s))
                }
            }),
            Some(_) => Duration::ZERO,
        };
        // CPU-bound (the CPU model dominates): one round of every user through the CPU.
        let cpu_cycle_s = match at.subject {
            Subject::Variant(kind)
                if at.point.rate.is_none() && kind != VariantKind::Sequential =>
            {
                let single = matches!(kind, VariantKind::AsyncSingle);
                let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
                let cycle = ideal::cpu_cycle_s(s, at.point.concurrency, single, cores);
                (cycle > service_s).then_some(cycle)
            }
            _ => None,
        };
        let default_warmup = match (target, at.point.rate) {
            (true, _) => TARGET_WARMUP.max(ramp),
            // An open loop starts empty: until the first requests finish, the window would
            // count arrivals with no completions (it under-reported by ~40 % with no warm-up).
            // One and a half expected service times fill it to its steady state.
            (false, Some(_)) => Duration::from_secs_f64(service_s * OPEN_LOOP_WARMUP_SERVICES),
            // The start-up burst of a CPU-bound point lasts one CPU cycle: warm up past it
            // (at most 2 min).
            (false, None) => match cpu_cycle_s {
                Some(cycle) => ramp.max(Duration::from_secs_f64((cycle + service_s).min(120.0))),
                None => ramp,
            },
        };
        let drain = s.load.drain_timeout.unwrap_or_else(|| {
            if target {
                TARGET_DRAIN
            } else {
                // A request in flight when the window closes may wait a whole CPU cycle.
                let longest = service_s.max(cpu_cycle_s.unwrap_or(0.0) + service_s);
                Duration::from_secs_f64((longest * 3.0 + 2.0).min(120.0))
            }
        });
        Phases {
            service_s,
            concurrency_hint,
            ramp,
            warmup: s.load.warmup.unwrap_or(default_warmup),
            duration: s.measured_duration(),
            drain,
        }
    }
}

pub(super) fn progress_bar(plan: &RunPlan, label: String, total: Duration) -> ProgressBar {
    let pb = ProgressBar::with_draw_target(
        Some(total.as_millis() as u64),
        if plan.progress {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        },
    );
    if let Ok(style) = ProgressStyle::with_template("{prefix:>28} [{bar:30}] {elapsed:>4} {msg}") {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.set_prefix(label);
    pb
}
