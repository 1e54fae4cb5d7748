//! What the operating system says about this process while a variant runs: threads by whose they
//! are, resident memory, CPU time and context switches (docs/design.md §6 and §10, "Whose threads?" and
//! "In-process mocks share the CPU"). Linux only: everything is read from `/proc/self` and
//! `getrusage`.
//!
//! Every thread ragperf creates is named, so a thread's `comm` says whose it is: `mock-*` belongs
//! to the in-process mocks, `ragperf-*` to the harness (driver, sampler, collector), the prefixes
//! the caller passes (`sync-worker-`, `hybrid-rt-`, …) to the variant under test, and anything else
//! (the main thread, client libraries' internal threads) is "other". [`ProcessSnapshot`] is one
//! reading; [`ProcessSampler`] takes them on a thread of its own and folds them into the
//! [`ProcessFigures`] a report shows.
//!
//! Cost: a snapshot lists `/proc/self/task`, reads a thread's name (`comm`) only until it is known
//! (see [`RECHECK_EVERY`]), and reads `stat` only for mock threads, whose CPU time is the only
//! per-thread figure we report; everything process-wide comes from one `getrusage` call and one
//! read of `/proc/self/status`. Read buffers are reused from one snapshot to the next.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, Read, Write as _};
use std::time::Instant;

mod sampler;
mod threads;

pub(crate) use sampler::spawn_sampling_loop;
pub use sampler::{
    MAX_SAMPLES, MIN_IDLE_PER_SNAPSHOT, MIN_INTERVAL, ProcessFigures, ProcessSample,
    ProcessSampler, SAMPLER_THREAD_NAME,
};
use threads::ThreadTable;
pub use threads::{
    COMM_MAX_BYTES, HARNESS_THREAD_PREFIX, MOCK_THREAD_PREFIX, RECHECK_EVERY, ThreadClass,
    ThreadClassifier, ThreadCounts,
};

const TASK_DIR: &str = "/proc/self/task";
const STATUS_PATH: &str = "/proc/self/status";
const CLEAR_REFS_PATH: &str = "/proc/self/clear_refs";
/// Large enough for `/proc/self/status` (~1.5 KiB) and any `stat` line.
const READ_BUF_BYTES: usize = 8 * 1024;

/// CPU time one thread has used so far.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ThreadCpu {
    /// Kernel thread id.
    pub tid: u32,
    /// User plus system time, seconds.
    pub cpu_s: f64,
}

/// A thread's CPU time in clock ticks, from its `stat` line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskCpuTicks {
    /// Time in user mode, clock ticks (`stat` field 14).
    pub utime: u64,
    /// Time in kernel mode, clock ticks (`stat` field 15).
    pub stime: u64,
}

/// Reads `utime` and `stime` from a `/proc/<pid>/task/<tid>/stat` line. Fields are counted after
/// the *last* `)` because the name in field 2 may itself contain spaces and parentheses.
pub fn parse_task_stat(stat: &[u8]) -> Option<TaskCpuTicks> {
    let mut fields = stat_fields(stat)?;
    // The first field after the name is field 3 (state), so field 14 is the 12th.
    let utime = parse_u64(fields.nth(11)?)?;
    let stime = parse_u64(fields.next()?)?;
    Some(TaskCpuTicks { utime, stime })
}

/// The fields of a `/proc/<pid>/stat` (or `task/<tid>/stat`) line that follow the name, starting
/// with field 3 (state). The name in field 2 may itself contain spaces and parentheses, so the
/// fields start after the *last* `)`. None when the line has no `)`.
pub(crate) fn stat_fields(stat: &[u8]) -> Option<impl Iterator<Item = &[u8]>> {
    let close = stat.iter().rposition(|&b| b == b')')?;
    Some(
        stat[close + 1..]
            .split(u8::is_ascii_whitespace)
            .filter(|f| !f.is_empty()),
    )
}

