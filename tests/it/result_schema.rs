//! `result.json` as written by a real run validates against the committed JSON Schema, and
//! reads back losslessly (schema identifier checked, histograms decodable).

use crate::common;

use ragperf::export;
use ragperf::pipeline::VariantKind;
use ragperf::result::RunResult;

#[test]
fn a_real_result_matches_the_schema_and_round_trips() {
    let mut s = common::fast_seed_scenario();
    s.load.requests = Some(6);
    s.faults.converse_stream.throttle = 0.2;
    s.client.retry.max_attempts = 1;
    let result = common::run(&common::plan(
        s,
        &[VariantKind::Sync, VariantKind::Async],
        vec![common::closed(3)],
    ));
    let dir = tempfile::tempdir().expect("tempdir");
    export::write_all(dir.path(), &result).expect("write");
    let path = dir.path().join("result.json");
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");

    let schema_text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/result.v1.schema.json"),
    )
    .expect("schema file");
    let schema: serde_json::Value = serde_json::from_str(&schema_text).expect("schema json");
    let validator = jsonschema::validator_for(&schema).expect("valid schema");
    let errors: Vec<String> = validator
        .iter_errors(&written)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "schema violations:\n{}",
        errors.join("\n")
    );

    // A file that is not ours is rejected with a schema message.
    let mut wrong = written.clone();
    wrong["schema"] = serde_json::json!("something.else.v9");
    assert!(!validator.is_valid(&wrong));
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, serde_json::to_string(&wrong).expect("ser")).expect("write");
    let err = RunResult::read(&bad).expect_err("foreign schema");
    assert!(
        err.to_string().contains("expected `ragperf.result.v1`"),
        "{err}"
    );

    // Reads back to the same value; every histogram decodes to its recorded count.
    let back = RunResult::read(&path).expect("read back");
    assert_eq!(back, result);
    for run in &back.runs {
        for (name, b64) in &run.histograms {
            let h = mock_services::hist::decode_b64(b64).expect("decodes");
            assert_eq!(
                h.len(),
                run.latency_ms[name].count,
                "{} {name}",
                run.variant
            );
        }
    }
}
