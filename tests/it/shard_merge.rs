//! Shards and `ragperf merge` through the CLI: two shards opened at one `--start-at` merge
//! into an ordinary result (counts summed, percentiles of the union of the histograms) that
//! `report` renders and `compare` gates on; a missing shard is named; bad shard flags exit 2
//! before any load; Ctrl-C while waiting for `--start-at` exits 130 and writes nothing.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::schema_support::Schema;
use crate::shard_support;
use shard_support::{read, start_at as at, text, union_percentiles};

fn ragperf() -> Command {
    let mut c = Command::new(assert_cmd::cargo::cargo_bin("ragperf"));
    c.env_remove("RAGPERF_SHARDS")
        .env_remove("JOB_COMPLETION_INDEX");
    c
}

fn schema_errors(v: &Value) -> Vec<String> {
    Schema::result().errors(v)
}

#[test]
fn shards_at_one_instant_merge_into_a_result_that_reports_and_gates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let shards = dir.path().join("shards");
    let start_at = at(Duration::from_secs(5));
    let children: Vec<_> = (0..2)
        .map(|i| {
            ragperf()
                .args([
                    "run",
                    "-v",
                    "async",
                    "-c",
                    "5",
                    "-d",
                    "1s",
                    "--time-scale",
                    "0.02",
                ])
                .args(["--no-progress", "--shard", &format!("{i}/2"), "--start-at"])
                .arg(&start_at)
                .arg("--out")
                .arg(shards.join(format!("shard-{i}")))
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn a shard")
        })
        .collect();
    for c in children {
        let o = c.wait_with_output().expect("shard ran");
        assert!(o.status.success(), "{}", text(&o));
        assert!(
            text(&o).contains("the measurement window opens at"),
            "{}",
            text(&o)
        );
    }
    let files: Vec<PathBuf> = (0..2)
        .map(|i| shards.join(format!("shard-{i}/result.json")))
        .collect();
    let parts: Vec<Value> = files.iter().map(|f| read(f)).collect();
    for (i, p) in parts.iter().enumerate() {
        assert_eq!(p["shard"]["index"], i as u64);
        assert_eq!(p["shard"]["count"], 2);
        assert_eq!(p["shard"]["whole"]["points"][0]["concurrency"], 5);
        assert!(
            p["origin"]["build"]
                .as_str()
                .is_some_and(|b| b.starts_with("0."))
        );
        let clock = &p["runs"][0]["clock"];
        assert!(
            clock["window_start_utc"]
                .as_str()
                .is_some_and(|s| s.ends_with('Z'))
        );
        // The window opened on the instant (generously: a busy machine).
        let late = clock["start_at_late_ms"].as_f64().expect("late");
        assert!(
            (-5.0..1000.0).contains(&late),
            "opened {late} ms after --start-at"
        );
    }
    // Remainders to the lowest index: 3 + 2 users.
    assert_eq!(parts[0]["runs"][0]["point"]["concurrency"], 3);
    assert_eq!(parts[1]["runs"][0]["point"]["concurrency"], 2);

    // Merge the parent folder of the shard folders.
    let merged_dir = dir.path().join("merged");
    let o = ragperf()
        .args(["merge"])
        .arg(&shards)
        .arg("--out")
        .arg(&merged_dir)
        .output()
        .expect("merge");
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("merged 2 of 2 shard(s)"), "{}", text(&o));
    let merged = read(&merged_dir.join("result.json"));
    assert!(
        schema_errors(&merged).is_empty(),
        "{:?}",
        schema_errors(&merged)
    );
    let run = &merged["runs"][0];
    assert_eq!(run["point"]["concurrency"], 5);
    for counter in ["sent", "ok", "failed", "tokens"] {
        let sum: u64 = parts
            .iter()
            .map(|p| p["runs"][0]["counters"][counter].as_u64().unwrap_or(0))
            .sum();
        assert_eq!(run["counters"][counter], sum, "{counter}");
    }
    assert!(run["counters"]["ok"].as_u64().unwrap_or(0) > 0);
    for name in ["e2e", "ttft"] {
        let expected = serde_json::to_value(union_percentiles(&parts, name)).expect("json");
        assert_eq!(run["latency_ms"][name], expected, "{name}");
    }
    assert_eq!(run["shards"].as_array().map(Vec::len), Some(2));
    let eff = run["ideal"]["efficiency"].as_f64().unwrap_or(9.0);
    let err = run["ideal"]["efficiency_error"].as_f64().unwrap_or(0.0);
    assert!(eff > 0.0 && eff <= 1.0 + err, "{eff} ± {err}");

    // `report` renders it.
    let rendered = dir.path().join("rendered");
    let o = ragperf()
        .arg("report")
        .arg(&merged_dir)
        .arg("--out")
        .arg(&rendered)
        .output()
        .expect("report");
    assert!(o.status.success(), "{}", text(&o));
    let summary = std::fs::read_to_string(rendered.join("summary.md")).expect("summary");
    assert!(summary.contains("c=5"), "{summary}");
    assert!(summary.contains("from 2 of 2 shards"), "{summary}");
    assert!(rendered.join("index.html").is_file());

    // `compare` gates on it: the same result passes, a slower one fails the gate.
    let compare = |current: &Path| {
        ragperf()
            .arg("compare")
            .arg(merged_dir.join("result.json"))
            .arg(current)
            .args(["--fail-on", "e2e.p99=+10%"])
            .output()
            .expect("compare")
    };
    let o = compare(&merged_dir.join("result.json"));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let mut slower = merged.clone();
    if let Some(p99) = slower["runs"][0]["latency_ms"]["e2e"]["p99"].as_f64() {
        slower["runs"][0]["latency_ms"]["e2e"]["p99"] = Value::from(p99 * 3.0);
    }
    let slower_file = dir.path().join("slower.json");
    std::fs::write(&slower_file, slower.to_string()).expect("write");
    let o = compare(&slower_file);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));

    // A shard without a result is named: an error by default, merged with --allow-missing.
    let missing = dir.path().join("missing");
    std::fs::create_dir_all(missing.join("shard-1")).expect("mkdir");
    std::fs::create_dir_all(missing.join("shard-0")).expect("mkdir");
    std::fs::copy(&files[0], missing.join("shard-0/result.json")).expect("copy");
    let merge_missing = |extra: &[&str]| {
        ragperf()
            .arg("merge")
            .arg(&missing)
            .arg("--out")
            .arg(dir.path().join("merged-missing"))
            .args(extra)
            .output()
            .expect("merge")
    };
    let o = merge_missing(&[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("shard(s) 1 of 2 missing") && text(&o).contains("skipping"),
        "{}",
        text(&o)
    );
    let o = merge_missing(&["--allow-missing"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("MISSING shard(s) 1"), "{}", text(&o));
    let partial = read(&dir.path().join("merged-missing/result.json"));
    assert_eq!(partial["merged"]["missing"], serde_json::json!([1]));
    assert_eq!(partial["partial"], true);
    let summary =
        std::fs::read_to_string(dir.path().join("merged-missing/summary.md")).expect("summary");
    assert!(summary.contains("Shard(s) 1 MISSING"), "{summary}");
}

#[test]
fn merge_refuses_a_result_that_is_no_shard_with_exit_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/report/result.json");
    let o = ragperf()
        .arg("merge")
        .arg(&fixture)
        .arg("--out")
        .arg(dir.path())
        .output()
        .expect("merge");
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("report/result.json: field `shard`: is absent"),
        "{}",
        text(&o)
    );
    assert!(!dir.path().join("result.json").exists());
}

