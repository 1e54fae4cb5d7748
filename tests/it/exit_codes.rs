//! One test per exit code of the README's table: 0 a run that met its error budget, 1 a run
//! over `--max-error-rate` (the message says the rate and the limit), 2 bad input before any
//! load (an unwritable --out included). 130/143 are in `tests/interrupt.rs`, compare's own codes
//! in `tests/compare_errors.rs` and `tests/compare_gates.rs`, "every request failed" in
//! `tests/target_run.rs`.

use assert_cmd::Command;
use predicates::prelude::*;

fn ragperf() -> Command {
    Command::cargo_bin("ragperf").expect("the binary is built for integration tests")
}

/// A scenario where about a third of the streams are throttled (never retried away: one
/// attempt).
fn faulty_scenario(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("faulty.toml");
    std::fs::write(
        &path,
        "time_scale = 0.01\n[faults.converse_stream]\nthrottle = 0.35\n\
         [client.retry]\nmax_attempts = 1\n",
    )
    .expect("write scenario");
    path
}

fn faulty_run(dir: &std::path::Path, max_error_rate: &str) -> assert_cmd::assert::Assert {
    ragperf()
        .args([
            "run",
            "--variant",
            "async",
            "-c",
            "4",
            "-n",
            "120",
            "--no-progress",
        ])
        .arg("--scenario")
        .arg(faulty_scenario(dir))
        .args(["--max-error-rate", max_error_rate, "--out"])
        .arg(dir.join("out"))
        .assert()
}

#[test]
fn exit_1_when_the_error_rate_exceeds_the_limit() {
    let dir = tempfile::tempdir().expect("tempdir");
    faulty_run(dir.path(), "0.05")
        .code(1)
        .stderr(predicate::str::is_match(r"error rate \d+\.\d\d % \(\d+ of \d+ requests failed or unfinished\) exceeds --max-error-rate 0.05 \(5.00 %\)").expect("regex"));
    assert!(
        dir.path().join("out/result.json").exists(),
        "the result is written all the same"
    );
}

#[test]
fn exit_0_when_the_error_rate_is_within_the_limit() {
    let dir = tempfile::tempdir().expect("tempdir");
    faulty_run(dir.path(), "0.9")
        .code(0)
        .stderr(predicate::str::contains("exceeds").not());
}

#[test]
fn exit_2_for_an_unwritable_out_before_any_load() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("a-file");
    std::fs::write(&file, "").expect("write");
    let started = std::time::Instant::now();
    ragperf()
        .args([
            "run",
            "--variant",
            "async",
            "-d",
            "30s",
            "--no-progress",
            "--out",
        ])
        .arg(file.join("sub"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--out: cannot write to"))
        .stderr(predicate::str::contains(
            "choose a directory you can write to",
        ));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "refused before the 30 s load"
    );
}

#[test]
fn exit_2_for_a_bad_flag() {
    ragperf()
        .args(["run", "--max-error-rate", "5"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--max-error-rate"));
}
