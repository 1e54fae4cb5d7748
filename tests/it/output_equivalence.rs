//! The restructure (issue #10) changed no output: the committed report fixture rendered by the
//! `report` binary (every format), the terminal table, and `compare` of two committed results
//! (Markdown and JSON) are byte-for-byte what the code wrote before the moves.
//!
//! The expected outputs were taken with the code as it stood before the restructure's first
//! move and live in `tests/fixtures/equivalence/`: the text outputs in full (a change shows as a
//! readable diff), every file of the report as an FNV-1a digest in `manifest.txt`. Should an
//! output change on purpose later, regenerate them with `RAGPERF_BLESS=1 cargo test --test
//! output_equivalence` and review the diff.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn expected_dir() -> PathBuf {
    root().join("tests/fixtures/equivalence")
}

fn report_fixture() -> PathBuf {
    root().join("tests/fixtures/report/result.json")
}

/// The baseline of the `compare` check, relative to the checkout.
const COMPARE_BASELINE: &str = "tests/fixtures/compare/base.json";

/// A copy of `reports/baseline/result.json` (taken with the restructure's first commit): against
/// the compare fixture it has regressions, improvements and unpaired rows, so every part of the
/// comparison prints.
const COMPARE_CURRENT: &str = "tests/fixtures/equivalence/compare_current.json";

fn ragperf() -> Command {
    Command::cargo_bin("ragperf").expect("the binary is built for integration tests")
}

/// FNV-1a, 64 bits: enough to tell two outputs apart, and no dependency.
fn fnv64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Every file under `dir`, by its path relative to `dir` (forward slashes).
fn files(dir: &Path, under: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
    for entry in std::fs::read_dir(under).expect("read the output directory") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            files(dir, &path, out);
        } else {
            let rel = path.strip_prefix(dir).expect("under the root");
            let name = rel.to_string_lossy().replace('\\', "/");
            out.insert(name, std::fs::read(&path).expect("read an output"));
        }
    }
}

fn manifest(outputs: &BTreeMap<String, Vec<u8>>) -> String {
    outputs
        .iter()
        .map(|(name, bytes)| format!("{name} {:016x} {}\n", fnv64(bytes), bytes.len()))
        .collect()
}

/// Compares `actual` with the committed file `name`, or writes it under `RAGPERF_BLESS=1`.
fn check(name: &str, actual: &str) {
    let path = expected_dir().join(name);
    if std::env::var_os("RAGPERF_BLESS").is_some() {
        std::fs::create_dir_all(expected_dir()).expect("create the expected directory");
        std::fs::write(&path, actual).expect("write the expected output");
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{} is committed: {e}", path.display()));
    if expected != actual {
        let first = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .map_or_else(
                || "lengths differ".to_string(),
                |i| format!("line {}", i + 1),
            );
        panic!(
            "{name} differs from the output before the restructure (first at {first}):\n\
             --- expected\n{expected}\n--- actual\n{actual}"
        );
    }
}

#[test]
fn report_renders_every_format_as_before() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    ragperf()
        .arg("report")
        .arg(report_fixture())
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let mut outputs = BTreeMap::new();
    files(&out, &out, &mut outputs);
    // Counts first: a missing or extra file is named by the manifest diff below.
    assert!(outputs.len() > 40, "{} files", outputs.len());
    for text in ["summary.md", "results.csv"] {
        let bytes = outputs
            .get(text)
            .unwrap_or_else(|| panic!("{text} written"));
        check(text, &String::from_utf8_lossy(bytes));
    }
    check("report_manifest.txt", &manifest(&outputs));
}

#[test]
fn terminal_table_is_as_before() {
    let result = ragperf::result::RunResult::read(&report_fixture()).expect("the fixture reads");
    check("table.txt", &ragperf::export::table::render(&result));
}

#[test]
fn compare_prints_as_before() {
    for (name, json) in [("compare.md", false), ("compare.json", true)] {
        let mut cmd = ragperf();
        // Relative paths: the comparison prints them, and the checkout may live anywhere.
        cmd.current_dir(root())
            .arg("compare")
            .arg(COMPARE_BASELINE)
            .arg(COMPARE_CURRENT);
        if json {
            cmd.arg("--json");
        }
        let output = cmd.output().expect("ragperf compare runs");
        // 1: the current result has gated regressions.
        assert_eq!(output.status.code(), Some(1), "{name}");
        check(name, &String::from_utf8_lossy(&output.stdout));
    }
}
