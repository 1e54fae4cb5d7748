//! A target run's report explains a missed ideal from the server's own figures: CPU-bound when
//! the server used a full core, a thread pool when its many threads sat at their peak with CPU
//! to spare — and shows the server table.

use crate::report_common;

use ragperf::export::markdown;
use ragperf::metrics::server::ServerFigures;
use ragperf::result::{RunResult, TargetInfo};

fn target_result(cpu_s: f64, threads_peak: u64) -> RunResult {
    let mut r = report_common::one_point();
    r.runs.truncate(1);
    let run = &mut r.runs[0];
    run.variant = "target".into();
    run.target = Some(TargetInfo {
        name: "/chat".into(),
        url: "http://127.0.0.1:8080/chat".into(),
        protocol: "json".into(),
        method: "POST".into(),
    });
    run.ideal.ideal_requests_per_s = run.throughput.requests_per_s * 5.0;
    run.ideal.efficiency = 0.2;
    run.server = Some(ServerFigures {
        pid: 4242,
        command: "uvicorn app:app".into(),
        processes_peak: 1,
        threads_start: threads_peak,
        threads_peak,
        threads_mean: threads_peak as f64,
        rss_peak_bytes: 250 << 20,
        cpu_user_s: cpu_s,
        window_s: 10.0,
        snapshots: 100,
        ..ServerFigures::default()
    });
    r
}

#[test]
fn a_cpu_bound_server_is_named_as_such() {
    let md = markdown::render(&target_result(9.8, 8));
    assert!(
        md.contains("the server was CPU-bound (98% of one core"),
        "{md}"
    );
    assert!(md.contains("## Target server"), "{md}");
    assert!(md.contains("pid 4242"), "{md}");
    assert!(md.contains("`target /chat`"), "{md}");
}

#[test]
fn a_thread_capped_server_is_named_as_such() {
    let md = markdown::render(&target_result(4.0, 42));
    assert!(
        md.contains("threads stayed at their peak of 42 with CPU to spare (40% of one core)"),
        "{md}"
    );
    // An event loop's few threads at their peak say nothing about a pool.
    let md = markdown::render(&target_result(4.0, 3));
    assert!(!md.contains("thread pool"), "{md}");
    assert!(md.contains("the server spent 40% of one core"), "{md}");
}

#[test]
fn py_spy_figures_say_who_held_the_gil() {
    use ragperf::metrics::gil::GilFigures;
    let mut r = target_result(9.8, 8);
    let md = markdown::render(&r);
    assert!(!md.contains("GIL held"), "no py-spy, no sentence: {md}");
    let server = r.runs[0].server.as_mut().expect("server");
    server.gil = Some(GilFigures {
        rate_hz: 100,
        window_s: 10.0,
        held_samples: 830,
        busiest_thread: "thread (4242): MainThread".into(),
        busiest_thread_samples: 822,
    });
    let md = markdown::render(&r);
    assert!(md.contains("83 % (MainThread 99 % of it)"), "{md}");
    // Nobody held it in any sample: 0 %, and no holder to name (not "100 % of it").
    let server = r.runs[0].server.as_mut().expect("server");
    server.gil = Some(GilFigures {
        rate_hz: 100,
        window_s: 10.0,
        ..GilFigures::default()
    });
    let md = markdown::render(&r);
    assert!(md.contains(" 0 %.") && !md.contains("of it)"), "{md}");
}
