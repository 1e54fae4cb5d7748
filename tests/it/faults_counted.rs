//! Faults injected by the mocks are counted by kind, and every sent request is accounted for.

use crate::common;

use ragperf::pipeline::VariantKind;

#[test]
fn faults_are_counted_by_kind_and_nothing_is_lost() {
    let mut s = common::fast_seed_scenario();
    s.faults.converse_stream.throttle = 0.3;
    s.faults.converse_stream.stream_cut = 0.2;
    s.faults.qdrant.server_error = 0.1;
    s.client.retry.max_attempts = 1;
    s.load.requests = Some(60);
    let result = common::run(&common::plan(
        s,
        &[VariantKind::Async, VariantKind::Sync],
        vec![common::closed(8)],
    ));
    for r in &result.runs {
        let c = &r.counters;
        assert_eq!(
            c.ok + c.failed + c.abandoned,
            c.sent,
            "{}: {c:?}",
            r.variant
        );
        assert_eq!(c.failed, c.failed_by_kind.values().sum::<u64>());
        assert!(
            c.failed_by_kind.get("throttled").copied().unwrap_or(0) > 0,
            "{}: {c:?}",
            r.variant
        );
        assert!(
            c.failed_by_kind.get("stream_cut").copied().unwrap_or(0) > 0,
            "{}: {c:?}",
            r.variant
        );
        assert!(
            c.failed_by_kind.get("server_error").copied().unwrap_or(0) > 0,
            "{}: {c:?}",
            r.variant
        );
        assert!(c.ok > 0);
        let mock = r.mock.as_ref().expect("mock stats");
        assert!(mock.outcomes["converse_stream"].contains_key("throttle"));
    }
}

#[test]
fn retries_recover_from_throttling_and_are_counted() {
    let mut s = common::fast_seed_scenario();
    s.faults.embed.throttle = 0.3;
    s.client.retry.max_attempts = 8;
    s.load.requests = Some(30);
    let result = common::run(&common::plan(
        s,
        &[VariantKind::Async],
        vec![common::closed(4)],
    ));
    let c = &common::variant(&result, "async").counters;
    assert!(c.retries > 0, "{c:?}");
    assert!(
        c.ok >= 29,
        "retries should absorb nearly every throttle: {c:?}"
    );
}
