//! `ragperf compare` verdicts on edited copies of a real result: identical files pass, a 30 %
//! p99 regression fails naming the metric, an improvement passes as improved, and a large
//! median change whose repetitions overlap is "within noise" (while the same numbers as single
//! runs would fail on the limit alone).

use crate::compare_common;

use compare_common::{compare, edit, fixture, fixture_path, single_run, write};
use predicates::prelude::*;

fn json_rows(stdout: &[u8]) -> Vec<serde_json::Value> {
    let v: serde_json::Value = serde_json::from_slice(stdout).expect("--json prints JSON");
    assert_eq!(v["schema"], "ragperf.compare.v1");
    v["rows"].as_array().expect("rows").clone()
}

fn row<'a>(rows: &'a [serde_json::Value], variant: &str, metric: &str) -> &'a serde_json::Value {
    rows.iter()
        .find(|r| r["variant"] == variant && r["metric"] == metric)
        .unwrap_or_else(|| panic!("no row for {variant} {metric}"))
}

#[test]
fn identical_results_pass_with_every_row_within_noise() {
    let path = fixture_path();
    let out = compare(&path, &path, &["--json"]).success();
    let rows = json_rows(&out.get_output().stdout);
    assert!(rows.len() >= 2 * 6, "{} rows", rows.len());
    for r in &rows {
        assert_eq!(r["verdict"], "within_noise", "{r}");
    }
    compare(&path, &path, &[])
        .code(0)
        .stdout(predicate::str::contains("PASS, no gated regression"));
}

#[test]
fn a_thirty_percent_p99_regression_fails_naming_the_metric() {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = fixture();
    let mut cur = base.clone();
    edit(&mut cur, "async", |_, r| {
        r.latency_ms.get_mut("e2e").expect("e2e").p99 *= 1.3;
    });
    let (b, c) = (
        write(dir.path(), "base.json", &base),
        write(dir.path(), "cur.json", &cur),
    );
    compare(&b, &c, &[])
        .code(1)
        .stdout(predicate::str::contains("FAIL, 1 gated regression"))
        .stdout(predicate::str::contains("`async` c=16 **`e2e.p99`**"))
        .stdout(predicate::str::contains("+30.0% worse, limit +20%"))
        .stdout(predicate::str::contains("95% CI"));
    let out = compare(&b, &c, &["--json"]).code(1);
    let rows = json_rows(&out.get_output().stdout);
    let r = row(&rows, "async", "e2e.p99");
    assert_eq!(r["verdict"], "regressed");
    assert_eq!(r["gated"], true);
    assert_eq!(r["method"], "bootstrap");
    assert!(
        (r["change"].as_f64().expect("change") - 0.30).abs() < 1e-9,
        "{r}"
    );
    // The unchanged variant is untouched.
    assert_eq!(row(&rows, "sync", "e2e.p99")["verdict"], "within_noise");

    // Single runs: no interval, the limit alone decides, and says so.
    let (mut b1, mut c1) = (base, cur);
    single_run(&mut b1);
    single_run(&mut c1);
    let (b1, c1) = (
        write(dir.path(), "b1.json", &b1),
        write(dir.path(), "c1.json", &c1),
    );
    compare(&b1, &c1, &[])
        .code(1)
        .stdout(predicate::str::contains("**`e2e.p99`**"))
        .stdout(predicate::str::contains("limit only (1 vs 1 run)"));
}

#[test]
fn an_improvement_passes_and_is_reported_as_improved() {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = fixture();
    let mut cur = base.clone();
    edit(&mut cur, "sync", |_, r| {
        r.throughput.requests_per_s *= 1.3;
        r.latency_ms.get_mut("e2e").expect("e2e").p50 *= 0.7;
    });
    let (b, c) = (
        write(dir.path(), "base.json", &base),
        write(dir.path(), "cur.json", &cur),
    );
    compare(&b, &c, &[])
        .code(0)
        .stdout(predicate::str::contains("PASS, no gated regression"))
        .stdout(predicate::str::contains("**Improvements**"))
        .stdout(predicate::str::contains("`sync` c=16 **`requests_per_s`**"));
    let out = compare(&b, &c, &["--json"]).code(0);
    let rows = json_rows(&out.get_output().stdout);
    assert_eq!(row(&rows, "sync", "requests_per_s")["verdict"], "improved");
    assert_eq!(row(&rows, "sync", "e2e.p50")["verdict"], "improved");
}

#[test]
fn overlapping_noisy_repeats_are_within_noise() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut base = fixture();
    let mut cur = base.clone();
    // Medians 100 → 125 ms (+25 %, beyond the +20 % limit), but the repetitions interleave.
    let set = |values: [f64; 3]| {
        move |rep: u32, r: &mut ragperf::result::VariantRun| {
            r.latency_ms.get_mut("e2e").expect("e2e").p99 = values[rep as usize % 3];
        }
    };
    edit(&mut base, "async", set([100.0, 130.0, 90.0]));
    edit(&mut cur, "async", set([125.0, 95.0, 135.0]));
    let (b, c) = (
        write(dir.path(), "base.json", &base),
        write(dir.path(), "cur.json", &cur),
    );
    let out = compare(&b, &c, &["--json"]).code(0);
    let rows = json_rows(&out.get_output().stdout);
    let r = row(&rows, "async", "e2e.p99");
    assert_eq!(r["verdict"], "within_noise", "{r}");
    assert!((r["change"].as_f64().expect("change") - 0.25).abs() < 1e-9);
    assert!(r["low"].as_f64().expect("low") < 0.0 && r["high"].as_f64().expect("high") > 0.0);

    // The same medians without repetitions would be a regression: the interval is what
    // keeps noise from failing CI.
    single_run(&mut base);
    single_run(&mut cur);
    edit(&mut base, "async", set([100.0, 100.0, 100.0]));
    edit(&mut cur, "async", set([125.0, 125.0, 125.0]));
    let (b1, c1) = (
        write(dir.path(), "b1.json", &base),
        write(dir.path(), "c1.json", &cur),
    );
    compare(&b1, &c1, &[]).code(1);
}

#[test]
fn results_of_different_builds_are_compared_with_a_warning() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut base = fixture();
    base.machine.build_profile = "release".into();
    let mut cur = fixture();
    cur.machine.build_profile = "debug".into();
    let (b, c) = (
        write(dir.path(), "b.json", &base),
        write(dir.path(), "c.json", &cur),
    );
    compare(&b, &c, &[])
        .code(0)
        .stdout(predicate::str::contains("build profiles differ"))
        .stdout(predicate::str::contains("release build"));
    // Results from before the profile was recorded (empty) carry no such note.
    cur.machine.build_profile.clear();
    let c = write(dir.path(), "c2.json", &cur);
    compare(&b, &c, &[])
        .code(0)
        .stdout(predicate::str::contains("build profiles differ").not());
}
