//! Unit tests of `src/calibrate/mod.rs` (the probe and CPU warnings), kept apart so the module
//! stays a readable size.

use super::*;

fn at(c: usize, probe: bool, e2e_ms: f64) -> Observation {
    Observation {
        concurrency: c,
        tokens_setting: 120,
        probe,
        e2e_p50_ms: Some(e2e_ms),
        ..Observation::default()
    }
}

#[test]
fn a_probe_whose_requests_did_not_queue_is_named() {
    // The seed's streaming `def` endpoint at time scale 1: 4391 ms at 8 users, 4342 at 64.
    let w = probe_warnings(
        &[
            at(2, false, 3983.0),
            at(8, false, 4391.0),
            at(64, true, 4342.0),
        ],
        None,
    );
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].contains("did not queue") && w[0].contains("--probe"),
        "{w:?}"
    );
    // Queued (3426 against 1055 ms): saturated, nothing to say.
    let w = probe_warnings(&[at(8, false, 1055.0), at(64, true, 3426.0)], None);
    assert!(w.is_empty(), "{w:?}");
    // No latency at the low level (nothing succeeded there): no claim either way.
    let mut none = at(8, false, 0.0);
    none.e2e_p50_ms = None;
    assert!(probe_warnings(&[none, at(64, true, 100.0)], None).is_empty());
}

#[test]
fn a_burst_says_what_it_told_apart() {
    let unqueued = [at(8, false, 4391.0), at(64, true, 4342.0)];
    let split = |paced, burst| ReadSplit {
        paced_per_token_us: paced,
        burst_per_token_us: burst,
    };
    // The night's calibration at time scale 1: a read cost found.
    let w = probe_warnings(&unqueued, Some(split(321.0, 162.0)));
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].contains("159 us per read"), "{w:?}");
    // Session 18's: the burst spent more per token than the paced probe; nothing told apart,
    // and the note does not claim otherwise.
    let w = probe_warnings(&unqueued, Some(split(440.0, 965.0)));
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].contains("no CPU per read was told apart") && !w[0].contains("told that CPU apart"),
        "{w:?}"
    );
}
