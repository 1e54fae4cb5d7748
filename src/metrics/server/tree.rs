//! The server's process tree as `/proc` shows it: [`Tree`] keeps the root and every descendant it
//! has found, refreshes them once per snapshot, finds new descendants, and keeps the CPU
//! accounting that survives processes exiting.
//!
//! Per snapshot, for each process of the tree: one `stat` read (threads, RSS, CPU, parent) and,
//! when the kernel has `CONFIG_PROC_CHILDREN`, one read of the main thread's `children` list.
//! Every [`FULL_SCAN_EVERY`] snapshots (and at start and stop) a full discovery also finds
//! children forked by other threads: every thread's `children` list, or, without those files, a
//! scan of every `/proc/<pid>/stat` on the machine for parent ids in the tree.

use std::collections::{BTreeMap, HashMap};
use std::io;

use super::procfs::{
    ProcReader, ProcStat, join_cmdline, parse_ctxt_switches, parse_pids, parse_proc_stat, stat_comm,
};
use crate::metrics::process::{parse_task_stat, thread_gone};

/// Snapshots between full discoveries of the tree (see the module docs); at 100 ms, three
/// seconds. A full discovery reads one `children` file per thread of the tree (at 500 threads
/// ~3 ms here), so it is spread thin; what it finds late still counts all its CPU.
pub const FULL_SCAN_EVERY: u64 = 30;

/// CPU time in clock ticks, user and system, each including waited-for children.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Cpu {
    user: i64,
    sys: i64,
}

impl Cpu {
    fn of(s: &ProcStat) -> Cpu {
        Cpu {
            user: i64::try_from(s.user_ticks).unwrap_or(i64::MAX),
            sys: i64::try_from(s.sys_ticks).unwrap_or(i64::MAX),
        }
    }
}

/// One process of the tree.
#[derive(Debug)]
struct Member {
    stat: ProcStat,
    /// CPU the window counts from: the first reading, or zero for a process born in the window.
    base: Cpu,
    /// Its threads' context switches have a baseline (read at start, or born in the window).
    ctx_baseline: bool,
}

/// The levels of one snapshot of the tree.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Levels {
    /// Live processes (zombies excluded).
    pub processes: u64,
    /// Threads summed over the live processes.
    pub threads: u64,
    /// Resident pages summed over the live processes.
    pub rss_pages: u64,
    /// User CPU since the window started, clock ticks (never negative).
    pub user_ticks: u64,
    /// System CPU since the window started, clock ticks.
    pub sys_ticks: u64,
}

/// The root process and its descendants, with the CPU accounting of the window.
#[derive(Debug)]
pub(crate) struct Tree {
    root: u32,
    members: BTreeMap<u32, Member>,
    /// CPU of members that have gone: what their reaper's `cutime`/`cstime` will not bring in,
    /// minus what it will bring in from before the window (see `retire`).
    retired: Cpu,
    /// The window's start, clock ticks since boot (comparable with `stat` field 22).
    start_ticks: u64,
    children_files: bool,
    snapshots: u64,
    /// The root has exited (gone from `/proc`, or a zombie).
    pub root_exited: bool,
    /// Reads that failed for another reason than the process or thread having exited.
    pub failed_reads: u64,
    reader: ProcReader,
}

