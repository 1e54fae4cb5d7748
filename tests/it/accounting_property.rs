//! Properties every run must keep, checked over many small runs (every variant × closed and
//! open loops × light and overloaded points, with faults, `--max-in-flight`, `--gil` and
//! `--slo`), with the default warm-ups and a small time scale so the whole file stays well
//! under a minute:
//!
//! - every request that came due ends in exactly one bucket (ok, failed, unfinished, never
//!   sent), the measured ones and the warm-up's apart;
//! - efficiency never exceeds 1 + its stated error (the bound is what the servers could do);
//! - no latency figure is printed from no sample.

use crate::common;

use std::time::Duration;

use ragperf::export;
use ragperf::pipeline::VariantKind;
use ragperf::result::{LoadPoint, RunResult, VariantRun};

fn poisson(rate: f64, max_in_flight: Option<usize>) -> LoadPoint {
    LoadPoint {
        arrivals: Some("poisson".into()),
        ..common::open(rate, max_in_flight)
    }
}

fn check(result: &RunResult) {
    let table = export::table::render(result);
    assert!(
        table
            .lines()
            .next()
            .is_some_and(|l| l.contains("time scale 0.01")
                && l.contains("--time-scale 1 for the seed's real")),
        "the heading says the time scale and how to undo it:\n{table}"
    );
    for r in &result.runs {
        let what = format!("{} at {}", r.variant, r.point.label());
        let c = &r.counters;
        assert_eq!(c.accounted(), c.sent, "{what}: measured buckets {c:?}");
        assert_eq!(
            c.failed,
            c.failed_by_kind.values().sum::<u64>(),
            "{what}: failures by kind"
        );
        let w = &c.warmup;
        assert_eq!(
            w.ok + w.failed + w.abandoned + w.never_sent,
            w.due,
            "{what}: warm-up buckets {w:?}"
        );
        assert_eq!(w.ok + w.failed, c.warmup_completed, "{what}: {w:?}");
        // Everything that came due was either submitted or is counted as never sent.
        assert_eq!(
            r.drive.issued + c.never_sent + w.never_sent,
            c.sent + w.due,
            "{what}: {:?}",
            r.drive
        );
        if r.ideal.ideal_requests_per_s > 0.0 {
            assert!(
                r.ideal.efficiency <= 1.0 + r.ideal.efficiency_error,
                "{what}: efficiency {:.3} above 1 + its stated error {:.3} (req/s {:.2}, ideal {:.2})",
                r.ideal.efficiency,
                r.ideal.efficiency_error,
                r.throughput.requests_per_s,
                r.ideal.ideal_requests_per_s
            );
            assert!(r.ideal.efficiency_error >= 0.0, "{what}");
        }
        assert!(r.throughput.requests_per_s.is_finite() && r.throughput.requests_per_s >= 0.0);
        no_latency_from_no_sample(r, &table, &what);
    }
}

fn no_latency_from_no_sample(r: &VariantRun, table: &str, what: &str) {
    let e2e = r.latency_ms.get("e2e").map_or(0, |p| p.count);
    assert_eq!(
        e2e, r.counters.ok,
        "{what}: one e2e sample per measured success"
    );
    if e2e > 0 {
        return;
    }
    let label = export::table::subject_label(r);
    let point = r.point.label();
    // With repetitions the point cell is followed by `#N`: match this run's, not the first.
    let rep = format!("#{}", r.repetition + 1);
    let row = table
        .lines()
        .find(|l| {
            // The whole subject (not `sync` in `sync-stream`), then the point, then `#N`.
            let Some(rest) = l.strip_prefix(&label).filter(|r| r.starts_with(' ')) else {
                return false;
            };
            let mut cells = rest.split_whitespace();
            cells.next() == Some(point.as_str())
                && cells.next().is_none_or(|c| !c.starts_with('#') || c == rep)
        })
        .unwrap_or_else(|| panic!("{what}: no row in\n{table}"));
    // e2e, ttft and itl have no sample: each is "—", and no cell reads as a latency of 0.
    assert!(
        row.matches('—').count() >= 3,
        "{what}: latency printed without a sample: {row}"
    );
    assert!(!row.contains("0.0ms/"), "{what}: {row}");
}

