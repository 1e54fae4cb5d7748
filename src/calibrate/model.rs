//! From observations of a real service to the model that reproduces it: the CPU fit (per
//! request and per token event), the kind of concurrency (a thread pool whose threads grow with
//! the load, or one event loop), the pool's size, and where a streaming `def` endpoint waits
//! (a thread held for the whole stream, or one pool call per token as Starlette does). Where
//! that CPU ran (on an event loop's thread or beside it, under the GIL or outside it) is
//! [`super::placement`]'s.
//!
//! Pure functions over [`Observation`]s, so each rule is tested on numbers, not on a server.

use serde::{Deserialize, Serialize};

use crate::pipeline::VariantKind;

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// What one calibration point measured.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Observation {
    /// Closed-loop users.
    pub concurrency: usize,
    /// The mock's `output_tokens` for this point (fixed).
    pub tokens_setting: u32,
    /// True for the pool probe (a load above the low levels, read only for threads and queueing).
    pub probe: bool,
    /// Requests that finished successfully in the measured window (a probe measured in several
    /// windows: in all of them).
    pub ok: u64,
    /// Requests that failed in the measured window (a probe in several windows: in all of them).
    pub failed: u64,
    /// Measured requests per second.
    pub requests_per_s: f64,
    /// End-to-end p50, ms (None: no sample).
    pub e2e_p50_ms: Option<f64>,
    /// Time to first token p50, ms (None: no sample, e.g. a whole-answer endpoint).
    pub ttft_p50_ms: Option<f64>,
    /// The server's CPU per answer inside the measured window, ms (the whole run's per
    /// generation the mock served when the window cannot be read off the server's samples).
    pub cpu_per_request_ms: Option<f64>,
    /// Token events the mock sent per generation request.
    pub tokens_per_request: Option<f64>,
    /// The server's threads when the point started, and at most during it.
    pub threads_start: u64,
    /// The most threads the server had during the point.
    pub threads_peak: u64,
    /// Backend calls per generation request, by mock operation (embed, qdrant_search, …).
    pub calls_per_request: std::collections::BTreeMap<String, f64>,
    /// The server's busiest thread's share of its CPU over the point (None: not measured).
    pub busiest_thread_share: Option<f64>,
    /// The server's CPU over the point as cores in use at once (CPU seconds ÷ window).
    pub server_cores: Option<f64>,
    /// The machine's mean speed while `cpu_per_request_ms` was measured: rounds of ragperf's
    /// work function per µs of CPU (None: not recorded). The fit uses the CPU put at the
    /// calibration's median speed ([`at_reference_speed`](super::observe::at_reference_speed)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed: Option<f64>,
    /// With `--py-spy`: of the GIL's holding over the point, the share other threads than its
    /// busiest holder had (None: not sampled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gil_off_busiest_share: Option<f64>,
    /// The kernel's share of the server's CPU over the point: its system time over its user
    /// plus system time (None: not measured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_share: Option<f64>,
    /// A probe measured in several windows (`--probe-runs`): each window's CPU per answer, ms,
    /// as measured and in the order measured. The other figures are the median window's
    /// ([`median_window`](super::observe::median_window)). Empty: one window.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub window_cpu_ms: Vec<f64>,
    /// The starts of the service those windows measured (distinct server pids; one per window
    /// with `--probe-starts`, else one). 0: one window, or not recorded.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub window_starts: usize,
    /// The waits the mocks injected over the point (the whole run's), by operation (empty: no
    /// mock statistics, or a calibration saved before they were kept).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub backend_wait_ms: std::collections::BTreeMap<String, super::waits::Wait>,
}

/// The CPU model: `cpu = per_request + per_token × tokens`.
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq)]
pub struct CpuFit {
    /// CPU per request, µs.
    pub per_request_us: f64,
    /// CPU per token event, µs.
    pub per_token_us: f64,
    /// CPU per socket read of the answer stream, µs, on top of `per_token_us` (0 unless a
    /// burst told it apart: [`split_reads`]).
    pub per_read_us: f64,
    /// Largest |fitted − measured| ÷ measured over the points used, as a fraction.
    pub worst_residual: f64,
    /// Points used.
    pub points: usize,
}

