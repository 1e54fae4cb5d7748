//! Shared helpers of the `compare_*` tests: the committed fixture (a real CI-sized run of `sync`
//! and `async`, 3 repetitions, written by `ragperf baseline`), ways to edit its numbers, and the
//! binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use ragperf::result::{RunResult, VariantRun};

/// The committed fixture's path.
pub fn fixture_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/compare/base.json")
}

/// The fixture, read through the same reader `compare` uses.
pub fn fixture() -> RunResult {
    RunResult::read(&fixture_path()).expect("the committed fixture reads")
}

/// Writes `result` as `name` into `dir`.
pub fn write(dir: &Path, name: &str, result: &RunResult) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string(result).expect("serialise")).expect("write");
    path
}

/// Applies `f` to every run of `variant`, with its repetition index.
pub fn edit(result: &mut RunResult, variant: &str, mut f: impl FnMut(u32, &mut VariantRun)) {
    let mut seen = 0;
    for run in result.runs.iter_mut().filter(|r| r.variant == variant) {
        f(run.repetition, run);
        seen += 1;
    }
    assert!(seen > 0, "the fixture has no `{variant}` runs");
}

/// Keeps only repetition 0 of every run (a single-run result).
pub fn single_run(result: &mut RunResult) {
    result.runs.retain(|r| r.repetition == 0);
    result.plan.repeat = 1;
}

/// The `ragperf` binary.
pub fn ragperf() -> Command {
    Command::cargo_bin("ragperf").expect("the binary is built for integration tests")
}

/// `ragperf compare BASE CUR` plus `extra` flags.
pub fn compare(base: &Path, cur: &Path, extra: &[&str]) -> assert_cmd::assert::Assert {
    ragperf()
        .arg("compare")
        .arg(base)
        .arg(cur)
        .args(extra)
        .assert()
}
