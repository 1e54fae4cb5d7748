//! From observations of a real service to the model that reproduces it: the CPU fit (per
//! request and per token event), the kind of concurrency (a thread pool whose threads grow with
//! the load, or one event loop), the pool's size, and where a streaming `def` endpoint waits
//! (a thread held for the whole stream, or one pool call per token as Starlette does).
//!
//! Pure functions over [`Observation`]s, so each rule is tested on numbers, not on a server.

use serde::{Deserialize, Serialize};

use crate::pipeline::VariantKind;

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
    /// Requests that finished successfully in the measured window.
    pub ok: u64,
    /// Requests that failed in the measured window.
    pub failed: u64,
    /// Measured requests per second.
    pub requests_per_s: f64,
    /// End-to-end p50, ms (None: no sample).
    pub e2e_p50_ms: Option<f64>,
    /// Time to first token p50, ms (None: no sample, e.g. a whole-answer endpoint).
    pub ttft_p50_ms: Option<f64>,
    /// The server's CPU per generation request the mock served (warm-up and drain included), ms.
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
}

/// The CPU model: `cpu = per_request + per_token × tokens`.
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq)]
pub struct CpuFit {
    /// CPU per request, µs.
    pub per_request_us: f64,
    /// CPU per token event, µs.
    pub per_token_us: f64,
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
    let worst = pts
        .iter()
        .map(|(x, y)| {
            let fitted = a + b * x;
            if *y > 0.0 {
                (fitted - y).abs() / y
            } else {
                0.0
            }
        })
        .fold(0.0, f64::max);
    Some(CpuFit {
        per_request_us: a,
        per_token_us: b,
        worst_residual: worst,
        points: pts.len(),
    })
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
fn longest_probe(obs: &[Observation]) -> Option<&Observation> {
    obs.iter()
        .filter(|o| o.probe)
        .max_by_key(|o| (o.tokens_setting, o.concurrency))
}

/// Of the e2e added between the highest low level and the probe (same answer length), the share
/// that TTFT added. None when e2e did not grow by 10 % (nothing queued).
pub fn queue_share(obs: &[Observation]) -> Option<f64> {
    let probe = longest_probe(obs)?;
    let low = obs
        .iter()
        .filter(|o| !o.probe && o.tokens_setting == probe.tokens_setting)
        .max_by_key(|o| o.concurrency)?;
    let (e_lo, e_hi) = (low.e2e_p50_ms?, probe.e2e_p50_ms?);
    let (t_lo, t_hi) = (low.ttft_p50_ms?, probe.ttft_p50_ms?);
    if e_hi < 1.1 * e_lo || e_hi <= e_lo {
        return None;
    }
    Some(((t_hi - t_lo) / (e_hi - e_lo)).clamp(0.0, 1.0))
}

/// Where an event loop's per-request CPU ran, as shares of `fit.per_request_us`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct CpuPlacement {
    /// Off the loop's thread, still under the GIL (`request.cpu_offloop_share`).
    pub offloop: f64,
    /// Off the loop's thread and outside the GIL (`request.cpu_parallel_share`).
    pub parallel: f64,
}

