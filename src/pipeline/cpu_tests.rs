use super::*;

#[test]
fn work_spends_the_asked_cpu_time() {
    calibrate();
    assert_ne!(prompt_work("abc", 50, None), prompt_work("abd", 50, None));
    assert_eq!(prompt_work("abc", 0, None), [0; 32]);
    // The thread's CPU clock is what the work is measured in: at least the asked time,
    // and not much more (generous: one slice past the mark, a loaded machine).
    for asked in [1_000u64, 20_000] {
        let t0 = thread_cpu_us();
        prompt_work("x", asked, None);
        let spent = thread_cpu_us() - t0;
        assert!(spent >= asked, "asked {asked} µs, spent {spent}");
        assert!(
            spent < asked * 3 / 2 + 2_000,
            "asked {asked} µs, spent {spent}"
        );
    }
}

#[test]
fn the_machine_speed_is_a_plausible_rate() {
    // Rounds per µs of CPU: SHA-256 of 32 bytes takes from ~20 ns to a few µs on any
    // machine ragperf runs on, debug build included.
    let speed = machine_speed().expect("Linux has a thread CPU clock");
    assert!(speed > 0.01 && speed < 200.0, "{speed} rounds/µs");
}

/// Whether `prompt_work(cpu_us)` under a GIL with `outside` share finishes while another
/// thread holds the GIL (within a generous wait), and whether it then finishes once it is
/// released.
fn finishes_while_held(outside: f64, cpu_us: u64) -> (bool, bool) {
    use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
    let gil = Gil::new(outside, 1.0);
    let held = hold(Some(&gil));
    let done = AtomicBool::new(false);
    let mut while_held = false;
    std::thread::scope(|s| {
        s.spawn(|| {
            prompt_work("y", cpu_us, Some(&gil));
            done.store(true, SeqCst);
        });
        // Generous: the work is µs to ms of CPU, the wait up to 2 s.
        for _ in 0..200 {
            if done.load(SeqCst) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        while_held = done.load(SeqCst);
        drop(held);
    });
    (while_held, done.load(SeqCst))
}

#[test]
fn the_gil_serialises_cpu_sections() {
    assert_eq!(finishes_while_held(0.0, 10), (false, true));
    // Part of the section outside the lock: the rest still waits for it.
    assert_eq!(finishes_while_held(0.5, 2_000), (false, true));
}

#[test]
fn a_section_wholly_outside_the_gil_does_not_wait_for_it() {
    assert_eq!(finishes_while_held(1.0, 2_000), (true, true));
}

#[test]
fn the_outside_share_splits_a_section() {
    assert_eq!(Gil::new(0.25, 1.0).outside_us(1_000), 250);
    assert_eq!(Gil::new(0.0, 1.0).outside_us(1_000), 0);
    // Out of range or not a number: clamped, or none outside.
    assert_eq!(Gil::new(2.0, 1.0).outside_us(1_000), 1_000);
    assert_eq!(Gil::new(-1.0, 1.0).outside_us(1_000), 0);
    assert_eq!(Gil::new(f64::NAN, 1.0).outside_us(1_000), 0);
}

/// `sections` holds of `each_us` CPU under `gil`, one after another on this thread; the wall
/// time they took.
fn hold_and_spend(gil: &Gil, sections: u32, each_us: u64) -> std::time::Duration {
    let start = std::time::Instant::now();
    for _ in 0..sections {
        spend("cap", each_us, Some(gil));
    }
    start.elapsed()
}

#[test]
fn a_capped_gil_is_held_at_most_its_share_of_sustained_use() {
    calibrate();
    // 300 ms of CPU under a lock held at most half of each second, of which the bucket lets
    // 50 ms through at once: at least (300 − 50) / 0.5 = 500 ms of wall time, whatever the
    // machine (a slow one only takes longer). Uncapped the same takes about 300 ms.
    let gil = Gil::new(0.0, 0.5);
    let wall = hold_and_spend(&gil, 30, 10_000);
    assert!(wall.as_millis() >= 490, "{wall:?}");
    assert!(gil.idle_us() > 0);
}

#[test]
fn a_capped_gil_lets_a_hold_through_after_it_stood_idle() {
    calibrate();
    // 20 ms of CPU is under the bucket's 50 ms: no idling, however slow the machine.
    let gil = Gil::new(0.0, 0.5);
    hold_and_spend(&gil, 2, 10_000);
    assert_eq!(gil.idle_us(), 0);
    // Without a cap there is no bucket at all.
    let gil = Gil::new(0.0, 1.0);
    hold_and_spend(&gil, 30, 2_000);
    assert_eq!(gil.idle_us(), 0);
}

#[test]
fn a_cap_out_of_range_is_clamped_or_none() {
    assert!(Gil::new(0.0, 1.0).cap.is_none());
    assert!(Gil::new(0.0, 1.5).cap.is_none());
    assert!(Gil::new(0.0, f64::NAN).cap.is_none());
    assert_eq!(Gil::new(0.0, 0.0).cap.map(|c| c.max_busy), Some(0.01));
    assert_eq!(Gil::new(0.0, 0.78).cap.map(|c| c.max_busy), Some(0.78));
}
