//! Drawing injected failures for one endpoint, and its concurrency quota.
//!
//! A handler asks its endpoint's [`FaultInjector`] for an [`Admission`] first (the quota: beyond
//! `max_concurrency` requests in flight the answer is "throttle now"), then draws at most one
//! [`Fault`] per request. The admission guard releases the slot when the response is finished,
//! including when a stream is dropped by the client.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use rand::Rng;

use crate::config::FaultSpec;

/// One injected failure, drawn per request.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// 429 before anything is sent.
    Throttle,
    /// 500.
    ServerError,
    /// 503.
    Unavailable,
    /// Every injected latency of this request multiplied by the factor.
    Slow(f64),
    /// An exception event after `after_fraction` of the answer's tokens (ConverseStream only).
    StreamException {
        /// The exception's member name, e.g. `throttlingException`.
        kind: String,
        /// Where in the stream, 0..1 of the tokens.
        after_fraction: f64,
    },
    /// The connection is closed after `after_fraction` of the answer's tokens.
    StreamCut {
        /// Where in the stream, 0..1 of the tokens.
        after_fraction: f64,
    },
}

impl Fault {
    /// The short name used in statistics (`throttle`, `server_error`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::Throttle => "throttle",
            Fault::ServerError => "server_error",
            Fault::Unavailable => "unavailable",
            Fault::Slow(_) => "slow",
            Fault::StreamException { .. } => "stream_exception",
            Fault::StreamCut { .. } => "stream_cut",
        }
    }
}

/// Faults for one endpoint.
#[derive(Debug)]
pub struct FaultInjector {
    spec: FaultSpec,
    streaming: bool,
    in_flight: Arc<AtomicU32>,
}

/// A slot under the endpoint's concurrency quota; released on drop.
#[derive(Debug)]
pub struct Admission {
    in_flight: Arc<AtomicU32>,
}

impl Drop for Admission {
    fn drop(&mut self) {
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

impl FaultInjector {
    /// `streaming` enables the mid-stream faults (only ConverseStream streams).
    pub fn new(spec: FaultSpec, streaming: bool) -> Self {
        FaultInjector {
            spec,
            streaming,
            in_flight: Arc::new(AtomicU32::new(0)),
        }
    }

    /// The spec this injector draws from.
    pub fn spec(&self) -> &FaultSpec {
        &self.spec
    }

    /// Requests of this endpoint in flight now.
    pub fn in_flight(&self) -> u32 {
        self.in_flight.load(Ordering::Acquire)
    }

    /// Takes a slot under the quota, or `None` when `max_concurrency` are already in flight
    /// (the caller answers 429).
    pub fn admit(&self) -> Option<Admission> {
        let now = self.in_flight.fetch_add(1, Ordering::AcqRel) + 1;
        let admission = Admission {
            in_flight: Arc::clone(&self.in_flight),
        };
        if self.spec.max_concurrency > 0 && now > self.spec.max_concurrency {
            drop(admission);
            return None;
        }
        Some(admission)
    }

    /// Draws at most one fault for a request.
    pub fn draw<R: Rng + ?Sized>(&self, rng: &mut R) -> Option<Fault> {
        let s = &self.spec;
        let u: f64 = rng.random();
        let mut edge = 0.0;
        let mut hit = |p: f64| {
            edge += p;
            p > 0.0 && u < edge
        };
        if hit(s.throttle) {
            return Some(Fault::Throttle);
        }
        if hit(s.server_error) {
            return Some(Fault::ServerError);
        }
        if hit(s.unavailable) {
            return Some(Fault::Unavailable);
        }
        if hit(s.slow) {
            return Some(Fault::Slow(s.slow_multiplier));
        }
        let (exception, cut) = if self.streaming {
            (s.stream_exception, s.stream_cut)
        } else {
            (0.0, 0.0)
        };
        if hit(exception) {
            return Some(Fault::StreamException {
                kind: s.stream_exception_kind.clone(),
                after_fraction: rng.random_range(0.0..1.0),
            });
        }
        if hit(cut) {
            return Some(Fault::StreamCut {
                after_fraction: rng.random_range(0.0..1.0),
            });
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn clean_spec_never_faults() {
        let f = FaultInjector::new(FaultSpec::default(), true);
        let mut rng = StdRng::seed_from_u64(3);
        assert!((0..10_000).all(|_| f.draw(&mut rng).is_none()));
    }

    #[test]
    fn probabilities_are_respected() {
        let spec = FaultSpec {
            throttle: 0.2,
            stream_cut: 0.1,
            ..FaultSpec::default()
        };
        let f = FaultInjector::new(spec.clone(), true);
        let mut rng = StdRng::seed_from_u64(4);
        let n = 20_000;
        let (mut throttles, mut cuts) = (0, 0);
        for _ in 0..n {
            match f.draw(&mut rng) {
                Some(Fault::Throttle) => throttles += 1,
                Some(Fault::StreamCut { after_fraction }) => {
                    assert!((0.0..1.0).contains(&after_fraction));
                    cuts += 1
                }
                None => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!((throttles as f64 / n as f64 - 0.2).abs() < 0.02);
        assert!((cuts as f64 / n as f64 - 0.1).abs() < 0.02);

        // Mid-stream faults do not apply to a non-streaming endpoint.
        let f = FaultInjector::new(
            FaultSpec {
                stream_cut: 1.0,
                ..FaultSpec::default()
            },
            false,
        );
        assert!(f.draw(&mut rng).is_none());
    }

    #[test]
    fn quota_admits_up_to_the_limit_and_releases() {
        let f = FaultInjector::new(
            FaultSpec {
                max_concurrency: 2,
                ..FaultSpec::default()
            },
            false,
        );
        let a = f.admit().expect("first");
        let b = f.admit().expect("second");
        assert!(f.admit().is_none(), "third is over quota");
        assert_eq!(f.in_flight(), 2);
        drop(a);
        let c = f.admit().expect("slot freed");
        drop((b, c));
        assert_eq!(f.in_flight(), 0);
    }
}
