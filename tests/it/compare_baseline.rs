//! `ragperf baseline` runs like `ragperf run` and writes a slim result: no timeline, no OS time
//! series, still valid against the result schema, and identical to itself under `compare`.

use crate::compare_common;

use compare_common::{compare, ragperf};
use ragperf::result::RunResult;

#[test]
fn baseline_writes_a_slim_schema_valid_result() {
    let dir = tempfile::tempdir().expect("tempdir");
    let to = dir.path().join("nested/baseline.json");
    ragperf()
        .args([
            "baseline",
            "--variant",
            "async",
            "--time-scale",
            "0.01",
            "-c",
            "4",
            "-n",
            "12",
            "--repeat",
            "2",
            "--no-progress",
            "--to",
        ])
        .arg(&to)
        .assert()
        .success()
        .stdout(predicates::str::contains("async"))
        // Each column names its metric and unit.
        .stdout(predicates::str::contains("requests_per_s (req/s)"))
        .stdout(predicates::str::contains("e2e.p99 (ms)"))
        .stdout(predicates::str::contains("cpu_per_request_ms (ms)"));
    let result = RunResult::read(&to).expect("the baseline reads back");
    assert_eq!(result.runs.len(), 2);
    assert!(!result.partial);
    for run in &result.runs {
        assert!(run.timeline.is_empty());
        assert!(run.process.samples.is_empty());
        assert!(run.counters.ok > 0);
        assert!(run.histograms.contains_key("e2e"));
    }
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&to).expect("read")).expect("json");
    let errors = crate::schema_support::Schema::result().errors(&written);
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    compare(&to, &to, &[]).code(0);
}

#[test]
fn the_committed_ci_baseline_reads_and_matches_the_ci_scenario() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let baseline = RunResult::read(&root.join("reports/baseline/result.json"))
        .expect("reports/baseline/result.json is a readable result");
    let scenario = ragperf::scenario::Scenario::from_file(&root.join("scenarios/ci.toml"))
        .expect("scenarios/ci.toml reads");
    // Refreshed from the CI scenario: same latency model and load, three repetitions.
    assert_eq!(baseline.scenario.time_scale, scenario.time_scale);
    assert_eq!(baseline.scenario.bedrock, scenario.bedrock);
    assert_eq!(baseline.scenario.load.duration, scenario.load.duration);
    assert_eq!(baseline.plan.repeat, 3);
    assert!(!baseline.partial);
    // Every variant, so no variant's regression goes ungated.
    assert_eq!(
        baseline.plan.variants.len(),
        ragperf::pipeline::VariantKind::ALL.len()
    );
    compare(
        &root.join("reports/baseline/result.json"),
        &root.join("reports/baseline/result.json"),
        &[
            "--thresholds",
            root.join("reports/baseline/gates.toml")
                .to_str()
                .expect("utf-8"),
        ],
    )
    .code(0);
}
