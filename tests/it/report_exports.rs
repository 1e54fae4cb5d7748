//! The Markdown and CSV exporters on the committed fixture: snapshots of the whole output
//! (reviewed by eye once, then any change shows up as a diff), plus the shape a script relies on.

use crate::report_common;

use ragperf::export::{csv, markdown};
use report_common::fixture;

#[test]
fn summary_md_snapshot() {
    insta::assert_snapshot!("summary_md", markdown::render(&fixture()));
}

#[test]
fn results_csv_snapshot() {
    insta::assert_snapshot!("results_csv", csv::render(&fixture()));
}

#[test]
fn csv_has_one_row_per_run_and_a_stable_header() {
    let result = fixture();
    let text = csv::render(&result);
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("a header").split(',').collect();
    assert_eq!(header, csv::columns());
    let mut unique = header.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), header.len(), "column names are unique");
    for name in [
        "variant",
        "requests_per_s",
        "e2e_p99_ms",
        "ttft_p50_ms",
        "rss_peak_bytes",
    ] {
        assert!(header.contains(&name), "column {name}");
    }
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), result.runs.len());
    for (row, run) in rows.iter().zip(&result.runs) {
        let cells: Vec<&str> = row.split(',').collect();
        assert_eq!(cells.len(), header.len(), "{row}");
        assert_eq!(cells[0], run.variant);
        let p99: f64 = cells[header.iter().position(|h| *h == "e2e_p99_ms").unwrap()]
            .parse()
            .expect("a number");
        assert!((p99 - run.latency_ms["e2e"].p99).abs() < 0.001);
    }
}

#[test]
fn markdown_table_has_a_row_per_run_and_the_scenario() {
    let result = fixture();
    let md = markdown::render(&result);
    let rows = md.lines().filter(|l| l.starts_with("| `")).count();
    assert_eq!(rows, result.runs.len());
    assert!(md.contains("## Scenario as run"));
    assert!(md.contains(&format!("time scale **{}**", result.scenario.time_scale)));
    for run in &result.runs {
        assert!(md.contains(&format!("| `{}` | {} |", run.variant, run.point.label())));
    }
}
