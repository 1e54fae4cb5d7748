//! `request.cpu_per_token_us` is real CPU spent on every received token, in every variant: the
//! process's CPU grows by about tokens × cost, and the ideal's service time by exactly that.
//! In `tests/process/`, where tests take turns, so no other test's CPU lands in the process
//! figures.

use crate::common;

use ragperf::pipeline::VariantKind;
use ragperf::result::VariantRun;

const COST_US: u64 = 200;

/// CPU seconds of the process during a run (mocks included: they do the same work in both runs).
fn cpu_s(r: &VariantRun) -> f64 {
    r.process.cpu_user_s + r.process.cpu_sys_s
}

#[test]
fn cpu_per_token_adds_up_to_tokens_times_the_cost() {
    let _turn = crate::serial();
    // 40 requests of 60 tokens (20 ms to the first, 2 ms apart), 4 users.
    let mut s = common::fixed_scenario(0.0, 0.0, 20.0, 2.0, 60.0);
    s.load.requests = Some(40);
    s.load.workers = Some(4);
    let variants = [VariantKind::SyncStream, VariantKind::Async];
    let base = common::run(&common::plan(s.clone(), &variants, vec![common::closed(4)]));
    s.request.cpu_per_token_us = COST_US;
    let busy = common::run(&common::plan(s, &variants, vec![common::closed(4)]));
    for v in variants {
        let (b, w) = (
            common::variant(&base, v.name()),
            common::variant(&busy, v.name()),
        );
        assert_eq!(w.counters.ok, 40, "{}", v.name());
        let tokens = w.counters.tokens as f64;
        assert!(tokens >= 40.0 * 60.0, "{}: {tokens} tokens", v.name());
        let expected = tokens * COST_US as f64 / 1e6;
        let extra = cpu_s(w) - cpu_s(b);
        assert!(
            extra >= 0.5 * expected && extra <= 3.0 * expected,
            "{}: {extra:.3} s more CPU, expected about {expected:.3} s ({tokens} tokens x {COST_US} µs)",
            v.name()
        );
        // The timeline carries each stream's per-token CPU (drawn as a bar under the stream):
        // at least half of tokens x cost per request, none without the cost.
        assert!(!w.timeline.is_empty(), "{}: no timeline", v.name());
        for e in &w.timeline {
            assert!(
                e.token_cpu_us >= 60 * COST_US / 2,
                "{}: request {} spent {} µs in per-token CPU",
                v.name(),
                e.id,
                e.token_cpu_us
            );
        }
        assert!(
            b.timeline.iter().all(|e| e.token_cpu_us == 0),
            "{}",
            v.name()
        );
        // The ideal counts it too: 60 tokens x 200 µs more service time per request.
        let added = w.ideal.expected_service_s - b.ideal.expected_service_s;
        assert!(
            (added - 60.0 * COST_US as f64 / 1e6).abs() < 1e-6,
            "{}: service time grew by {added} s",
            v.name()
        );
    }
    assert_eq!(
        busy.scenario.request.cpu_per_token_us, COST_US,
        "in result.json"
    );
}
