//! The merge rules (every refusal with its message) and the arithmetic of a merge, on shards
//! cut from the committed report fixture (a real sweep result).

use std::path::PathBuf;

use mock_services::hist::{self, Percentiles};

use super::{combine, rules};
use crate::result::RunResult;
use crate::shard::{Origin, ShardInfo, WholeLoad, WindowClock};

const T0_US: u64 = 1_796_162_400_000_000;

fn fixture() -> RunResult {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/report/result.json");
    RunResult::read(&path).expect("the committed fixture reads")
}

fn histogram(from_ms: u64, to_ms: u64) -> hdrhistogram::Histogram<u64> {
    let mut h = hist::new_us();
    for ms in from_ms..=to_ms {
        hist::record_us(&mut h, ms * 1000 + 17);
    }
    h
}

/// Shard `index` of `count`: the fixture with its e2e histogram replaced (shards differ), a
/// window of 2 s opening at T0 + `offset_ms`.
fn shard(index: u32, count: u32, offset_ms: u64) -> (PathBuf, RunResult) {
    let mut r = fixture();
    r.origin = Some(Origin {
        host: format!("host-{index}"),
        build: "0.1.0+abc".into(),
    });
    r.shard = Some(ShardInfo {
        index,
        count,
        whole: WholeLoad {
            points: r.plan.points.clone(),
            requests: None,
        },
        start_at: None,
    });
    let h = histogram(10 + 100 * u64::from(index), 500 + 700 * u64::from(index));
    for run in &mut r.runs {
        run.histograms.insert("e2e".into(), hist::encode_b64(&h));
        run.latency_ms.insert("e2e".into(), Percentiles::of_us(&h));
        let start = T0_US + offset_ms * 1000;
        run.clock = Some(WindowClock {
            epoch_unix_us: start - 1_000_000,
            window_start_unix_us: start,
            window_end_unix_us: start + 2_000_000,
            window_start_utc: String::new(),
            start_at_late_ms: None,
        });
    }
    (PathBuf::from(format!("shards/{index}/result.json")), r)
}

fn refusal(shards: &[(PathBuf, RunResult)]) -> String {
    let e = rules::check(shards, false).expect_err("must be refused");
    assert!(
        e.chain().any(|c| c.is::<rules::MergeError>()),
        "a MergeError (exit 2): {e:#}"
    );
    format!("{e:#}")
}

#[test]
fn shards_of_one_load_pass() {
    let missing = rules::check(&[shard(0, 2, 0), shard(1, 2, 3)], false).expect("ok");
    assert!(missing.is_empty());
}

#[test]
fn a_result_that_is_no_shard_is_refused() {
    let (f, mut r) = shard(1, 2, 0);
    r.shard = None;
    let e = refusal(&[shard(0, 2, 0), (f, r)]);
    assert!(
        e.contains("shards/1/result.json: field `shard`: is absent"),
        "{e}"
    );
}

#[test]
fn an_earlier_merge_is_no_shard() {
    let merged = combine::merge(&[shard(0, 2, 0), shard(1, 2, 0)], &[]).expect("merged");
    let e = refusal(&[
        shard(0, 2, 0),
        shard(1, 2, 0),
        ("merged.json".into(), merged),
    ]);
    assert!(
        e.contains("merged.json: field `shard`: is absent: this is the output of an earlier"),
        "{e}"
    );
}

#[test]
fn another_scenario_is_refused_naming_the_field() {
    let (f, mut r) = shard(1, 2, 0);
    r.scenario.time_scale *= 2.0;
    let e = refusal(&[shard(0, 2, 0), (f, r)]);
    assert!(
        e.contains("shards/1/result.json: field `scenario.time_scale`: differs from shards/0"),
        "{e}"
    );
}

