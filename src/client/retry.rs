//! Retries with exponential backoff and full jitter, as botocore's standard mode does.
//!
//! A call is retried when it failed with a retryable [`ErrorKind`] (throttling, 500/502/503/504,
//! connect failures) — all of which can only happen *before* any response body was consumed.
//! Failures in the middle of a stream (exception frame, cut, corrupt frame, idle timeout) are
//! never retried, as LlamaIndex does not: tokens may already have reached the user.
//!
//! The delay before retry `n` (1-based) is `rand(0..1) * min(base * 2^(n-1), max)`, multiplied by
//! the caller's `scale`: the harness runs the model at `time_scale`, so a run at 0.01 also backs
//! off 100× shorter and the retry-to-work ratio of the model is kept.

use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::error::ClientError;

/// How failed calls are retried (TOML `[client.retry]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryPolicy {
    /// Total attempts per call, the first included (1 = never retry; the Rust SDK's default is 3).
    pub max_attempts: u32,
    /// Backoff base, milliseconds of model time: retry `n` waits up to `base * 2^(n-1)`.
    pub base_backoff_ms: u64,
    /// Cap on one backoff, milliseconds of model time (botocore: 20 s).
    pub max_backoff_ms: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            base_backoff_ms: 100,
            max_backoff_ms: 20_000,
        }
    }
}

impl RetryPolicy {
    /// Checks the values; the error names the field (relative to `[client.retry]`) and the fix.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.max_attempts == 0 {
            return Err((
                "retry.max_attempts",
                "must be at least 1 (1 = no retries)".to_string(),
            ));
        }
        if self.max_backoff_ms < self.base_backoff_ms {
            return Err((
                "retry.max_backoff_ms",
                format!(
                    "must be >= retry.base_backoff_ms ({} ms), got {} ms",
                    self.base_backoff_ms, self.max_backoff_ms
                ),
            ));
        }
        Ok(())
    }

    /// The upper bound of the wait before retry number `retry` (1-based), unscaled, in ms:
    /// `min(base * 2^(retry-1), max)`.
    pub fn backoff_cap_ms(&self, retry: u32) -> u64 {
        let exp = retry.saturating_sub(1).min(62);
        self.base_backoff_ms
            .saturating_mul(1u64 << exp)
            .min(self.max_backoff_ms)
    }
}

/// A [`RetryPolicy`] plus the time scale its backoffs run at.
#[derive(Clone, Debug, PartialEq)]
pub struct Backoff {
    /// The policy.
    pub policy: RetryPolicy,
    /// Multiplies every backoff (the run's `time_scale`; 1.0 = real time).
    pub scale: f64,
}

/// What to do after a failed attempt.
#[derive(Debug)]
pub(crate) enum Next {
    /// Sleep this long, then send attempt `attempt + 1`.
    RetryAfter(Duration),
    /// Give up with this error (its `attempts` set).
    GiveUp(ClientError),
}

impl Backoff {
    /// A policy running at `scale` (non-finite or negative scales are treated as 0: no wait).
    pub fn new(policy: RetryPolicy, scale: f64) -> Self {
        let scale = if scale.is_finite() && scale > 0.0 {
            scale
        } else {
            0.0
        };
        Backoff { policy, scale }
    }

    /// The jittered, scaled wait before retry number `retry` (1-based), drawing from `rng`.
    pub fn delay<R: Rng + ?Sized>(&self, retry: u32, rng: &mut R) -> Duration {
        let cap_ms = self.policy.backoff_cap_ms(retry) as f64 * self.scale;
        let jitter: f64 = rng.random();
        Duration::from_secs_f64((jitter * cap_ms / 1000.0).max(0.0))
    }

    /// Decides after attempt number `attempt` (1-based) failed with `err`.
    pub(crate) fn after_failure(&self, attempt: u32, mut err: ClientError) -> Next {
        err.attempts = attempt;
        if err.kind.is_retryable() && attempt < self.policy.max_attempts {
            Next::RetryAfter(self.delay(attempt, &mut rand::rng()))
        } else {
            Next::GiveUp(err)
        }
    }
}

