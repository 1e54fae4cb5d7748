//! [`ProcessSampler`]: takes [`ProcessSnapshot`]s on a thread of its own over one measurement
//! window and folds them into the [`ProcessFigures`] a report shows — peaks, deltas and a time
//! series short enough to chart.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{ProcessSnapshot, SnapshotReader, reset_peak_rss, rusage, timeval_s};

/// Name of the thread [`ProcessSampler`] runs on.
pub const SAMPLER_THREAD_NAME: &str = "ragperf-sampler";
/// Most points [`ProcessFigures::samples`] holds; longer runs are decimated (see [`ProcessSample`]).
pub const MAX_SAMPLES: usize = 2_000;
/// Shortest sampling interval the sampler accepts; shorter requests are raised to it.
pub const MIN_INTERVAL: Duration = Duration::from_millis(1);
/// The sampler waits at least this many times as long as its last snapshot took before the
/// next one, so it never uses more than ~5% of a core: at 10,000 threads a snapshot takes ~20 ms
/// here, which a 100 ms interval would turn into a fifth of a core taken from the variant.
pub const MIN_IDLE_PER_SNAPSHOT: u32 = 19;

/// One point of the time series behind the process charts. When a run has more snapshots than
/// [`MAX_SAMPLES`], each point covers several consecutive snapshots and holds the maximum of each
/// figure over them (so peaks stay visible), stamped with the time of the last one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ProcessSample {
    /// Time since the sampler started, seconds.
    pub t_s: f64,
    /// Threads of the variant under test.
    pub variant_threads: u64,
    /// Threads in the whole process.
    pub process_threads: u64,
    /// Resident set size, bytes.
    pub rss_bytes: u64,
}

impl ProcessSample {
    fn max_with(self, later: ProcessSample) -> ProcessSample {
        ProcessSample {
            t_s: later.t_s,
            variant_threads: self.variant_threads.max(later.variant_threads),
            process_threads: self.process_threads.max(later.process_threads),
            rss_bytes: self.rss_bytes.max(later.rss_bytes),
        }
    }
}

/// A time series kept at most [`MAX_SAMPLES`] long by halving its resolution when full.
#[derive(Debug)]
struct Series {
    points: Vec<ProcessSample>,
    /// Snapshots per point.
    stride: usize,
    pending: Option<(ProcessSample, usize)>,
}

impl Series {
    fn new() -> Self {
        Self {
            points: Vec::new(),
            stride: 1,
            pending: None,
        }
    }

    fn push(&mut self, sample: ProcessSample) {
        let (merged, n) = match self.pending.take() {
            Some((p, n)) => (p.max_with(sample), n + 1),
            None => (sample, 1),
        };
        if n < self.stride {
            self.pending = Some((merged, n));
            return;
        }
        self.points.push(merged);
        if self.points.len() >= MAX_SAMPLES {
            self.points = self
                .points
                .chunks(2)
                .map(|pair| {
                    pair.iter()
                        .copied()
                        .reduce(ProcessSample::max_with)
                        .unwrap_or_default()
                })
                .collect();
            self.stride *= 2;
        }
    }

    fn finish(mut self) -> Vec<ProcessSample> {
        if let Some((p, _)) = self.pending.take() {
            self.points.push(p);
        }
        self.points
    }
}

/// What the OS reported over one measurement window (one variant, one sweep point). CPU and
/// context-switch figures are deltas over the window; thread and RSS figures are levels.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ProcessFigures {
    /// Most threads of the variant under test (workers, blocking pool, runtime) seen at once.
    pub threads_peak: u64,
    /// Most threads in the whole process seen at once (variant, mocks, harness, others).
    pub process_threads_peak: u64,
    /// Threads of the variant when the window started (the idle baseline).
    pub threads_baseline: u64,
    /// Threads in the whole process when the window started.
    pub process_threads_baseline: u64,
    /// Most mock threads seen at once (0 when the mocks run in another process).
    pub mock_threads_peak: u64,
    /// Most threads seen at once per name group (name without trailing digits).
    pub thread_groups_peak: BTreeMap<String, u64>,
    /// Resident set size when the window started, bytes.
    pub rss_start_bytes: u64,
    /// Peak resident set size during the window, bytes: the kernel's exact high-water mark
    /// (`VmHWM`, reset at the start) when the reset worked, else the largest sampled `VmRSS`.
    /// The mark is per process: a second sampler started meanwhile resets it, and then only the
    /// sampled values before that reset stand in for it.
    pub rss_peak_bytes: u64,
    /// Whether `rss_peak_bytes` includes the kernel's reset high-water mark (exact) rather than
    /// only the sampled values (which can miss a spike between samples).
    pub rss_peak_is_kernel_hwm: bool,
    /// User CPU time of the whole process during the window, seconds.
    pub cpu_user_s: f64,
    /// System CPU time of the whole process during the window, seconds.
    pub cpu_sys_s: f64,
    /// CPU time (user + system) of the in-process mocks' threads during the window, seconds.
    /// Part of `cpu_user_s + cpu_sys_s`; a mock thread that exits loses its CPU since the
    /// previous sample.
    pub mock_cpu_s: f64,
    /// CPU time (user + system) the sampler thread itself used, seconds.
    pub sampler_cpu_s: f64,
    /// Voluntary context switches of the whole process during the window.
    pub ctx_switches_voluntary: u64,
    /// Involuntary context switches of the whole process during the window.
    pub ctx_switches_involuntary: u64,
    /// Length of the window, seconds.
    pub window_s: f64,
    /// Snapshots folded in, including the ones at start and stop.
    pub snapshots: u64,
    /// Snapshots that failed plus per-thread files that could not be read; skipped, not fatal.
    pub failed_reads: u64,
    /// Time series for charts, ordered by time, at most [`MAX_SAMPLES`] points.
    pub samples: Vec<ProcessSample>,
}

