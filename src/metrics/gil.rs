//! Who holds a Python target server's GIL, sampled with [py-spy] (`--py-spy`).
//!
//! `/proc` tells how much CPU each of the server's threads spent, not which of it ran under the
//! GIL: a thread of asyncio's default executor may be running Python (under the GIL, taking
//! turns with the event loop) or C code that released it (building an SSL context, resolving a
//! name) — the same CPU figure, opposite effects on how far the service scales. py-spy reads
//! the interpreter's memory from outside (`--nonblocking`: the process is not paused) and
//! records, 100 times a second, the stack of whichever thread holds the GIL (`--gil
//! --threads`). Counted per thread over the point, that gives the GIL's busy share and how much
//! of it the busiest holder (an asyncio service's event loop) had.
//!
//! [py-spy]: https://github.com/benfred/py-spy

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// Samples a second py-spy is asked for (its default).
pub const RATE_HZ: u32 = 100;

/// How long `stop` waits for py-spy to write its file after SIGINT.
const STOP_WAIT: Duration = Duration::from_secs(15);

/// What py-spy saw over one point (warm-up, measured phase and drain, like the `/proc` figures).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct GilFigures {
    /// Samples asked per second.
    pub rate_hz: u32,
    /// How long py-spy sampled, seconds.
    pub window_s: f64,
    /// Samples in which a thread held the GIL.
    pub held_samples: u64,
    /// The thread that held it in most of them (`thread (TID): NAME`).
    pub busiest_thread: String,
    /// Samples in which that thread held it.
    pub busiest_thread_samples: u64,
}

impl GilFigures {
    /// The share of the window a thread held the GIL (1 at most: py-spy can fall behind its
    /// rate, never ahead of it); None for an empty window.
    pub fn held_share(&self) -> Option<f64> {
        let asked = self.window_s * f64::from(self.rate_hz);
        (asked > 0.0).then(|| (self.held_samples as f64 / asked).min(1.0))
    }

    /// Of the GIL's holding, the share other threads than the busiest had; None when nobody
    /// was seen holding it.
    pub fn off_busiest_share(&self) -> Option<f64> {
        (self.held_samples > 0).then(|| {
            1.0 - self.busiest_thread_samples.min(self.held_samples) as f64
                / self.held_samples as f64
        })
    }
}

/// Samples of py-spy's raw output (`--threads`: each line is `thread (TID): NAME;frame;… COUNT`)
/// per thread. Lines that do not end in a count are skipped.
pub fn samples_per_thread(raw: &str) -> BTreeMap<String, u64> {
    let mut per = BTreeMap::new();
    for line in raw.lines() {
        let Some((stack, count)) = line.trim_end().rsplit_once(' ') else {
            continue;
        };
        let Ok(n) = count.parse::<u64>() else {
            continue;
        };
        let thread = stack.split(';').next().unwrap_or(stack).to_string();
        *per.entry(thread).or_insert(0) += n;
    }
    per
}

/// Figures from per-thread samples.
fn figures(per: &BTreeMap<String, u64>, rate_hz: u32, window_s: f64) -> GilFigures {
    let (busiest, most) = per
        .iter()
        .max_by_key(|(_, n)| **n)
        .map(|(t, n)| (t.clone(), *n))
        .unwrap_or_default();
    GilFigures {
        rate_hz,
        window_s,
        held_samples: per.values().sum(),
        busiest_thread: busiest,
        busiest_thread_samples: most,
    }
}

/// Checks that py-spy can be run (before any load starts).
pub fn check_available() -> Result<(), String> {
    match Command::new("py-spy")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(format!("`py-spy --version` failed ({s})")),
        Err(e) => Err(format!(
            "cannot run py-spy ({e}): install it with `pip install py-spy` (it needs to trace \
             the server: root, or CAP_SYS_PTRACE)"
        )),
    }
}

/// A running py-spy, recording the GIL's holders of one process.
pub struct GilSampler {
    child: Child,
    out: PathBuf,
    log: PathBuf,
    started: Instant,
}

