//! `ragperf calibrate` against a service with a known shape: `ragperf-synthetic-target
//! --stream per-token` takes a pool thread for each token event apart, as Starlette iterates a
//! sync generator, so calibration must find `sync-stream` and the pool's size (±20 %), and the
//! backend waits the service saw must be the scenario's.

use serde_json::Value;
use target_support::free_port;

use crate::target_support;

#[test]
fn calibrate_finds_starlettes_sync_streaming_and_its_pool_from_a_target_with_a_call_per_token() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("cal");
    let port = free_port();
    let cmd = format!(
        "{} --port {port} --pool 10 --cpu-per-request-us 5000 --cpu-per-token-us 200 --stream per-token",
        env!("CARGO_BIN_EXE_ragperf-synthetic-target"),
    );
    let url = format!("http://127.0.0.1:{port}/chat/stream");
    // Each probe window on a fresh start of the service.
    let (code, stdout, err) = crate::calibrate::calibrate_synthetic(
        &url,
        &cmd,
        &out,
        &["--no-probe-check", "--probe-runs", "3", "--probe-starts"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("then a probe at 24 users measured 3 times, each on a fresh start"),
        "{err}"
    );
    assert!(
        stdout.contains("(the probe at 24 users, 100 tokens, in 3 windows on 3 starts of the service: CPU per answer "),
        "{stdout}"
    );
    let cal: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("calibration.json")).expect("calibration.json"),
    )
    .expect("json");
    eprintln!("shape: {}", cal["shape"]);
    // A pool of 10 whose streams give their thread back between token events.
    assert_eq!(cal["shape"]["variant"], "sync-stream", "{cal:#}");
    let workers = cal["shape"]["workers"].as_u64().expect("a pool size");
    assert!(
        (8..=12).contains(&workers),
        "pool {workers}, true 10\n{cal:#}"
    );
    let scenario = std::fs::read_to_string(out.join("calibrated.toml")).expect("scenario");
    assert!(
        scenario.contains("variants = [\"sync-stream\"]"),
        "{scenario}"
    );
    // The waits the mocks injected are the scenario's (thousands of calls from its
    // distributions): shown, each within 10 %, and no note about them.
    assert!(
        stdout.contains("Backend waits the service saw (the mocks' statistics, every point): "),
        "{stdout}"
    );
    let waits = cal["backend_waits"].as_array().expect("backend_waits");
    for op in ["embed", "qdrant_search", "converse_stream"] {
        let w = waits
            .iter()
            .find(|w| w["op"] == op)
            .unwrap_or_else(|| panic!("{op} in {waits:?}"));
        let measured = w["measured_mean_ms"].as_f64().expect("measured");
        let scenario = w["scenario_mean_ms"].as_f64().expect("the scenario's");
        assert!(w["calls"].as_u64().is_some_and(|n| n >= 100), "{w}");
        assert!(
            (measured - scenario).abs() <= 0.1 * scenario,
            "{op}: measured {measured:.2} ms, the scenario's {scenario:.2}"
        );
    }
    assert!(!stdout.contains("the mocks injected"), "{stdout}");
    // One server per probe window after the levels' start, each with its own log, and each
    // window's result names a different process.
    for tokens in [5, 100] {
        let phase = out.join(format!("tokens-{tokens}"));
        for log in [
            "target-server.log",
            "target-server-2.log",
            "target-server-3.log",
            "target-server-4.log",
        ] {
            assert!(phase.join(log).is_file(), "{}", phase.join(log).display());
        }
        let result: Value = serde_json::from_str(
            &std::fs::read_to_string(phase.join("result.json")).expect("result.json"),
        )
        .expect("json");
        let pids: std::collections::BTreeSet<u64> = result["runs"]
            .as_array()
            .expect("runs")
            .iter()
            .map(|r| r["server"]["pid"].as_u64().expect("pid"))
            .collect();
        assert_eq!(
            pids.len(),
            4,
            "the levels' start and three probe starts: {pids:?}"
        );
    }
}
