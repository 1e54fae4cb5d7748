//! Ctrl-C stops the load, drains, and still writes what was measured, marked partial.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn sigint_writes_a_partial_result() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("ragperf"))
        .args([
            "run",
            "--variant",
            "async",
            "-c",
            "4",
            "--time-scale",
            "0.01",
            "--duration",
            "60s",
            "--no-progress",
            "--out",
        ])
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ragperf");
    // Let it measure for a while, then interrupt.
    std::thread::sleep(Duration::from_millis(2500));
    // SAFETY: sending a signal to our own child process.
    let rc = unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    assert_eq!(rc, 0);
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "ragperf did not stop after SIGINT"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(130), "partial runs exit 130");
    let text = std::fs::read_to_string(dir.path().join("result.json")).expect("result written");
    let v: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    assert_eq!(v["partial"], serde_json::json!(true));
    let run = &v["runs"][0];
    assert_eq!(run["variant"], "async");
    assert_eq!(run["drive"]["interrupted"], serde_json::json!(true));
    assert!(
        run["counters"]["ok"].as_u64().unwrap_or(0) > 0,
        "it measured before the stop"
    );
}

fn wait_for(child: &mut std::process::Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let started = Instant::now();
    loop {
        if let Some(s) = child.try_wait().expect("wait") {
            return Some(s);
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn signal(child: &std::process::Child, sig: libc::c_int) {
    // SAFETY: sending a signal to our own child process.
    let rc = unsafe { libc::kill(child.id() as i32, sig) };
    assert_eq!(rc, 0);
}

#[test]
fn sigterm_behaves_like_sigint_and_exits_143() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("ragperf"))
        .args([
            "run",
            "--variant",
            "async",
            "-c",
            "4",
            "--time-scale",
            "0.01",
            "--duration",
            "60s",
            "--no-progress",
            "--out",
        ])
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn ragperf");
    std::thread::sleep(Duration::from_millis(2500));
    signal(&child, libc::SIGTERM);
    let status = wait_for(&mut child, Duration::from_secs(30)).expect("stopped after SIGTERM");
    assert_eq!(status.code(), Some(143), "128 + SIGTERM");
    let text = std::fs::read_to_string(dir.path().join("result.json")).expect("result written");
    let v: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    assert_eq!(v["partial"], serde_json::json!(true));
    assert_eq!(
        v["runs"][0]["drive"]["interrupted"],
        serde_json::json!(true)
    );
    assert!(v["runs"][0]["counters"]["ok"].as_u64().unwrap_or(0) > 0);
}

/// A backend that accepts connections and never answers a byte.
fn black_hole() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming().flatten() {
            held.push(s);
        }
    });
    url
}

#[test]
fn a_signal_in_every_phase_against_a_silent_backend_stops_promptly() {
    // Against a backend that never answers, a run passes through: the stats calls before the
    // load (3 s timeouts each), the load, the drain of requests that will never finish, and
    // the stats calls after. A signal in any of them ends the process within a few seconds,
    // with the partial result written.
    let url = black_hole();
    let phases = [
        ("stats before the load", 1_000, libc::SIGINT),
        ("stats before the load (SIGTERM)", 4_000, libc::SIGTERM),
        ("load or drain", 10_500, libc::SIGINT),
        ("drain or stats after", 13_500, libc::SIGINT),
    ];
    let spawned: Vec<_> = phases
        .iter()
        .map(|(name, _, _)| {
            let dir = tempfile::tempdir().expect("tempdir");
            let child = Command::new(assert_cmd::cargo::cargo_bin("ragperf"))
                .args([
                    "run",
                    "--variant",
                    "async,sync",
                    "-c",
                    "2",
                    "--warmup",
                    "0s",
                    "--ramp",
                    "0s",
                    "--duration",
                    "2s",
                    "--no-progress",
                    "--qdrant-url",
                    &url,
                    "--bedrock-url",
                    &url,
                    "--out",
                ])
                .arg(dir.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("spawn ragperf for {name}: {e}"));
            (child, dir)
        })
        .collect();
    let t0 = Instant::now();
    let mut spawned: Vec<_> = spawned.into_iter().zip(phases).collect();
    spawned.sort_by_key(|(_, (_, at, _))| *at);
    for ((mut child, dir), (name, at_ms, sig)) in spawned {
        let at = Duration::from_millis(at_ms);
        std::thread::sleep(at.saturating_sub(t0.elapsed()));
        signal(&child, sig);
        let signalled = Instant::now();
        let status = wait_for(&mut child, Duration::from_secs(8))
            .unwrap_or_else(|| panic!("{name}: still running 8 s after the signal"));
        let expected = if sig == libc::SIGTERM { 143 } else { 130 };
        assert_eq!(status.code(), Some(expected), "{name}");
        assert!(signalled.elapsed() < Duration::from_secs(8), "{name}");
        let text = std::fs::read_to_string(dir.path().join("result.json"))
            .unwrap_or_else(|e| panic!("{name}: no result.json: {e}"));
        let v: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(v["partial"], serde_json::json!(true), "{name}");
    }
}
