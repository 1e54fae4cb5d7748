//! How long a calibration point warms up before its window opens.

use std::time::Duration;

use crate::scenario::Scenario;

/// The least warm-up of a calibration point, in expected service times of its answers: every
/// user starts at once, and the first rounds of a CPU-bound service are not its steady state.
/// The seed's `async def` endpoint at 64 users with 120-token answers at time scale 1 (a 4.3 s
/// service time) spent 98-110 ms of CPU per answer in the window after 5 s of warm-up, 90-98
/// after 10 s and 91-93 after 20 s, each on three fresh starts (`reports/probe-load/`).
pub const WARMUP_SERVICES: f64 = 4.0;

/// The warm-up of a calibration point without `--warmup`.
pub const DEFAULT_WARMUP: Duration = Duration::from_secs(5);

/// The warm-up of a point of `s` (its answers' length set): the scenario's as given
/// (`--warmup`), else [`DEFAULT_WARMUP`] or [`WARMUP_SERVICES`] expected service times,
/// whichever is longer.
pub(crate) fn steady_warmup(s: &Scenario) -> Option<Duration> {
    let service = crate::metrics::ideal::expected_service_s(s, None);
    let floor = Duration::from_secs_f64((service * WARMUP_SERVICES).clamp(0.0, 600.0));
    Some(s.load.warmup.unwrap_or(DEFAULT_WARMUP.max(floor)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mock_services::latency::Dist;

    #[test]
    fn a_point_warms_up_four_service_times_unless_told_and_never_under_five_seconds() {
        let mut s = Scenario {
            time_scale: 1.0,
            ..Scenario::default()
        };
        s.bedrock.output_tokens = Dist::fixed(120.0);
        s.load.warmup = None;
        let service = crate::metrics::ideal::expected_service_s(&s, None);
        assert!(
            service > 3.0,
            "the seed's 120-token answer at time scale 1: {service} s"
        );
        let w = steady_warmup(&s).expect("a warm-up").as_secs_f64();
        assert!(
            (w - 4.0 * service).abs() < 1e-6,
            "{w} s for a {service} s service"
        );
        // Short answers, a fast time scale: the default.
        s.time_scale = 0.05;
        assert_eq!(steady_warmup(&s), Some(DEFAULT_WARMUP));
        // Given, as given.
        s.time_scale = 1.0;
        s.load.warmup = Some(Duration::from_secs(2));
        assert_eq!(steady_warmup(&s), Some(Duration::from_secs(2)));
    }
}
