//! A run against external backends checks them first: mocks started with another time scale
//! are read from their stats route (`settings`) and the run's ideal follows what they inject;
//! swapped URLs and a dead port are named, and the failures carry a hint.

use crate::common;

use std::time::Duration;

use mock_services::{Bind, MockServices};
use ragperf::export;
use ragperf::pipeline::VariantKind;

#[test]
fn mocks_at_another_time_scale_are_detected_and_followed() {
    // The mock injects 0.01 x the seed's latencies; the run's scenario says 0.1 (10x slower):
    // without the check its ideal would be 10x too low and efficiency ~1,000 %.
    let mut mock_scenario = common::fast_seed_scenario();
    mock_scenario.time_scale = 0.01;
    let mocks = MockServices::start_on_own_runtime(mock_scenario.mock_config(), Bind::default(), 2)
        .expect("mocks start");
    let (q, b) = (
        mocks.services().qdrant_url(),
        mocks.services().bedrock_url(),
    );
    let mut s = common::fast_seed_scenario();
    s.time_scale = 0.1;
    s.load.duration = Some(Duration::from_millis(500));
    let plan = common::plan_with_flags(
        s,
        &[VariantKind::Async],
        vec![common::closed(4)],
        &["--qdrant-url", &q, "--bedrock-url", &b],
    );
    let result = common::run(&plan);
    let notes = result.backends.notes.join("\n");
    assert!(notes.contains("differ: time_scale"), "{notes}");
    assert!(notes.contains("time scale 0.01 there, 0.1 here"), "{notes}");
    assert_eq!(
        result.scenario.time_scale, 0.01,
        "the mocks' settings are adopted"
    );
    let r = &result.runs[0];
    assert!(r.counters.ok > 0);
    assert!(
        r.ideal.efficiency <= 1.0 + r.ideal.efficiency_error,
        "efficiency {} ± {}",
        r.ideal.efficiency,
        r.ideal.efficiency_error
    );
    assert!(export::table::render(&result).contains("warning: the mocks at"));
    mocks.shutdown(Duration::from_millis(200));
}

#[test]
fn swapped_urls_and_a_dead_port_are_named_with_hints() {
    let mocks = MockServices::start_on_own_runtime(
        common::fast_seed_scenario().mock_config(),
        Bind::default(),
        2,
    )
    .expect("mocks start");
    let (q, b) = (
        mocks.services().qdrant_url(),
        mocks.services().bedrock_url(),
    );
    let mut s = common::fast_seed_scenario();
    s.load.duration = Some(Duration::from_millis(300));
    s.client.retry.max_attempts = 1;
    let plan = common::plan_with_flags(
        s.clone(),
        &[VariantKind::Async],
        vec![common::closed(2)],
        &["--qdrant-url", &b, "--bedrock-url", &q],
    );
    let result = common::run(&plan);
    let notes = result.backends.notes.join("\n");
    assert!(notes.contains("look swapped"), "{notes}");
    let table = export::table::render(&result);
    assert!(table.contains("URLs swapped"), "{table}");
    assert_eq!(result.runs[0].counters.ok, 0);

    // A port nothing listens on (bound then released).
    let dead = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = dead.local_addr().expect("addr").port();
    drop(dead);
    let dead_url = format!("http://127.0.0.1:{port}");
    let plan = common::plan_with_flags(
        s,
        &[VariantKind::Async],
        vec![common::closed(2)],
        &["--qdrant-url", &q, "--bedrock-url", &dead_url],
    );
    let result = common::run(&plan);
    let notes = result.backends.notes.join("\n");
    assert!(
        notes.contains("nothing answered at --bedrock-url"),
        "{notes}"
    );
    let table = export::table::render(&result);
    assert!(table.contains("wrong port"), "{table}");
    // summary.md does not blame CPU for requests that failed.
    let summary = export::markdown::render(&result);
    assert!(
        !summary.contains("blocked runtime thread or CPU"),
        "{summary}"
    );
    mocks.shutdown(Duration::from_millis(200));
}