impl GilSampler {
    /// Starts py-spy on `pid`; its files go to the system's temporary directory.
    pub fn start(pid: u32) -> std::io::Result<Self> {
        static N: AtomicU64 = AtomicU64::new(0);
        let stem = format!(
            "ragperf-gil-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let dir = std::env::temp_dir();
        let (out, log) = (
            dir.join(format!("{stem}.txt")),
            dir.join(format!("{stem}.log")),
        );
        let child = Command::new("py-spy")
            .args([
                "record",
                "--gil",
                "--threads",
                "--nonblocking",
                "--format",
                "raw",
            ])
            .args(["--rate", &RATE_HZ.to_string(), "--pid", &pid.to_string()])
            .arg("--output")
            .arg(&out)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            // Its own process group: a Ctrl-C at the terminal stops ragperf's run, which then
            // stops py-spy itself, so its window ends with the point's like `/proc`'s.
            .process_group(0)
            .spawn()?;
        Ok(GilSampler {
            child,
            out,
            log,
            started: Instant::now(),
        })
    }

    /// Stops py-spy (SIGINT: it writes what it recorded) and reads its file.
    pub fn stop(mut self) -> Result<GilFigures, String> {
        let window_s = self.started.elapsed().as_secs_f64();
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: kill sends a signal to our own child, which has not been reaped yet.
        unsafe { libc::kill(pid, libc::SIGINT) };
        let deadline = Instant::now() + STOP_WAIT;
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(s)) => break Some(s),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                _ => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    break None;
                }
            }
        };
        let raw = std::fs::read_to_string(&self.out);
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        remove(&self.out);
        remove(&self.log);
        match raw {
            Ok(raw) => Ok(figures(&samples_per_thread(&raw), RATE_HZ, window_s)),
            Err(e) => Err(format!(
                "py-spy wrote no samples ({e}; exit {}): {}",
                status.map_or("killed after 15 s".to_string(), |s| s.to_string()),
                last_line(&log)
            )),
        }
    }
}

impl Drop for GilSampler {
    fn drop(&mut self) {
        // Stopped without `stop` (an error on the way): do not leave py-spy attached.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
            remove(&self.out);
            remove(&self.log);
        }
    }
}

fn remove(p: &Path) {
    let _ = std::fs::remove_file(p);
}

/// py-spy's error line (or its last line), for the message.
fn last_line(log: &str) -> String {
    let lines: Vec<&str> = log
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines
        .iter()
        .find(|l| l.starts_with("Error"))
        .or(lines.last())
        .map_or_else(|| "no output".to_string(), |l| l.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const RAW: &str = "\
thread (15094): MainThread;_run_code (<frozen runpy>:88);run (uvicorn/main.py:643) 700
thread (15094): MainThread;_run_code (<frozen runpy>:88);json (json/decoder.py:353) 180
thread (15221): asyncio_3;_worker (concurrent/futures/thread.py:81) 20
not a sample line
thread (15222): asyncio_4;x (y.py:1) notanumber
";

    #[test]
    fn counts_samples_per_thread() {
        let per = samples_per_thread(RAW);
        assert_eq!(per.len(), 2);
        assert_eq!(per["thread (15094): MainThread"], 880);
        assert_eq!(per["thread (15221): asyncio_3"], 20);
        let f = figures(&per, 100, 10.0);
        assert_eq!(f.held_samples, 900);
        assert_eq!(f.busiest_thread, "thread (15094): MainThread");
        assert!((f.held_share().unwrap_or(0.0) - 0.9).abs() < 1e-9);
        assert!((f.off_busiest_share().unwrap_or(0.0) - 20.0 / 900.0).abs() < 1e-9);
    }

    #[test]
    fn no_samples_is_no_share_not_zero() {
        let f = figures(&BTreeMap::new(), 100, 0.0);
        assert_eq!(f.held_share(), None);
        assert_eq!(f.off_busiest_share(), None);
        // py-spy behind its rate cannot make the GIL busier than the whole window.
        let over = GilFigures {
            rate_hz: 100,
            window_s: 1.0,
            held_samples: 130,
            busiest_thread: "t".into(),
            busiest_thread_samples: 130,
        };
        assert_eq!(over.held_share(), Some(1.0));
        assert_eq!(over.off_busiest_share(), Some(0.0));
    }
}