impl Tree {
    /// Reads the root; `Err(NotFound)` when there is no such process. `start_ticks` is the
    /// window's start in clock ticks since boot.
    pub fn open(root: u32, start_ticks: u64) -> io::Result<Tree> {
        let mut reader = ProcReader::new();
        let stat = parse_proc_stat(reader.read(root, "stat")?).ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidData, "unreadable /proc/PID/stat")
        })?;
        let children_files = reader.read_task(root, root, "children").is_ok();
        let mut members = BTreeMap::new();
        members.insert(root, Self::member(stat, Cpu::of(&stat)));
        Ok(Tree {
            root,
            members,
            retired: Cpu::default(),
            start_ticks,
            children_files,
            snapshots: 0,
            root_exited: stat.defunct(),
            failed_reads: 0,
            reader,
        })
    }

    fn member(stat: ProcStat, base: Cpu) -> Member {
        Member {
            stat,
            base,
            ctx_baseline: false,
        }
    }

    /// The root's command line, else its name.
    pub fn command(&mut self, max_chars: usize) -> String {
        let root = self.root;
        let line = match self.reader.read(root, "cmdline") {
            Ok(c) => join_cmdline(c, max_chars),
            Err(_) => String::new(),
        };
        if !line.is_empty() {
            return line;
        }
        self.reader
            .read(root, "stat")
            .ok()
            .and_then(stat_comm)
            .unwrap_or_default()
    }

    /// Refreshes every member, finds new descendants (all of them when `full`) and returns the
    /// levels now.
    pub fn snapshot(&mut self, full: bool) -> Levels {
        self.refresh();
        self.discover(full || self.snapshots.is_multiple_of(FULL_SCAN_EVERY));
        self.snapshots += 1;
        self.levels()
    }

    fn levels(&self) -> Levels {
        let mut levels = Levels::default();
        let mut cpu = self.retired;
        for m in self.members.values() {
            cpu.user += Cpu::of(&m.stat).user - m.base.user;
            cpu.sys += Cpu::of(&m.stat).sys - m.base.sys;
            if !m.stat.defunct() {
                levels.processes += 1;
                levels.threads += m.stat.threads;
                levels.rss_pages += m.stat.rss_pages;
            }
        }
        levels.user_ticks = u64::try_from(cpu.user).unwrap_or(0);
        levels.sys_ticks = u64::try_from(cpu.sys).unwrap_or(0);
        levels
    }

    /// Re-reads each member's `stat`; retires those that have gone (or whose pid now belongs to
    /// a newer process).
    fn refresh(&mut self) {
        let mut gone = Vec::new();
        for (&pid, m) in &mut self.members {
            match self.reader.read(pid, "stat") {
                Ok(line) => match parse_proc_stat(line) {
                    Some(s) if s.starttime == m.stat.starttime => m.stat = s,
                    Some(_) => gone.push(pid),
                    None => self.failed_reads += 1,
                },
                Err(e) if thread_gone(&e) => gone.push(pid),
                Err(_) => self.failed_reads += 1,
            }
        }
        let parents_before: Vec<u32> = gone
            .iter()
            .filter_map(|pid| self.members.get(pid).map(|m| m.stat.ppid))
            .collect();
        let reapers: HashMap<u32, bool> = parents_before
            .iter()
            .map(|&ppid| {
                let live = self.members.get(&ppid).is_some_and(|p| !p.stat.defunct());
                (ppid, live)
            })
            .collect();
        for pid in gone {
            if let Some(m) = self.members.remove(&pid) {
                self.retire(&m, reapers.get(&m.stat.ppid).copied().unwrap_or(false));
            }
        }
        // A reaper's `cutime` includes its child once the child is gone from /proc: read it again
        // so this snapshot does not show the child's CPU as lost.
        for ppid in reapers
            .into_iter()
            .filter_map(|(p, live)| live.then_some(p))
        {
            if let Some(m) = self.members.get_mut(&ppid)
                && let Ok(line) = self.reader.read(ppid, "stat")
                && let Some(s) = parse_proc_stat(line)
                && s.starttime == m.stat.starttime
            {
                m.stat = s;
            }
        }
        let root_alive = self
            .members
            .get(&self.root)
            .is_some_and(|m| !m.stat.defunct());
        self.root_exited |= !root_alive;
    }

    /// Accounts for a member that has gone from `/proc`. When its parent was a live member, the
    /// parent waited for it (that is what removes it from `/proc`) and gained its whole CPU in
    /// `cutime`/`cstime`: drop what was counted for it and take back its CPU from before the
    /// window. Otherwise (reaped outside the tree) keep what was counted up to its last reading.
    fn retire(&mut self, m: &Member, reaped_by_parent_in_tree: bool) {
        let last = Cpu::of(&m.stat);
        if reaped_by_parent_in_tree {
            self.retired.user -= m.base.user;
            self.retired.sys -= m.base.sys;
        } else {
            self.retired.user += last.user - m.base.user;
            self.retired.sys += last.sys - m.base.sys;
        }
    }

    /// Adds the descendants not yet known: the main threads' `children` lists every time, and
    /// when `full` every thread's lists (or the `/proc` scan when there are no such lists).
    fn discover(&mut self, full: bool) {
        let mut queue: Vec<u32> = self
            .members
            .iter()
            .filter(|(_, m)| !m.stat.defunct())
            .map(|(&pid, _)| pid)
            .collect();
        if !self.children_files {
            if full {
                self.scan_proc();
            }
            return;
        }
        while let Some(pid) = queue.pop() {
            let tids = if full {
                match self.reader.tids(pid) {
                    Ok(t) => t,
                    Err(e) if thread_gone(&e) => continue,
                    Err(_) => {
                        self.failed_reads += 1;
                        continue;
                    }
                }
            } else {
                vec![pid]
            };
            for tid in tids {
                let children: Vec<u32> = match self.reader.read_task(pid, tid, "children") {
                    Ok(list) => parse_pids(list).collect(),
                    Err(e) if thread_gone(&e) => continue,
                    Err(_) => {
                        self.failed_reads += 1;
                        continue;
                    }
                };
                for child in children {
                    if self.adopt(child) {
                        queue.push(child);
                    }
                }
            }
        }
    }

    /// Scans every process on the machine for parents in the tree.
    fn scan_proc(&mut self) {
        let Ok(dir) = std::fs::read_dir("/proc") else {
            self.failed_reads += 1;
            return;
        };
        let mut by_parent: HashMap<u32, Vec<u32>> = HashMap::new();
        for entry in dir.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            if self.members.contains_key(&pid) {
                continue;
            }
            if let Ok(line) = self.reader.read(pid, "stat")
                && let Some(s) = parse_proc_stat(line)
            {
                by_parent.entry(s.ppid).or_default().push(pid);
            }
        }
        let mut queue: Vec<u32> = self.members.keys().copied().collect();
        while let Some(parent) = queue.pop() {
            for child in by_parent.remove(&parent).unwrap_or_default() {
                if self.adopt(child) {
                    queue.push(child);
                }
            }
        }
    }

    /// Starts tracking `pid` if it is new; true when it was added. A process first seen after
    /// the start snapshot that started during the window counts all its CPU (it had none before);
    /// one that started earlier counts from this reading.
    fn adopt(&mut self, pid: u32) -> bool {
        if self.members.contains_key(&pid) {
            return false;
        }
        let stat = match self.reader.read(pid, "stat") {
            Ok(line) => parse_proc_stat(line),
            Err(e) if thread_gone(&e) => return false,
            Err(_) => None,
        };
        let Some(stat) = stat else {
            self.failed_reads += 1;
            return false;
        };
        let born_in_window = self.snapshots > 0 && stat.starttime >= self.start_ticks;
        let base = if born_in_window {
            Cpu::default()
        } else {
            Cpu::of(&stat)
        };
        let mut member = Self::member(stat, base);
        member.ctx_baseline = born_in_window;
        self.members.insert(pid, member);
        true
    }

    /// Context switches and CPU of every thread of every live member, by thread id; one
    /// `status` and one `stat` read per thread, so only at the window's start and stop.
    pub fn thread_counters(&mut self, mark_baseline: bool) -> HashMap<u32, ThreadCounters> {
        let mut counts = HashMap::new();
        let pids: Vec<u32> = self
            .members
            .iter()
            .filter(|(_, m)| !m.stat.defunct() && (mark_baseline || m.ctx_baseline))
            .map(|(&pid, _)| pid)
            .collect();
        for pid in pids {
            let tids = match self.reader.tids(pid) {
                Ok(t) => t,
                Err(e) if thread_gone(&e) => continue,
                Err(_) => {
                    self.failed_reads += 1;
                    continue;
                }
            };
            for tid in tids {
                if let Some(c) = self.read_thread(pid, tid) {
                    counts.insert(tid, c);
                }
            }
            if mark_baseline && let Some(m) = self.members.get_mut(&pid) {
                m.ctx_baseline = true;
            }
        }
        counts
    }

    /// One thread's counters; None when it exited meanwhile or a file did not parse (counted).
    fn read_thread(&mut self, pid: u32, tid: u32) -> Option<ThreadCounters> {
        let (voluntary, involuntary) =
            self.read_task_as(pid, tid, "status", parse_ctxt_switches)?;
        let cpu_ticks = self.read_task_as(pid, tid, "stat", |stat| {
            parse_task_stat(stat).map(|t| t.utime.saturating_add(t.stime))
        })?;
        Some(ThreadCounters {
            voluntary,
            involuntary,
            cpu_ticks,
        })
    }
}