#[test]
fn the_split_fields_may_differ_but_not_the_whole() {
    let (f, mut r) = shard(1, 2, 0);
    r.scenario.load.concurrency += 1;
    assert!(rules::check(&[shard(0, 2, 0), (f.clone(), r.clone())], false).is_ok());
    if let Some(s) = r.shard.as_mut() {
        s.whole.requests = Some(100);
    }
    let e = refusal(&[shard(0, 2, 0), (f, r)]);
    assert!(e.contains("field `shard.whole`"), "{e}");
}

#[test]
fn other_variants_are_refused() {
    let (f, mut r) = shard(1, 2, 0);
    r.plan.variants.reverse();
    let e = refusal(&[shard(0, 2, 0), (f, r)]);
    assert!(e.contains("field `plan.variants`: differs"), "{e}");
}

#[test]
fn another_build_is_refused() {
    let (f, mut r) = shard(1, 2, 0);
    if let Some(o) = r.origin.as_mut() {
        o.build = "0.1.0+def".into();
    }
    let e = refusal(&[shard(0, 2, 0), (f, r)]);
    assert!(
        e.contains("field `origin.build`") && e.contains("`0.1.0+def` vs `0.1.0+abc`"),
        "{e}"
    );
}

#[test]
fn a_shard_index_twice_is_refused() {
    let (_, r) = shard(0, 2, 0);
    let e = refusal(&[shard(0, 2, 0), (PathBuf::from("again.json"), r)]);
    assert!(
        e.contains("again.json: field `shard.index`: shard 0 of 2 is also in shards/0"),
        "{e}"
    );
}

#[test]
fn different_counts_are_refused() {
    let e = refusal(&[shard(0, 2, 0), shard(1, 3, 0)]);
    assert!(e.contains("field `shard.count`"), "{e}");
}

#[test]
fn windows_that_do_not_overlap_are_refused() {
    let e = refusal(&[shard(0, 2, 0), shard(1, 2, 2_500)]);
    assert!(
        e.contains("shards/1/result.json: field `runs[0].clock`: its window opens 0.500 s after"),
        "{e}"
    );
}

#[test]
fn a_missing_shard_is_named_unless_allowed() {
    let shards = [shard(0, 3, 0), shard(2, 3, 0)];
    let e = refusal(&shards);
    assert!(
        e.contains("field `shard.index`: shard(s) 1 of 3 missing (have 0, 2)")
            && e.contains("--allow-missing"),
        "{e}"
    );
    let missing = rules::check(&shards, true).expect("allowed");
    assert_eq!(missing, vec![1]);
    let merged = combine::merge(&shards, &missing).expect("merged");
    assert!(merged.partial, "a merge with a shard missing is partial");
    let info = merged.merged.as_ref().expect("merge info");
    assert_eq!((info.count, info.missing.clone()), (3, vec![1]));
    assert!(
        merged
            .backends
            .notes
            .iter()
            .any(|n| n.contains("shard(s) 1 MISSING")),
        "the summary names it: {:?}",
        merged.backends.notes
    );
}

