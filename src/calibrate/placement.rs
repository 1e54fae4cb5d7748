//! Where a service's CPU ran, read from its threads: for one event loop, the share of the
//! per-request CPU that ran off the loop (under the GIL or outside it) and the executor beside
//! it; for Starlette's sync streaming, the share its loop spends per request and per token; for
//! a thread pool under the GIL, the kernel's share that runs beside whoever holds it.
//!
//! Pure functions over [`Observation`]s, like [`super::model`], whose CPU fit they split.

use serde::Serialize;

use super::model::{CpuFit, Observation, fit_cpu};

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
///
/// With py-spy's figures (`--py-spy`) at every point the split is measured instead: the busiest
/// thread's CPU is taken to be under the GIL, and the other threads' share of the GIL's holding
/// gives their CPU under it (`busiest × share ÷ (1 − share)`); the rest of the off-loop CPU ran
/// outside it. On the seed's async endpoint that rest is most of it: its executor builds an SSL
/// context for every new aioboto3 client (C code that releases the GIL), and py-spy saw the
/// executor's threads hold the GIL in 1.1–1.2 % of its samples at the probes, where the lower
/// bound had put a third of their CPU under it.
pub fn cpu_placement(obs: &[Observation], fit: &CpuFit) -> CpuPlacement {
    let used = placement_points(obs);
    let measured = gil_off_busiest_share(obs).is_some();
    // Per point: the CPU off the loop, and what of it ran outside the GIL (measured, or the
    // lower bound), both ms per request.
    let per_point: Vec<(f64, f64)> = used
        .iter()
        .filter_map(|o| {
            let cpu_ms = o.cpu_per_request_ms?;
            let busiest = o.busiest_thread_share?.clamp(0.0, 1.0);
            let off = 1.0 - busiest;
            let outside = if measured {
                let share = o.gil_off_busiest_share?.clamp(0.0, 0.95);
                off - (busiest * share / (1.0 - share)).min(off)
            } else {
                let cores = o.server_cores?;
                if cores > 1.0 {
                    ((cores - 1.0) / cores).min(off)
                } else {
                    0.0
                }
            };
            Some((off * cpu_ms, outside * cpu_ms))
        })
        .collect();
    if per_point.is_empty() || fit.per_request_us <= 0.0 {
        return CpuPlacement::default();
    }
    let n = per_point.len() as f64;
    let per_request_ms = fit.per_request_us / 1000.0;
    let off_ms = per_point.iter().map(|p| p.0).sum::<f64>() / n;
    let outside = per_point.iter().map(|p| p.1);
    // Measured: the mean; bounds: the largest (the point where the GIL was busiest).
    let parallel_ms = if measured {
        outside.sum::<f64>() / n
    } else {
        outside.fold(0.0, f64::max)
    }
    .min(off_ms);
    let parallel = (parallel_ms / per_request_ms).min(1.0);
    let offloop = ((off_ms - parallel_ms) / per_request_ms).clamp(0.0, 1.0 - parallel);
    CpuPlacement { offloop, parallel }
}

/// The points [`cpu_placement`] reads: the probes, or the low levels when there is no probe.
pub(super) fn placement_points(obs: &[Observation]) -> Vec<&Observation> {
    let has_probes = obs.iter().any(|o| o.probe);
    obs.iter().filter(|o| o.probe == has_probes).collect()
}

/// For a thread pool under the GIL (`sync`, `sync-stream`): the share of every CPU section its
/// threads spend outside the GIL (`request.cpu_outside_gil_share`), the kernel's share of the
/// server's CPU at the probes (the low levels without probes), their mean; 0 when none was
/// measured. CPython makes its system calls (a socket read or write, the event loop's poll, the
/// GIL's own hand-over) with the GIL released, so that CPU runs beside whoever holds it; the
/// model holding all of it under its lock cannot use more than one core, where the service does.
/// On the seed's streaming `def` endpoint a quarter of its CPU was system time (0.24–0.28 at 64
/// to 200 users, both time scales) and it saturated at 1.00–1.05 cores; its model as
/// calibrated in the seventh sitting served 11.5 req/s at time scale 1 with 64 users and
/// 120-token answers, 12.2 with a tenth outside, 13.1 with a quarter, where the service served
/// 12.8–13.9 (`reports/outside-gil/`).
///
/// Not for an event loop: there calibrate reads where the CPU ran from the server's threads
/// ([`cpu_placement`]), which counts the kernel's part beyond one core already.
pub fn outside_gil_share(obs: &[Observation]) -> f64 {
    let shares: Vec<f64> = placement_points(obs)
        .iter()
        .filter_map(|o| o.system_share)
        .filter(|s| s.is_finite())
        .collect();
    if shares.is_empty() {
        return 0.0;
    }
    (shares.iter().sum::<f64>() / shares.len() as f64).clamp(0.0, 1.0)
}