impl Tree {
    /// `/proc/<pid>/task/<tid>/<leaf>` parsed by `parse`; None when the thread is gone, or the
    /// read or the parse failed (those two counted in `failed_reads`).
    fn read_task_as<T>(
        &mut self,
        pid: u32,
        tid: u32,
        leaf: &str,
        parse: impl FnOnce(&[u8]) -> Option<T>,
    ) -> Option<T> {
        let parsed = match self.reader.read_task(pid, tid, leaf) {
            Ok(bytes) => parse(bytes),
            Err(e) if thread_gone(&e) => return None,
            Err(_) => None,
        };
        if parsed.is_none() {
            self.failed_reads += 1;
        }
        parsed
    }
}

/// What one thread has done since it started, read at the window's start and stop.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ThreadCounters {
    /// Voluntary context switches.
    pub voluntary: u64,
    /// Involuntary context switches.
    pub involuntary: u64,
    /// User plus system CPU of this thread alone (`task/<tid>/stat` fields 14 and 15), ticks.
    pub cpu_ticks: u64,
}

/// The counters a thread gained during the window: stop minus start; a thread absent at the
/// start (born in the window) counts whole, and so does one whose counts went down under a known
/// id (a newer thread reused it). Threads that exited before the stop are absent.
fn thread_delta(start: Option<&ThreadCounters>, stop: &ThreadCounters) -> ThreadCounters {
    match start {
        Some(s)
            if s.voluntary <= stop.voluntary
                && s.involuntary <= stop.involuntary
                && s.cpu_ticks <= stop.cpu_ticks =>
        {
            ThreadCounters {
                voluntary: stop.voluntary - s.voluntary,
                involuntary: stop.involuntary - s.involuntary,
                cpu_ticks: stop.cpu_ticks - s.cpu_ticks,
            }
        }
        _ => *stop,
    }
}

