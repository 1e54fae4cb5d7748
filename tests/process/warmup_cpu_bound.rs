//! A CPU-bound point (the CPU model dominates the waits) warms up past its start-up burst by
//! default, so its window opens at steady state, and drains long enough that nothing in flight
//! is abandoned. In `tests/process/`, where tests take turns: it burns CPU.

use crate::common;

use ragperf::pipeline::VariantKind;

#[test]
fn a_cpu_bound_point_warms_up_past_its_start_up_burst() {
    let _turn = crate::serial();
    // 10 users, 60 ms of CPU each under the GIL: one round through the CPU takes 0.6 s, far
    // longer than a request's 20 ms of waits. The window must open after that burst.
    let mut s = common::fixed_scenario(0.0, 0.0, 20.0, 0.0, 1.0);
    s.request.cpu_work_us = 60_000;
    s.request.gil = true;
    s.load.warmup = None;
    s.load.duration = Some(std::time::Duration::from_millis(600));
    let r = common::run(&common::plan(
        s,
        &[VariantKind::AsyncSingle],
        vec![common::closed(10)],
    ));
    let run = common::variant(&r, "async-single");
    assert!(
        run.drive.window_start_us >= 600_000,
        "the window opened at {} µs, inside the start-up burst",
        run.drive.window_start_us
    );
    // ... and drains past it: a request in flight when the window closes may wait a whole
    // CPU cycle, so none is abandoned.
    assert_eq!(run.counters.abandoned, 0, "{:?}", run.counters);
}