/// The server's cores and user cores (its cores less their system share), averaged over the
/// probes that kept a core or more busy (within 5 %): what a saturated thread pool under the
/// GIL spends, shown beside the cap `ragperf calibrate` writes (`request.gil_max_busy`). None
/// when no probe was saturated.
pub fn saturated_cores(obs: &[Observation]) -> Option<(f64, f64)> {
    let saturated: Vec<(f64, f64)> = obs
        .iter()
        .filter(|o| o.probe)
        .filter_map(|o| Some((o.server_cores?, o.system_share?)))
        .filter(|(cores, _)| *cores >= 0.95)
        .map(|(cores, system)| (cores, cores * (1.0 - system)))
        .collect();
    let n = saturated.len() as f64;
    let (cores, user) = saturated
        .iter()
        .fold((0.0, 0.0), |(c, u), (a, b)| (c + a, u + b));
    (n > 0.0).then(|| (cores / n, user / n))
}

/// py-spy's share of the GIL's samples held by other threads than the busiest, averaged over
/// the points [`cpu_placement`] reads; None unless every one of them has it (then the split
/// is measured, otherwise bounded).
pub fn gil_off_busiest_share(obs: &[Observation]) -> Option<f64> {
    let used = placement_points(obs);
    let shares: Vec<f64> = used
        .iter()
        .filter_map(|o| o.gil_off_busiest_share)
        .collect();
    (!used.is_empty() && shares.len() == used.len())
        .then(|| shares.iter().sum::<f64>() / shares.len() as f64)
}

/// Where Starlette's sync streaming spends CPU on its event loop, as shares of the fitted costs.
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq)]
pub struct LoopShares {
    /// Of the CPU per request (`request.cpu_request_loop_share`): reading the request and
    /// dispatching its body to the pool.
    pub request: f64,
    /// Of the CPU per token event (`request.cpu_token_loop_share`): sending the chunk and
    /// dispatching the next `next()`.
    pub token: f64,
}

/// For Starlette's sync streaming: the shares of the CPU its event loop spends. The loop reads
/// every request and dispatches its body, then wakes for every `next()` a pool thread returns,
/// sends the chunk and dispatches the next `next()` — all on its one thread, so its CPU grows
/// with the requests and the tokens; the pool's threads split the rest among themselves. At the
/// probes (the loaded points; the low levels without probes) the busiest thread is the loop (a
/// request's work is spread over the pool's threads): its CPU per request, fitted against the
/// tokens like the whole server's, gives the loop's CPU per request and per token, each over the
/// whole fit's. None without two token counts and the busiest thread's figures.
///
/// On the seed's streaming `def` endpoint the busiest thread carried 25 % of the CPU at 20
/// tokens and 31 % at 120 (5.1 and 18.6 ms per request): 135 µs per token of 401 (a share of
/// 0.34) and 2.4 ms per request of 12.2 (0.20).
pub fn loop_shares(obs: &[Observation], fit: &CpuFit) -> Option<LoopShares> {
    let has_probes = obs.iter().any(|o| o.probe);
    let on_loop: Vec<Observation> = placement_points(obs)
        .into_iter()
        .filter_map(on_the_loop)
        .collect();
    let loop_fit = fit_cpu(&on_loop, has_probes)?;
    if loop_fit.points < 2 {
        return None;
    }
    let share = |part: f64, whole: f64| {
        if whole > 0.0 {
            (part / whole).clamp(0.0, 1.0)
        } else {
            0.0
        }
    };
    Some(LoopShares {
        request: share(loop_fit.per_request_us, fit.per_request_us),
        token: share(loop_fit.per_token_us, fit.per_token_us),
    })
}

/// A point as its busiest thread (an event loop) saw it: its CPU per answer is the busiest
/// thread's share of the server's. None without both figures.
pub(super) fn on_the_loop(o: &Observation) -> Option<Observation> {
    let busiest = o
        .busiest_thread_share
        .filter(|b| b.is_finite())?
        .clamp(0.0, 1.0);
    let cpu = o.cpu_per_request_ms.filter(|c| c.is_finite())?;
    Some(Observation {
        cpu_per_request_ms: Some(busiest * cpu),
        ..o.clone()
    })
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

#[cfg(test)]
#[path = "placement_tests.rs"]
mod tests;