/// Context switches during the window, summed over the threads (voluntary, involuntary).
pub(crate) fn ctx_delta(
    start: &HashMap<u32, ThreadCounters>,
    stop: &HashMap<u32, ThreadCounters>,
) -> (u64, u64) {
    stop.iter()
        .map(|(tid, c)| thread_delta(start.get(tid), c))
        .fold((0, 0), |(v, i), d| (v + d.voluntary, i + d.involuntary))
}

/// CPU ticks of the thread that used the most CPU during the window (0 with no thread).
pub(crate) fn busiest_thread_ticks(
    start: &HashMap<u32, ThreadCounters>,
    stop: &HashMap<u32, ThreadCounters>,
) -> u64 {
    stop.iter()
        .map(|(tid, c)| thread_delta(start.get(tid), c).cpu_ticks)
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_switch_deltas_per_thread() {
        let c = |voluntary, involuntary, cpu_ticks| ThreadCounters {
            voluntary,
            involuntary,
            cpu_ticks,
        };
        let start = HashMap::from([(1, c(10, 1, 50)), (2, c(5, 5, 90)), (3, c(100, 0, 400))]);
        // 1 ran on, 2 was reused by a newer thread, 3 exited, 4 was born.
        let stop = HashMap::from([(1, c(15, 3, 80)), (2, c(1, 1, 20)), (4, c(7, 2, 25))]);
        assert_eq!(ctx_delta(&start, &stop), (5 + 1 + 7, 2 + 1 + 2));
        // CPU in the window: 30, 20 (reused id: whole), 25 (born); 3's 400 ticks are before.
        assert_eq!(busiest_thread_ticks(&start, &stop), 30);
        assert_eq!(busiest_thread_ticks(&start, &HashMap::new()), 0);
    }

    #[test]
    fn proc_scan_finds_descendants_without_children_files() -> io::Result<()> {
        use std::os::unix::process::CommandExt;
        let mut child = std::process::Command::new("sh")
            .args(["-c", "sleep 5 & sleep 5 & wait"])
            .process_group(0)
            .spawn()?;
        let pid = child.id();
        std::thread::sleep(std::time::Duration::from_millis(200));
        let mut tree = Tree::open(pid, 0)?;
        tree.children_files = false;
        let levels = tree.snapshot(true);
        // SAFETY: kill has no memory effects; the group is the child's own.
        unsafe { libc::kill(-(pid as i32), libc::SIGKILL) };
        child.wait()?;
        assert_eq!(levels.processes, 3, "{levels:?}");
        assert_eq!(tree.failed_reads, 0);
        Ok(())
    }

    #[test]
    fn tree_of_this_process_counts_itself() -> io::Result<()> {
        let mut tree = Tree::open(std::process::id(), 0)?;
        let levels = tree.snapshot(true);
        assert!(levels.processes >= 1 && levels.threads >= 1 && levels.rss_pages > 0);
        assert!(!tree.root_exited);
        assert!(!tree.command(200).is_empty());
        Ok(())
    }
}
