//! What a server under test (`ragperf run --target URL`) spends from the operating system:
//! processes, threads, resident memory, CPU time and context switches of its process *and every
//! descendant* (uvicorn `--workers N` forks children; a `sh -c` wrapper is a parent), read from
//! `/proc/<pid>` of another process. [`ServerSampler`] samples it on a thread of its own during
//! a measurement window, the way [`ProcessSampler`](super::process::ProcessSampler) samples
//! ragperf itself, and folds the readings into [`ServerFigures`]. Linux only.
//!
//! **Cost.** A snapshot reads one `stat` per process of the tree (threads, RSS, CPU, parent) and
//! the main thread's `children` list; every [`FULL_SCAN_EVERY`] snapshots it also reads every
//! thread's `children` list (or scans `/proc` when the kernel has no such lists) to find children
//! forked by other threads. Per-thread `status` files are read only at start and stop (context
//! switches). Measured on this project's busy 2-core machine (dev build, 100 ms for 10 s): 0.17%
//! of a core against a 50-thread python3 process (~170 µs per snapshot, wake-up included), 0.35%
//! at 500 threads (the kernel sums a `stat` over the threads), 0.29% against 4 processes of 50
//! threads; start and stop take ~2 ms at 50 threads and ~16 ms at 500. Like the harness's own
//! sampler it waits at least [`MIN_IDLE_PER_SNAPSHOT`](super::process::MIN_IDLE_PER_SNAPSHOT) times as long as a snapshot took before
//! the next one, so it can never take more than ~5% of a core from the server; what it did take
//! is [`ServerFigures::sampler_cpu_s`].
//!
//! **CPU accounting.** Per process: user and system time (`stat` fields 14-15) plus that of the
//! children it has waited for (`cutime`/`cstime`, fields 16-17), as deltas from the start of the
//! window. A process that joins the tree during the window counts all its CPU when it started
//! during the window (it had none before), else from its first reading. When a process of the
//! tree is reaped by a parent in the tree, its CPU moves into the parent's `cutime`, so what was
//! counted for it directly is dropped rather than counted twice; a child that lived and exited
//! between two readings is counted that way too. What is lost: the CPU a process used after its
//! last reading when it is reaped outside the tree (by init, its parent having died); all CPU of
//! a child that exits between two readings and is reaped outside the tree; and all CPU of the
//! children of a parent that ignores `SIGCHLD` (the kernel reaps them without adding them to
//! `cutime`). A zombie not yet reaped at stop counts in full (its final times stay readable).
//!
//! **Context switches** are read per thread (`/proc/P/task/T/status`) at start and stop only:
//! threads that exit in between lose theirs, and a process that joins the tree but started
//! before the window has no baseline and is left out.

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::process::{clock_ticks_per_s, spawn_sampling_loop, thread_gone};

mod procfs;
mod tree;

pub use tree::FULL_SCAN_EVERY;
use tree::{Levels, ThreadCounters, Tree, busiest_thread_ticks, ctx_delta};

/// Name of the thread [`ServerSampler`] runs on (the kernel keeps its first 15 bytes,
/// `ragperf-server-`, which still says it is the harness's).
pub const SERVER_SAMPLER_THREAD_NAME: &str = "ragperf-server-sampler";
/// Most points [`ServerFigures::samples`] holds; longer series are thinned evenly.
pub const MAX_SERVER_SAMPLES: usize = 600;
/// Shortest sampling interval accepted; shorter requests are raised to it.
pub const MIN_SERVER_INTERVAL: Duration = Duration::from_millis(10);
/// Longest [`ServerFigures::command`], characters.
pub const COMMAND_MAX_CHARS: usize = 200;
/// Points kept while sampling before the series is halved (then thinned to
/// [`MAX_SERVER_SAMPLES`] at stop), so memory stays bounded on long runs.
const SERIES_CAP: usize = 8 * MAX_SERVER_SAMPLES;

