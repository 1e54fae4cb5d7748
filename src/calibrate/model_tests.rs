//! Unit tests of `src/calibrate/model.rs` (each rule on numbers), kept apart so the module
//! stays a readable size.

use super::*;

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
