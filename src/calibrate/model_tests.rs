//! Unit tests of `src/calibrate/model.rs` (each rule on numbers), kept apart so the module
//! stays a readable size.

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
fn a_burst_splits_the_paced_probes_token_cost_into_event_and_read() {
    // The seed's streaming `def` endpoint at time scale 1: paced 490 µs per token at the
    // 64-user probes, 291 in a burst.
    let paced = CpuFit {
        per_request_us: 11_265.0,
        per_token_us: 490.0,
        worst_residual: 0.02,
        points: 2,
        ..CpuFit::default()
    };
    let burst = CpuFit {
        per_request_us: 10_800.0,
        per_token_us: 291.0,
        worst_residual: 0.05,
        points: 2,
        ..CpuFit::default()
    };
    let split = split_reads(&paced, &burst);
    assert_eq!(split.per_request_us, 11_265.0, "the probes' loaded figure");
    assert_eq!(split.per_token_us, 291.0);
    assert_eq!(split.per_read_us, 199.0);
    assert_eq!(split.worst_residual, 0.05);
    assert_eq!(split.points, 4);
    // Paced, every token is a read: the model spends what the probes did.
    let paced_cpu = |f: &CpuFit| f.per_request_us + 120.0 * (f.per_token_us + f.per_read_us);
    assert_eq!(paced_cpu(&split), paced_cpu(&paced));
    // A burst that spent more per token than the paced probe leaves no read cost, and no more
    // per token than the probes.
    let dearer = CpuFit {
        per_token_us: 600.0,
        ..burst
    };
    let split = split_reads(&paced, &dearer);
    assert_eq!((split.per_token_us, split.per_read_us), (490.0, 0.0));
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
