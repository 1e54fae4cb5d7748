//! `ragperf report`: re-renders a past result into every format; a damaged result (a corrupt or
//! missing histogram) is reported by variant, point and metric, everything else is still
//! written, and the exit code says something went wrong.

use crate::report_common;

use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;
use predicates::str::contains;
use report_common::{fixture, fixture_path};

fn ragperf() -> Command {
    Command::cargo_bin("ragperf").expect("the binary is built for integration tests")
}

fn copy_fixture(dir: &Path) {
    std::fs::copy(fixture_path(), dir.join("result.json")).expect("copy the fixture");
}

#[test]
fn re_renders_every_format_in_place_without_touching_the_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_fixture(dir.path());
    let before = std::fs::read(dir.path().join("result.json")).expect("read");
    ragperf().arg("report").arg(dir.path()).assert().success();
    for f in [
        "summary.md",
        "results.csv",
        "index.html",
        "hgrm/README.txt",
        "hgrm/sync_c2_e2e.hgrm",
        "charts/throughput.svg",
        "charts/throughput.png",
        "charts/timeline_sync_c6.png",
    ] {
        assert!(dir.path().join(f).is_file(), "{f}");
    }
    assert_eq!(
        std::fs::read(dir.path().join("result.json")).expect("read"),
        before
    );
    let html = std::fs::read_to_string(dir.path().join("index.html")).expect("read");
    // Self-contained: charts inline, nothing fetched.
    assert_eq!(
        html.matches("<svg").count(),
        ragperf::plot::plan(&fixture()).len()
    );
    for external in ["<script", "<link", "src=\"http", "<img"] {
        assert!(!html.contains(external), "{external}");
    }
}

#[test]
fn writes_only_the_formats_asked_for_into_another_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    ragperf()
        .arg("report")
        .arg(fixture_path())
        .arg("--out")
        .arg(&out)
        .arg("--format")
        .arg("md,csv")
        .assert()
        .success();
    assert!(out.join("summary.md").is_file());
    assert!(out.join("results.csv").is_file());
    assert!(!out.join("charts").exists());
    assert!(!out.join("index.html").exists());
    assert!(!out.join("result.json").exists());
}

#[test]
fn an_unknown_format_or_input_is_a_clear_error() {
    ragperf()
        .args(["report", "tests/fixtures/report", "--format", "pdf"])
        .assert()
        .failure()
        .stderr(contains("unknown format `pdf`"));
    ragperf()
        .args(["report", "/nonexistent/ragperf-report"])
        .assert()
        .failure()
        .stderr(contains("does not exist"));
}

#[test]
fn a_damaged_histogram_is_named_and_the_rest_still_renders() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut result = fixture();
    let first = &mut result.runs[0];
    let (v0, p0) = (first.variant.clone(), first.point.label());
    first
        .histograms
        .insert("e2e".into(), "!!! not base64".into());
    let second = &mut result.runs[1];
    let (v1, p1) = (second.variant.clone(), second.point.label());
    second.histograms.remove("ttft");
    std::fs::write(
        dir.path().join("result.json"),
        serde_json::to_string(&result).expect("serialise"),
    )
    .expect("write");

    ragperf()
        .arg("report")
        .arg(dir.path())
        .assert()
        .failure()
        .stderr(contains(format!(
            "histogram `e2e` of variant `{v0}` at {p0} (repetition 0) is corrupt"
        )))
        .stderr(contains(format!(
            "histogram `ttft` of variant `{v1}` at {p1} (repetition 0) is missing"
        )));
    for f in [
        "summary.md",
        "results.csv",
        "index.html",
        "charts/throughput.png",
        "charts/spectrum_e2e_c6.svg",
        "charts/spectrum_e2e_c2.png",
    ] {
        assert!(dir.path().join(f).is_file(), "{f} is still written");
    }
    let hgrm = dir.path().join("hgrm");
    let name = |v: &str, p: &str, m: &str| format!("{v}_{}_{m}.hgrm", p.replace('=', ""));
    assert!(!hgrm.join(name(&v0, &p0, "e2e")).exists());
    assert!(hgrm.join(name(&v0, &p0, "ttft")).is_file());
    let html = std::fs::read_to_string(dir.path().join("index.html")).expect("read");
    assert!(html.contains("This result file is damaged"));
}

/// Every file under `dir`, relative, sorted.
fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(
                    p.strip_prefix(dir)
                        .expect("under dir")
                        .display()
                        .to_string(),
                );
            }
        }
    }
    out.sort();
    out
}

#[test]
fn hostile_names_in_a_result_never_write_outside_out() {
    // A variant and a metric named to climb out of the output folder (#13 item 7).
    let root = tempfile::tempdir().expect("tempdir");
    let text = std::fs::read_to_string(fixture_path()).expect("fixture");
    let mut v: serde_json::Value = serde_json::from_str(&text).expect("fixture JSON");
    v["runs"][0]["variant"] = "../../escaped".into();
    v["runs"][1]["variant"] = "..\\..\\escaped\u{1}".into();
    let hist = v["runs"][0]["histograms"]["e2e"].clone();
    v["runs"][0]["histograms"]["/../../metric"] = hist;
    let input = root.path().join("in");
    std::fs::create_dir(&input).expect("mkdir");
    std::fs::write(input.join("result.json"), v.to_string()).expect("write");
    let out = root.path().join("a").join("b").join("out");
    ragperf()
        .arg("report")
        .arg(&input)
        .arg("--out")
        .arg(&out)
        .args(["--format", "hgrm,svg,md,csv,html"])
        .assert()
        .stderr(contains("panicked").not());
    let files = tree(root.path());
    assert!(
        files
            .iter()
            .all(|f| f.starts_with("a/b/out/") || f == "in/result.json"),
        "{files:#?}"
    );
    let out_files = tree(&out);
    assert!(
        out_files.iter().any(|f| f.contains("escaped")),
        "the runs are still rendered, under safe names: {out_files:#?}"
    );
    assert!(
        out_files.iter().all(|f| f
            .split('/')
            .all(|c| !c.starts_with('.') && !c.contains('\\'))),
        "{out_files:#?}"
    );
}