/// Runs `call` (on the calling thread) until it succeeds, fails for good or runs out of
/// attempts, sleeping the thread between attempts. Returns the value and the attempts used.
pub(crate) fn run_blocking<T>(
    backoff: &Backoff,
    mut call: impl FnMut() -> Result<T, ClientError>,
) -> Result<(T, u32), ClientError> {
    let mut attempt = 1;
    loop {
        match call() {
            Ok(v) => return Ok((v, attempt)),
            Err(e) => match backoff.after_failure(attempt, e) {
                Next::RetryAfter(d) => {
                    if !d.is_zero() {
                        std::thread::sleep(d);
                    }
                    attempt += 1;
                }
                Next::GiveUp(e) => return Err(e),
            },
        }
    }
}

/// Runs `call` until it succeeds, fails for good or runs out of attempts, sleeping the task (not
/// the thread) between attempts with `tokio::time::sleep`.
///
/// `call` is a plain closure returning a future rather than an `AsyncFnMut`: the futures of
/// async closures are not provably `Send` when the caller is generic, which would keep the
/// whole request future off a multi-thread runtime (`tokio::spawn` needs `Send`).
pub(crate) async fn run_async<T, F>(
    backoff: &Backoff,
    mut call: impl FnMut() -> F,
) -> Result<(T, u32), ClientError>
where
    F: std::future::Future<Output = Result<T, ClientError>>,
{
    let mut attempt = 1;
    loop {
        match call().await {
            Ok(v) => return Ok((v, attempt)),
            Err(e) => match backoff.after_failure(attempt, e) {
                Next::RetryAfter(d) => {
                    if !d.is_zero() {
                        tokio::time::sleep(d).await;
                    }
                    attempt += 1;
                }
                Next::GiveUp(e) => return Err(e),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::error::ErrorKind;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn cap_doubles_then_saturates() {
        let p = RetryPolicy {
            max_attempts: 10,
            base_backoff_ms: 100,
            max_backoff_ms: 1000,
        };
        let caps: Vec<u64> = (1..=6).map(|n| p.backoff_cap_ms(n)).collect();
        assert_eq!(caps, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(p.backoff_cap_ms(500), 1000);
    }

    #[test]
    fn delay_is_full_jitter_within_scaled_cap() {
        let b = Backoff::new(RetryPolicy::default(), 0.5);
        let mut rng = StdRng::seed_from_u64(7);
        let mut seen_small = false;
        let mut seen_large = false;
        for _ in 0..1000 {
            let d = b.delay(3, &mut rng);
            // cap = 100 * 4 = 400 ms, scaled by 0.5 = 200 ms.
            assert!(d <= Duration::from_millis(200), "{d:?}");
            seen_small |= d < Duration::from_millis(50);
            seen_large |= d > Duration::from_millis(150);
        }
        assert!(seen_small && seen_large, "jitter spans the whole range");
        let zero = Backoff::new(RetryPolicy::default(), f64::NAN);
        assert_eq!(zero.delay(5, &mut rng), Duration::ZERO);
    }

    #[test]
    fn gives_up_after_max_attempts_with_count() {
        let b = Backoff::new(RetryPolicy::default(), 0.0);
        let mut calls = 0;
        let r: Result<((), u32), _> = run_blocking(&b, || {
            calls += 1;
            Err(ClientError::new(ErrorKind::Throttled, "429"))
        });
        let e = r.unwrap_err();
        assert_eq!(calls, 3);
        assert_eq!(e.attempts, 3);
        assert_eq!(e.kind, ErrorKind::Throttled);
    }

    #[test]
    fn non_retryable_fails_at_once_and_success_reports_attempts() {
        let b = Backoff::new(RetryPolicy::default(), 0.0);
        let mut calls = 0;
        let e = run_blocking::<()>(&b, || {
            calls += 1;
            Err(ClientError::new(ErrorKind::StreamCut, "cut"))
        })
        .unwrap_err();
        assert_eq!((calls, e.attempts), (1, 1));
        assert!(!e.kind.is_retryable());
        let mut n = 0;
        let (v, attempts) = run_blocking(&b, || {
            n += 1;
            if n < 2 {
                Err(ClientError::new(ErrorKind::ServerError, "500"))
            } else {
                Ok(42)
            }
        })
        .unwrap();
        assert_eq!((v, attempts), (42, 2));
    }

    #[test]
    fn validate_names_fields() {
        let p = RetryPolicy {
            max_attempts: 0,
            ..Default::default()
        };
        assert_eq!(p.validate().unwrap_err().0, "retry.max_attempts");
        let p = RetryPolicy {
            max_attempts: 2,
            base_backoff_ms: 50,
            max_backoff_ms: 10,
        };
        assert_eq!(p.validate().unwrap_err().0, "retry.max_backoff_ms");
    }
}
