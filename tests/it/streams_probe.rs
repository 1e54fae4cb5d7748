//! `ragperf streams`: the stream-capacity instrument counts what it receives, reports every
//! failure by kind, and rejects bad flags by name. Timing bounds are generous and derived from
//! the injected latency model (the gaps are never shorter than scheduled by more than the
//! client's own read jitter, and a loaded 2-core machine may stretch them).

use crate::common;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use assert_cmd::Command;
use predicates::prelude::*;
use ragperf::scenario::Scenario;
use ragperf::streams::{StreamsPlan, StreamsSummary, run};

/// Streams of 20 tokens: first after 20 ms, then one every 10 ms (210 ms per stream).
fn scenario() -> Scenario {
    common::fixed_scenario(0.0, 0.0, 20.0, 10.0, 20.0)
}

fn plan(scenario: Scenario, streams: usize) -> StreamsPlan {
    StreamsPlan {
        scenario,
        streams,
        duration: Duration::from_millis(1200),
        ramp: Duration::from_millis(250),
        bedrock_url: None,
        model: "anthropic.claude-3-haiku-20240307-v1:0".into(),
        threads: 2,
        mock_threads: 2,
        stream_timeout: Duration::from_secs(20),
        max_gap_error_ms: 2.0,
    }
}

fn measure(plan: &StreamsPlan) -> StreamsSummary {
    run(plan, &Arc::new(AtomicBool::new(false))).expect("the measurement runs")
}

#[test]
fn clean_streams_are_counted_and_timed() {
    let s = measure(&plan(scenario(), 16));
    assert!(
        s.failed.is_empty(),
        "no faults were injected: {:?}",
        s.failure_samples
    );
    assert_eq!(s.streams, 16);
    assert!(!s.interrupted);
    // 16 streams × 20 tokens per 210 ms ≈ 1,524 token events/s; the window is 1.2 s.
    assert!((s.expected_tokens_per_s - 16.0 * 20.0 / 0.21).abs() < 1.0);
    let ceiling = (s.expected_tokens_per_s * s.window_s * 1.1) as u64 + 16;
    assert!(
        s.tokens > 200 && s.tokens <= ceiling,
        "tokens {} (ceiling {ceiling})",
        s.tokens
    );
    assert!(
        s.completed >= 16,
        "each stream finished at least one answer: {}",
        s.completed
    );
    // Gaps: scheduled 10 ms apart, never sent early.
    assert_eq!(s.expected_gap_ms, 10.0);
    assert!(s.itl_ms.count > 100, "gaps recorded: {}", s.itl_ms.count);
    assert!(
        s.itl_ms.p50 >= 9.0 && s.itl_ms.p50 < 60.0,
        "gap p50 {}",
        s.itl_ms.p50
    );
    assert!(s.ttft_ms.p50 >= 19.0, "first token p50 {}", s.ttft_ms.p50);
    // The embedded mock's statistics are read.
    let side = s
        .endpoint_side
        .as_ref()
        .expect("the mock serves its statistics");
    assert!(side.tokens_sent > 0);
    assert!(side.streams_peak >= 1);
    assert!(s.client_cpu_per_token_us > 0.0);
    // The summary renders, with the verdict line.
    let text = ragperf::streams::render(&s);
    assert!(text.contains("16 streams against embedded"), "{text}");
    assert!(text.contains("verdict"), "{text}");
}

#[test]
fn injected_stream_faults_are_counted_by_kind() {
    let mut sc = scenario();
    sc.faults.converse_stream.throttle = 0.25;
    sc.faults.converse_stream.stream_cut = 0.25;
    sc.faults.converse_stream.stream_exception = 0.25;
    let s = measure(&plan(sc, 12));
    for kind in ["throttled", "stream_cut", "stream_exception"] {
        assert!(
            s.failed.get(kind).copied().unwrap_or(0) > 0,
            "{kind} missing from {:?}",
            s.failed
        );
    }
    assert!(!s.on_time, "failures make the verdict late");
    assert!(!s.failure_samples.is_empty());
    // Streams without a fault still completed between the failures.
    assert!(s.completed > 0);
    assert!(s.tokens > 0);
}

#[test]
fn a_concurrency_quota_turns_excess_streams_into_throttles() {
    let mut sc = scenario();
    sc.faults.converse_stream.max_concurrency = 4;
    let s = measure(&plan(sc, 12));
    assert!(
        s.failed.get("throttled").copied().unwrap_or(0) > 0,
        "{:?}",
        s.failed
    );
    assert!(s.completed > 0, "streams under the quota were served");
}

