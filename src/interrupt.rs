//! Ctrl-C and SIGTERM handling for every long-running command (`run`, `sweep`, `baseline`,
//! `streams`, `tour`): the first SIGINT or SIGTERM asks the work to stop (in-flight requests
//! drain for a bounded time and the result is still written, marked partial); a second one exits
//! at once.
//!
//! SIGTERM is what CI runners, `timeout` and Kubernetes send, so it behaves exactly like
//! Ctrl-C. The exit code follows the shell's 128 + signal convention: 130 after SIGINT, 143
//! after SIGTERM, so a caller can tell who stopped the run ([`exit_code`]).

use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, Ordering};
use std::time::{Duration, Instant};

static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();
static HITS: AtomicU32 = AtomicU32::new(0);
/// The first signal received (0: none yet).
static SIGNAL: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(signal: libc::c_int) {
    // Only async-signal-safe work here: atomics and _exit.
    if HITS.fetch_add(1, Ordering::SeqCst) >= 1 {
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(128 + signal) };
    }
    let _ = SIGNAL.compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst);
    if let Some(flag) = FLAG.get() {
        flag.store(true, Ordering::SeqCst);
    }
}

/// Installs the handler for SIGINT and SIGTERM (once) and returns the stop flag it sets.
pub fn stop_flag() -> Arc<AtomicBool> {
    let flag = FLAG
        .get_or_init(|| Arc::new(AtomicBool::new(false)))
        .clone();
    // SAFETY: installing a handler that only touches atomics and calls _exit.
    unsafe {
        let handler: extern "C" fn(libc::c_int) = on_signal;
        libc::signal(libc::SIGINT, handler as libc::sighandler_t);
        libc::signal(libc::SIGTERM, handler as libc::sighandler_t);
    }
    flag
}

/// True once SIGINT or SIGTERM arrived (false when no handler is installed).
pub fn requested() -> bool {
    FLAG.get().is_some_and(|f| f.load(Ordering::Relaxed))
}

/// The exit code of an interrupted command: 128 + the signal (130 for SIGINT, 143 for
/// SIGTERM); 130 when the stop came from elsewhere.
pub fn exit_code() -> u8 {
    match SIGNAL.load(Ordering::SeqCst) {
        libc::SIGTERM => 143,
        _ => 130,
    }
}

/// Runs blocking `call` on a helper thread and waits for it, giving up (None) as soon as a stop
/// is requested. For calls whose own timeout is seconds long (the mocks' stats), so that
/// Ctrl-C never waits for them; an abandoned call finishes on its own within its timeout.
pub fn unless_stopped<T: Send + 'static>(call: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    if requested() {
        return None;
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("ragperf-call".into())
        .spawn(move || {
            let _ = tx.send(call());
        });
    if spawned.is_err() {
        return None;
    }
    let started = Instant::now();
    loop {
        match rx.recv_timeout(Duration::from_millis(20)) {
            Ok(v) => return Some(v),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return None,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                if requested() || started.elapsed() > Duration::from_secs(60) {
                    return None;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn unless_stopped_returns_the_value() {
        assert_eq!(super::unless_stopped(|| 7), Some(7));
    }
}
