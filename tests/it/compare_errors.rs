//! `ragperf compare` exits 2, with a message naming the file and what is wrong, when it cannot
//! compare: a variant or load point missing from the current file, a foreign schema, an
//! unreadable file, bad gates.

use crate::compare_common;

use compare_common::{compare, edit, fixture, fixture_path, write};
use predicates::prelude::*;

#[test]
fn a_variant_missing_from_the_current_file_is_exit_2_naming_both() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cur = fixture();
    cur.runs.retain(|r| r.variant != "async");
    let c = write(dir.path(), "cur.json", &cur);
    compare(&fixture_path(), &c, &[])
        .code(2)
        .stderr(predicate::str::contains("has no runs of variant `async`"))
        .stderr(predicate::str::contains("cur.json"))
        .stderr(predicate::str::contains("base.json"))
        .stdout(predicate::str::is_empty());
    // Comparing the subset both have is fine.
    compare(&fixture_path(), &c, &["--variants", "sync"]).code(0);
    // And a variant the baseline lacks is named too.
    compare(&fixture_path(), &c, &["--variants", "hybrid"])
        .code(2)
        .stderr(predicate::str::contains("`hybrid`"));
}

#[test]
fn a_different_load_point_is_exit_2_naming_the_points() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cur = fixture();
    edit(&mut cur, "sync", |_, r| r.point.concurrency = 32);
    let c = write(dir.path(), "cur.json", &cur);
    compare(&fixture_path(), &c, &[])
        .code(2)
        .stderr(predicate::str::contains("`sync` only at c=32"))
        .stderr(predicate::str::contains("at c=16"));
}

#[test]
fn a_schema_mismatch_or_unreadable_file_is_exit_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture_path()).expect("read"))
            .expect("json");
    v["schema"] = serde_json::json!("ragperf.result.v0");
    let old = dir.path().join("old.json");
    std::fs::write(&old, v.to_string()).expect("write");
    compare(&fixture_path(), &old, &[])
        .code(2)
        .stderr(predicate::str::contains("current:"))
        .stderr(predicate::str::contains("old.json"))
        .stderr(predicate::str::contains("schema is `ragperf.result.v0`"));

    let missing = dir.path().join("nope.json");
    compare(&missing, &fixture_path(), &[])
        .code(2)
        .stderr(predicate::str::contains("baseline: cannot read"))
        .stderr(predicate::str::contains("nope.json"));

    let garbage = dir.path().join("garbage.json");
    std::fs::write(&garbage, "{ not json").expect("write");
    compare(&fixture_path(), &garbage, &[])
        .code(2)
        .stderr(predicate::str::contains("invalid JSON"));
}

#[test]
fn bad_gates_and_flags_are_exit_2_with_the_fix() {
    let p = fixture_path();
    compare(&p, &p, &["--fail-on", "requests_per_s=+5%"])
        .code(2)
        .stderr(predicate::str::contains("requests_per_s=-5%"));
    compare(&p, &p, &["--fail-on", "latency=+5%"])
        .code(2)
        .stderr(predicate::str::contains("unknown metric `latency`"))
        .stderr(predicate::str::contains("e2e.p99"));
    compare(&p, &p, &["--metrics", "e2e.p95"])
        .code(2)
        .stderr(predicate::str::contains("--metrics"));
    compare(&p, &p, &["--confidence", "2"])
        .code(2)
        .stderr(predicate::str::contains("--confidence"));
    let dir = tempfile::tempdir().expect("tempdir");
    let gates = dir.path().join("gates.toml");
    std::fs::write(&gates, "[fail_on]\n\"e2e.p99\" = \"lots\"\n").expect("write");
    compare(&p, &p, &["--thresholds", gates.to_str().expect("utf-8")])
        .code(2)
        .stderr(predicate::str::contains("gates.toml"))
        .stderr(predicate::str::contains("e2e.p99"));
    // clap's own usage errors are exit 2 as well.
    compare(&p, &p, &["--no-such-flag"]).code(2);
}
