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
