//! Unit tests of `src/calibrate/deeper.rs`: when an event loop's probe is measured again deeper.

use super::*;

fn at(c: usize, tokens: u32, probe: bool, e2e_ms: f64) -> Observation {
    Observation {
        concurrency: c,
        tokens_setting: tokens,
        probe,
        e2e_p50_ms: Some(e2e_ms),
        cpu_per_request_ms: Some(if probe { 103.2 } else { 150.0 }),
        server_cores: Some(if probe { 1.15 } else { 0.3 }),
        ..Observation::default()
    }
}

/// The seed's `async def` endpoint at time scale 1 (the fifteenth sitting): its 20-token probe
/// queued (2.75×), its 120-token probe barely (5333 ms against 4284 at 8 users: 1.24×).
fn fifteenth_ts1() -> Vec<Observation> {
    vec![
        at(2, 20, false, 1281.0),
        at(8, 20, false, 1283.0),
        at(64, 20, true, 3529.0),
        at(2, 120, false, 4178.0),
        at(8, 120, false, 4284.0),
        at(64, 120, true, 5333.0),
    ]
}

#[test]
fn an_event_loop_probe_that_stretched_little_is_measured_again_at_the_longest_answers() {
    let obs = fifteenth_ts1();
    // The longest answers decide, not the 20-token probe that queued.
    let (users, s) = needed(VariantKind::AsyncSingle, &obs).expect("not saturated");
    assert_eq!(users, 64);
    assert!((s - 5333.0 / 4284.0).abs() < 1e-9, "{s}");
    // A thread pool never: its unqueued probes have the burst phase.
    for v in [VariantKind::SyncStream, VariantKind::Sync] {
        assert_eq!(needed(v, &obs), None, "{v:?}");
    }
}

#[test]
fn a_saturated_event_loop_probe_is_kept() {
    // The same endpoint at time scale 0.25: 3719 ms at 64 users against 1139 at 8 (3.27×).
    let obs = vec![
        at(8, 20, false, 451.0),
        at(64, 20, true, 2839.0),
        at(8, 120, false, 1139.0),
        at(64, 120, true, 3719.0),
    ];
    assert_eq!(needed(VariantKind::AsyncSingle, &obs), None);
    assert_eq!(shallow_warning(VariantKind::AsyncSingle, &obs), None);
    // The 128-user probes at time scale 1 stretched 1.95× and 1.98×: saturated.
    let obs = vec![at(8, 120, false, 4350.0), at(128, 120, true, 8618.0)];
    assert_eq!(needed(VariantKind::AsyncSingle, &obs), None);
}

#[test]
fn no_e2e_figure_asks_for_nothing() {
    let mut obs = fifteenth_ts1();
    obs[5].e2e_p50_ms = None;
    assert_eq!(needed(VariantKind::AsyncSingle, &obs), None);
    assert_eq!(needed(VariantKind::AsyncSingle, &[]), None);
}

#[test]
fn the_note_names_both_probes_and_the_directory() {
    let first_pass = fifteenth_ts1();
    let d = DeeperProbe {
        first_users: 64,
        users: 128,
        first_stretch: 5333.0 / 4284.0,
        first_pass,
    };
    assert_eq!(pass_dir(Some(&d)), "probe-128/");
    assert_eq!(pass_dir(None), "");
    let second = vec![at(8, 120, false, 4350.0), at(128, 120, true, 8618.0)];
    let n = note(&d, &second);
    for part in [
        "64 users",
        "1.24×",
        "103.2 ms of CPU per 120-token answer on 1.15 cores",
        "128 users",
        "1.98×",
        "probe-128/",
        "--no-deeper-probe",
    ] {
        assert!(n.contains(part), "{part:?} in {n}");
    }
}

#[test]
fn a_loop_still_short_of_saturation_is_named_above_the_unqueued_warning() {
    // 1.24×: the probe warnings' "did not queue" already says it.
    assert_eq!(
        shallow_warning(VariantKind::AsyncSingle, &fifteenth_ts1()),
        None
    );
    // 1.5×: only this note says it.
    let obs = vec![at(8, 120, false, 4000.0), at(64, 120, true, 6000.0)];
    let w = shallow_warning(VariantKind::AsyncSingle, &obs).expect("a note");
    assert!(w.contains("1.50×") && w.contains("--probe"), "{w}");
    assert_eq!(shallow_warning(VariantKind::SyncStream, &obs), None);
}