/// Why sampling the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerSampleError {
    /// `/proc/<pid>` does not exist.
    #[error(
        "no process {pid} in /proc: is the server running? --target-pid must name the server's \
         process id (e.g. `pgrep -f uvicorn`)"
    )]
    NoSuchProcess {
        /// The pid asked for.
        pid: u32,
    },
    /// The process has exited and only its zombie is left.
    #[error(
        "process {pid} has already exited (only its zombie is left): is the server running? \
         --target-pid must name a live process"
    )]
    Exited {
        /// The pid asked for.
        pid: u32,
    },
    /// `/proc` could not be read or the sampler thread could not be started.
    #[error("cannot sample process {pid} (--target-pid): {source}")]
    Io {
        /// The pid asked for.
        pid: u32,
        /// What failed.
        #[source]
        source: io::Error,
    },
}

/// One point of the server's time series. Levels are summed over the process tree.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerSample {
    /// Time since the sampler started, seconds.
    pub t_s: f64,
    /// Threads in the tree.
    pub threads: u64,
    /// Live processes in the tree (the root and its descendants, zombies excluded).
    pub processes: u64,
    /// Resident set size of the tree, bytes.
    pub rss_bytes: u64,
    /// User plus system CPU of the tree since the sampler started, seconds.
    pub cpu_s: f64,
    /// The machine's speed when the sample was taken: rounds of ragperf's work function per
    /// µs of the sampler thread's CPU ([`machine_speed`](crate::pipeline::cpu::machine_speed)).
    /// A slower machine makes the server spend more CPU on the same work. Absent in results
    /// written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed: Option<f64>,
}

/// What the server's process tree cost over one measurement window. Levels (threads, RSS,
/// processes) are summed over the tree at each snapshot; CPU and context switches are deltas
/// over the window (see the module docs for what they include and lose).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerFigures {
    /// Process id of the root (the server, or the shell that started it).
    pub pid: u32,
    /// The root's command line (arguments joined by spaces, at most [`COMMAND_MAX_CHARS`]
    /// characters), or its name when the command line is empty.
    pub command: String,
    /// Most live processes in the tree seen at once.
    pub processes_peak: u64,
    /// Threads in the tree when the window started.
    pub threads_start: u64,
    /// Most threads in the tree seen at once.
    pub threads_peak: u64,
    /// Threads in the tree, mean over the snapshots.
    pub threads_mean: f64,
    /// Resident set size of the tree when the window started, bytes.
    pub rss_start_bytes: u64,
    /// Largest sampled resident set size of the tree, bytes (a spike between samples is missed).
    pub rss_peak_bytes: u64,
    /// User CPU of the tree during the window, seconds.
    pub cpu_user_s: f64,
    /// System CPU of the tree during the window, seconds.
    pub cpu_sys_s: f64,
    /// Voluntary context switches of the tree's threads during the window.
    pub ctx_switches_voluntary: u64,
    /// Involuntary context switches of the tree's threads during the window.
    pub ctx_switches_involuntary: u64,
    /// CPU (user plus system) of the tree's busiest thread during the window, seconds: what
    /// one thread could not share. For a Python server it bounds what ran on the event loop's
    /// thread (or held the GIL there); the rest of `cpu_user_s + cpu_sys_s` ran on other
    /// threads. Read per thread at start and stop, like the context switches (a thread that
    /// exits before the stop is missed). Absent in results written before it was measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_busiest_thread_s: Option<f64>,
    /// Who held the GIL over the window (`--py-spy`; absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gil: Option<super::gil::GilFigures>,
    /// Length of the window, seconds.
    pub window_s: f64,
    /// Snapshots taken, including the ones at start and stop.
    pub snapshots: u64,
    /// `/proc` reads that failed for another reason than the process or thread having exited.
    pub failed_reads: u64,
    /// The root process exited during the window (gone, or a zombie).
    pub exited: bool,
    /// CPU (user plus system) the sampler thread itself used, seconds: its cost to the machine.
    pub sampler_cpu_s: f64,
    /// Time series for charts, ordered by time, at most [`MAX_SERVER_SAMPLES`] points.
    pub samples: Vec<ServerSample>,
    /// When sampling started (the samples' `t_s = 0`), µs after the run's epoch: the clock of
    /// the drive's `window_start_us` and `window_end_us`, so the CPU of the measured window can
    /// be read off the samples ([`window_cpu_per_request_ms`]). Absent in results written
    /// before it was recorded: the sampler starts a few milliseconds after the epoch, and those
    /// are read as 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_us: Option<u64>,
}

