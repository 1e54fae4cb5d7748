//! Every variant completes its requests with the right text and citations.

use crate::common;

use ragperf::pipeline::VariantKind;

#[test]
fn every_variant_completes_with_citations() {
    let mut s = common::fast_seed_scenario();
    s.load.requests = Some(12);
    let result = common::run(&common::plan(s, &VariantKind::ALL, vec![common::closed(4)]));
    assert!(!result.partial);
    assert_eq!(result.runs.len(), VariantKind::ALL.len());
    for r in &result.runs {
        let c = &r.counters;
        assert_eq!(c.sent, 12, "{}", r.variant);
        assert_eq!(c.ok, 12, "{}: {:?}", r.variant, c.failed_by_kind);
        assert_eq!(c.failed, 0, "{}", r.variant);
        assert_eq!(
            c.citation_mismatches, 0,
            "{}: answers must cite retrieved passages",
            r.variant
        );
        assert!(c.tokens >= 12 * 60, "{}: {} tokens", r.variant, c.tokens);
        assert_eq!(r.latency_ms["e2e"].count, 12);
        assert!(r.latency_ms["itl"].count > 0);
        assert!(r.throughput.requests_per_s > 0.0);
        // The mocks saw exactly our requests.
        let mock = r.mock.as_ref().expect("embedded mocks report stats");
        assert_eq!(mock.requests["converse_stream"], 12, "{}", r.variant);
        assert_eq!(mock.tokens_sent, c.tokens, "{}", r.variant);
    }
}