/// For one event loop, from the probes (the loaded points the CPU fit comes from; the low
/// levels without probes): the server's CPU beyond its busiest thread ran off the loop — per
/// request, averaged over the points. Of that, what ran beyond one core at once cannot have
/// held the GIL (one thread at a time holds it), so it ran in parallel; each point gives a
/// lower bound of the parallel CPU per request, exact when the GIL was busy all the time, and
/// the work is per request (client set-up, TLS contexts: the same at every answer length), so
/// the largest bound is the estimate. The rest of the off-loop CPU is taken to be under the GIL
/// (Python code in an executor). Both as shares of the fitted per-request CPU; zero when no
/// point measured its threads.
///
/// Why the largest, not the mean: on the seed's async endpoint the probe with 20-token answers
/// kept the GIL busy (1.5 cores: 32 ms per request beyond one core), the one with 120-token
/// answers did not (1.2 cores: 17 ms) — the mean put a third of the parallel work under the
/// GIL, and the model's loop saturated at 9 req/s where the service reached 12.5–14.6.
pub fn cpu_placement(obs: &[Observation], fit: &CpuFit) -> CpuPlacement {
    let has_probes = obs.iter().any(|o| o.probe);
    let per_point: Vec<(f64, f64)> = obs
        .iter()
        .filter(|o| o.probe == has_probes)
        .filter_map(|o| {
            let cpu_ms = o.cpu_per_request_ms?;
            let off = (1.0 - o.busiest_thread_share?).clamp(0.0, 1.0);
            let cores = o.server_cores?;
            let parallel = if cores > 1.0 {
                ((cores - 1.0) / cores).min(off)
            } else {
                0.0
            };
            Some((off * cpu_ms, parallel * cpu_ms))
        })
        .collect();
    if per_point.is_empty() || fit.per_request_us <= 0.0 {
        return CpuPlacement::default();
    }
    let n = per_point.len() as f64;
    let per_request_ms = fit.per_request_us / 1000.0;
    let off_ms = per_point.iter().map(|p| p.0).sum::<f64>() / n;
    let parallel_ms = per_point
        .iter()
        .map(|p| p.1)
        .fold(0.0, f64::max)
        .min(off_ms);
    let parallel = (parallel_ms / per_request_ms).min(1.0);
    let offloop = ((off_ms - parallel_ms) / per_request_ms).clamp(0.0, 1.0 - parallel);
    CpuPlacement { offloop, parallel }
}