/// Everything the sampler accumulates; shared so `stop` can finish even if the thread died.
#[derive(Debug)]
struct Window {
    reader: SnapshotReader,
    start: ProcessSnapshot,
    last: ProcessSnapshot,
    hwm_reset: bool,
    figures: ProcessFigures,
    /// Per mock thread id: CPU seconds when first seen in the window and when last seen.
    mock_cpu: HashMap<u32, (f64, f64)>,
    /// CPU of mock threads whose id was reused by a newer thread, seconds.
    mock_cpu_retired_s: f64,
    series: Series,
}

impl Window {
    fn open(variant_prefixes: &[String]) -> io::Result<Window> {
        let mut reader = SnapshotReader::new(variant_prefixes);
        let hwm_reset = reset_peak_rss();
        let start = reader.snapshot_fresh()?;
        let figures = ProcessFigures {
            threads_baseline: start.threads.variant,
            process_threads_baseline: start.process_threads(),
            rss_start_bytes: start.rss_bytes,
            rss_peak_is_kernel_hwm: hwm_reset,
            ..ProcessFigures::default()
        };
        // Threads alive at the start count from their CPU then; threads born later from zero.
        let mock_cpu = start
            .mock_threads_cpu
            .iter()
            .map(|t| (t.tid, (t.cpu_s, t.cpu_s)))
            .collect();
        let mut window = Window {
            reader,
            last: start.clone(),
            start,
            hwm_reset,
            figures,
            mock_cpu,
            mock_cpu_retired_s: 0.0,
            series: Series::new(),
        };
        window.fold(window.start.clone());
        Ok(window)
    }

    /// Takes a snapshot and folds it in; `fresh` re-reads every thread name (the final one).
    fn sample(&mut self, fresh: bool) {
        let snapshot = if fresh {
            self.reader.snapshot_fresh()
        } else {
            self.reader.snapshot()
        };
        match snapshot {
            Ok(snapshot) => self.fold(snapshot),
            Err(_) => self.figures.failed_reads += 1,
        }
    }

    fn fold(&mut self, s: ProcessSnapshot) {
        let f = &mut self.figures;
        f.snapshots += 1;
        f.failed_reads += s.read_failures;
        f.threads_peak = f.threads_peak.max(s.threads.variant);
        f.process_threads_peak = f.process_threads_peak.max(s.process_threads());
        f.mock_threads_peak = f.mock_threads_peak.max(s.threads.mock);
        f.rss_peak_bytes = f.rss_peak_bytes.max(s.rss_bytes);
        for (group, &n) in &s.thread_groups {
            match f.thread_groups_peak.get_mut(group) {
                Some(peak) => *peak = (*peak).max(n),
                None => {
                    f.thread_groups_peak.insert(group.clone(), n);
                }
            }
        }
        for t in &s.mock_threads_cpu {
            let (first, last) = self.mock_cpu.entry(t.tid).or_insert((0.0, t.cpu_s));
            if t.cpu_s < *last {
                // A lower figure under a known id is a new thread that reused it.
                self.mock_cpu_retired_s += *last - *first;
                *first = 0.0;
            }
            *last = t.cpu_s;
        }
        self.series.push(ProcessSample {
            t_s: s
                .taken_at
                .saturating_duration_since(self.start.taken_at)
                .as_secs_f64(),
            variant_threads: s.threads.variant,
            process_threads: s.process_threads(),
            rss_bytes: s.rss_bytes,
        });
        self.last = s;
    }

    /// The figures of the window; called once, at stop.
    fn finish(&mut self, sampler_cpu_s: f64) -> ProcessFigures {
        let (start, last) = (&self.start, &self.last);
        let mut f = std::mem::take(&mut self.figures);
        if self.hwm_reset {
            f.rss_peak_bytes = f.rss_peak_bytes.max(last.rss_hwm_bytes);
        }
        f.cpu_user_s = (last.cpu_user_s - start.cpu_user_s).max(0.0);
        f.cpu_sys_s = (last.cpu_sys_s - start.cpu_sys_s).max(0.0);
        let alive: f64 = self
            .mock_cpu
            .values()
            .map(|(first, last)| last - first)
            .sum();
        f.mock_cpu_s = (self.mock_cpu_retired_s + alive).max(0.0);
        f.sampler_cpu_s = sampler_cpu_s;
        f.ctx_switches_voluntary = last
            .ctx_switches_voluntary
            .saturating_sub(start.ctx_switches_voluntary);
        f.ctx_switches_involuntary = last
            .ctx_switches_involuntary
            .saturating_sub(start.ctx_switches_involuntary);
        f.window_s = last
            .taken_at
            .saturating_duration_since(start.taken_at)
            .as_secs_f64();
        f.samples = std::mem::replace(&mut self.series, Series::new()).finish();
        f
    }
}

