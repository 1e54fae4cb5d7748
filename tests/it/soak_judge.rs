//! `scripts/soak_judge.py`, the verdict of `scripts/soak.sh`, on synthetic samples: a series that
//! only scatters passes, one that grows steadily fails even when its last sample happens to be
//! low, and a request missing from the accounting fails.

use std::path::Path;
use std::process::Command;

/// Writes `samples.csv` (10 s apart over `minutes`) and `run/result.json`, runs the judge.
fn judge(dir: &Path, minutes: u32, rss: impl Fn(f64) -> f64, lost: u64) -> (bool, String) {
    let mut csv = String::from("t_s,ragperf_rss_kib,ragperf_fds,mock_rss_kib,mock_fds\n");
    for i in 0..=(minutes * 6) {
        let t = f64::from(i * 10);
        // Noise that a single-sample comparison would call drift: ±4 % alternating.
        let wobble = if i.is_multiple_of(2) { 1.04 } else { 0.96 };
        csv.push_str(&format!(
            "{t},{:.0},{:.0},50000,{:.0}\n",
            rss(t),
            1000.0 * wobble,
            1000.0 * wobble
        ));
    }
    std::fs::write(dir.join("samples.csv"), csv).expect("samples");
    std::fs::create_dir_all(dir.join("run")).expect("run dir");
    let result = serde_json::json!({"runs": [{"variant": "async", "counters": {
        "ok": 1000 - lost, "failed": 0, "abandoned": 0, "never_sent": 0, "sent": 1000}}]});
    std::fs::write(dir.join("run/result.json"), result.to_string()).expect("result");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/soak_judge.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(dir)
        .arg(minutes.to_string())
        .arg("0")
        .output()
        .expect("python3 runs scripts/soak_judge.py");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.success(), text)
}

#[test]
fn scatter_passes_a_steady_leak_fails_and_nothing_may_be_lost() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Flat with ±4 % scatter (and a last sample 8 % under the first): no drift.
    let wobble = |t: f64| {
        let high = ((t / 10.0) as u64).is_multiple_of(2) && t < 600.0;
        70_000.0 * if high { 1.04 } else { 0.96 }
    };
    let (ok, text) = judge(dir.path(), 10, wobble, 0);
    assert!(ok, "{text}");
    assert!(text.contains("ok   ragperf RSS"), "{text}");
    // The last sample against the first says -7.7 %, and the summary prints it beside the trend.
    assert!(text.contains("72800 -> 67200 (-7.7 %)"), "{text}");

    // +10 % over the span, ending on a low sample: the trend sees it.
    let leak = |t: f64| {
        let base = 70_000.0 * (1.0 + 0.1 * (t - 60.0).max(0.0) / 540.0);
        if t >= 600.0 { base * 0.95 } else { base }
    };
    let (ok, text) = judge(dir.path(), 10, leak, 0);
    assert!(!ok, "{text}");
    assert!(text.contains("FAIL ragperf RSS"), "{text}");
    assert!(text.trim_end().ends_with("FAIL"), "{text}");

    // One request unaccounted for.
    let (ok, text) = judge(dir.path(), 10, |_| 70_000.0, 1);
    assert!(!ok, "{text}");
    assert!(text.contains("FAIL nothing lost"), "{text}");
}
