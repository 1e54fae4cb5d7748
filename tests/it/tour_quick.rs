//! `ragperf tour --quick` end to end on four experiments (Q5: two requests sequentially vs in a
//! pool; Q30: one event-loop thread; X3: a bounded pool with whole answers vs streams; X4: an
//! event loop's CPU per request): the report, the charts and the raw results are written, the
//! verdict and explanation come from the saved measurements, and tampering with those
//! measurements changes the verdict. Assertions are on files, structure and the verdict's
//! consistency with the data, never on exact timing. One test runs them all, one after another:
//! threads are counted by name across the process, so two tours at once would see each other's.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use assert_cmd::Command;
use predicates::prelude::*;
use ragperf::tour::experiments::q5_two_requests;
use ragperf::tour::report::TourReport;
use ragperf::tour::{self, Mode, TourOptions, Verdict, runner};

fn experiment(id: &str) -> tour::Experiment {
    tour::catalogue()
        .into_iter()
        .find(|e| e.id == id)
        .unwrap_or_else(|| panic!("no experiment {id}"))
}

#[test]
fn quick_pieces_write_a_report_whose_verdicts_follow_the_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = TourOptions {
        mode: Mode::Quick,
        only: vec!["Q5".into(), "q30".into(), "x3".into(), "X4".into()],
        out: dir.path().to_path_buf(),
    };
    let stop = Arc::new(AtomicBool::new(false));
    let stale = earlier_tour(dir.path());
    let mut lines = Vec::new();
    let report = runner::run(&opts, &stop, &mut |l| lines.push(l.to_string()))
        .unwrap_or_else(|e| panic!("tour failed: {e:#}"));
    assert!(!report.partial);
    // An earlier tour's files of an experiment that did not run this time are gone; a user's
    // file in the same folder is not.
    for f in &stale {
        assert!(!dir.path().join(f).exists(), "{f} is left over");
    }
    assert!(dir.path().join("notes.txt").is_file());
    assert!(
        lines.iter().any(|l| l.starts_with("removed 2 ")),
        "{lines:?}"
    );
    let ids: Vec<&str> = report.experiments.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, vec!["Q5", "Q30", "X3", "X4"]);
    // One progress line per experiment, with the verdict it reached.
    for e in &report.experiments {
        let shout = e.verdict.map_or("did not finish", |v| v.shout());
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(&format!("{} ", e.id)) && l.contains(shout)),
            "{lines:?}"
        );
    }

    // Every file of the report exists.
    for f in ["tour.md", "index.html", "tour.json"] {
        assert!(dir.path().join(f).is_file(), "{f} missing");
    }
    let saved: TourReport = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("tour.json")).expect("tour.json"),
    )
    .expect("tour.json parses");
    assert_eq!(saved.schema, "ragperf.tour.v1");
    let md = std::fs::read_to_string(dir.path().join("tour.md")).expect("tour.md");
    let html = std::fs::read_to_string(dir.path().join("index.html")).expect("index.html");
    for e in &saved.experiments {
        let verdict = e
            .verdict
            .unwrap_or_else(|| panic!("{} has no verdict: {:?}", e.id, e.error));
        assert!(!e.checks.is_empty() && !e.explanation.is_empty() && !e.table.rows.is_empty());
        assert_eq!(verdict, tour::verdict::decide(&e.checks), "{}", e.id);
        assert!(md.contains(&format!("## {}: {}", e.id, e.title)));
        assert!(md.contains(&format!("**Verdict: {}.**", verdict.label())));
        assert!(!e.charts.is_empty(), "{} has no chart", e.id);
        for c in &e.charts {
            assert_eq!(c.error, None, "{}: {}", e.id, c.file);
            let svg = std::fs::read_to_string(dir.path().join(&c.file)).expect("chart file");
            assert!(svg.starts_with("<svg"), "{} is not an SVG", c.file);
            assert!(md.contains(&c.file));
        }
        for r in &e.results {
            assert!(dir.path().join(r).is_file(), "{r} missing");
        }
    }
    // An --only run says which experiments ran, never that it was the whole tour.
    for text in [&md, &html] {
        assert!(text.contains("quick run of Q5, Q30, X3, X4 only (4 of "));
        assert!(!text.contains("quick tour") && !text.contains("full tour"));
    }
    assert_eq!(saved.only, vec!["Q5", "Q30", "X3", "X4"]);
    // The HTML page is self-contained: charts inline, nothing fetched.
    assert!(html.contains("<svg") && !html.contains("<script") && !html.contains("src=\"http"));

    // Re-analysing the saved results gives the same checks, verdict and explanation.
    let q5 = experiment("Q5");
    let measured = runner::load(dir.path(), &q5, Mode::Quick).expect("load Q5 results");
    let again = (q5.analyse)(&measured).expect("re-analyse Q5");
    let first = &saved.experiments[0];
    assert_eq!(again.checks, first.checks);
    assert_eq!(again.explanation, first.explanation);
    // The explanation quotes the measured numbers.
    let figures = q5_two_requests::two_requests_figures(&measured).expect("figures");
    assert!(
        first
            .explanation
            .contains(&tour::ms_text(figures.sequential_ms))
            && first.explanation.contains(&tour::ms_text(figures.pool_ms)),
        "{}",
        first.explanation
    );
    // Generous bounds from the latency model: two requests one after another take at least
    // about two, and the pool no more than about two (it cannot be slower than sequential
    // by much on any machine that can run the tour).
    assert!(
        figures.sequential_ms >= 1.8 * figures.service_ms,
        "{figures:?}"
    );

    // Tamper with the data: give sequential the pool's timeline. The same analysis must now
    // refuse the claim ("sequential takes the sum" no longer holds).
    let mut tampered = measured.clone();
    let result = tampered
        .results
        .get_mut("two-requests")
        .expect("step result");
    let pool_timeline = result
        .runs
        .iter()
        .find(|r| r.variant == "sync")
        .expect("sync run")
        .timeline
        .clone();
    for run in result.runs.iter_mut().filter(|r| r.variant == "sequential") {
        run.timeline = pool_timeline.clone();
    }
    let tampered = (q5.analyse)(&tampered).expect("re-analyse tampered");
    assert_eq!(tampered.verdict(), Verdict::NotConfirmed);

    // Q30: the timeline of one event-loop thread shows one OS thread.
    let q30 = &saved.experiments[1];
    let one_thread = q30
        .checks
        .iter()
        .find(|c| {
            c.what
                .starts_with("every request ran on the same OS thread")
        })
        .expect("thread check");
    assert!(one_thread.pass, "{one_thread:?}");

    // X3: both variants ran on their pool (thread counts, not timing), and the saved results
    // give the same checks again.
    let x3 = &saved.experiments[2];
    assert_eq!(x3.table.rows.len(), 4, "{:?}", x3.table);
    let pool_threads = x3
        .checks
        .iter()
        .find(|c| {
            c.what
                .starts_with("both ran on about `--workers` pool threads")
        })
        .expect("pool thread check");
    assert!(pool_threads.pass, "{pool_threads:?}");
    let e = experiment("X3");
    let measured = runner::load(dir.path(), &e, Mode::Quick).expect("load X3 results");
    let again = (e.analyse)(&measured).expect("re-analyse X3");
    assert_eq!(again.checks, x3.checks);
    let f = tour::experiments::x3_stream_pool::figures(&measured).expect("X3 figures");
    assert_eq!(
        f.workers,
        tour::experiments::x3_stream_pool::workers(Mode::Quick)
    );
    assert_eq!(
        f.users,
        f.workers * tour::experiments::x3_stream_pool::USERS_PER_THREAD
    );
    // Whatever the machine: a whole-answer pool cannot serve more than about its cap.
    assert!(f.loaded.0.rps <= 1.5 * f.cap_rps(), "{f:?}");

    // X4: two CPU costs at two loads, ~7x apart, each quoted in the explanation.
    let x4 = &saved.experiments[3];
    assert_eq!(x4.table.rows.len(), 4, "{:?}", x4.table);
    let e = experiment("X4");
    let measured = runner::load(dir.path(), &e, Mode::Quick).expect("load X4 results");
    let again = (e.analyse)(&measured).expect("re-analyse X4");
    assert_eq!(again.checks, x4.checks);
    assert_eq!(again.explanation, x4.explanation);
    let f = tour::experiments::x4_cpu_scaling::figures(&measured).expect("X4 figures");
    let cost_ratio = f.per_call.cpu_ms / f.shared.cpu_ms;
    assert!((6.0..8.0).contains(&cost_ratio), "{f:?}");
    assert!(x4.explanation.contains(&tour::ms_text(f.per_call.cpu_ms)));
    // One core cannot complete more than 1 / CPU work per request, on any machine.
    assert!(
        f.per_call.high.rps <= 1.3 * 1000.0 / f.per_call.cpu_ms,
        "{f:?}"
    );
}