/// Flags, environment, and what the error must say.
type Case = (Vec<String>, Vec<(&'static str, &'static str)>, &'static str);

#[test]
fn bad_shard_flags_exit_2_naming_the_flag_before_any_load() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases: Vec<Case> = vec![
        (vec!["--shard".into(), "2/2".into()], vec![], "--shard:"),
        (
            vec!["--shards".into(), "2".into()],
            vec![],
            "JOB_COMPLETION_INDEX",
        ),
        (
            vec!["--shards".into(), "2".into()],
            vec![("JOB_COMPLETION_INDEX", "2")],
            "--shards:",
        ),
        (
            vec!["--shard".into(), "0/2".into()],
            vec![("RAGPERF_SHARDS", "2")],
            "use one of them",
        ),
        (
            vec!["--shard".into(), "1/2".into(), "-c".into(), "1".into()],
            vec![],
            "--concurrency:",
        ),
        (
            vec!["-c".into(), "1".into(), "--shards".into(), "2".into()],
            vec![("JOB_COMPLETION_INDEX", "1")],
            "leaves shard 1 with none",
        ),
        (
            vec!["--start-at".into(), at(Duration::ZERO).replace("T", "X")],
            vec![],
            "--start-at:",
        ),
        (
            vec!["--start-at".into(), "2020-01-01T00:00:00Z".into()],
            vec![],
            "in the past",
        ),
        (
            vec!["--start-at".into(), at(Duration::from_secs(3 * 86_400))],
            vec![],
            "h ahead",
        ),
        (
            vec![
                "-v".into(),
                "sync,async".into(),
                "--start-at".into(),
                at(Duration::from_secs(60)),
            ],
            vec![],
            "opens one measurement window",
        ),
    ];
    for (args, env, expected) in cases {
        let started = Instant::now();
        let o = ragperf()
            .args(["run", "-v", "async", "-d", "1s", "--no-progress", "--out"])
            .arg(dir.path())
            .args(&args)
            .envs(env.iter().copied())
            .output()
            .expect("run");
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        assert!(text(&o).contains(expected), "{args:?}: {}", text(&o));
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{args:?}: before any load"
        );
        assert!(!dir.path().join("result.json").exists(), "{args:?}");
    }
    // `sweep` shares the flags.
    let o = ragperf()
        .args([
            "sweep", "-v", "async", "-c", "1,4", "--shard", "1/2", "--out",
        ])
        .arg(dir.path())
        .output()
        .expect("sweep");
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--concurrency:"), "{}", text(&o));
}

#[test]
fn ctrl_c_while_waiting_for_start_at_exits_130_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let mut child = ragperf()
        .args(["run", "-v", "async", "-c", "2", "-d", "1s", "--no-progress"])
        .args(["--shard", "0/2", "--start-at"])
        .arg(at(Duration::from_secs(120)))
        .arg("--out")
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    std::thread::sleep(Duration::from_millis(1500));
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no stop after SIGINT"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let o = child.wait_with_output().expect("output");
    assert_eq!(status.code(), Some(130), "{}", text(&o));
    assert!(text(&o).contains("nothing was written"), "{}", text(&o));
    assert!(!out.join("result.json").exists(), "nothing half-written");
}
