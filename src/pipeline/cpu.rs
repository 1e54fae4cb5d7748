//! The CPU step of a request (building the prompt), the CPU spent on every token event, and the
//! optional global lock that reproduces CPython's GIL (Q6).
//!
//! The work is real computation (SHA-256 rounds over the prompt), not a timed spin: a spin that
//! watches the clock would "finish" on time even while the thread is descheduled, hiding exactly
//! the CPU contention this step exists to show. The number of rounds per microsecond is
//! calibrated once per process on an idle thread, so `cpu_work_us = 1000` means "what takes 1 ms
//! of CPU on this machine when nothing else runs".

use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use sha2::{Digest, Sha256};

/// Rounds of the work function per microsecond of CPU: measured once, or fixed.
static CAL: OnceLock<f64> = OnceLock::new();

/// Fixes the rounds per microsecond instead of measuring them (before any work; false if the
/// work was calibrated already). Processes that must do the *same* work — a service restarted
/// between measurements — use one figure rather than each its own calibration, which varies
/// with how busy the machine was at start-up.
pub fn fix_rounds_per_us(rounds: f64) -> bool {
    rounds.is_finite() && rounds > 0.0 && CAL.set(rounds).is_ok()
}

/// Rounds of the work function per microsecond of CPU, measured once.
fn rounds_per_us() -> f64 {
    *CAL.get_or_init(|| {
        // Warm up, then time a fixed batch on this thread's CPU clock (not wall time).
        let _ = work(b"warm-up", 2_000);
        let mut best = f64::MAX;
        for _ in 0..3 {
            let start = thread_cpu_us();
            let wall = Instant::now();
            let _ = work(b"calibration", 20_000);
            let cpu = thread_cpu_us().saturating_sub(start) as f64;
            let us = if cpu > 0.0 {
                cpu
            } else {
                wall.elapsed().as_micros() as f64
            };
            best = best.min(us.max(1.0));
        }
        20_000.0 / best
    })
}

/// The calling thread's CPU time, µs.
pub fn thread_cpu_us() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return 0;
    }
    ts.tv_sec as u64 * 1_000_000 + ts.tv_nsec as u64 / 1_000
}

fn work(seed: &[u8], rounds: u64) -> [u8; 32] {
    let mut digest: [u8; 32] = Sha256::digest(seed).into();
    for _ in 0..rounds {
        digest = Sha256::digest(digest).into();
    }
    digest
}

/// The CPU step: `cpu_us` microseconds of calibrated work over `prompt`, under `gil` when given.
/// Returns a digest so the optimiser cannot drop the work.
pub fn prompt_work(prompt: &str, cpu_us: u64, gil: Option<&Mutex<()>>) -> [u8; 32] {
    if cpu_us == 0 {
        return [0; 32];
    }
    let rounds = (cpu_us as f64 * rounds_per_us()).round().max(1.0) as u64;
    let _guard = gil.map(|m| m.lock().unwrap_or_else(|p| p.into_inner()));
    work(prompt.as_bytes(), rounds)
}

/// The per-token work: `cpu_us` microseconds of calibrated work over the text delta, under
/// `gil` when given (the same lock as [`prompt_work`]).
pub fn token_work(delta: &str, cpu_us: u64, gil: Option<&Mutex<()>>) -> [u8; 32] {
    prompt_work(delta, cpu_us, gil)
}

/// Forces calibration now (so the first request doesn't pay for it).
pub fn calibrate() -> f64 {
    rounds_per_us()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_is_deterministic_and_scales() {
        calibrate();
        assert_eq!(prompt_work("abc", 50, None), prompt_work("abc", 50, None));
        assert_ne!(prompt_work("abc", 50, None), prompt_work("abd", 50, None));
        assert_eq!(prompt_work("abc", 0, None), [0; 32]);
        // 20 ms of calibrated work costs clearly more CPU than 1 ms (generous: CPU clocks
        // are per thread, so load on the machine does not distort this much).
        let t0 = thread_cpu_us();
        prompt_work("x", 1_000, None);
        let small = thread_cpu_us() - t0;
        let t1 = thread_cpu_us();
        prompt_work("x", 20_000, None);
        let big = thread_cpu_us() - t1;
        assert!(big > small * 5, "small {small} big {big}");
    }

    #[test]
    fn the_gil_serialises_cpu_sections() {
        let gil = Mutex::new(());
        let held = gil.lock().unwrap();
        let done = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(|| {
                prompt_work("y", 10, Some(&gil));
                done.store(true, std::sync::atomic::Ordering::SeqCst);
            });
            std::thread::sleep(std::time::Duration::from_millis(50));
            assert!(
                !done.load(std::sync::atomic::Ordering::SeqCst),
                "ran while the GIL was held"
            );
            drop(held);
        });
        assert!(done.load(std::sync::atomic::Ordering::SeqCst));
    }
}
