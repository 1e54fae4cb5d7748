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
fn a_histogram_without_samples_is_empty_cells_in_the_csv_never_zero_ms() {
    let mut result = fixture();
    // A `--target` run has no embed, retrieve, cpu or generate spans: its histograms are empty.
    result.runs[0]
        .latency_ms
        .insert("embed".into(), Default::default());
    let text = csv::render(&result);
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("a header").split(',').collect();
    let row: Vec<&str> = lines.next().expect("a row").split(',').collect();
    let cell = |name: &str| row[header.iter().position(|h| *h == name).expect(name)];
    assert_eq!(cell("embed_count"), "0");
    for stat in ["mean", "p50", "p90", "p99", "p999", "max"] {
        assert_eq!(cell(&format!("embed_{stat}_ms")), "", "embed_{stat}_ms");
    }
    assert_ne!(
        cell("e2e_p50_ms"),
        "",
        "a histogram with samples keeps its figures"
    );
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

/// The results table of `index.html` fits a 1,400 px window with every column visible (#15
/// item 9): nothing hides columns behind a horizontal scroll bar, every row has every column,
/// and the errors column (the last) is there in every row, wrapping instead of widening the
/// table. (Checked by eye in a headless Chromium at 1,400 px with all seven variants.)
#[test]
fn html_results_table_keeps_every_column_and_the_errors_visible() {
    let mut result = fixture();
    // A run with failures of several kinds: the longest errors cell there is.
    let c = &mut result.runs[1].counters;
    c.failed = 7;
    c.failed_by_kind = [("throttled".to_string(), 4), ("stream_cut".to_string(), 3)]
        .into_iter()
        .collect();
    c.abandoned = 2;
    let html = ragperf::export::html::render(&result);
    assert!(
        !html.contains("overflow-x"),
        "no column is scrolled out of view"
    );
    assert!(html.contains("table.figures td:last-child{white-space:normal"));

    let start = html
        .find("<table class=\"figures\">")
        .expect("the results table");
    let table = &html[start..start + html[start..].find("</table>").expect("its end")];
    let header = ragperf::export::describe::table_header();
    assert_eq!(header.last().map(String::as_str), Some("errors"));
    assert_eq!(table.matches("<th>").count(), header.len());
    let rows: Vec<&str> = table.split("<tr>").skip(2).collect();
    assert_eq!(rows.len(), result.runs.len());
    for (row, run) in rows.iter().zip(&result.runs) {
        assert_eq!(row.matches("<td>").count(), header.len(), "{row}");
        let errors = row.rsplit("<td>").next().expect("a last cell");
        assert!(
            errors.starts_with(&run.counters.failed.to_string()),
            "{errors}"
        );
    }
    assert!(rows[1].contains("4 throttled") && rows[1].contains("2 abandoned"));
}

/// The highlights' "Why" lines, one string.
fn reasons(result: &ragperf::result::RunResult) -> String {
    ragperf::export::highlights::highlights(result)
        .reasons
        .join("\n")
}

/// The fixture's `sync` run at c=6, the one the highlight tests change.
fn sync_at_c6(result: &ragperf::result::RunResult) -> usize {
    result
        .runs
        .iter()
        .position(|r| r.variant == "sync" && r.point.concurrency == 6)
        .expect("the fixture's sync run at c=6")
}

#[test]
fn streams_that_found_their_tokens_buffered_are_called_out() {
    // The fixture's `sync` run at c=6 as if it had counted its socket reads: one read per 4
    // tokens is 75 % found buffered; one per token (the stream's end included) is nothing to
    // say; no count (older results) neither.
    let mut result = fixture();
    let i = sync_at_c6(&result);
    let tokens = result.runs[i].counters.tokens;
    assert!(!reasons(&result).contains("already buffered"));
    result.runs[i].counters.stream_reads = tokens / 4;
    let said = reasons(&result);
    assert!(
        said.contains("`sync` at c=6")
            && said.contains(
                "75% of its streams' tokens were already buffered when their stream was read"
            )
            && said.contains(&format!("{} socket reads for {tokens} tokens", tokens / 4)),
        "{said}"
    );
    result.runs[i].counters.stream_reads = tokens + 6;
    assert!(!reasons(&result).contains("already buffered"));
}

#[test]
fn a_gil_held_idle_by_its_cap_is_called_out() {
    // The fixture's `sync` run at c=6 as if its GIL had a cap: idle a tenth of its window is
    // said; 1 % is not; no cap (absent) neither.
    let mut result = fixture();
    let i = sync_at_c6(&result);
    let window = result.runs[i].process.window_s;
    assert!(window > 0.0, "the fixture's run has a sampler window");
    assert!(!reasons(&result).contains("held and idle"));
    result.runs[i].gil_cap_idle_s = Some(0.1 * window);
    let said = reasons(&result);
    assert!(
        said.contains("`sync` at c=6")
            && said.contains("its GIL stood held and idle 10% of the time"),
        "{said}"
    );
    result.runs[i].gil_cap_idle_s = Some(0.01 * window);
    assert!(!reasons(&result).contains("held and idle"));
}