/// For one event loop: the threads it ran beside the loop at most — the executor its off-loop
/// work waits for (asyncio's default one has min(32, cores + 4) threads): the most threads any
/// probe had (any point without probes) minus the fewest any point started with (the server
/// before its first requests: main thread and helpers). None without such threads.
pub fn offloop_threads(obs: &[Observation]) -> Option<usize> {
    let has_probes = obs.iter().any(|o| o.probe);
    let base = obs
        .iter()
        .map(|o| o.threads_start)
        .filter(|t| *t > 0)
        .min()?;
    let peak = obs
        .iter()
        .filter(|o| o.probe == has_probes)
        .map(|o| o.threads_peak)
        .max()?;
    usize::try_from(peak.checked_sub(base)?)
        .ok()
        .filter(|n| *n > 0)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ob(c: usize, tokens: u32, tpr: f64, cpu_ms: f64, threads: u64) -> Observation {
        Observation {
            concurrency: c,
            tokens_setting: tokens,
            tokens_per_request: Some(tpr),
            cpu_per_request_ms: Some(cpu_ms),
            threads_peak: threads,
            ..Observation::default()
        }
    }

    #[test]
    fn fit_recovers_both_costs() {
        // 5 ms per request + 0.4 ms per token, at 20 and 120 tokens, two levels each.
        let obs = [
            ob(2, 20, 20.0, 13.0, 4),
            ob(8, 20, 20.0, 13.2, 10),
            ob(2, 120, 120.0, 53.0, 4),
            ob(8, 120, 120.0, 52.8, 10),
        ];
        let f = fit_cpu(&obs, false).expect("fit");
        assert!((f.per_request_us - 5000.0).abs() < 300.0, "{f:?}");
        assert!((f.per_token_us - 400.0).abs() < 10.0, "{f:?}");
        assert!(f.worst_residual < 0.05);
        assert_eq!(f.points, 4);
    }

    #[test]
    fn fit_never_negative() {
        // CPU falling with tokens (noise): all of it per request.
        let f = fit_cpu(
            &[ob(2, 20, 20.0, 30.0, 3), ob(2, 120, 120.0, 28.0, 3)],
            false,
        )
        .expect("fit");
        assert_eq!(f.per_token_us, 0.0);
        assert!((f.per_request_us - 29_000.0).abs() < 1.0);
        // A negative intercept: through the origin, all of it per token.
        let f = fit_cpu(
            &[ob(2, 20, 20.0, 1.0, 3), ob(2, 120, 120.0, 60.0, 3)],
            false,
        )
        .expect("fit");
        assert_eq!(f.per_request_us, 0.0);
        assert!(f.per_token_us > 0.0);
        // One token count: per request only.
        let f = fit_cpu(&[ob(2, 50, 50.0, 10.0, 3), ob(8, 50, 50.0, 12.0, 9)], false).expect("fit");
        assert_eq!(f.per_token_us, 0.0);
        assert!((f.per_request_us - 11_000.0).abs() < 1.0);
        assert!(fit_cpu(&[], false).is_none());
        // The probes are fitted apart from the low levels.
        let mut p = [ob(64, 20, 20.0, 9.0, 42), ob(64, 120, 120.0, 49.0, 42)];
        p.iter_mut().for_each(|o| o.probe = true);
        let mixed = [
            ob(2, 20, 20.0, 27.0, 4),
            ob(2, 120, 120.0, 101.0, 4),
            p[0].clone(),
            p[1].clone(),
        ];
        let loaded = fit_cpu(&mixed, true).expect("fit");
        assert!((loaded.per_token_us - 400.0).abs() < 1.0, "{loaded:?}");
        assert!((loaded.per_request_us - 1000.0).abs() < 1.0, "{loaded:?}");
        assert_eq!(loaded.points, 2);
    }

    fn probe(c: usize, tokens: u32, threads: u64, e2e: f64, ttft: f64) -> Observation {
        Observation {
            concurrency: c,
            tokens_setting: tokens,
            probe: true,
            threads_peak: threads,
            e2e_p50_ms: Some(e2e),
            ttft_p50_ms: Some(ttft),
            ..Observation::default()
        }
    }

    fn low(c: usize, threads: u64, e2e: f64, ttft: f64) -> Observation {
        Observation {
            e2e_p50_ms: Some(e2e),
            ttft_p50_ms: Some(ttft),
            ..ob(c, 120, 120.0, 10.0, threads)
        }
    }

    #[test]
    fn an_event_loop_is_async_single() {
        let obs = [low(2, 3, 1000.0, 100.0), low(8, 4, 1100.0, 120.0)];
        let s = classify(&obs, true, None);
        assert_eq!(s.variant, VariantKind::AsyncSingle);
        assert_eq!(s.workers, None);
        // Its executor started threads as the users grew (the seed's async endpoint at time
        // scale 0.25: 4 threads at 2 users, 7 at 8, 8 at 64), still one event loop.
        let obs = [
            low(2, 4, 1000.0, 250.0),
            low(8, 7, 1200.0, 300.0),
            probe(64, 120, 8, 4900.0, 4200.0),
        ];
        let s = classify(&obs, true, None);
        assert_eq!(s.variant, VariantKind::AsyncSingle, "{:?}", s.reasons);
    }

    #[test]
    fn a_capped_pool_is_found_and_its_size_read() {
        // 2 threads besides the pool; 40 at 64 users.
        let obs = [
            low(2, 4, 1000.0, 100.0),
            low(8, 10, 1000.0, 100.0),
            probe(64, 120, 42, 1700.0, 800.0),
        ];
        let s = classify(&obs, false, None);
        assert_eq!((s.variant, s.workers), (VariantKind::Sync, Some(40)));
        // Streaming where the added wait is before the first token: a held thread.
        let s = classify(&obs, true, None);
        assert_eq!((s.variant, s.workers), (VariantKind::Sync, Some(40)));
        // Streaming where TTFT barely moved while e2e doubled: Starlette's sync streaming.
        let obs = [
            low(2, 4, 1000.0, 100.0),
            low(8, 10, 1000.0, 100.0),
            probe(64, 120, 42, 2000.0, 150.0),
        ];
        let s = classify(&obs, true, None);
        assert_eq!((s.variant, s.workers), (VariantKind::SyncStream, Some(40)));
        // A given pool size wins over the estimate.
        assert_eq!(classify(&obs, true, Some(12)).workers, Some(12));
    }

    #[test]
    fn an_uncapped_pool_is_thread_per_request() {
        let obs = [
            low(2, 4, 1000.0, 100.0),
            low(8, 10, 1000.0, 100.0),
            probe(64, 120, 66, 1000.0, 100.0),
        ];
        let s = classify(&obs, true, None);
        assert_eq!((s.variant, s.workers), (VariantKind::Sync, None));
    }

    #[test]
    fn the_cpu_beside_the_busiest_thread_is_off_the_loop_and_beyond_one_core_parallel() {
        let fit = CpuFit {
            per_request_us: 100_000.0,
            ..CpuFit::default()
        };
        let at = |probe: bool, cpu_ms: f64, busiest: Option<f64>, cores: f64| Observation {
            probe,
            cpu_per_request_ms: Some(cpu_ms),
            busiest_thread_share: busiest,
            server_cores: Some(cores),
            ..Observation::default()
        };
        // 120 ms per request, 40 % on the loop's thread, 1.6 cores at once: 0.6 / 1.6 of it
        // (45 ms) beyond one core, in parallel; the other 27 ms off the loop under the GIL.
        let p = cpu_placement(&[at(true, 120.0, Some(0.4), 1.6)], &fit);
        assert!((p.parallel - 0.45).abs() < 1e-9, "{p:?}");
        assert!((p.offloop - 0.27).abs() < 1e-9, "{p:?}");
        // Under one core nothing is known to be parallel: all 72 ms off the loop is GIL work.
        let p = cpu_placement(&[at(true, 120.0, Some(0.4), 0.9)], &fit);
        assert_eq!(p.parallel, 0.0);
        assert!((p.offloop - 0.72).abs() < 1e-9, "{p:?}");
        // The probes are used when there are any; the low levels otherwise; the parallel part
        // is never more than what ran off the loop; unmeasured threads give nothing.
        let low_and_probe = [
            at(false, 150.0, Some(1.0), 1.0),
            at(true, 120.0, Some(0.9), 1.9),
        ];
        let p = cpu_placement(&low_and_probe, &fit);
        assert!(
            (p.parallel - 0.12).abs() < 1e-9 && p.offloop.abs() < 1e-9,
            "{p:?}"
        );
        assert_eq!(
            cpu_placement(&low_and_probe[..1], &fit),
            CpuPlacement::default()
        );
        assert_eq!(
            cpu_placement(&[at(true, 120.0, None, 1.5)], &fit),
            CpuPlacement::default()
        );
        // Two probes: the parallel part is the larger bound (the GIL was busier at one of
        // them), the off-loop part their mean less it. 100 ms off the loop at each; 45 ms and
        // 9 ms of it beyond one core (the mean would say 27).
        let beyond = |ms: f64| 1.0 / (1.0 - ms / 200.0);
        let p = cpu_placement(
            &[
                at(true, 200.0, Some(0.5), beyond(45.0)),
                at(true, 200.0, Some(0.5), beyond(9.0)),
            ],
            &fit,
        );
        assert!((p.parallel - 0.45).abs() < 1e-9, "{p:?}");
        assert!((p.offloop - 0.55).abs() < 1e-9, "{p:?}");
        // Shares of the per-request CPU stay within 1 together.
        let p = cpu_placement(&[at(true, 500.0, Some(0.1), 1.5)], &fit);
        assert!(p.parallel + p.offloop <= 1.0 + 1e-9, "{p:?}");
    }

    #[test]
    fn the_threads_beside_the_loop_are_the_peak_above_the_start() {
        let at = |probe: bool, start: u64, peak: u64| Observation {
            probe,
            threads_start: start,
            threads_peak: peak,
            ..Observation::default()
        };
        // The seed's async endpoint: 2 threads at start, 8 at the probes: an executor of 6.
        let obs = [
            at(false, 2, 4),
            at(false, 4, 8),
            at(true, 8, 8),
            at(true, 6, 7),
        ];
        assert_eq!(offloop_threads(&obs), Some(6));
        assert_eq!(offloop_threads(&obs[..2]), Some(6));
        assert_eq!(offloop_threads(&[at(true, 3, 3)]), None);
        assert_eq!(offloop_threads(&[]), None);
    }

    #[test]
    fn one_cpu_step_per_call_before_the_generation() {
        let calls = |ops: &[(&str, f64)]| {
            ops.iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect::<std::collections::BTreeMap<_, _>>()
        };
        assert_eq!(cpu_steps(&calls(&[("converse_stream", 1.0)])), 1);
        assert_eq!(cpu_steps(&calls(&[("qdrant_search", 1.0)])), 2);
        assert_eq!(
            cpu_steps(&calls(&[("embed", 1.0), ("qdrant_search", 1.0)])),
            3
        );
        assert_eq!(
            cpu_steps(&calls(&[("embed", 2.0), ("qdrant_search", 3.0)])),
            3
        );
    }
}
