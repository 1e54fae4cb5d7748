//! Bad input gets a clear error that names the field or flag, and a non-zero exit; never a panic.

use assert_cmd::Command;
use predicates::prelude::*;

fn ragperf() -> Command {
    Command::cargo_bin("ragperf").expect("the binary is built for integration tests")
}

#[test]
fn unknown_variant_names_the_choices() {
    ragperf()
        .args(["run", "--variant", "fast", "--no-progress"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("unknown variant `fast`"))
        .stderr(predicate::str::contains("async-single"))
        .stderr(predicate::str::contains("panicked").not());
}

#[test]
fn scenario_with_a_typo_names_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.toml");
    std::fs::write(&path, "[load]\nconcurency = 8\n").expect("write");
    ragperf()
        .args(["run", "--scenario"])
        .arg(&path)
        .assert()
        .failure()
        .stderr(predicate::str::contains("concurency"));
}

#[test]
fn negative_latency_is_rejected_with_the_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.toml");
    std::fs::write(&path, "[qdrant]\nsearch_ms = -5\n").expect("write");
    ragperf()
        .args(["run", "--scenario"])
        .arg(&path)
        .assert()
        .failure()
        .stderr(predicate::str::contains("search_ms"))
        .stderr(predicate::str::contains(">= 0"));
}

#[test]
fn missing_scenario_file_says_which() {
    ragperf()
        .args(["run", "--scenario", "/nonexistent/ragperf.toml"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("/nonexistent/ragperf.toml"));
}

#[test]
fn bad_urls_name_the_flag() {
    ragperf()
        .args([
            "run",
            "--qdrant-url",
            "127.0.0.1:6333",
            "--bedrock-url",
            "http://127.0.0.1:8000",
        ])
        .assert()
        .failure()
        .stderr(predicate::str::contains("--qdrant-url"))
        .stderr(predicate::str::contains("http://"));
}

#[test]
fn bad_durations_and_zero_concurrency_are_flag_errors() {
    ragperf()
        .args(["run", "--duration", "ten"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("--duration"));
    ragperf()
        .args(["run", "--concurrency", "0"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("--concurrency"));
    ragperf()
        .args(["sweep"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("--concurrency 1,8,64"));
    ragperf()
        .args(["run", "--arrivals", "bursty", "--rate", "5"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("gamma:"));
}