impl ServerFigures {
    /// User plus system CPU of the tree during the window, seconds.
    pub fn cpu_s(&self) -> f64 {
        self.cpu_user_s + self.cpu_sys_s
    }

    /// The kernel's share of that CPU (system over user plus system time); None without CPU.
    pub fn system_share(&self) -> Option<f64> {
        let all = self.cpu_s();
        (all > 0.0 && self.cpu_sys_s.is_finite()).then(|| (self.cpu_sys_s / all).clamp(0.0, 1.0))
    }

    /// Cores in use on average over the window (CPU seconds ÷ window); None for an empty window.
    pub fn cores(&self) -> Option<f64> {
        (self.window_s > 0.0).then(|| self.cpu_s() / self.window_s)
    }

    /// The machine's mean speed over the samples between two instants of the samples' clock
    /// (rounds per µs, see [`ServerSample::speed`]). None with fewer than three readings there.
    pub fn speed_between(&self, from_s: f64, to_s: f64) -> Option<f64> {
        let readings: Vec<f64> = self
            .samples
            .iter()
            .filter(|s| s.t_s >= from_s && s.t_s <= to_s)
            .filter_map(|s| s.speed)
            .filter(|v| v.is_finite() && *v > 0.0)
            .collect();
        (readings.len() >= 3).then(|| readings.iter().sum::<f64>() / readings.len() as f64)
    }

    /// CPU of the tree between two instants of the samples' clock (seconds since sampling
    /// started), seconds, interpolated linearly between the samples either side of each. None
    /// when an instant lies outside the samples or `to_s` is before `from_s`.
    pub fn cpu_between_s(&self, from_s: f64, to_s: f64) -> Option<f64> {
        (to_s >= from_s).then_some(())?;
        Some(cumulative_cpu_at(&self.samples, to_s)? - cumulative_cpu_at(&self.samples, from_s)?)
    }

    /// The busiest thread's CPU as cores (a share of one) over the window; None when not
    /// measured or the window is empty.
    pub fn busiest_thread_cores(&self) -> Option<f64> {
        let busiest = self.cpu_busiest_thread_s?;
        (self.window_s > 0.0).then(|| busiest / self.window_s)
    }
}

/// The tree's CPU since sampling started at `t_s`, interpolated between the samples around it.
fn cumulative_cpu_at(samples: &[ServerSample], t_s: f64) -> Option<f64> {
    let after = samples.partition_point(|s| s.t_s < t_s);
    let right = samples.get(after)?;
    if right.t_s == t_s || after == 0 {
        return (right.t_s == t_s).then_some(right.cpu_s);
    }
    let left = samples.get(after - 1)?;
    let share = (t_s - left.t_s) / (right.t_s - left.t_s);
    Some(left.cpu_s + share * (right.cpu_s - left.cpu_s))
}

/// `points` cut to at most `max` evenly spaced ones, keeping the first and the last.
fn thin_evenly<T: Clone>(points: &[T], max: usize) -> Vec<T> {
    let n = points.len();
    if n <= max {
        return points.to_vec();
    }
    if max < 2 {
        return points.last().cloned().into_iter().collect();
    }
    (0..max)
        .filter_map(|i| points.get(i * (n - 1) / (max - 1)).cloned())
        .collect()
}

/// The clock `stat` field 22 counts in: ticks since boot, suspend included.
fn boot_ticks_now(ticks_per_s: f64) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes into the timespec we own.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
    if rc != 0 {
        return u64::MAX;
    }
    ((ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9) * ticks_per_s) as u64
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(size).ok().filter(|&s| s > 0).unwrap_or(4096)
}

/// Everything one window accumulates; shared so `stop` can finish even if the thread died.
#[derive(Debug)]
struct Window {
    tree: Tree,
    started: Instant,
    ticks_per_s: f64,
    page_bytes: u64,
    ctx_start: HashMap<u32, ThreadCounters>,
    figures: ServerFigures,
    threads_sum: u64,
    last: Levels,
    last_at: Instant,
    series: Vec<ServerSample>,
    exited: Arc<AtomicBool>,
}

