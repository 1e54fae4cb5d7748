//! `--py-spy`: the GIL's holders of a real Python process, read by a real py-spy. Two threads
//! burn CPU; whether the second holds the GIL (Python code) or releases it (hashlib over a large
//! buffer, C code outside the GIL) must show in who held it, though `/proc` would show the same
//! two busy threads in both cases. Needs py-spy (`pip install py-spy`, in
//! tests/python/requirements.txt, which `.ci/run` installs) and the right to trace (root or
//! CAP_SYS_PTRACE): without it the test says so and skips.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use ragperf::metrics::gil::{GilFigures, GilSampler, check_available};

const SCRIPT: &str = r#"
import hashlib, sys, threading
def python_work():
    x = 0
    while True:
        for i in range(10000):
            x += i * i
def c_work():
    data = b"x" * (8 << 20)
    while True:
        hashlib.sha256(data).digest()
worker = python_work if sys.argv[1] == "python" else c_work
threading.Thread(target=worker, name="worker", daemon=True).start()
print("ready", flush=True)
python_work()
"#;

/// py-spy's figures over `secs` of the script with its second thread doing `mode` work.
fn sample(mode: &str, secs: u64) -> GilFigures {
    let mut child = Command::new("python3")
        .args(["-c", SCRIPT, mode])
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        BufReader::new(out)
            .read_line(&mut line)
            .expect("ready line");
    }
    assert_eq!(line.trim(), "ready");
    let sampler = GilSampler::start(child.id()).expect("starting py-spy");
    std::thread::sleep(Duration::from_secs(secs));
    let figures = sampler.stop();
    let _ = child.kill();
    let _ = child.wait();
    figures.expect("py-spy's figures")
}

#[test]
fn py_spy_tells_python_threads_from_c_code_that_released_the_gil() {
    let _serial = super::serial();
    if let Err(why) = check_available() {
        eprintln!("SKIPPED: {why}");
        return;
    }
    // Both threads run Python: they take turns with the GIL (CPython's 5 ms switch interval),
    // so the main thread cannot have held it in much more than half the samples.
    let python = sample("python", 3);
    assert!(python.held_samples > 100, "{python:?}");
    let off = python.off_busiest_share().expect("samples");
    assert!(
        (0.2..=0.5).contains(&off),
        "off-busiest share {off}: {python:?}"
    );
    assert!(
        python.held_share().expect("window") > 0.6,
        "two Python threads keep the GIL busy: {python:?}"
    );
    // The second thread hashes in C with the GIL released: the main thread holds it nearly
    // always, the worker only between two digests.
    let c = sample("c", 3);
    let off = c.off_busiest_share().expect("samples");
    assert!(off < 0.1, "off-busiest share {off}: {c:?}");
    assert!(c.busiest_thread.ends_with("MainThread"), "{c:?}");
}