#[test]
fn every_request_is_accounted_and_efficiency_is_bounded() {
    let mut s = common::fast_seed_scenario();
    // The defaults (warm-up = ramp for a closed loop, 1.5 service times for an open one).
    s.load.warmup = None;
    s.load.ramp = None;
    s.load.duration = Some(Duration::from_millis(400));
    s.load.drain_timeout = Some(Duration::from_millis(300));
    let points = vec![
        common::closed(1),
        common::closed(12),
        common::open(60.0, None),
        poisson(150.0, Some(3)),
    ];
    let result = common::run(&common::plan(s, &VariantKind::ALL, points));
    assert_eq!(result.runs.len(), VariantKind::ALL.len() * 4);
    check(&result);
    // The overloaded points do leave requests in the other buckets: the test sees them.
    let never: u64 = result.runs.iter().map(|r| r.counters.never_sent).sum();
    let unfinished: u64 = result.runs.iter().map(|r| r.counters.abandoned).sum();
    assert!(
        never > 0,
        "max-in-flight 3 at 150/s must hold requests back"
    );
    assert!(
        unfinished > 0,
        "sequential at c=12 must leave requests unfinished"
    );
}

#[test]
fn faults_gil_and_slo_keep_the_accounting() {
    let mut s = common::fast_seed_scenario();
    s.load.warmup = None;
    s.load.ramp = None;
    s.load.duration = Some(Duration::from_millis(400));
    s.load.drain_timeout = Some(Duration::from_millis(300));
    s.faults.converse_stream.throttle = 0.2;
    s.client.retry.max_attempts = 1;
    s.request.gil = true;
    // The lock's ceiling too: a hold past it idles, and no request is lost to the idling.
    s.request.gil_max_busy = 0.5;
    s.request.cpu_work_us = 500;
    let variants = [
        VariantKind::Sync,
        VariantKind::Hybrid,
        VariantKind::Async,
        VariantKind::SyncStream,
    ];
    let plan = common::plan_with_flags(
        s,
        &variants,
        vec![common::closed(8), common::open(80.0, None)],
        &["--slo", "e2e=60ms", "--repeat", "2"],
    );
    let result = common::run(&plan);
    check(&result);
    // Every run of a capped lock says how long it idled (0 is a measurement too).
    assert!(
        result
            .runs
            .iter()
            .all(|r| r.gil_cap_idle_s.is_some_and(|s| s >= 0.0)),
        "every capped run counts its lock's idle time"
    );
    // --slo goodput is in the table and in summary.md (and so in index.html's table); each
    // repetition's row says which it is.
    let table = export::table::render(&result);
    // Under the catalogue's heading for goodput.
    assert!(
        table.contains(ragperf::metrics::catalogue::GOODPUT_PER_S.short),
        "{table}"
    );
    assert!(table.contains("c=8 #2"), "{table}");
    let summary = export::markdown::render(&result);
    assert!(summary.contains("(good "), "{summary}");
    let failed: u64 = result.runs.iter().map(|r| r.counters.failed).sum();
    let warm_failed: u64 = result.runs.iter().map(|r| r.counters.warmup.failed).sum();
    assert!(
        failed > 0,
        "20 % throttling must fail some measured requests"
    );
    assert!(warm_failed + failed > 0);
    assert!(
        result
            .runs
            .iter()
            .all(|r| r.throughput.goodput_per_s.is_some())
    );
}

#[test]
fn a_capped_gil_counts_the_time_it_stood_idle_and_the_report_says_so() {
    // 20 ms of CPU per request under a lock held at most 10 % of each second: four users want
    // far more than the 100 ms a second (plus the 50 ms burst) it allows, so it idles most of
    // the window; without a cap there is nothing to count.
    let mut s = common::fast_seed_scenario();
    s.load.warmup = None;
    s.load.ramp = None;
    s.load.duration = Some(Duration::from_millis(1500));
    s.load.drain_timeout = Some(Duration::from_millis(500));
    s.request.gil = true;
    s.request.gil_max_busy = 0.1;
    s.request.cpu_work_us = 20_000;
    let plan = common::plan_with_flags(
        s.clone(),
        &[VariantKind::Sync],
        vec![common::closed(4)],
        &[],
    );
    let result = common::run(&plan);
    check(&result);
    let run = &result.runs[0];
    let idle = run
        .gil_cap_idle_s
        .expect("a capped lock counts its idle time");
    let window = run.process.window_s;
    assert!(
        idle > 0.3 * window && idle < 1.2 * window,
        "idle {idle:.2} s of a {window:.2} s window"
    );
    let reasons = export::highlights::highlights(&result).reasons.join("\n");
    assert!(reasons.contains("its GIL stood held and idle"), "{reasons}");
    s.request.gil_max_busy = 1.0;
    let plan = common::plan_with_flags(s, &[VariantKind::Sync], vec![common::closed(4)], &[]);
    let result = common::run(&plan);
    assert_eq!(result.runs[0].gil_cap_idle_s, None);
}
