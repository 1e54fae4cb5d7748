//! `ragperf mock`: binds port 0, prints the bound URLs, serves both mocks with their stats
//! endpoint, and stops cleanly on Ctrl-C; a bad scenario names the field.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::cargo::cargo_bin;

fn get(url: &str) -> (u16, String) {
    let mut resp = ureq::get(url)
        .config()
        .http_status_as_error(false)
        .build()
        .call()
        .expect("request");
    let status = resp.status().as_u16();
    (status, resp.body_mut().read_to_string().expect("body"))
}

#[test]
fn serves_on_port_zero_and_stops_on_sigint() {
    let mut child = Command::new(cargo_bin("ragperf"))
        .args([
            "mock",
            "--qdrant",
            "127.0.0.1:0",
            "--bedrock",
            "127.0.0.1:0",
            "--time-scale",
            "0.01",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut url = |name: &str| -> String {
        let line = lines.next().expect("a line").expect("utf-8");
        let (label, url) = line.split_once(char::is_whitespace).expect("label and URL");
        assert_eq!(label, name);
        let url = url.trim().to_string();
        assert!(
            url.starts_with("http://127.0.0.1:") && !url.ends_with(":0"),
            "{url}"
        );
        url
    };
    let qdrant = url("qdrant");
    let bedrock = url("bedrock");

    let (status, body) = get(&format!("{qdrant}/collections/ragperf-demo/exists"));
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"exists\":true"), "{body}");
    let (status, body) = get(&format!("{bedrock}/__ragperf/stats"));
    assert_eq!(status, 200);
    let stats: serde_json::Value = serde_json::from_str(&body).expect("stats JSON");
    assert!(stats["operations"]["converse_stream"].is_object(), "{body}");

    // SAFETY: signalling our own child.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            assert!(status.success(), "clean exit on Ctrl-C, got {status}");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(15), "did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_bad_scenario_names_the_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "[faults.converse_stream]\nthrottle = 1.5\n").expect("write");
    let out = Command::new(cargo_bin("ragperf"))
        .args([
            "mock",
            "--qdrant",
            "127.0.0.1:0",
            "--bedrock",
            "127.0.0.1:0",
            "--scenario",
        ])
        .arg(&path)
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("faults.converse_stream.throttle"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}
