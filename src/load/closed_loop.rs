//! Closed loop: `concurrency` simulated users; each sends a request, waits for it to finish,
//! pauses for the think time, and sends the next (`--concurrency N`).
//!
//! The users' first requests are spread evenly over a ramp rather than fired in the same
//! microsecond. By default the ramp is one expected service time: the users then start out of
//! phase, as they would be in steady state, so the measured window that follows is not a series
//! of synchronised waves; and ten thousand simultaneous connects no longer overflow listen
//! backlogs into one-second SYN retransmits (docs/design.md §10). A ramped start still counts from its
//! own intended time, so the ramp never hides latency.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

use super::{Arrival, Source};

/// Longest default ramp.
pub const MAX_RAMP: Duration = Duration::from_secs(30);

/// N users in a closed loop.
#[derive(Debug)]
pub struct ClosedLoop {
    pending: BinaryHeap<Reverse<Arrival>>,
    think: Duration,
}

impl ClosedLoop {
    /// `users` users whose first requests are spread over `ramp` from `start`, pausing `think`
    /// between requests.
    pub fn new(users: usize, start: Instant, think: Duration, ramp: Duration) -> Self {
        let step = if users > 1 {
            ramp / users as u32
        } else {
            Duration::ZERO
        };
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

    /// The default ramp: one expected service time, at most [`MAX_RAMP`].
    pub fn default_ramp(expected_service: Duration) -> Duration {
        expected_service.min(MAX_RAMP)
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
        let mut s = ClosedLoop::new(3, t0, Duration::from_millis(10), Duration::from_millis(3));
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
        let s = Duration::from_secs(3);
        assert_eq!(ClosedLoop::default_ramp(s), s);
        assert_eq!(ClosedLoop::default_ramp(Duration::from_secs(600)), MAX_RAMP);
    }
}