#[test]
fn an_endpoint_that_is_not_bedrock_fails_every_stream_without_panicking() {
    // Mock Qdrant answers the ConverseStream path with a 404 JSON error.
    let mocks = mock_services::server::MockServices::start_on_own_runtime(
        scenario().mock_config(),
        mock_services::server::Bind::default(),
        1,
    )
    .expect("mocks start");
    let mut p = plan(scenario(), 3);
    p.bedrock_url = Some(mocks.qdrant_url());
    p.duration = Duration::from_millis(400);
    p.ramp = Duration::from_millis(50);
    let s = measure(&p);
    assert_eq!(s.tokens, 0);
    assert_eq!(s.completed, 0);
    let failures: u64 = s.failed.values().sum();
    assert!(failures >= 3, "{:?}", s.failed);
    assert!(
        s.failed.keys().all(|k| k.starts_with("http_4")),
        "{:?}",
        s.failed
    );
    assert!(!s.on_time);
    // Said before the streams (a Qdrant where Bedrock should be) and after (the hint).
    assert!(
        s.warnings.iter().any(|w| w.contains("answers as Qdrant")),
        "{:?}",
        s.warnings
    );
    let text = ragperf::streams::render(&s);
    assert!(text.contains("URLs swapped?"), "{text}");
}

#[test]
fn a_closed_port_is_a_counted_connect_failure() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let mut p = plan(scenario(), 2);
    p.bedrock_url = Some(format!("http://127.0.0.1:{port}"));
    p.duration = Duration::from_millis(300);
    p.ramp = Duration::from_millis(10);
    let s = measure(&p);
    assert!(
        s.failed.get("connect").copied().unwrap_or(0) >= 2,
        "{:?}",
        s.failed
    );
    assert_eq!(s.tokens, 0);
    // The dead port is named before the streams and hinted at after them.
    assert!(
        s.warnings.iter().any(|w| w.contains("nothing answered")),
        "{:?}",
        s.warnings
    );
    let text = ragperf::streams::render(&s);
    assert!(
        text.contains("connect: no connection: wrong port"),
        "{text}"
    );
}

/// The case (#15 item 4): a mock started with `--time-scale 0.1` measured with this
/// run's scale 1 once gave a LATE verdict against a gap ten times too long. The mock's
/// settings are read first and adopted, with a warning naming the time scales.
#[test]
fn a_mock_with_another_time_scale_is_adopted_with_a_warning() {
    let mut theirs = scenario();
    theirs.time_scale = 0.5;
    let mocks = mock_services::server::MockServices::start_on_own_runtime(
        theirs.mock_config(),
        mock_services::server::Bind::default(),
        1,
    )
    .expect("mocks start");
    let mut p = plan(scenario(), 4);
    p.bedrock_url = Some(mocks.bedrock_url());
    p.duration = Duration::from_millis(600);
    p.ramp = Duration::from_millis(100);
    let s = measure(&p);
    let w = s.warnings.join("\n");
    assert!(
        w.contains("time scale 0.5 there, 1 here") && w.contains("uses the mocks' settings"),
        "{w}"
    );
    // The expected gap is what the mock injects: 10 ms × 0.5.
    assert_eq!(s.expected_gap_ms, 5.0);
    assert!(s.tokens > 0 && s.failed.is_empty(), "{:?}", s.failed);
    assert!(ragperf::streams::render(&s).contains("warning"));
}

fn ragperf() -> Command {
    Command::cargo_bin("ragperf").expect("the binary is built for integration tests")
}

#[test]
fn bad_flags_name_the_flag() {
    for (args, flag) in [
        (&["streams", "-c", "0"][..], "--streams"),
        (&["streams", "--duration", "0s"][..], "--duration"),
        (
            &["streams", "--bedrock-url", "https://bedrock.example"][..],
            "--bedrock-url",
        ),
        (
            &["streams", "--max-gap-error-ms", "-1"][..],
            "--max-gap-error-ms",
        ),
        (&["streams", "--duration", "soon"][..], "not a duration"),
    ] {
        ragperf()
            .args(args)
            .assert()
            .failure()
            .stderr(predicate::str::contains(flag))
            .stderr(predicate::str::contains("panicked").not());
    }
}

#[test]
fn the_command_prints_json_against_the_embedded_mock() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.toml");
    std::fs::write(
        &path,
        "[bedrock]\nttft_ms = 10\nitl_ms = 5\noutput_tokens = 10\n",
    )
    .expect("write");
    let out = ragperf()
        .args([
            "streams",
            "-c",
            "4",
            "--duration",
            "500ms",
            "--ramp",
            "100ms",
            "--json",
        ])
        .arg("--scenario")
        .arg(&path)
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s: StreamsSummary = serde_json::from_slice(&out.stdout).expect("JSON summary");
    assert_eq!(s.streams, 4);
    assert_eq!(s.expected_gap_ms, 5.0);
    assert!(s.tokens > 0 && s.failed.is_empty(), "{s:?}");
}
