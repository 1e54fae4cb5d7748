//! `ragperf calibrate`'s deeper probe: a service calibrated as one event loop whose probe did
//! not saturate it is measured again, levels and a probe at twice the users, under
//! `OUT/probe-U/`; the model takes that pass, the first stays in `calibration.json` and the
//! header, and `--from` reads the second pass's phases again. The service is
//! `ragperf-synthetic-target` with a pool larger than any probe and almost no CPU, so neither
//! probe queues; it is taken as an event loop with `--variant async-single` (the decision reads
//! the variant calibrate settles on, detected or given).

use serde_json::Value;
use target_support::{free_port, ragperf};

use crate::target_support;

fn read_json(p: &std::path::Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).expect("read")).expect("json")
}

/// What [`calibrate_light_loop`] ran: its temporary directory (kept alive), the calibration's
/// `--out`, the target's URL, and calibrate's exit code, stdout and stderr.
struct Calibrated {
    _dir: tempfile::TempDir,
    out: std::path::PathBuf,
    url: String,
    code: i32,
    stdout: String,
    err: String,
}

/// A calibration, taken as one event loop (`--variant async-single`) and with `extra`, of a
/// synthetic target with ~0.6 ms of CPU per 100-token answer and a thread for each of 64
/// streams: 48 users keep it under a core, and nobody waits for a thread.
fn calibrate_light_loop(extra: &[&str]) -> Calibrated {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("cal");
    let port = free_port();
    let cmd = format!(
        "{} --port {port} --pool 64 --cpu-per-request-us 100 --cpu-per-token-us 5",
        env!("CARGO_BIN_EXE_ragperf-synthetic-target"),
    );
    let url = format!("http://127.0.0.1:{port}/chat/stream");
    let args: Vec<&str> = ["--no-probe-check", "--variant", "async-single"]
        .into_iter()
        .chain(extra.iter().copied())
        .collect();
    let (code, stdout, err) = crate::calibrate::calibrate_synthetic(&url, &cmd, &out, &args);
    Calibrated {
        _dir: dir,
        out,
        url,
        code,
        stdout,
        err,
    }
}

#[test]
fn an_event_loop_its_probe_did_not_saturate_is_measured_again_with_twice_the_users() {
    let Calibrated {
        _dir,
        out,
        url,
        code,
        stdout,
        err,
    } = calibrate_light_loop(&[]);
    assert_eq!(code, 0, "{err}");
    let cal = read_json(&out.join("calibration.json"));
    assert_eq!(cal["shape"]["variant"], "async-single", "{cal:#}");
    assert!(
        err.contains("the event loop's probe at 24 users took only")
            && err.contains("the levels and a probe at 48 users again"),
        "{err}"
    );
    // The first pass, kept: its probes at 24 users, both answer lengths, and how little the
    // long answers' probe stretched.
    let d = &cal["deeper_probe"];
    assert_eq!(d["first_users"], 24, "{d:#}");
    assert_eq!(d["users"], 48, "{d:#}");
    let stretch = d["first_stretch"].as_f64().expect("first_stretch");
    assert!(stretch > 0.0 && stretch < 1.8, "{d:#}");
    let users = |obs: &Value, probe: bool| -> Vec<u64> {
        obs.as_array()
            .expect("observations")
            .iter()
            .filter(|o| o["probe"] == probe)
            .map(|o| o["concurrency"].as_u64().expect("users"))
            .collect()
    };
    assert_eq!(users(&d["first_pass"], true), vec![24, 24], "{d:#}");
    assert_eq!(users(&d["first_pass"], false), vec![1, 4, 1, 4], "{d:#}");
    // The model's pass: the same levels, the probe at 48.
    assert_eq!(users(&cal["observations"], true), vec![48, 48], "{cal:#}");
    assert_eq!(
        users(&cal["observations"], false),
        vec![1, 4, 1, 4],
        "{cal:#}"
    );
    // Both passes written, each phase an ordinary result.
    for phase in [
        "tokens-5",
        "tokens-100",
        "probe-48/tokens-5",
        "probe-48/tokens-100",
    ] {
        assert!(out.join(phase).join("result.json").is_file(), "{phase}");
    }
    let second = read_json(&out.join("probe-48/tokens-100/result.json"));
    let runs: Vec<u64> = second["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .map(|r| r["point"]["concurrency"].as_u64().expect("users"))
        .collect();
    assert_eq!(runs, vec![1, 4, 48], "{runs:?}");
    // The header says why and shows the first probes.
    let toml = std::fs::read_to_string(out.join("calibrated.toml")).expect("scenario");
    assert!(
        toml.contains("the levels and a probe at 48 users were measured again")
            && toml.contains("--no-deeper-probe"),
        "{toml}"
    );
    let first_rows = toml
        .lines()
        .filter(|l| l.starts_with("#      24 ") && l.contains(" first "))
        .count();
    assert_eq!(first_rows, 2, "{toml}");
    assert!(
        stdout.contains("the first pass's probes at 24 users"),
        "{stdout}"
    );
    // `--from` reads the model's pass again from probe-48/ (every point: 6), and keeps the
    // first pass.
    let saved = out.join("calibration.json");
    let (code, _, err) = ragperf(&[
        "calibrate",
        "--target",
        &url,
        "--time-scale",
        "0.05",
        "--from",
        saved.to_str().expect("utf-8 path"),
        "--no-probe-check",
        "--variant",
        "async-single",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("(nothing measured; 6 read again"), "{err}");
    let again = read_json(&saved);
    assert_eq!(again["deeper_probe"], cal["deeper_probe"], "{again:#}");
    assert_eq!(users(&again["observations"], true), vec![48, 48]);
}

#[test]
fn no_deeper_probe_keeps_the_first_and_says_the_loop_was_not_saturated() {
    let Calibrated {
        _dir,
        out,
        code,
        stdout,
        err,
        ..
    } = calibrate_light_loop(&["--no-deeper-probe"]);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("a probe at 48 users again"), "{err}");
    assert!(!out.join("probe-48").exists());
    let cal = read_json(&out.join("calibration.json"));
    assert!(cal.get("deeper_probe").is_none(), "{cal:#}");
    // The notes say how far the kept probe was from saturation: under 1.25× "did not queue",
    // under 1.8× "not saturated", above that nothing (a loaded machine can stretch it).
    let e2e = |users: u64| {
        cal["observations"]
            .as_array()
            .expect("observations")
            .iter()
            .find(|o| o["concurrency"] == users && o["tokens_setting"] == 100)
            .and_then(|o| o["e2e_p50_ms"].as_f64())
            .expect("an e2e p50")
    };
    let stretch = e2e(24) / e2e(4);
    let unqueued = stdout.contains("at 100 tokens the probe's requests did not queue");
    let shallow = stdout.contains("the event loop's probe at 24 users took only");
    assert_eq!(unqueued, stretch < 1.25, "{stretch}\n{stdout}");
    assert_eq!(
        shallow,
        (1.25..1.8).contains(&stretch),
        "{stretch}\n{stdout}"
    );
}
