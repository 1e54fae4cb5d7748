//! Unit tests of `src/calibrate/placement.rs` (where the CPU ran, on numbers), kept apart so the
//! module stays a readable size.

use super::*;
use crate::calibrate::model::ob;

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
fn py_spy_splits_the_off_loop_cpu_where_the_lower_bound_cannot() {
    let fit = CpuFit {
        per_request_us: 100_000.0,
        ..CpuFit::default()
    };
    let at = |busiest: f64, cores: f64, gil_off: Option<f64>| Observation {
        probe: true,
        cpu_per_request_ms: Some(120.0),
        busiest_thread_share: Some(busiest),
        server_cores: Some(cores),
        gil_off_busiest_share: gil_off,
        ..Observation::default()
    };
    // Shaped like the seed's async endpoint: 40 % of 120 ms on the loop (48 ms, under the
    // GIL), 72 ms on the executor's threads. The lower bound puts 27 ms of that under the GIL;
    // py-spy seeing the other threads hold it in 0.6 % of its samples (one ad-hoc sample of
    // the seed at 50 users; 1.1–1.2 % at the probes): 48 × 0.006 / 0.994 = 0.29 ms.
    let p = cpu_placement(&[at(0.4, 1.6, Some(0.006))], &fit);
    assert!((p.offloop - 0.0029).abs() < 1e-4, "{p:?}");
    assert!((p.parallel - 0.7171).abs() < 1e-3, "{p:?}");
    // Python in the executor (asyncio.to_thread): the other threads held the GIL a fifth of
    // the time, 48 × 0.2 / 0.8 = 12 ms of their 72 under it.
    let p = cpu_placement(&[at(0.4, 1.6, Some(0.2))], &fit);
    assert!((p.offloop - 0.12).abs() < 1e-9, "{p:?}");
    assert!((p.parallel - 0.60).abs() < 1e-9, "{p:?}");
    // Never more under the GIL off the loop than ran off it.
    let p = cpu_placement(&[at(0.9, 1.0, Some(0.9))], &fit);
    assert!(
        (p.offloop - 0.12).abs() < 1e-9 && p.parallel.abs() < 1e-9,
        "{p:?}"
    );
    // A point without py-spy's figures: the lower bound for all of them.
    let mixed = [at(0.4, 1.6, Some(0.006)), at(0.4, 1.6, None)];
    let p = cpu_placement(&mixed, &fit);
    assert!((p.parallel - 0.45).abs() < 1e-9, "{p:?}");
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
fn the_loops_shares_are_its_cpu_fit_over_the_whole_fit() {
    // The seed's streaming `def` endpoint at time scale 0.25 (probes at 64 users): the busiest
    // thread (the event loop) carried 25.3 % of 20.2 ms at 20 tokens, 30.9 % of 60.3 ms at 120.
    let point = |tokens: u32, cpu_ms: f64, busiest: f64, is_probe: bool| Observation {
        probe: is_probe,
        busiest_thread_share: Some(busiest),
        ..ob(64, tokens, f64::from(tokens), cpu_ms, 42)
    };
    let obs = [
        point(20, 28.5, 0.32, false),
        point(120, 109.3, 0.38, false),
        point(20, 20.19, 0.253, true),
        point(120, 60.25, 0.3087, true),
    ];
    let fit = fit_cpu(&obs, true).expect("fit");
    let shares = loop_shares(&obs, &fit).expect("shares");
    // Loop: (18.6 − 5.1) ms over 100 tokens = 135 µs of the fitted 401 µs per token, and the
    // 2.4 ms left at 0 tokens of the fitted 12.2 ms per request.
    assert!(
        (shares.token - 0.336).abs() < 0.01,
        "{shares:?}, fit {fit:?}"
    );
    assert!(
        (shares.request - 0.197).abs() < 0.02,
        "{shares:?}, fit {fit:?}"
    );

    // The low levels when no probe ran.
    let low_only = [obs[0].clone(), obs[1].clone()];
    let fit_low = fit_cpu(&low_only, false).expect("fit");
    let low = loop_shares(&low_only, &fit_low).expect("shares at the low levels");
    assert!(low.token > 0.3 && low.token < 0.45, "{low:?}");

    // Not told: one token count, or no busiest thread; no CPU per token: no token share.
    assert_eq!(loop_shares(&obs[2..3], &fit), None);
    let unmeasured: Vec<Observation> = obs
        .iter()
        .map(|o| Observation {
            busiest_thread_share: None,
            ..o.clone()
        })
        .collect();
    assert_eq!(loop_shares(&unmeasured, &fit), None);
    let flat = CpuFit {
        per_token_us: 0.0,
        ..fit
    };
    assert_eq!(loop_shares(&obs, &flat).map(|s| s.token), Some(0.0));
}

#[test]
fn the_share_outside_the_gil_is_the_kernels_at_the_probes() {
    let at = |probe: bool, system: Option<f64>| Observation {
        probe,
        system_share: system,
        ..ob(if probe { 64 } else { 8 }, 120, 120.0, 80.0, 42)
    };
    // The seed's streaming `def` endpoint at time scale 1: 0.10 at 8 users, 0.25-0.29 at the
    // probes; the probes' mean counts, not the low level's.
    let obs = [
        at(false, Some(0.10)),
        at(true, Some(0.25)),
        at(true, Some(0.29)),
    ];
    assert!((outside_gil_share(&obs) - 0.27).abs() < 1e-9);
    // Without probes, the low levels'; a point that did not measure it is left out.
    let obs = [
        at(false, Some(0.10)),
        at(false, Some(0.20)),
        at(false, None),
    ];
    assert!((outside_gil_share(&obs) - 0.15).abs() < 1e-9);
    // Nothing measured: none outside.
    assert_eq!(outside_gil_share(&[at(true, None)]), 0.0);
    assert_eq!(outside_gil_share(&[]), 0.0);
}

#[test]
fn the_saturated_probes_cores_are_their_mean_and_user_cores_less_the_kernels_share() {
    let at = |probe: bool, cores: f64, system: f64| Observation {
        probe,
        server_cores: Some(cores),
        system_share: Some(system),
        ..ob(if probe { 64 } else { 8 }, 120, 120.0, 80.0, 42)
    };
    // The twelfth sitting's streaming `def` probes at time scale 0.25 (1.00 and 1.02 cores,
    // a fifth and a quarter system time); a low level and an unsaturated probe do not count.
    let obs = [
        at(false, 0.3, 0.1),
        at(true, 0.8, 0.2),
        at(true, 1.0, 0.2),
        at(true, 1.02, 0.25),
    ];
    let (cores, user) = saturated_cores(&obs).expect("two saturated probes");
    assert!((cores - 1.01).abs() < 1e-9, "{cores}");
    assert!((user - (0.8 + 0.765) / 2.0).abs() < 1e-9, "{user}");
    assert_eq!(saturated_cores(&obs[..2]), None);
}