pub(crate) fn parse_u64(digits: &[u8]) -> Option<u64> {
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// The value of a `Key:   123 kB` line of `/proc/self/status`, in bytes.
pub(crate) fn status_bytes(status: &[u8], key: &str) -> Option<u64> {
    let line = status
        .split(|&b| b == b'\n')
        .find(|line| line.starts_with(key.as_bytes()) && line.get(key.len()) == Some(&b':'))?;
    let mut words = line[key.len() + 1..]
        .split(u8::is_ascii_whitespace)
        .filter(|w| !w.is_empty());
    let value = parse_u64(words.next()?)?;
    let scale = match words.next() {
        Some(b"kB") => 1024,
        None => 1,
        Some(_) => return None,
    };
    value.checked_mul(scale)
}

/// One reading of the process. Process-wide figures are totals since the process started;
/// [`ProcessSampler`] turns them into deltas over a window.
#[derive(Clone, Debug)]
pub struct ProcessSnapshot {
    /// When the snapshot was taken.
    pub taken_at: Instant,
    /// Threads per class.
    pub threads: ThreadCounts,
    /// Threads per name group (the name without trailing digits, at most 15 bytes), e.g.
    /// `sync-worker-`, `mock-`, `tokio-runtime-w`.
    pub thread_groups: BTreeMap<String, u64>,
    /// Resident set size (`VmRSS`), bytes.
    pub rss_bytes: u64,
    /// Peak resident set size since start or the last reset (`VmHWM`), bytes.
    pub rss_hwm_bytes: u64,
    /// User CPU time of the whole process, every thread alive or gone (`getrusage`), seconds.
    pub cpu_user_s: f64,
    /// System CPU time of the whole process (`getrusage`), seconds.
    pub cpu_sys_s: f64,
    /// Voluntary context switches of the whole process (`getrusage`; `/proc/self/status`'s
    /// counters are the main thread's only).
    pub ctx_switches_voluntary: u64,
    /// Involuntary context switches of the whole process (`getrusage`).
    pub ctx_switches_involuntary: u64,
    /// CPU time of every mock thread alive now; empty when mock CPU is not read.
    pub mock_threads_cpu: Vec<ThreadCpu>,
    /// Per-thread files that could not be read for another reason than the thread having exited.
    pub read_failures: u64,
}

impl ProcessSnapshot {
    /// Reads the process now, with no variant prefixes (variant threads count as "other") and
    /// per-thread CPU of the mock threads. It reads every thread's name; for repeated readings
    /// use one [`SnapshotReader`], which remembers them.
    pub fn now() -> io::Result<ProcessSnapshot> {
        SnapshotReader::new(&[]).snapshot()
    }

    /// Threads in the process.
    pub fn process_threads(&self) -> u64 {
        self.threads.total()
    }

    /// CPU time of the mock threads alive now, seconds.
    pub fn mock_cpu_s(&self) -> f64 {
        self.mock_threads_cpu.iter().map(|t| t.cpu_s).sum()
    }
}

/// Takes [`ProcessSnapshot`]s, keeping buffers and the thread names it has read between
/// readings: after two snapshots a thread's name is re-read only by the rolling re-check
/// (see [`RECHECK_EVERY`]), which makes later snapshots several times cheaper at 10,000 threads.
#[derive(Debug)]
pub struct SnapshotReader {
    classifier: ThreadClassifier,
    table: ThreadTable,
    read_mock_cpu: bool,
    path: String,
    buf: Vec<u8>,
    ticks_per_s: f64,
}

impl SnapshotReader {
    /// A reader counting threads named with one of `variant_prefixes` as the variant's.
    pub fn new(variant_prefixes: &[String]) -> Self {
        Self {
            classifier: ThreadClassifier::new(variant_prefixes),
            table: ThreadTable::default(),
            read_mock_cpu: true,
            path: String::with_capacity(64),
            buf: vec![0; READ_BUF_BYTES],
            ticks_per_s: clock_ticks_per_s(),
        }
    }

    /// Whether to read each mock thread's CPU time (one more file per mock thread); on by default.
    pub fn with_mock_cpu(mut self, read_mock_cpu: bool) -> Self {
        self.read_mock_cpu = read_mock_cpu;
        self
    }

    /// Reads the process now, trusting the names it has confirmed before. Fails only when the
    /// thread list, `/proc/self/status` or `getrusage` cannot be read; a thread that exits
    /// mid-reading is skipped.
    pub fn snapshot(&mut self) -> io::Result<ProcessSnapshot> {
        self.read(true)
    }

    /// Like [`snapshot`](Self::snapshot) but reads every thread's name again (refreshing what it
    /// remembers): exact, and several times as expensive at thousands of threads. For the
    /// readings a window starts and ends with.
    pub fn snapshot_fresh(&mut self) -> io::Result<ProcessSnapshot> {
        self.read(false)
    }

    fn read(&mut self, trust_cache: bool) -> io::Result<ProcessSnapshot> {
        let mut snapshot = ProcessSnapshot {
            taken_at: Instant::now(),
            threads: ThreadCounts::default(),
            thread_groups: BTreeMap::new(),
            rss_bytes: 0,
            rss_hwm_bytes: 0,
            cpu_user_s: 0.0,
            cpu_sys_s: 0.0,
            ctx_switches_voluntary: 0,
            ctx_switches_involuntary: 0,
            mock_threads_cpu: Vec::new(),
            read_failures: 0,
        };
        self.read_threads(&mut snapshot, trust_cache)?;
        self.read_status(&mut snapshot)?;
        let usage = rusage(libc::RUSAGE_SELF)?;
        snapshot.cpu_user_s = timeval_s(usage.ru_utime);
        snapshot.cpu_sys_s = timeval_s(usage.ru_stime);
        snapshot.ctx_switches_voluntary = u64::try_from(usage.ru_nvcsw).unwrap_or(0);
        snapshot.ctx_switches_involuntary = u64::try_from(usage.ru_nivcsw).unwrap_or(0);
        Ok(snapshot)
    }

    fn read_threads(
        &mut self,
        snapshot: &mut ProcessSnapshot,
        trust_cache: bool,
    ) -> io::Result<()> {
        self.table.begin();
        for entry in std::fs::read_dir(TASK_DIR)? {
            let Ok(entry) = entry else {
                snapshot.read_failures += 1;
                continue;
            };
            let Some(tid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            let cached = if trust_cache {
                self.table.cached(tid)
            } else {
                None
            };
            let class = match cached {
                Some(class) => class,
                None => match self.read_task_file(tid, "comm") {
                    Ok(len) => {
                        let comm = self.buf[..len]
                            .strip_suffix(b"\n")
                            .unwrap_or(&self.buf[..len]);
                        self.table.record(tid, comm, &self.classifier)
                    }
                    Err(e) if thread_gone(&e) => continue,
                    Err(_) => {
                        snapshot.read_failures += 1;
                        continue;
                    }
                },
            };
            if class == ThreadClass::Mock && self.read_mock_cpu {
                match self.read_task_file(tid, "stat") {
                    Ok(len) => match parse_task_stat(&self.buf[..len]) {
                        Some(t) => snapshot.mock_threads_cpu.push(ThreadCpu {
                            tid,
                            cpu_s: (t.utime + t.stime) as f64 / self.ticks_per_s,
                        }),
                        None => snapshot.read_failures += 1,
                    },
                    Err(e) if thread_gone(&e) => {}
                    Err(_) => snapshot.read_failures += 1,
                }
            }
        }
        (snapshot.threads, snapshot.thread_groups) = self.table.finish();
        Ok(())
    }

    /// Reads `/proc/self/task/<tid>/<leaf>` into the buffer. One `read` is enough: procfs hands
    /// out these short records whole, and a second call only to see end-of-file would double the
    /// system calls at 10,000 threads.
    fn read_task_file(&mut self, tid: u32, leaf: &str) -> io::Result<usize> {
        self.path.clear();
        // Writing into a String cannot fail.
        let _ = write!(self.path, "{TASK_DIR}/{tid}/{leaf}");
        File::open(&self.path)?.read(&mut self.buf)
    }

    fn read_status(&mut self, snapshot: &mut ProcessSnapshot) -> io::Result<()> {
        let mut file = File::open(STATUS_PATH)?;
        let mut len = 0;
        while len < self.buf.len() {
            match file.read(&mut self.buf[len..]) {
                Ok(0) => break,
                Ok(n) => len += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        let status = &self.buf[..len];
        match (status_bytes(status, "VmRSS"), status_bytes(status, "VmHWM")) {
            (Some(rss), Some(hwm)) => {
                snapshot.rss_bytes = rss;
                snapshot.rss_hwm_bytes = hwm;
                Ok(())
            }
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{STATUS_PATH} has no VmRSS/VmHWM lines (is /proc mounted?)"),
            )),
        }
    }
}

/// True when an error only means the thread exited between listing and reading.
pub(crate) fn thread_gone(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ESRCH)
}

pub(crate) fn clock_ticks_per_s() -> f64 {
    // SAFETY: sysconf has no preconditions; it returns -1 for an unknown name.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    // 100 is what every Linux ABI in use reports.
    if ticks > 0 { ticks as f64 } else { 100.0 }
}

pub(crate) fn rusage(who: libc::c_int) -> io::Result<libc::rusage> {
    // SAFETY: rusage is plain integers, so all-zero is a valid value; getrusage only writes
    // into the struct we own and reports failure through its return value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(who, &mut usage) };
    if rc == 0 {
        Ok(usage)
    } else {
        Err(io::Error::last_os_error())
    }
}

pub(crate) fn timeval_s(t: libc::timeval) -> f64 {
    t.tv_sec as f64 + t.tv_usec as f64 / 1e6
}

/// Resets the kernel's peak-RSS mark (`VmHWM`) to the current RSS. True when it worked.
pub(crate) fn reset_peak_rss() -> bool {
    std::fs::OpenOptions::new()
        .write(true)
        .open(CLEAR_REFS_PATH)
        .and_then(|mut f| f.write_all(b"5"))
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_parse_to_bytes() {
        let status = b"Name:\tx\nVmHWM:\t    2048 kB\nVmRSS:\t    1984 kB\nThreads:\t3\n";
        assert_eq!(status_bytes(status, "VmRSS"), Some(1984 * 1024));
        assert_eq!(status_bytes(status, "VmHWM"), Some(2048 * 1024));
        assert_eq!(status_bytes(status, "Threads"), Some(3));
        assert_eq!(status_bytes(status, "VmRS"), None);
        assert_eq!(status_bytes(b"VmRSS:\t12 MB\n", "VmRSS"), None);
    }

    #[test]
    fn snapshot_of_this_process_is_plausible() -> io::Result<()> {
        let s = ProcessSnapshot::now()?;
        assert!(s.process_threads() >= 1);
        assert_eq!(s.threads.variant, 0);
        assert!(s.rss_bytes > 0 && s.rss_hwm_bytes >= s.rss_bytes);
        assert_eq!(s.thread_groups.values().sum::<u64>(), s.process_threads());
        Ok(())
    }
}
