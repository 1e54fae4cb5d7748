//! `result.json` as written by a real run validates against the committed JSON Schema, and
//! reads back losslessly (schema identifier checked, histograms decodable).

use crate::common;
use crate::schema_support::Schema;

use ragperf::export;
use ragperf::pipeline::VariantKind;
use ragperf::result::RunResult;

#[test]
fn a_real_result_matches_the_schema_and_round_trips() {
    let mut s = common::fast_seed_scenario();
    s.load.requests = Some(6);
    s.faults.converse_stream.throttle = 0.2;
    s.client.retry.max_attempts = 1;
    // A capped GIL, so the run carries `gil_cap_idle_s` for the schema to check.
    s.request.gil = true;
    s.request.gil_max_busy = 0.9;
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

    let validator = Schema::result();
    let errors = validator.errors(&written);
    assert!(
        errors.is_empty(),
        "schema violations:\n{}",
        errors.join("\n")
    );

    assert!(
        written["runs"]
            .as_array()
            .is_some_and(|runs| runs.iter().all(|r| r["gil_cap_idle_s"].is_number())),
        "every run of a capped GIL carries gil_cap_idle_s"
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

/// The schema checker (`tests/schema_support`) rejects a violation of every keyword it checks,
/// accepts what conforms, and refuses a schema keyword it does not know.
#[test]
fn the_schema_checker_rejects_a_violation_of_every_keyword() {
    use serde_json::json;
    let schema = Schema::new(json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "t",
        "type": "object",
        "required": ["kind", "n", "tags", "pick"],
        "additionalProperties": false,
        "properties": {
            "kind": {"const": "k"},
            "mode": {"enum": ["a", "b"]},
            "n": {"type": "integer", "minimum": 1},
            "url": {"type": ["string", "null"], "pattern": "^http://"},
            "tags": {"type": "array", "minItems": 1, "maxItems": 2, "items": {"$ref": "#/$defs/tag"}},
            "pick": {"oneOf": [{"type": "string"}, {"type": "integer", "minimum": 0}]},
            "free": {"type": "object", "additionalProperties": {"type": "number"}}
        },
        "$defs": {"tag": {"type": "string"}}
    }));
    let good = json!({"kind": "k", "mode": "a", "n": 2, "url": null, "tags": ["x"], "pick": 3,
                      "free": {"a": 1.5}});
    assert!(schema.is_valid(&good), "{:?}", schema.errors(&good));
    let with = |key: &str, v: serde_json::Value| {
        let mut d = good.clone();
        d[key] = v;
        d
    };
    let bad = [
        ("const", with("kind", json!("j"))),
        ("enum", with("mode", json!("c"))),
        ("type", with("n", json!("2"))),
        ("integer", with("n", json!(2.5))),
        ("minimum", with("n", json!(0))),
        ("pattern", with("url", json!("ftp://x"))),
        ("minItems", with("tags", json!([]))),
        ("maxItems", with("tags", json!(["a", "b", "c"]))),
        ("$ref via items", with("tags", json!([7]))),
        ("oneOf none", with("pick", json!(-1.5))),
        (
            "additionalProperties schema",
            with("free", json!({"a": "x"})),
        ),
        ("additionalProperties false", with("extra", json!(1))),
    ];
    for (keyword, doc) in bad {
        let errors = schema.errors(&doc);
        assert_eq!(errors.len(), 1, "{keyword}: {errors:?}");
    }
    let mut missing = good.clone();
    missing.as_object_mut().expect("object").remove("n");
    assert!(schema.errors(&missing)[0].contains("\"n\" is a required property"));
    // oneOf with two matching choices is a violation too.
    let both = Schema::new(json!({"oneOf": [{"type": "integer"}, {"minimum": 0}]}));
    assert!(!both.is_valid(&json!(3)) && both.is_valid(&json!(-3)));
    let unknown = std::panic::catch_unwind(|| Schema::new(json!({"maxLength": 3})));
    assert!(unknown.is_err(), "an unchecked keyword must be refused");
}

/// Results written by `calibrate` and `tour` (their phases and experiments are ordinary
/// results, committed under `reports/`) validate too.
#[test]
fn committed_calibrate_and_tour_results_match_the_schema() {
    for rel in [
        "reports/fastapi-rag-predict/ts-1/stream-sync/calibration/tokens-20/result.json",
        "reports/tour/q6-gil/io-gil/result.json",
    ] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
        let written: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
        let errors = Schema::result().errors(&written);
        assert!(errors.is_empty(), "{rel}:\n{}", errors.join("\n"));
    }
}

/// A real `--target … --py-spy` result (the seed's async endpoint, the calibration committed
/// under `reports/`) validates too, with py-spy's figures in the server's, and reads back.
#[test]
fn a_committed_target_result_with_py_spy_figures_matches_the_schema() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(
        "reports/fastapi-rag-predict/ts-0.25/stream-async/calibration/tokens-120/result.json",
    );
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
    let gil = &written["runs"][0]["server"]["gil"];
    assert!(gil["held_samples"].as_u64().unwrap_or(0) > 0, "{gil}");
    let errors = Schema::result().errors(&written);
    assert!(
        errors.is_empty(),
        "schema violations:\n{}",
        errors.join("\n")
    );
    let back = RunResult::read(&path).expect("read back");
    let g = back.runs[0]
        .server
        .as_ref()
        .and_then(|s| s.gil.as_ref())
        .expect("py-spy's figures");
    assert!(g.off_busiest_share().is_some_and(|s| s < 0.1), "{g:?}");
}
