//! Unit tests of `src/calibrate/loop_cpu.rs`: the event loop's CPU fit on numbers.

use super::super::model::fit_cpu;
use super::super::placement::cpu_placement;
use super::*;

/// A point of 64 users (`probe`) or 8 with `tokens`-long answers: the server's CPU per answer
/// and its busiest thread's share of it.
fn point(probe: bool, tokens: f64, cpu_ms: f64, busiest: Option<f64>) -> Observation {
    Observation {
        concurrency: if probe { 64 } else { 8 },
        tokens_setting: tokens as u32,
        probe,
        tokens_per_request: Some(tokens),
        cpu_per_request_ms: Some(cpu_ms),
        busiest_thread_share: busiest,
        gil_off_busiest_share: Some(0.012),
        ..Observation::default()
    }
}

/// The tenth sitting's probes of the seed's `async def` endpoint at time scale 1
/// (`reports/fastapi-rag-predict-tenth/ts-1/stream-async/calibration/calibration.json`).
fn tenth_ts1() -> Vec<Observation> {
    vec![
        point(true, 20.0, 159.0, Some(0.306)),
        point(true, 120.0, 147.3, Some(0.456)),
    ]
}

#[test]
fn the_loops_cost_per_token_is_found_where_the_whole_fit_found_none() {
    let obs = tenth_ts1();
    let whole = fit_cpu(&obs, true).expect("whole fit");
    assert_eq!(whole.per_token_us, 0.0, "{whole:?}");
    let f = event_loop_cpu(&obs).expect("loop fit");
    // The loop: 48.7 ms at 20 tokens, 67.2 at 120: ~185 µs per token, ~45 ms per request;
    // off it 110.3 and 80.1 ms, 95.2 on average.
    assert!((f.per_token_us - 185.0).abs() < 10.0, "{f:?}");
    assert!((f.per_request_us - 140_200.0).abs() < 2_000.0, "{f:?}");
    assert_eq!(f.points, 2);
    // The whole server's CPU is kept on average over the two lengths, not point by point.
    let mean_measured = (159.0 + 147.3) / 2.0 * 1000.0;
    let mean_fitted = f.per_request_us + f.per_token_us * 70.0;
    assert!((mean_fitted / mean_measured - 1.0).abs() < 0.01);
    assert!(f.worst_residual > 0.05 && f.worst_residual < 0.15, "{f:?}");
}

#[test]
fn the_model_loop_spends_what_the_services_loop_did() {
    let obs = tenth_ts1();
    let f = event_loop_cpu(&obs).expect("loop fit");
    let p = cpu_placement(&obs, &f);
    // What the model runs on its loop's thread: the per-request CPU not placed off it, plus
    // every token's.
    let on_loop_ms = |tokens: f64| {
        ((1.0 - p.offloop - p.parallel) * f.per_request_us + f.per_token_us * tokens) / 1000.0
    };
    for (tokens, measured) in [(20.0, 0.306 * 159.0), (120.0, 0.456 * 147.3)] {
        let modelled = on_loop_ms(tokens);
        assert!(
            (modelled / measured - 1.0).abs() < 0.02,
            "{tokens} tokens: model {modelled:.1} ms on the loop, service {measured:.1}"
        );
    }
    // The whole fit cut by the same placement rule leaves the loop lighter at the longer
    // answers (the points' ~105 tokens are near them).
    let whole = fit_cpu(&obs, true).expect("whole fit");
    let q = cpu_placement(&obs, &whole);
    let whole_on_loop = (1.0 - q.offloop - q.parallel) * whole.per_request_us / 1000.0;
    assert!(whole_on_loop < 0.9 * 0.456 * 147.3, "{whole_on_loop}");
}

#[test]
fn without_two_lengths_or_the_loops_figures_there_is_no_loop_fit() {
    // One answer length: the whole fit says the same.
    assert!(event_loop_cpu(&[point(true, 120.0, 147.3, Some(0.456))]).is_none());
    // A point without its busiest thread's share.
    assert!(
        event_loop_cpu(&[
            point(true, 20.0, 159.0, Some(0.306)),
            point(true, 120.0, 147.3, None)
        ])
        .is_none()
    );
    assert!(event_loop_cpu(&[]).is_none());
}

#[test]
fn the_probes_are_used_when_there_are_any_else_the_low_levels() {
    // Low levels that say something else entirely are not read beside probes.
    let mut obs = tenth_ts1();
    obs.push(point(false, 20.0, 140.1, Some(0.9)));
    obs.push(point(false, 120.0, 217.8, Some(0.9)));
    let with_low = event_loop_cpu(&obs).expect("loop fit");
    let probes_only = event_loop_cpu(&tenth_ts1()).expect("loop fit");
    assert_eq!(with_low, probes_only);
    // Without probes, the low levels: all of the CPU on the loop here, so the whole fit.
    let low = [
        point(false, 20.0, 30.0, Some(1.0)),
        point(false, 120.0, 70.0, Some(1.0)),
    ];
    let f = event_loop_cpu(&low).expect("loop fit");
    let whole = fit_cpu(&low, false).expect("whole fit");
    assert!((f.per_request_us - whole.per_request_us).abs() < 1.0);
    assert!((f.per_token_us - whole.per_token_us).abs() < 1e-6);
}
