//! Open loop: requests arrive on a schedule at `--rate` per second (`--arrivals constant |
//! poisson | gamma:B`), whether or not earlier ones have finished — the load a public endpoint
//! sees. Each request's latency counts from its scheduled time (wrk2-style coordinated-omission
//! correction), so a saturated variant shows its queue instead of hiding it.

use std::time::Instant;

use rand::SeedableRng;
use rand::rngs::StdRng;

use super::arrivals::Arrivals;
use super::{Arrival, Source};

/// A seeded arrival schedule.
#[derive(Debug)]
pub struct OpenLoop {
    rate: f64,
    arrivals: Arrivals,
    next: Instant,
    rng: StdRng,
    max_in_flight: Option<usize>,
}

impl OpenLoop {
    /// Arrivals at `rate`/s from `start`.
    pub fn new(
        rate: f64,
        arrivals: Arrivals,
        start: Instant,
        seed: u64,
        max_in_flight: Option<usize>,
    ) -> Self {
        OpenLoop {
            rate,
            arrivals,
            next: start,
            rng: StdRng::seed_from_u64(seed ^ 0x6f70_656e),
            max_in_flight,
        }
    }
}

impl Source for OpenLoop {
    fn due(&mut self, now: Instant, out: &mut Vec<Arrival>) {
        while self.next <= now {
            out.push(Arrival {
                intended: self.next,
                user: None,
            });
            self.next += self.arrivals.next_gap(self.rate, &mut self.rng);
        }
    }

    fn next_due(&self) -> Option<Instant> {
        Some(self.next)
    }

    fn completed(&mut self, _user: Option<usize>, _finished: Instant) {}

    fn max_in_flight(&self) -> Option<usize> {
        self.max_in_flight
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn schedule_is_independent_of_completions() {
        let t0 = Instant::now();
        let mut s = OpenLoop::new(100.0, Arrivals::Constant, t0, 1, None);
        let mut out = Vec::new();
        s.due(t0 + Duration::from_millis(95), &mut out);
        assert_eq!(out.len(), 10, "t = 0, 10, …, 90 ms");
        assert_eq!(out[3].intended, t0 + Duration::from_millis(30));
        assert_eq!(s.next_due(), Some(t0 + Duration::from_millis(100)));
    }
}