#[test]
fn a_merge_adds_counts_and_histograms_and_bounds_efficiency() {
    let shards = [shard(1, 2, 40), shard(0, 2, 0)];
    let merged = combine::merge(&shards, &[]).expect("merged");
    let (a, b) = (&shards[1].1, &shards[0].1);
    assert!(merged.origin.is_none() && merged.shard.is_none());
    assert_eq!(merged.runs.len(), a.runs.len());
    for (k, m) in merged.runs.iter().enumerate() {
        let (x, y) = (&a.runs[k], &b.runs[k]);
        assert_eq!(m.counters.ok, x.counters.ok + y.counters.ok);
        assert_eq!(m.counters.sent, x.counters.sent + y.counters.sent);
        assert_eq!(
            m.point.concurrency,
            x.point.concurrency + y.point.concurrency
        );
        assert_eq!(m.shards.len(), 2);
        assert_eq!(m.shards[0].index, 0, "in shard order");
        // Percentiles of the union of the samples, exactly (same HDR buckets).
        let mut union = histogram(10, 500);
        union.add(histogram(110, 1200)).expect("add");
        assert_eq!(m.latency_ms["e2e"], Percentiles::of_us(&union));
        assert_eq!(m.latency_ms["e2e"].count, 491 + 1091);
        let rate = x.throughput.requests_per_s + y.throughput.requests_per_s;
        assert!((m.throughput.requests_per_s - rate).abs() < 1e-9);
        // The window common to both: 40 ms shorter than either.
        assert!(
            (m.throughput.window_s - 1.96).abs() < 1e-9,
            "{}",
            m.throughput.window_s
        );
        assert!(!merged.backends.notes.iter().any(|n| n.contains("overlap")));
        let bound = x.ideal.ideal_requests_per_s + y.ideal.ideal_requests_per_s;
        assert!((m.ideal.ideal_requests_per_s - bound).abs() < 1e-9);
        // Identical shards: the whole's efficiency is theirs.
        assert!((m.ideal.efficiency - x.ideal.efficiency).abs() < 1e-9);
        let cpu = x.process.cpu_user_s + y.process.cpu_user_s;
        assert!((m.process.cpu_user_s - cpu).abs() < 1e-9);
        assert_eq!(
            m.process.threads_peak,
            x.process.threads_peak.max(y.process.threads_peak)
        );
    }
}

#[test]
fn windows_that_barely_overlap_are_merged_with_a_note() {
    let merged = combine::merge(&[shard(0, 2, 0), shard(1, 2, 1_500)], &[]).expect("merged");
    assert!((merged.runs[0].throughput.window_s - 0.5).abs() < 1e-9);
    let provenance = crate::export::describe::provenance(&merged);
    assert!(
        provenance.contains("from 2 of 2 shards (0 on host-0, 1 on host-1)"),
        "{provenance}"
    );
    assert!(
        merged.backends.notes.iter().any(|n| n.contains(
            "overlap for only 0.50 s of 2.00 s, so the summed rates cover different times"
        )),
        "{:?}",
        merged.backends.notes
    );
}

#[test]
fn the_busiest_host_not_the_sum_tells_how_loaded_the_generators_were() {
    let shards = [shard(0, 2, 0), shard(1, 2, 0)];
    let merged = combine::merge(&shards, &[]).expect("merged");
    let (one, run) = (&shards[0].1, &merged.runs[0]);
    let own = crate::export::table::driver_load(one, &one.runs[0]).expect("a load");
    let whole = crate::export::table::driver_load(&merged, run).expect("a load");
    assert!(own.0 > 0.0);
    // Two identical hosts: each as busy as one, not twice as busy.
    assert!((whole.0 - own.0).abs() < 1e-9, "{whole:?} vs {own:?}");
    let cpu = 2.0 * one.runs[0].process.cpu_user_s;
    assert!((run.process.cpu_user_s - cpu).abs() < 1e-9);
    assert_eq!(run.process.window_s, one.runs[0].process.window_s);
}

#[test]
fn merged_efficiency_never_exceeds_its_stated_error() {
    // Two shards, each within its own bound: 110 % ± 10 % and 50 % ± 1 %.
    let (f0, mut r0) = shard(0, 2, 0);
    let (f1, mut r1) = shard(1, 2, 0);
    for (r, rate, ideal, err) in [(&mut r0, 11.0, 10.0, 0.1), (&mut r1, 1000.0, 2000.0, 0.01)] {
        for run in &mut r.runs {
            run.throughput.requests_per_s = rate;
            run.ideal.ideal_requests_per_s = ideal;
            run.ideal.efficiency = rate / ideal;
            run.ideal.efficiency_error = err;
        }
    }
    let merged = combine::merge(&[(f0, r0), (f1, r1)], &[]).expect("merged");
    let i = &merged.runs[0].ideal;
    assert!((i.efficiency - 1011.0 / 2010.0).abs() < 1e-9);
    assert!(i.efficiency <= 1.0 + i.efficiency_error);
}