/// Leaves in `dir` what an earlier whole tour wrote for Q6 (recorded in its `tour.json`) and a
/// file of the user's; returns the earlier tour's files.
fn earlier_tour(dir: &std::path::Path) -> Vec<&'static str> {
    let files = vec!["q6-gil/gil/result.json", "charts/q6-gil_bars.svg"];
    for f in files.iter().chain(&["notes.txt"]) {
        let path = dir.join(f);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        std::fs::write(path, "earlier").expect("write");
    }
    let machine =
        serde_json::to_value(ragperf::metrics::machine::MachineInfo::detect()).expect("machine");
    let earlier = serde_json::json!({
        "schema": "ragperf.tour.v1", "mode": "full", "created_at": "", "machine": machine,
        "seconds": 1.0, "partial": false,
        "experiments": [{
            "id": "Q6", "slug": "q6-gil", "title": "", "seed": "", "claim": "", "setup": [],
            "headline": "", "table": {"header": [], "rows": []}, "checks": [],
            "explanation": "", "seconds": 1.0,
            "charts": [{"file": files[1], "caption": ""}],
            "results": [files[0]],
        }],
    });
    std::fs::write(dir.join("tour.json"), earlier.to_string()).expect("tour.json");
    files
}

#[test]
fn an_unknown_experiment_names_the_flag_and_the_choices() {
    let dir = tempfile::tempdir().expect("tempdir");
    Command::cargo_bin("ragperf")
        .expect("binary")
        .args(["tour", "--quick", "--only", "Q99", "--out"])
        .arg(dir.path())
        .assert()
        .failure()
        .stderr(predicate::str::contains("--only"))
        .stderr(predicate::str::contains("Q99"))
        .stderr(predicate::str::contains("Q16"))
        .stderr(predicate::str::contains("panicked").not());
    // Nothing was run or written.
    assert!(!dir.path().join("tour.md").exists());
}
