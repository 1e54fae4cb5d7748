//! Tests that read process-wide figures (threads counted by name across the process, the
//! process's CPU) or burn CPU that others' figures would count: one binary apart from
//! `tests/it/`, and inside it every test holds [`serial`] for its whole length, so no other
//! test's threads or CPU land in its figures. Run one with `cargo test --test process NAME`.

use std::sync::{Mutex, MutexGuard};

#[path = "../common/mod.rs"]
mod common;

mod cpu_per_token;
mod gil_py_spy;
mod process_mock_cpu;
mod process_sampler_window;
mod process_snapshot_cost;
mod process_variant_threads;
mod variant_sync_stream;
mod variants_concurrency;
mod warmup_cpu_bound;

/// Held for a whole test: the tests of this binary run one at a time.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}
