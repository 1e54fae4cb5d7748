use super::*;

fn scenario() -> Scenario {
    let mut s = Scenario {
        time_scale: 0.5,
        ..Scenario::default()
    };
    s.embedding.latency_ms = mock_services::latency::Dist::Fixed { value: 20.0 };
    s.qdrant.search_ms = mock_services::latency::Dist::Uniform {
        min: 60.0,
        max: 100.0,
    };
    s.bedrock.ttft_ms = mock_services::latency::Dist::Fixed { value: 400.0 };
    s.bedrock.itl_ms = mock_services::latency::Dist::Fixed { value: 30.0 };
    s
}

fn point(tokens: f64, waits: &[(&str, u64, f64)]) -> Observation {
    Observation {
        tokens_per_request: Some(tokens),
        backend_wait_ms: waits
            .iter()
            .map(|(op, calls, mean_ms)| {
                (
                    op.to_string(),
                    Wait {
                        calls: *calls,
                        mean_ms: *mean_ms,
                    },
                )
            })
            .collect(),
        ..Observation::default()
    }
}

#[test]
fn the_scenarios_waits_are_its_means_at_its_time_scale_and_each_points_answer_length() {
    let s = scenario();
    // 20-token answers: (400 + 30 × 19) × 0.5 = 485 ms; 120 tokens: (400 + 30 × 119) × 0.5 = 1985.
    let points = [
        point(
            20.0,
            &[
                ("embed", 100, 10.0),
                ("qdrant_search", 100, 40.0),
                ("converse_stream", 100, 485.0),
            ],
        ),
        point(
            120.0,
            &[
                ("embed", 300, 10.0),
                ("qdrant_search", 300, 40.0),
                ("converse_stream", 300, 1985.0),
            ],
        ),
    ];
    let waits = backend_waits(&s, &points);
    let by = |op: &str| waits.iter().find(|w| w.op == op).expect(op).clone();
    assert_eq!(by("embed").calls, 400);
    assert!((by("embed").scenario_mean_ms.expect("known") - 10.0).abs() < 1e-9);
    assert!((by("qdrant_search").scenario_mean_ms.expect("known") - 40.0).abs() < 1e-9);
    // Weighted by calls: (100 × 485 + 300 × 1985) / 400.
    let stream = by("converse_stream");
    assert!((stream.scenario_mean_ms.expect("known") - 1610.0).abs() < 1e-9);
    assert!((stream.measured_mean_ms - 1610.0).abs() < 1e-9);
    assert!(
        wait_warnings(&waits).is_empty(),
        "{:?}",
        wait_warnings(&waits)
    );
    let line = waits_line(&waits).expect("a line");
    assert!(
        line.contains("embed 400 calls, mean 10.0 ms (the scenario's 10.0)"),
        "{line}"
    );
}

#[test]
fn a_wait_off_the_scenarios_mean_gets_a_note_naming_the_operation() {
    let s = scenario();
    // Two embeddings' worth of wait per call (a slow fault, say), the rest as the scenario says.
    let points = [point(
        20.0,
        &[("embed", 500, 20.0), ("qdrant_search", 500, 41.0)],
    )];
    let notes = wait_warnings(&backend_waits(&s, &points));
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(
        notes[0].contains("`embed`") && notes[0].contains("10.0 ms"),
        "{}",
        notes[0]
    );
}

#[test]
fn an_operation_the_model_does_not_make_is_shown_without_a_scenario_figure_or_a_note() {
    let s = scenario();
    let waits = backend_waits(
        &s,
        &[point(20.0, &[("rerank", 50, 12.0), ("embed", 0, 0.0)])],
    );
    assert_eq!(
        waits.len(),
        1,
        "an operation with no call is left out: {waits:?}"
    );
    assert_eq!(waits[0].scenario_mean_ms, None);
    assert!(wait_warnings(&waits).is_empty());
    assert!(
        waits_line(&waits)
            .expect("a line")
            .contains("rerank 50 calls, mean 12.0 ms (not in the model)")
    );
    assert_eq!(waits_line(&[]), None);
}