impl Window {
    fn open(pid: u32) -> Result<Window, ServerSampleError> {
        let ticks_per_s = clock_ticks_per_s();
        let start_ticks = boot_ticks_now(ticks_per_s);
        let mut tree = Tree::open(pid, start_ticks).map_err(|source| {
            if thread_gone(&source) {
                ServerSampleError::NoSuchProcess { pid }
            } else {
                ServerSampleError::Io { pid, source }
            }
        })?;
        if tree.root_exited {
            return Err(ServerSampleError::Exited { pid });
        }
        let command = tree.command(COMMAND_MAX_CHARS);
        let started = Instant::now();
        let first = tree.snapshot(true);
        let ctx_start = tree.thread_counters(true);
        let mut window = Window {
            tree,
            started,
            ticks_per_s,
            page_bytes: page_size(),
            ctx_start,
            figures: ServerFigures {
                pid,
                command,
                threads_start: first.threads,
                ..ServerFigures::default()
            },
            threads_sum: 0,
            last: first,
            last_at: started,
            series: Vec::new(),
            exited: Arc::new(AtomicBool::new(false)),
        };
        window.figures.rss_start_bytes = first.rss_pages.saturating_mul(window.page_bytes);
        window.fold(first, started);
        Ok(window)
    }

    fn cpu_s(&self, ticks: u64) -> f64 {
        ticks as f64 / self.ticks_per_s
    }

    /// Takes a snapshot and folds it in; `full` discovers every descendant (the final one).
    fn sample(&mut self, full: bool) {
        let levels = self.tree.snapshot(full);
        self.fold(levels, Instant::now());
    }

    fn fold(&mut self, l: Levels, at: Instant) {
        let f = &mut self.figures;
        f.snapshots += 1;
        f.processes_peak = f.processes_peak.max(l.processes);
        f.threads_peak = f.threads_peak.max(l.threads);
        f.rss_peak_bytes = f
            .rss_peak_bytes
            .max(l.rss_pages.saturating_mul(self.page_bytes));
        self.threads_sum += l.threads;
        self.exited.store(self.tree.root_exited, Ordering::Relaxed);
        if self.series.len() >= SERIES_CAP {
            self.series = self.series.iter().step_by(2).cloned().collect();
        }
        self.series.push(ServerSample {
            t_s: at.saturating_duration_since(self.started).as_secs_f64(),
            threads: l.threads,
            processes: l.processes,
            rss_bytes: l.rss_pages.saturating_mul(self.page_bytes),
            cpu_s: self.cpu_s(l.user_ticks + l.sys_ticks),
            speed: crate::pipeline::cpu::machine_speed(),
        });
        self.last = l;
        self.last_at = at;
    }

    /// The figures of the window; called once, at stop, after the final snapshot.
    fn finish(&mut self, sampler_cpu_s: f64) -> ServerFigures {
        let ctx_stop = self.tree.thread_counters(false);
        let (vol, invol) = ctx_delta(&self.ctx_start, &ctx_stop);
        let busiest = busiest_thread_ticks(&self.ctx_start, &ctx_stop);
        let mut f = std::mem::take(&mut self.figures);
        f.cpu_user_s = self.cpu_s(self.last.user_ticks);
        f.cpu_sys_s = self.cpu_s(self.last.sys_ticks);
        f.ctx_switches_voluntary = vol;
        f.ctx_switches_involuntary = invol;
        f.cpu_busiest_thread_s = Some(self.cpu_s(busiest));
        f.threads_mean = self.threads_sum as f64 / f.snapshots.max(1) as f64;
        f.window_s = self
            .last_at
            .saturating_duration_since(self.started)
            .as_secs_f64();
        f.failed_reads = self.tree.failed_reads;
        f.exited = self.tree.root_exited;
        f.sampler_cpu_s = sampler_cpu_s;
        f.samples = thin_evenly(&std::mem::take(&mut self.series), MAX_SERVER_SAMPLES);
        f
    }
}

/// Samples a server's process tree on a thread named [`SERVER_SAMPLER_THREAD_NAME`] until
/// [`ServerSampler::stop`]. Dropping it without `stop` ends the thread too (its channel closes).
#[derive(Debug)]
pub struct ServerSampler {
    started: Instant,
    stop_tx: Sender<()>,
    thread: JoinHandle<f64>,
    window: Arc<Mutex<Window>>,
    exited: Arc<AtomicBool>,
}

