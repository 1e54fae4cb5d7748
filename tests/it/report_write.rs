//! `export::write_all`, as `run` and `sweep` call it after every variant: a partial result (an
//! interrupted sweep) writes a complete, valid report, and a later, smaller result replaces the
//! earlier one's charts and `.hgrm` files instead of leaving stale ones beside them.

use crate::report_common;

use std::path::Path;

use ragperf::export::{self, Format};
use report_common::{fixture, png_size};

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn each_step_of_a_sweep_leaves_a_complete_report() {
    let dir = tempfile::tempdir().expect("tempdir");
    let full = fixture();
    for n in 1..=full.runs.len() {
        let mut partial = full.clone();
        partial.runs.truncate(n);
        partial.partial = n < full.runs.len();
        export::write_all(dir.path(), &partial).expect("every format writes");
        let back = ragperf::result::RunResult::read(&dir.path().join("result.json"))
            .expect("result.json is valid after every step");
        assert_eq!(back.runs.len(), n);
        let png = std::fs::read(dir.path().join("charts/throughput.png")).expect("read");
        assert_eq!(png_size(&png), ragperf::plot::SIZE);
        // No temporary files are left behind.
        assert!(names(dir.path()).iter().all(|f| !f.ends_with(".tmp")));
    }
    let md = std::fs::read_to_string(dir.path().join("summary.md")).expect("read");
    assert!(!md.contains("Partial result"));
}

#[test]
fn a_smaller_result_removes_the_stale_charts_and_hgrm_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    export::write_all(dir.path(), &fixture()).expect("writes");
    assert!(names(&dir.path().join("hgrm")).contains(&"sync_c2_e2e.hgrm".to_string()));
    let mut smaller = fixture();
    smaller.runs.retain(|r| r.variant == "async-single");
    export::write_all(dir.path(), &smaller).expect("writes");
    let hgrm = names(&dir.path().join("hgrm"));
    assert!(hgrm.iter().all(|f| !f.starts_with("sync_")), "{hgrm:?}");
    assert!(hgrm.contains(&"async-single_c2_e2e.hgrm".to_string()));
    let charts = names(&dir.path().join("charts"));
    assert!(
        !charts.contains(&"timeline_sync_c6.svg".to_string()),
        "{charts:?}"
    );
    assert!(charts.contains(&"timeline_async-single_c6.png".to_string()));
}

#[test]
fn formats_parse_by_name() {
    assert_eq!(Format::parse("md"), Ok(Format::Markdown));
    assert_eq!(Format::parse("Markdown"), Ok(Format::Markdown));
    assert_eq!(Format::parse(" png "), Ok(Format::Png));
    let err = Format::parse("pdf").expect_err("unknown");
    assert!(err.contains("json,md,csv,hgrm,svg,png,html"), "{err}");
}
