//! Tests of X4's rule and checks on fixture numbers.

use super::*;
use crate::tour::verdict::{Verdict, decide};

fn point(users: usize, rps: f64, ttft: f64) -> Point {
    Point {
        users,
        rps,
        ttft_p50_ms: ttft,
        e2e_p50_ms: ttft + 250.0,
        cpu_wall_p50_ms: f64::NAN,
    }
}

/// The quick tour's costs: 36.3 ms and 5.4 ms of CPU, 300 ms of backend wait.
fn fixture(per_call_high: Point, shared_high: Point) -> CpuScaling {
    CpuScaling {
        per_call: Cost {
            cpu_ms: 36.3,
            latency_ms: 336.3,
            low: point(LOW, 10.5, 95.0),
            high: per_call_high,
        },
        shared: Cost {
            cpu_ms: 5.4,
            latency_ms: 305.4,
            low: point(LOW, 13.0, 56.0),
            high: shared_high,
        },
    }
}

#[test]
fn the_rule_and_the_knee() {
    let f = fixture(point(HIGH, 27.0, 1500.0), point(HIGH, 140.0, 70.0));
    let a = &f.per_call;
    assert!((a.cpu_cap_rps() - 27.55).abs() < 0.01);
    assert!((a.knee_users() - 9.26).abs() < 0.01);
    assert_eq!(a.predicted_rps(HIGH), a.cpu_cap_rps());
    assert_eq!(a.predicted_rps(LOW), a.wanted_rps(LOW));
    assert!((LOW as f64) < a.knee_users() && (HIGH as f64) > a.knee_users());
    assert!((HIGH as f64) < f.shared.knee_users());
}

#[test]
fn a_busy_machine_stretches_the_cpu_step() {
    let mut f = fixture(point(HIGH, 10.0, 4000.0), point(HIGH, 90.0, 300.0));
    // The step ran at a core: the rule uses the CPU work.
    f.per_call.low.cpu_wall_p50_ms = 30.0;
    assert_eq!(f.per_call.step_ms(), 36.3);
    // The machine gave the loop ~38 % of a core: 96 ms of wall time per step.
    f.per_call.low.cpu_wall_p50_ms = 96.0;
    assert_eq!(f.per_call.step_ms(), 96.0);
    assert!((f.per_call.cpu_cap_rps() - 10.42).abs() < 0.01);
    assert!((f.per_call.knee_users() - 4.125).abs() < 0.01);
    // 10 req/s is at the stretched cap, not above it.
    assert!(checks(&f)[2].pass);
}

#[test]
fn the_real_stack_shape_is_confirmed() {
    let f = fixture(point(HIGH, 27.0, 1500.0), point(HIGH, 140.0, 70.0));
    let c = checks(&f);
    assert_eq!(decide(&c), Verdict::Confirmed, "{c:?}");
}

#[test]
fn a_loop_that_keeps_scaling_is_not_confirmed() {
    // The client-per-call cost above its CPU cap, first token unchanged: no CPU limit.
    let f = fixture(point(HIGH, 140.0, 95.0), point(HIGH, 140.0, 70.0));
    let c = checks(&f);
    assert_eq!(decide(&c), Verdict::NotConfirmed);
    let failed: Vec<&str> = c
        .iter()
        .filter(|c| !c.pass)
        .map(|c| c.what.as_str())
        .collect();
    assert!(
        failed.iter().any(|w| w.contains("caps at 1 / CPU")),
        "{failed:?}"
    );
    assert!(
        failed.iter().any(|w| w.contains("first token waits")),
        "{failed:?}"
    );
    assert!(
        failed
            .iter()
            .any(|w| w.contains("shared client serves more")),
        "{failed:?}"
    );
}

#[test]
fn a_starved_loop_only_qualifies() {
    // Capped and queued, but far below its CPU cap: something else (a busy machine) limited
    // it, which the detail check reports.
    let f = fixture(point(HIGH, 12.0, 3000.0), point(HIGH, 130.0, 80.0));
    let c = checks(&f);
    assert_eq!(decide(&c), Verdict::Qualified, "{c:?}");
    assert!(!c[5].pass);
}

#[test]
fn scaled_costs_keep_the_real_ratio() {
    let mut s = model::seed_scenario(0.1);
    model::jittered(&mut s);
    let a = scaled_cpu_us(REAL_PER_CALL_CPU_MS, &s);
    let b = scaled_cpu_us(REAL_SHARED_CPU_MS, &s);
    // 115 ms × 300 ms / 950 ms.
    assert!((36_000..=37_000).contains(&a), "{a}");
    assert!((6.5..7.0).contains(&(a as f64 / b as f64)), "{a} / {b}");
}

#[test]
fn nothing_measured_is_not_confirmed() {
    let nan = point(HIGH, f64::NAN, f64::NAN);
    let mut f = fixture(nan, nan);
    f.per_call.low = nan;
    assert_eq!(decide(&checks(&f)), Verdict::NotConfirmed);
}

#[test]
fn the_prose_follows_the_verdict() {
    let m = Measured::default();
    let story = "every request waited for everyone else's CPU";
    let f = finding(
        &fixture(point(HIGH, 27.0, 1500.0), point(HIGH, 140.0, 70.0)),
        &m,
    );
    assert_eq!(f.verdict(), Verdict::Confirmed);
    assert!(f.explanation.contains(story), "{}", f.explanation);
    // A loop that kept scaling: the rule is not told as a finding, the figure is quoted.
    let f = finding(
        &fixture(point(HIGH, 140.0, 95.0), point(HIGH, 140.0, 70.0)),
        &m,
    );
    assert_eq!(f.verdict(), Verdict::NotConfirmed);
    let words = f.words();
    for s in [
        story,
        "keeps scaling\" holds",
        "stops at its 1 / CPU line",
        "back to back",
    ] {
        assert!(!words.contains(s), "tells `{s}`:\n{words}");
    }
    assert!(words.contains("served 140 req/s"), "{words}");
    assert!(f.explanation.contains("do not confirm the claim"));
}
