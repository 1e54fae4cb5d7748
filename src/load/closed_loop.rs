//! Closed loop: `concurrency` simulated users; each sends a request, waits for it to finish,
//! pauses for the think time, and sends the next (`--concurrency N`).
//!
//! The first requests are spread over a short ramp (0.2 ms per user, at most 2 s) rather than
//! fired in the same microsecond: ten thousand simultaneous connects overflow listen backlogs
//! and turn into one-second SYN retransmits (DESIGN.md §10). A ramped start still counts from its
//! own intended time, so the ramp never hides latency.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

use super::{Arrival, Source};

/// Time between consecutive users' first requests.
pub const RAMP_PER_USER: Duration = Duration::from_micros(200);
/// Longest ramp.
pub const MAX_RAMP: Duration = Duration::from_secs(2);

/// N users in a closed loop.
#[derive(Debug)]
pub struct ClosedLoop {
    pending: BinaryHeap<Reverse<Arrival>>,
    think: Duration,
}

impl ClosedLoop {
    /// `users` users starting at `start`, pausing `think` between requests.
    pub fn new(users: usize, start: Instant, think: Duration) -> Self {
        let ramp = (RAMP_PER_USER * users as u32).min(MAX_RAMP);
        let step = if users > 1 { ramp / users as u32 } else { Duration::ZERO };
        let pending = (0..users)
            .map(|u| {
                Reverse(Arrival {
                    intended: start + step * u as u32,
                    user: Some(u),
                })
            })
            .collect();
        ClosedLoop { pending, think }
    }

    /// Length of the initial ramp for `users`.
    pub fn ramp(users: usize) -> Duration {
        (RAMP_PER_USER * users as u32).min(MAX_RAMP)
    }
}

impl Source for ClosedLoop {
    fn due(&mut self, now: Instant, out: &mut Vec<Arrival>) {
        while let Some(Reverse(a)) = self.pending.peek() {
            if a.intended > now {
                break;
            }
            out.push(*a);
            self.pending.pop();
        }
    }

    fn next_due(&self) -> Option<Instant> {
        self.pending.peek().map(|Reverse(a)| a.intended)
    }

    fn completed(&mut self, user: Option<usize>, finished: Instant) {
        if let Some(u) = user {
            self.pending.push(Reverse(Arrival {
                intended: finished + self.think,
                user: Some(u),
            }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_ramp_then_follow_completions() {
        let t0 = Instant::now();
        let mut s = ClosedLoop::new(3, t0, Duration::from_millis(10));
        let mut out = Vec::new();
        s.due(t0, &mut out);
        assert_eq!(out.len(), 1, "only the first user is due at t0");
        s.due(t0 + Duration::from_secs(1), &mut out);
        assert_eq!(out.len(), 3);
        assert!(s.next_due().is_none(), "nothing until a request completes");
        let fin = t0 + Duration::from_millis(100);
        s.completed(Some(1), fin);
        assert_eq!(s.next_due(), Some(fin + Duration::from_millis(10)));
        out.clear();
        s.due(fin, &mut out);
        assert!(out.is_empty(), "think time not yet over");
        s.due(fin + Duration::from_millis(10), &mut out);
        assert_eq!(out[0].user, Some(1));
    }

    #[test]
    fn ramp_is_bounded() {
        assert_eq!(ClosedLoop::ramp(10), Duration::from_millis(2));
        assert_eq!(ClosedLoop::ramp(1_000_000), MAX_RAMP);
    }
}