/// Least squares of CPU per request against tokens per request over the low-load points
/// (`probes = false`) or the probes (`true`), constrained to non-negative costs. None when no
/// such point has both figures. With one token count only, the whole cost is per request (the
/// per-token share cannot be told apart).
pub fn fit_cpu(obs: &[Observation], probes: bool) -> Option<CpuFit> {
    let pts: Vec<(f64, f64)> = obs
        .iter()
        .filter(|o| o.probe == probes)
        .filter_map(|o| Some((o.tokens_per_request?, o.cpu_per_request_ms? * 1000.0)))
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect();
    if pts.is_empty() {
        return None;
    }
    let n = pts.len() as f64;
    let mx = pts.iter().map(|p| p.0).sum::<f64>() / n;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    // Token counts that barely differ cannot separate the two costs.
    let spread = pts.iter().map(|p| p.0).fold(f64::MIN, f64::max)
        - pts.iter().map(|p| p.0).fold(f64::MAX, f64::min);
    let (mut a, mut b) = if sxx > 0.0 && spread >= 1.0 {
        let b = sxy / sxx;
        (my - b * mx, b)
    } else {
        (my, 0.0)
    };
    if b < 0.0 {
        b = 0.0;
        a = my;
    }
    if a < 0.0 {
        // Through the origin: all of it per token.
        a = 0.0;
        let sx2: f64 = pts.iter().map(|p| p.0 * p.0).sum();
        b = if sx2 > 0.0 {
            pts.iter().map(|p| p.0 * p.1).sum::<f64>() / sx2
        } else {
            0.0
        };
    }
    Some(CpuFit {
        per_request_us: a,
        per_token_us: b,
        per_read_us: 0.0,
        worst_residual: worst_residual(&pts, a, b),
        points: pts.len(),
    })
}

/// The largest |fitted − measured| / measured over (tokens per request, CPU µs per request)
/// points, for `per_request_us + per_token_us × tokens` (0 for a point that measured none).
pub(super) fn worst_residual(pts: &[(f64, f64)], per_request_us: f64, per_token_us: f64) -> f64 {
    pts.iter()
        .map(|(x, y)| {
            let fitted = per_request_us + per_token_us * x;
            if *y > 0.0 {
                (fitted - y).abs() / y
            } else {
                0.0
            }
        })
        .fold(0.0, f64::max)
}

/// The paced probes' fit split by the bursts' (every answer sent at once): at a probe that did
/// not queue every token event was a socket read that waited for the network, in a burst
/// almost none was. The bursts give the CPU per token event; what the paced probes spent per
/// token beyond it is the CPU per read (CPython's `recv` that waits: the GIL dropped and taken
/// back, a sleep and a wake-up), which a stream that queued finds several tokens per read for
/// and seldom pays. The CPU per request stays the probes' (loaded) figure, so paced — every
/// token a read — the model spends what the probes did. Never negative: a burst that spent more
/// per token leaves no read cost.
///
/// On the seed's streaming `def` endpoint at time scale 1 (120- and 20-token answers): 486 µs
/// per token at the paced 64-user probes, 298 µs in bursts at 8 users (45.5–46.4 and 16.2 ms
/// per answer); 188 µs per read.
pub fn split_reads(probe: &CpuFit, burst: &CpuFit) -> CpuFit {
    CpuFit {
        per_request_us: probe.per_request_us,
        per_token_us: burst.per_token_us.min(probe.per_token_us),
        per_read_us: (probe.per_token_us - burst.per_token_us).max(0.0),
        worst_residual: probe.worst_residual.max(burst.worst_residual),
        points: probe.points + burst.points,
    }
}

/// The model chosen for the service, with the evidence.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Shape {
    /// The variant that reproduces it.
    pub variant: VariantKind,
    /// Its pool size (`load.workers`), for the thread-pool variants; None = unbounded.
    pub workers: Option<usize>,
    /// Why, in one or two sentences with the numbers.
    pub reasons: Vec<String>,
}

