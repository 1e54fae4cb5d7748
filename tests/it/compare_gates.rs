//! Gates decide the exit code, not the table: `--fail-on` replaces the defaults, a thresholds
//! file can loosen or switch off a gate per variant, informational metrics never fail, and the
//! output can go to a file for a PR comment.

use crate::compare_common;

use compare_common::{compare, edit, fixture, write};
use predicates::prelude::*;

/// Async's CPU per request up 60 % in every repetition.
fn cpu_regression() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = fixture();
    let mut cur = base.clone();
    edit(&mut cur, "async", |_, r| {
        r.process.cpu_user_s *= 1.6;
        r.process.cpu_sys_s *= 1.6;
        r.process.mock_cpu_s *= 1.6;
        r.process.sampler_cpu_s *= 1.6;
    });
    let b = write(dir.path(), "base.json", &base);
    let c = write(dir.path(), "cur.json", &cur);
    (dir, b, c)
}

#[test]
fn fail_on_replaces_the_default_gates() {
    let (_dir, b, c) = cpu_regression();
    // Default gates include cpu_per_request_ms=+25%.
    compare(&b, &c, &[])
        .code(1)
        .stdout(predicate::str::contains("**`cpu_per_request_ms`**"))
        .stdout(predicate::str::contains("+60.0% worse"));
    // Only throughput gated: the CPU change is shown as information, and passes.
    compare(
        &b,
        &c,
        &[
            "--fail-on",
            "requests_per_s=-5%",
            "--metrics",
            "cpu_per_request_ms",
        ],
    )
    .code(0)
    .stdout(predicate::str::contains("gates from --fail-on"))
    .stdout(predicate::str::contains("Informational metrics"));
    // A looser CPU gate passes too; a tighter one fails.
    compare(&b, &c, &["--fail-on", "cpu_per_request_ms=+80%"]).code(0);
    compare(&b, &c, &["--fail-on", "cpu_per_request_ms=+40%"]).code(1);
}

#[test]
fn a_thresholds_file_gates_per_variant() {
    let (dir, b, c) = cpu_regression();
    let gates = dir.path().join("gates.toml");
    std::fs::write(
        &gates,
        "metrics = [\"itl.p99\"]\n[fail_on]\ncpu_per_request_ms = \"+25%\"\n\
         [variant.async]\ncpu_per_request_ms = \"off\"\n",
    )
    .expect("write");
    let g = gates.to_str().expect("utf-8");
    compare(&b, &c, &["--thresholds", g])
        .code(0)
        .stdout(predicate::str::contains("gates.toml"))
        .stdout(predicate::str::contains("`itl.p99`"));
    // A flag overrides the file for every variant... but the per-variant `off` still holds.
    compare(
        &b,
        &c,
        &["--thresholds", g, "--fail-on", "cpu_per_request_ms=+10%"],
    )
    .code(0);
    std::fs::write(&gates, "[fail_on]\ncpu_per_request_ms = \"+25%\"\n").expect("write");
    compare(&b, &c, &["--thresholds", g]).code(1);
}

#[test]
fn output_goes_to_a_file_too() {
    let (dir, b, c) = cpu_regression();
    let md = dir.path().join("comment.md");
    let out = compare(&b, &c, &["--output", md.to_str().expect("utf-8")]).code(1);
    let written = std::fs::read_to_string(&md).expect("written");
    assert_eq!(written.as_bytes(), out.get_output().stdout.as_slice());
    assert!(written.starts_with("### ragperf compare: FAIL"));
}

#[test]
fn thresholds_naming_default_metrics_show_each_row_once_in_plain_words() {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = fixture();
    let mut cur = base.clone();
    // An informational metric gets much worse; no gate is touched.
    edit(&mut cur, "async", |_, r| {
        r.latency_ms.get_mut("ttft").expect("ttft").p50 *= 3.0;
    });
    let (b, c) = (
        write(dir.path(), "base.json", &base),
        write(dir.path(), "cur.json", &cur),
    );
    let gates = dir.path().join("gates.toml");
    // ttft.p50 is also a default informational metric: it must not appear twice.
    std::fs::write(&gates, "metrics = [\"ttft.p50\", \"itl.p99\"]\n").expect("write");
    let out = compare(&b, &c, &["--thresholds", gates.to_str().expect("utf-8")]).code(0);
    let text = String::from_utf8(out.get_output().stdout.clone()).expect("utf-8");
    let async_ttft = text
        .lines()
        .filter(|l| l.starts_with("| async |") && l.contains("`ttft.p50`"))
        .count();
    assert_eq!(async_ttft, 1, "{text}");
    assert!(text.starts_with("### ragperf compare: PASS"), "{text}");
    assert!(text.contains("worse (not gated)"), "{text}");
    assert!(!text.contains("regressed"), "{text}");
    // Only characters every font has: no emoji.
    assert!(
        !text
            .chars()
            .any(|ch| ('\u{1F000}'..='\u{1FAFF}').contains(&ch)
                || ('\u{2700}'..='\u{27BF}').contains(&ch)
                || ch == '\u{2705}'),
        "{text}"
    );
}