/// Starts a sampler thread named `name` that calls `tick` every `interval` against absolute
/// deadlines (missed ticks are skipped, not caught up in a burst), waiting at least
/// [`MIN_IDLE_PER_SNAPSHOT`] times as long as a tick took, until `stop` receives (or its sender
/// is dropped). The thread returns its own CPU seconds. Shared by this sampler and the target
/// server's ([`crate::metrics::server`]).
pub(crate) fn spawn_sampling_loop(
    name: &str,
    interval: Duration,
    stop: mpsc::Receiver<()>,
    mut tick: impl FnMut() + Send + 'static,
) -> io::Result<JoinHandle<f64>> {
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            let mut next = Instant::now() + interval;
            while let Err(RecvTimeoutError::Timeout) =
                stop.recv_timeout(next.saturating_duration_since(Instant::now()))
            {
                let began = Instant::now();
                tick();
                let now = Instant::now();
                next = (next + interval).max(now + (now - began) * MIN_IDLE_PER_SNAPSHOT);
            }
            rusage(libc::RUSAGE_THREAD)
                .map(|u| timeval_s(u.ru_utime) + timeval_s(u.ru_stime))
                .unwrap_or(0.0)
        })
}

/// Samples the process on a thread named [`SAMPLER_THREAD_NAME`] until [`ProcessSampler::stop`].
/// Dropping it without `stop` ends the thread too (its channel closes).
#[derive(Debug)]
pub struct ProcessSampler {
    stop_tx: Sender<()>,
    thread: JoinHandle<f64>,
    window: Arc<Mutex<Window>>,
}

impl ProcessSampler {
    /// Resets the kernel's peak-RSS mark, takes the start snapshot on the calling thread and
    /// starts sampling every `interval` (at least [`MIN_INTERVAL`]; stretched when snapshots get
    /// expensive, see [`MIN_IDLE_PER_SNAPSHOT`]). Threads whose names start
    /// with one of `variant_prefixes` count as the variant's. Fails when `/proc` cannot be read
    /// or the thread cannot be spawned.
    pub fn start(interval: Duration, variant_prefixes: Vec<String>) -> io::Result<ProcessSampler> {
        let interval = interval.max(MIN_INTERVAL);
        let window = Arc::new(Mutex::new(Window::open(&variant_prefixes)?));
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let shared = Arc::clone(&window);
        let thread = spawn_sampling_loop(SAMPLER_THREAD_NAME, interval, stop_rx, move || {
            shared
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .sample(false);
        })?;
        Ok(ProcessSampler {
            stop_tx,
            thread,
            window,
        })
    }

    /// Stops sampling, takes the final snapshot on the calling thread (reading every thread name
    /// afresh, so the closing counts never rest on the name cache) and returns the figures of the
    /// window. Never fails: unreadable snapshots only show up in `failed_reads`.
    pub fn stop(self) -> ProcessFigures {
        let _ = self.stop_tx.send(());
        // A sampler that somehow panicked still leaves every snapshot it folded in the window.
        let sampler_cpu_s = self.thread.join().unwrap_or(0.0);
        let mut window = self.window.lock().unwrap_or_else(PoisonError::into_inner);
        window.sample(true);
        window.finish(sampler_cpu_s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(i: u64) -> ProcessSample {
        ProcessSample {
            t_s: i as f64,
            variant_threads: 1,
            process_threads: 10,
            rss_bytes: i,
        }
    }

    #[test]
    fn series_stays_short_ordered_and_keeps_peaks() {
        let mut series = Series::new();
        for i in 0..10_001 {
            // One spike in the middle must survive decimation.
            let threads = if i == 5_003 { 1_000 } else { 1 };
            series.push(ProcessSample {
                variant_threads: threads,
                ..sample(i)
            });
        }
        let points = series.finish();
        assert!(points.len() <= MAX_SAMPLES, "{} points", points.len());
        assert!(points.len() >= MAX_SAMPLES / 4, "{} points", points.len());
        assert!(points.windows(2).all(|w| w[0].t_s < w[1].t_s));
        assert_eq!(points.last().map(|p| p.t_s), Some(10_000.0));
        assert_eq!(points.iter().map(|p| p.variant_threads).max(), Some(1_000));
        assert_eq!(
            points.iter().filter(|p| p.variant_threads == 1_000).count(),
            1
        );
        assert_eq!(points.iter().map(|p| p.rss_bytes).max(), Some(10_000));
    }

    #[test]
    fn short_series_is_kept_whole() {
        let mut series = Series::new();
        for i in 0..5 {
            series.push(sample(i));
        }
        assert_eq!(series.finish(), (0..5).map(sample).collect::<Vec<_>>());
    }
}