/// Threads added per extra user between the lowest and the highest low-load level (the points
/// of the longer answers, which hold their threads longest).
pub fn thread_slope(obs: &[Observation]) -> Option<f64> {
    let low: Vec<&Observation> = obs.iter().filter(|o| !o.probe).collect();
    let longest = low.iter().map(|o| o.tokens_setting).max()?;
    let mut at: Vec<&&Observation> = low.iter().filter(|o| o.tokens_setting == longest).collect();
    at.sort_by_key(|o| o.concurrency);
    let (lo, hi) = (at.first()?, at.last()?);
    if hi.concurrency <= lo.concurrency {
        return None;
    }
    Some(
        (hi.threads_peak as f64 - lo.threads_peak as f64)
            / (hi.concurrency - lo.concurrency) as f64,
    )
}

/// Picks the variant and pool size. `streaming`: the endpoint streams tokens (sse/openai);
/// `workers`: a pool size the user already knows (skips the probe's estimate).
pub fn classify(obs: &[Observation], streaming: bool, workers: Option<usize>) -> Shape {
    let mut reasons = Vec::new();
    if !grows_threads(obs, &mut reasons) {
        return Shape {
            variant: VariantKind::AsyncSingle,
            workers: None,
            reasons,
        };
    }
    let Some(size) = pool_size(obs, workers, &mut reasons) else {
        return Shape {
            variant: VariantKind::Sync,
            workers: None,
            reasons,
        };
    };
    if !streaming {
        reasons.push("a whole answer per response: each request holds a pool thread".into());
        return Shape {
            variant: VariantKind::Sync,
            workers: Some(size),
            reasons,
        };
    }
    let variant = streaming_variant(obs, &mut reasons);
    Shape {
        variant,
        workers: Some(size),
        reasons,
    }
}

/// Threads added per extra user at low load from which a service is a thread pool.
pub const POOL_THREADS_PER_USER: f64 = 0.75;

/// True when the service's threads grew with its users at low load (a thread pool), false for
/// one event loop (or when growth could not be seen); says why in `reasons`.
fn grows_threads(obs: &[Observation], reasons: &mut Vec<String>) -> bool {
    match thread_slope(obs) {
        Some(s) => {
            // A pool holds a thread per request in flight: one per extra user (1.00 on every
            // pool endpoint of the seed's app). An event loop's executor starts threads lazily
            // up to min(32, cores + 4): 0.17 to 0.50 per user between 2 and 8 users on the
            // seed's async endpoint (2 → 8 users can add at most 6 threads, 1.0 per user only
            // with an executor of 6 starting from none), so the line sits between the two.
            let pooled = s >= POOL_THREADS_PER_USER;
            reasons.push(format!(
                "its threads grew by {s:.2} per extra user at low load ({})",
                if pooled {
                    "a thread per request in flight: a thread pool"
                } else {
                    "about none: one event loop"
                }
            ));
            pooled
        }
        None => {
            reasons.push(
                "only one low-load level, so thread growth could not be seen; assuming one event loop"
                    .into(),
            );
            false
        }
    }
}

/// The pool's size: `workers` when given, else estimated from the probe's threads; None when
/// no cap was seen or there was no probe. Says why in `reasons`.
fn pool_size(
    obs: &[Observation],
    workers: Option<usize>,
    reasons: &mut Vec<String>,
) -> Option<usize> {
    // Threads that are not pool threads (main, loop, helpers): the fewest a low level had
    // beyond its users (a pool may add a thread more than the users it serves when a request
    // arrives just before a thread is idle again, so the smallest excess is the closest).
    let base = obs
        .iter()
        .filter(|o| !o.probe)
        .map(|o| o.threads_peak.saturating_sub(o.concurrency as u64))
        .min()
        .unwrap_or(1);
    match (workers, longest_probe(obs)) {
        (Some(w), _) => {
            reasons.push(format!("pool size {w} as given (--pool)"));
            Some(w)
        }
        (None, Some(p)) => {
            let est = p.threads_peak.saturating_sub(base) as usize;
            if (est as f64) < 0.9 * p.concurrency as f64 {
                reasons.push(format!(
                    "at {} users it had {} threads ({} besides the pool): a pool of {est}",
                    p.concurrency, p.threads_peak, base
                ));
                Some(est.max(1))
            } else {
                reasons.push(format!(
                    "at {} users it had {} threads: no cap seen below {} (a thread per request)",
                    p.concurrency, p.threads_peak, p.concurrency
                ));
                None
            }
        }
        (None, None) => {
            reasons.push("no probe above the low levels: the pool size is unknown; give --pool N or --probe N".into());
            None
        }
    }
}