impl ServerSampler {
    /// Takes the start snapshot of process `pid` and its descendants on the calling thread
    /// (including every thread's context switches) and starts sampling every `interval` (at
    /// least [`MIN_SERVER_INTERVAL`]; stretched when snapshots get expensive, see
    /// [`MIN_IDLE_PER_SNAPSHOT`](super::process::MIN_IDLE_PER_SNAPSHOT)). Fails when there is no such process, it is a zombie, `/proc`
    /// cannot be read or the thread cannot be spawned.
    pub fn start(pid: u32, interval: Duration) -> Result<ServerSampler, ServerSampleError> {
        let interval = interval.max(MIN_SERVER_INTERVAL);
        let window = Window::open(pid)?;
        let started = window.started;
        let exited = Arc::clone(&window.exited);
        let window = Arc::new(Mutex::new(window));
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let shared = Arc::clone(&window);
        let thread =
            spawn_sampling_loop(SERVER_SAMPLER_THREAD_NAME, interval, stop_rx, move || {
                shared
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .sample(false);
            })
            .map_err(|source| ServerSampleError::Io { pid, source })?;
        Ok(ServerSampler {
            started,
            stop_tx,
            thread,
            window,
            exited,
        })
    }

    /// When the first snapshot was taken: the samples' `t_s = 0`.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// True once the sampler has seen the root process gone or a zombie.
    pub fn exited(&self) -> bool {
        self.exited.load(Ordering::Relaxed)
    }

    /// Stops sampling, takes the final snapshot on the calling thread (finding every descendant
    /// and reading every thread's context switches) and returns the figures of the window.
    /// Never fails or panics, also when the server has died: what could not be read shows up in
    /// `failed_reads` and `exited`.
    pub fn stop(self) -> ServerFigures {
        let _ = self.stop_tx.send(());
        let sampler_cpu_s = self.thread.join().unwrap_or(0.0);
        let mut window = self.window.lock().unwrap_or_else(PoisonError::into_inner);
        window.sample(true);
        window.finish(sampler_cpu_s)
    }
}

#[cfg(test)]
mod tests;

/// CPU the target server spent per request, ms: all of its CPU over the sampled window (warm-up,
/// measured phase and drain) divided by every request that finished in it, warm-up included.
/// None without server figures or finished requests.
pub fn cpu_per_request_ms(r: &crate::result::VariantRun) -> Option<f64> {
    let s = r.server.as_ref()?;
    let c = &r.counters;
    let finished = c.ok + c.failed + c.warmup_completed;
    (finished > 0).then(|| s.cpu_s() * 1000.0 / finished as f64)
}

/// CPU the target server spent per successful request inside the measured window, ms: its CPU
/// between the window's edges (read off its samples) per second, divided by the window's
/// `requests_per_s` (which credits a request by the share of its service inside the window).
/// Unlike [`cpu_per_request_ms`] it leaves out the warm-up's start (first connections, lazy
/// imports, a pool's threads being made) and the drain, and it is the same window the run's
/// throughput and latencies describe. None without server samples covering the window or
/// without a successful request in it.
pub fn window_cpu_per_request_ms(r: &crate::result::VariantRun) -> Option<f64> {
    let (s, from_s, to_s) = measured_window(r)?;
    let rate = r.throughput.requests_per_s;
    (rate > 0.0).then_some(())?;
    Some(s.cpu_between_s(from_s, to_s)? / (to_s - from_s) / rate * 1000.0)
}

/// The machine's mean speed inside the measured window (rounds per µs of CPU, see
/// [`ServerSample::speed`]): what the server's CPU in that window was spent at. None without
/// server samples carrying it there.
pub fn window_speed(r: &crate::result::VariantRun) -> Option<f64> {
    let (s, from_s, to_s) = measured_window(r)?;
    s.speed_between(from_s, to_s)
}

/// The server's figures and the measured window's edges on its samples' clock (seconds since
/// sampling started); None without server figures or with an empty window.
fn measured_window(r: &crate::result::VariantRun) -> Option<(&ServerFigures, f64, f64)> {
    let s = r.server.as_ref()?;
    let offset_s = s.started_us.unwrap_or(0) as f64 / 1e6;
    let from_s = r.drive.window_start_us as f64 / 1e6 - offset_s;
    let to_s = r.drive.window_end_us as f64 / 1e6 - offset_s;
    (to_s > from_s).then_some((s, from_s, to_s))
}
