//! `ragperf run --target`: a real HTTP endpoint driven end to end through the CLI, against a
//! scripted server that controls every byte — SSE split anywhere, OpenAI streaming, a whole JSON
//! answer, and every failure kind counted (never a hang, never a panic, exit 2 on bad input).

use crate::target_support;

use std::time::Duration;

use serde_json::Value;
use target_support::{
    ScriptServer, Step, assert_schema, dribble, free_port, head, ragperf, run_json, seed_stream,
};

fn run0(v: &Value) -> &Value {
    &v["runs"][0]
}

fn counter(v: &Value, key: &str) -> u64 {
    run0(v)["counters"][key].as_u64().unwrap_or(u64::MAX)
}

fn failed_kind(v: &Value, kind: &str) -> u64 {
    run0(v)["counters"]["failed_by_kind"][kind]
        .as_u64()
        .unwrap_or(0)
}

const TOKENS: [&str; 6] = ["Na", "ïve", " — 日本", "語 ", "😀", " done."];

#[test]
fn seed_sse_split_anywhere_counts_every_token() {
    // Each response is dribbled in pieces of a different size (1..=7 bytes): boundaries fall
    // mid-line, mid-UTF-8 character and between \r and \n.
    let server = ScriptServer::start(|n, _| {
        let line_end = if n % 2 == 0 { "\r\n" } else { "\n" };
        let mut s = vec![head("200 OK", "text/event-stream")];
        s.extend(dribble(
            &seed_stream(&TOKENS, line_end),
            1 + (n as usize % 7),
        ));
        s
    });
    let url = format!("{}/chat/stream", server.base);
    let (code, v, err) = run_json(&url, &["-n", "14", "-c", "2", "--expect-citations"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(counter(&v, "ok"), 14, "{err}");
    assert_eq!(counter(&v, "failed"), 0);
    assert_eq!(counter(&v, "tokens"), 14 * TOKENS.len() as u64);
    assert_eq!(counter(&v, "citation_mismatches"), 0);
    let lat = &run0(&v)["latency_ms"];
    assert_eq!(lat["ttft"]["count"], 14);
    assert_eq!(lat["itl"]["count"], 14 * (TOKENS.len() as u64 - 1));
    assert_eq!(run0(&v)["variant"], "target");
    assert_eq!(run0(&v)["target"]["protocol"], "sse");
    assert_eq!(run0(&v)["target"]["name"], "/chat/stream");
    assert_eq!(v["backends"]["mode"], "none");
    assert_schema(&v);
    // The default body is the seed's ChatRequest, filled per request.
    let body: Value = serde_json::from_str(&server.last_body.lock().unwrap()).expect("json body");
    assert!(
        body["message"].as_str().is_some_and(|m| m.ends_with('?')),
        "{body}"
    );
    assert!(
        body["session_id"]
            .as_str()
            .is_some_and(|s| s.starts_with("ragperf-user-"))
    );
}

#[test]
fn ttft_is_the_first_token_event_not_the_headers() {
    // Headers at once, the first token 150 ms later: TTFT must include the 150 ms.
    let server = ScriptServer::start(|_, _| {
        vec![
            head("200 OK", "text/event-stream"),
            Step::Sleep(Duration::from_millis(150)),
            Step::Write(seed_stream(&["a", "b"], "\n")),
        ]
    });
    let (code, v, err) = run_json(&format!("{}/s", server.base), &["-n", "3", "-c", "1"]);
    assert_eq!(code, 0, "{err}");
    let ttft = run0(&v)["latency_ms"]["ttft"]["min"]
        .as_f64()
        .unwrap_or(0.0);
    assert!(ttft >= 140.0, "ttft min {ttft} ms");
}

#[test]
fn openai_streaming_and_custom_sse_shapes() {
    let server = ScriptServer::start(|_, _| {
        let chunks = [
            r#"{"choices":[{"index":0,"delta":{"role":"assistant"}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"content":"Hello"}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"content":" world"}}]}"#,
            r#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
            r#"{"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2}}"#,
            "[DONE]",
        ];
        let mut s = vec![head("200 OK", "text/event-stream")];
        let body: String = chunks.iter().map(|c| format!("data: {c}\n\n")).collect();
        s.extend(dribble(body.as_bytes(), 5));
        s
    });
    let url = format!("{}/v1/chat/completions", server.base);
    let (code, v, err) = run_json(
        &url,
        &[
            "-n",
            "5",
            "-c",
            "2",
            "--protocol",
            "openai",
            "--model",
            "m1",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(counter(&v, "ok"), 5, "{err}");
    assert_eq!(counter(&v, "tokens"), 10);
    let body: Value = serde_json::from_str(&server.last_body.lock().unwrap()).expect("json");
    assert_eq!(body["model"], "m1");
    assert_eq!(body["stream"], true);

    // Another SSE shape, described by pointers: {"delta":{"text":…}} … {"event":"end"}.
    let custom = ScriptServer::start(|_, _| {
        vec![
            head("200 OK", "text/event-stream"),
            Step::Write(
                b"data: {\"delta\":{\"text\":\"x\"}}\n\ndata: {\"delta\":{\"text\":\"y\"}}\n\ndata: {\"event\":\"end\"}\n\n"
                    .to_vec(),
            ),
        ]
    });
    let (code, v, err) = run_json(
        &format!("{}/gen", custom.base),
        &[
            "-n",
            "4",
            "--token-pointer",
            "/delta/text",
            "--done-marker",
            "/event=end",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(counter(&v, "ok"), 4, "{err}");
    assert_eq!(counter(&v, "tokens"), 8);
}

#[test]
fn json_protocol_times_the_whole_answer() {
    let server = ScriptServer::start(|_, _| {
        vec![
            head("200 OK", "application/json"),
            Step::Sleep(Duration::from_millis(30)),
            Step::Write(br#"{"answer":"It is fine [doc-1].","citations":["doc-1"]}"#.to_vec()),
        ]
    });
    let (code, v, err) = run_json(
        &format!("{}/chat", server.base),
        &["-n", "4", "--protocol", "json", "--expect-citations"],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(counter(&v, "ok"), 4, "{err}");
    assert_eq!(counter(&v, "citation_mismatches"), 0);
    // Time to first byte stands in for TTFT; no token events.
    assert_eq!(run0(&v)["latency_ms"]["ttft"]["count"], 4);
    assert_eq!(counter(&v, "tokens"), 0);
}

#[test]
fn every_failure_is_counted_by_kind() {
    // Request i gets failure i % 6; every request ends in exactly one bucket.
    let server = ScriptServer::start(|n, _| {
        match n % 6 {
        0 => vec![Step::Write(
            b"HTTP/1.1 429 Too Many Requests\r\ncontent-length: 4\r\nconnection: close\r\n\r\nslow".to_vec(),
        )],
        1 => vec![Step::Write(
            b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 4\r\nconnection: close\r\n\r\noops".to_vec(),
        )],
        2 => vec![Step::Write(b"garbage that is not HTTP\r\n\r\n".to_vec())],
        3 => {
            // The stream ends without the done event.
            let mut s = vec![head("200 OK", "text/event-stream")];
            s.push(Step::Write(
                b"data: {\"type\":\"token\",\"content\":\"a\"}\n\n".to_vec(),
            ));
            s
        }
        4 => vec![
            head("200 OK", "text/event-stream"),
            Step::Write(b"data: not json at all\n\n".to_vec()),
        ],
        _ => vec![
            head("200 OK", "text/event-stream"),
            Step::Write(b"data: {\"type\":\"error\",\"message\":\"backend down\"}\n\n".to_vec()),
        ],
    }
    });
    let (code, v, err) = run_json(&format!("{}/x", server.base), &["-n", "12", "-c", "1"]);
    // Every request failed: the run says so (non-zero), and the result is still printed.
    assert_ne!(code, 0, "{err}");
    assert_eq!(counter(&v, "ok"), 0, "{err}");
    assert_eq!(counter(&v, "failed"), 12);
    for kind in [
        "http_429",
        "http_5xx",
        "bad_response",
        "missing_done",
        "malformed_event",
        "error_event",
    ] {
        assert_eq!(failed_kind(&v, kind), 2, "{kind}: {}", run0(&v)["counters"]);
    }
}

#[test]
fn a_stalled_stream_times_out_and_a_dead_port_is_connect() {
    let dir = tempfile::tempdir().expect("tempdir");
    let scenario = dir.path().join("s.toml");
    std::fs::write(&scenario, "[client]\nstream_idle_timeout_ms = 300\n").expect("write");
    let scenario = scenario.to_string_lossy().to_string();
    let server = ScriptServer::start(|_, _| {
        vec![
            head("200 OK", "text/event-stream"),
            Step::Write(b"data: {\"type\":\"token\",\"content\":\"a\"}\n\n".to_vec()),
            Step::Sleep(Duration::from_secs(3)),
        ]
    });
    let (_, v, err) = run_json(
        &format!("{}/x", server.base),
        &["-n", "2", "-c", "2", "--scenario", &scenario],
    );
    assert_eq!(failed_kind(&v, "timeout"), 2, "{err}");
    assert_eq!(counter(&v, "tokens"), 2);

    // Nothing listens on this port any more.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let (code, v, err) = run_json(&format!("http://127.0.0.1:{port}/x"), &["-n", "3"]);
    assert_ne!(code, 0);
    assert_eq!(failed_kind(&v, "connect"), 3, "{err}");
}

#[test]
fn bad_target_settings_exit_2_naming_the_flag() {
    for (args, flag) in [
        (vec!["--target", "http://127.0.0.1:99999/x"], "--target"),
        (vec!["--target", "https://127.0.0.1:8443/x"], "--target"),
        (vec!["--target", "127.0.0.1:8080"], "--target"),
        (
            vec![
                "--target",
                "http://127.0.0.1:8080/x",
                "--body",
                "{\"m\": {question}}",
            ],
            "--body",
        ),
        (
            vec!["--target", "http://127.0.0.1:8080/x", "--protocol", "grpc"],
            "--protocol",
        ),
        (
            vec!["--target", "http://127.0.0.1:8080/x", "-H", "no-colon"],
            "-H",
        ),
        (
            vec!["--target", "http://127.0.0.1:8080/x", "--workers", "4"],
            "--workers",
        ),
        (
            vec!["--target", "http://127.0.0.1:8080/x", "--variant", "sync"],
            "--variant",
        ),
        (
            vec![
                "--target",
                "http://127.0.0.1:8080/x",
                "--done-marker",
                "type=done",
            ],
            "--done-marker",
        ),
        (vec!["--target-cmd", "true"], "--target"),
    ] {
        let mut all = vec!["run", "--no-progress", "-n", "1"];
        all.extend(args.iter().copied());
        let (code, _, err) = ragperf(&all);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(&format!("{flag}:")), "{args:?}: {err}");
    }
}

fn sse_server_script() -> String {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/target_support/sse_server.py")
        .to_string_lossy()
        .to_string()
}

#[test]
fn target_cmd_starts_samples_and_stops_the_server() {
    let port = free_port();
    let cmd = format!("python3 {} {port}", sse_server_script());
    let url = format!("http://127.0.0.1:{port}/chat/stream");
    let (code, v, err) = run_json(
        &url,
        &[
            "-n",
            "20",
            "-c",
            "4",
            "--target-cmd",
            &cmd,
            "--time-scale",
            "0.01",
            "--expect-citations",
        ],
    );
    assert_eq!(code, 0, "{err}");
    // ok only when the server saw RAGPERF_BEDROCK_URL: the embedded mocks were named to it.
    assert_eq!(counter(&v, "ok"), 20, "{err}");
    let server = &run0(&v)["server"];
    assert!(server["pid"].as_u64().is_some_and(|p| p > 0), "{server}");
    assert!(
        server["threads_peak"].as_u64().is_some_and(|t| t >= 1),
        "{server}"
    );
    assert!(
        server["rss_peak_bytes"]
            .as_u64()
            .is_some_and(|b| b > 1 << 20),
        "{server}"
    );
    assert!(
        server["snapshots"].as_u64().is_some_and(|n| n >= 2),
        "{server}"
    );
    assert!(
        server["command"]
            .as_str()
            .is_some_and(|c| c.contains("sse_server.py"))
    );
    assert_eq!(v["backends"]["mode"], "embedded");
    assert_schema(&v);
    // Stopped afterwards: the port is free again.
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "server still up"
    );
}

#[test]
fn a_server_that_dies_is_reported_and_the_result_written() {
    let port = free_port();
    let cmd = format!("python3 {} {port} --die-after 5", sse_server_script());
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().to_string_lossy().to_string();
    let url = format!("http://127.0.0.1:{port}/chat/stream");
    let (code, _, err) = ragperf(&[
        "sweep",
        "--target",
        &url,
        "--target-cmd",
        &cmd,
        "-c",
        "2,2",
        "-n",
        "12",
        "--out",
        &out,
        "--no-progress",
        "--warmup",
        "0s",
        "--ramp",
        "0s",
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("exited during the run"), "{err}");
    assert!(
        err.contains("dying after 5 requests"),
        "the log tail is shown: {err}"
    );
    let result: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("result.json")).expect("result.json written"),
    )
    .expect("json");
    assert_eq!(result["partial"], true);
    let runs = result["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 1, "the second point never ran");
    let c = &runs[0]["counters"];
    assert_eq!(c["ok"], 5, "{c}");
    assert_eq!(
        c["ok"].as_u64().unwrap_or(0)
            + c["failed"].as_u64().unwrap_or(0)
            + c["abandoned"].as_u64().unwrap_or(0),
        c["sent"].as_u64().unwrap_or(u64::MAX),
        "every request in one bucket: {c}"
    );
}

#[test]
fn compare_gates_target_results_and_their_server_figures() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = |name: &str, delay_ms: u32| {
        let port = free_port();
        let cmd = format!(
            "python3 {} {port} --token-delay-ms {delay_ms}",
            sse_server_script()
        );
        let out = dir.path().join(name);
        let url = format!("http://127.0.0.1:{port}/chat/stream");
        let (code, _, err) = ragperf(&[
            "run",
            "--target",
            &url,
            "--target-cmd",
            &cmd,
            "-c",
            "2",
            "-n",
            "16",
            "--warmup",
            "0s",
            "--ramp",
            "0s",
            "--no-progress",
            "--out",
            &out.to_string_lossy(),
        ]);
        assert_eq!(code, 0, "{err}");
        out.join("result.json").to_string_lossy().to_string()
    };
    let fast = run("fast", 5);
    let slow = run("slow", 40);
    // The same file against itself passes every gate, server figures included.
    let (code, out, err) = ragperf(&[
        "compare",
        &fast,
        &fast,
        "--fail-on",
        "e2e.p50=+20%,server_cpu_per_request_ms=+50%",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("server_cpu_per_request_ms"), "{out}");
    assert!(
        out.contains("server_threads_peak"),
        "server figures shown: {out}"
    );
    // Tokens 8x slower: the e2e gate catches it.
    let (code, out, err) = ragperf(&["compare", &fast, &slow, "--fail-on", "e2e.p50=+20%"]);
    assert_eq!(code, 1, "{out}{err}");
    // The report renders the server table from the file alone.
    let report_dir = dir.path().join("report");
    let (code, _, err) = ragperf(&[
        "report",
        &fast,
        "--out",
        &report_dir.to_string_lossy(),
        "--format",
        "md,html",
    ]);
    assert_eq!(code, 0, "{err}");
    let md = std::fs::read_to_string(report_dir.join("summary.md")).expect("summary.md");
    assert!(md.contains("## Target server"), "{md}");
    assert!(md.contains("target /chat/stream"), "{md}");
}

#[test]
fn scenario_target_section_questions_file_and_body_file() {
    let server = ScriptServer::start(|_, _| {
        vec![
            head("200 OK", "text/event-stream"),
            Step::Write(seed_stream(&["a"], "\n")),
        ]
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let questions = dir.path().join("q.txt");
    std::fs::write(&questions, "# mine\nWhy is the sky blue?\n\n").expect("write");
    let body = dir.path().join("body.json");
    std::fs::write(&body, r#"{"q":"{question}","n":{n},"kind":"from-file"}"#).expect("write");
    let scenario = dir.path().join("s.toml");
    std::fs::write(
        &scenario,
        format!(
            "[target]\nurl = \"{}/ask\"\nname = \"from-scenario\"\nexpect_citations = true\n[target.headers]\nx-api-key = \"k1\"\n",
            server.base
        ),
    )
    .expect("write");
    let body_flag = format!("@{}", body.display());
    let (code, v, err) = run_json(
        "",
        &[
            "-n",
            "3",
            "--scenario",
            &scenario.to_string_lossy(),
            "--questions",
            &questions.to_string_lossy(),
            "--body",
            &body_flag,
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(counter(&v, "ok"), 3, "{err}");
    assert_eq!(run0(&v)["target"]["name"], "from-scenario");
    let sent: Value = serde_json::from_str(&server.last_body.lock().unwrap()).expect("json");
    assert_eq!(sent["q"], "Why is the sky blue?");
    assert_eq!(sent["kind"], "from-file");
    // The scenario as run records the target section.
    assert_eq!(v["scenario"]["target"]["name"], "from-scenario");
}

#[test]
fn backend_urls_follow_the_same_rule() {
    for (url, says) in [
        ("http://127.0.0.1:99999", "not a URL"),
        ("http://127.0.0.1:6333/collections", "without a path"),
        ("https://127.0.0.1:6333", "https is not supported"),
    ] {
        let (code, _, err) = ragperf(&[
            "run",
            "--no-progress",
            "-n",
            "1",
            "--qdrant-url",
            url,
            "--bedrock-url",
            "http://127.0.0.1:8000",
        ]);
        assert_eq!(code, 2, "{url}: {err}");
        assert!(
            err.contains("--qdrant-url:") && err.contains(says),
            "{url}: {err}"
        );
    }
}