/// Streaming behind a capped pool: does the wait above the cap come before the first token
/// (a thread held for the whole stream: `sync`) or spread over the stream (one pool call per
/// token, Starlette's `iterate_in_threadpool`: `sync-stream`)? Says why in `reasons`.
fn streaming_variant(obs: &[Observation], reasons: &mut Vec<String>) -> VariantKind {
    match (longest_probe(obs), queue_share(obs)) {
        (Some(_), Some(q)) if q >= 0.5 => {
            reasons.push(format!(
                "above the cap {:.0} % of the added wait came before the first token: each stream holds a thread",
                q * 100.0
            ));
            VariantKind::Sync
        }
        (Some(_), Some(q)) => {
            reasons.push(format!(
                "above the cap only {:.0} % of the added wait came before the first token: the pool is shared token by token (Starlette's sync streaming)",
                q * 100.0
            ));
            VariantKind::SyncStream
        }
        _ => {
            reasons.push("the probe did not queue, so where streams wait could not be seen; assuming Starlette's sync streaming".into());
            VariantKind::SyncStream
        }
    }
}

/// The probe of the longest answers (whose requests hold the pool longest).
pub fn longest_probe(obs: &[Observation]) -> Option<&Observation> {
    obs.iter()
        .filter(|o| o.probe)
        .max_by_key(|o| (o.tokens_setting, o.concurrency))
}

/// The highest low level at a probe's answer length: what the probe is set beside.
pub fn low_beside<'a>(obs: &'a [Observation], probe: &Observation) -> Option<&'a Observation> {
    obs.iter()
        .filter(|o| !o.probe && o.tokens_setting == probe.tokens_setting)
        .max_by_key(|o| o.concurrency)
}

/// Of the e2e added between the highest low level and the probe (same answer length), the share
/// that TTFT added. None when e2e did not grow by 10 % (nothing queued).
pub fn queue_share(obs: &[Observation]) -> Option<f64> {
    let probe = longest_probe(obs)?;
    let low = low_beside(obs, probe)?;
    let (e_lo, e_hi) = (low.e2e_p50_ms?, probe.e2e_p50_ms?);
    let (t_lo, t_hi) = (low.ttft_p50_ms?, probe.ttft_p50_ms?);
    if e_hi < 1.1 * e_lo || e_hi <= e_lo {
        return None;
    }
    Some(((t_hi - t_lo) / (e_hi - e_lo)).clamp(0.0, 1.0))
}

/// The points the per-request CPU is spread over: one per backend call the service makes
/// before its generation (embedding, searches) and the prompt itself, at most
/// [`MAX_CPU_STEPS`](crate::scenario::MAX_CPU_STEPS): a Python service does work after every
/// reply (parsing it, setting up the next call), and an event loop runs each as its own turn.
pub fn cpu_steps(calls_per_request: &std::collections::BTreeMap<String, f64>) -> u8 {
    let before = |op: &str| calls_per_request.get(op).copied().unwrap_or(0.0) >= 0.5;
    let calls = u8::from(before("embed")) + u8::from(before("qdrant_search"));
    (1 + calls).min(crate::scenario::MAX_CPU_STEPS)
}

/// A point for the unit tests: users, answer length, tokens per request, CPU ms, peak threads.
#[cfg(test)]
pub(super) fn ob(c: usize, tokens: u32, tpr: f64, cpu_ms: f64, threads: u64) -> Observation {
    Observation {
        concurrency: c,
        tokens_setting: tokens,
        tokens_per_request: Some(tpr),
        cpu_per_request_ms: Some(cpu_ms),
        threads_peak: threads,
        ..Observation::default()
    }
}

#[cfg(test)]
#[path = "model_tests.rs"]
mod tests;
