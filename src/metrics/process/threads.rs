//! Whose a thread is: [`ThreadClassifier`] sorts thread names (`comm`) into classes, and
//! [`ThreadTable`] remembers the names it has read so a sampler does not reopen 10,000 `comm`
//! files on every tick.
//!
//! Why a cache, and why it can be trusted: opening a procfs file costs ~5 µs here, so reading
//! every name takes ~50 ms at 10,000 threads, which would make the sampler part of the load.
//! Names are set once, by each thread as it starts, so a name read twice in a row is kept and
//! the thread is not read again except by a rolling re-check (one id in [`RECHECK_EVERY`] per
//! snapshot) that corrects the rare thread caught before it named itself or renamed later. A
//! thread id absent from one listing is forgotten at once, so a reused id is read afresh (the
//! kernel would have to cycle through every pid between two snapshots to fool it).

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

/// Each snapshot re-reads the names of the cached threads whose id is congruent to the snapshot
/// number modulo this, so every cached name is checked at least this often (in snapshots).
pub const RECHECK_EVERY: u64 = 8;

/// Linux keeps at most this many bytes of a thread's name (`TASK_COMM_LEN` minus the NUL).
pub const COMM_MAX_BYTES: usize = 15;
/// Name prefix of the in-process mock services' threads.
pub const MOCK_THREAD_PREFIX: &str = "mock-";
/// Name prefix of the harness's own threads (driver, sampler, collector).
pub const HARNESS_THREAD_PREFIX: &str = "ragperf-";

/// Whose a thread is, decided by its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ThreadClass {
    /// The variant under test: its workers, blocking pool and runtime.
    Variant,
    /// The in-process mock services (`mock-*`).
    Mock,
    /// The harness itself (`ragperf-*`).
    Harness,
    /// Anything else: the main thread, client libraries' internal threads, test threads.
    Other,
}

/// Threads counted per [`ThreadClass`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadCounts {
    /// Threads of the variant under test.
    pub variant: u64,
    /// Threads of the in-process mocks.
    pub mock: u64,
    /// Threads of the harness (sampler, driver, collector).
    pub harness: u64,
    /// Every other thread.
    pub other: u64,
}

impl ThreadCounts {
    /// All threads counted.
    pub fn total(&self) -> u64 {
        self.variant + self.mock + self.harness + self.other
    }

    fn add(&mut self, class: ThreadClass) {
        match class {
            ThreadClass::Variant => self.variant += 1,
            ThreadClass::Mock => self.mock += 1,
            ThreadClass::Harness => self.harness += 1,
            ThreadClass::Other => self.other += 1,
        }
    }
}

/// Sorts thread names into [`ThreadClass`]es.
#[derive(Clone, Debug, Default)]
pub struct ThreadClassifier {
    variant_prefixes: Vec<Vec<u8>>,
}

impl ThreadClassifier {
    /// A classifier for a variant whose threads' names start with one of `variant_prefixes`.
    /// Prefixes are cut to [`COMM_MAX_BYTES`] like the names the kernel keeps; empty ones are
    /// ignored (they would claim every thread).
    pub fn new(variant_prefixes: &[String]) -> Self {
        let variant_prefixes = variant_prefixes
            .iter()
            .map(|p| p.as_bytes()[..p.len().min(COMM_MAX_BYTES)].to_vec())
            .filter(|p| !p.is_empty())
            .collect();
        Self { variant_prefixes }
    }

    /// The class of a thread named `comm` (as read from `/proc/self/task/<tid>/comm`, without the
    /// newline). Mock and harness names win over variant prefixes, so a careless prefix can never
    /// count the mocks' or the sampler's threads as the variant's.
    pub fn classify(&self, comm: &[u8]) -> ThreadClass {
        if comm.starts_with(MOCK_THREAD_PREFIX.as_bytes()) {
            ThreadClass::Mock
        } else if comm.starts_with(HARNESS_THREAD_PREFIX.as_bytes()) {
            ThreadClass::Harness
        } else if self.variant_prefixes.iter().any(|p| comm.starts_with(p)) {
            ThreadClass::Variant
        } else {
            ThreadClass::Other
        }
    }
}

/// A thread name's group: the name without trailing digits, so `sync-worker-17` and
/// `sync-worker-3` both count under `sync-worker-`.
fn name_group(comm: &[u8]) -> &[u8] {
    let end = comm
        .iter()
        .rposition(|b| !b.is_ascii_digit())
        .map_or(0, |i| i + 1);
    if end == 0 { comm } else { &comm[..end] }
}

/// A thread name as the kernel keeps it: at most [`COMM_MAX_BYTES`] bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Comm {
    bytes: [u8; COMM_MAX_BYTES],
    len: u8,
}

impl Comm {
    fn new(name: &[u8]) -> Comm {
        let len = name.len().min(COMM_MAX_BYTES);
        let mut bytes = [0; COMM_MAX_BYTES];
        bytes[..len].copy_from_slice(&name[..len]);
        Comm {
            bytes,
            len: len as u8,
        }
    }

    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

#[derive(Debug)]
struct KnownThread {
    comm: Comm,
    class: ThreadClass,
    group: usize,
    /// Read with the same name on two snapshots in a row.
    confirmed: bool,
    /// Snapshot number this thread was last listed in.
    seen: u64,
}

/// The threads seen so far, by id, with their class and name group; counts one snapshot at a
/// time: [`begin`](Self::begin), then [`cached`](Self::cached) or [`record`](Self::record) for
/// every listed thread, then [`finish`](Self::finish).
#[derive(Debug, Default)]
pub(super) struct ThreadTable {
    known: HashMap<u32, KnownThread>,
    group_ids: HashMap<Vec<u8>, usize>,
    group_names: Vec<String>,
    snapshot: u64,
    counts: ThreadCounts,
    group_counts: Vec<u64>,
}

impl ThreadTable {
    /// Starts counting a new snapshot.
    pub(super) fn begin(&mut self) {
        self.snapshot += 1;
        self.counts = ThreadCounts::default();
        self.group_counts.clear();
        self.group_counts.resize(self.group_names.len(), 0);
    }

    /// Counts thread `tid` from the cache and returns its class, or `None` when its name must be
    /// read (never seen, not yet confirmed, or due for its re-check).
    pub(super) fn cached(&mut self, tid: u32) -> Option<ThreadClass> {
        let recheck = u64::from(tid) % RECHECK_EVERY == self.snapshot % RECHECK_EVERY;
        let known = self
            .known
            .get_mut(&tid)
            .filter(|k| k.confirmed && !recheck)?;
        known.seen = self.snapshot;
        let (class, group) = (known.class, known.group);
        self.count(class, group);
        Some(class)
    }

    /// Counts thread `tid` named `comm` (just read) and returns its class.
    pub(super) fn record(
        &mut self,
        tid: u32,
        comm: &[u8],
        classifier: &ThreadClassifier,
    ) -> ThreadClass {
        let comm = Comm::new(comm);
        let snapshot = self.snapshot;
        let (class, group) = match self.known.entry(tid) {
            Entry::Occupied(mut entry) if entry.get().comm == comm => {
                let known = entry.get_mut();
                known.confirmed = true;
                known.seen = snapshot;
                (known.class, known.group)
            }
            entry => {
                let class = classifier.classify(comm.as_bytes());
                let group = intern(&mut self.group_ids, &mut self.group_names, comm.as_bytes());
                let known = KnownThread {
                    comm,
                    class,
                    group,
                    confirmed: false,
                    seen: snapshot,
                };
                match entry {
                    Entry::Occupied(mut e) => {
                        e.insert(known);
                    }
                    Entry::Vacant(e) => {
                        e.insert(known);
                    }
                }
                (class, group)
            }
        };
        self.count(class, group);
        class
    }

    /// Forgets threads that were not listed in this snapshot and returns its counts per class
    /// and per name group.
    pub(super) fn finish(&mut self) -> (ThreadCounts, BTreeMap<String, u64>) {
        let snapshot = self.snapshot;
        self.known.retain(|_, k| k.seen == snapshot);
        let groups = self
            .group_counts
            .iter()
            .zip(&self.group_names)
            .filter(|(n, _)| **n > 0)
            .map(|(n, name)| (name.clone(), *n))
            .collect();
        (self.counts, groups)
    }

    fn count(&mut self, class: ThreadClass, group: usize) {
        self.counts.add(class);
        if self.group_counts.len() <= group {
            self.group_counts.resize(group + 1, 0);
        }
        self.group_counts[group] += 1;
    }
}

/// The id of the group of thread name `comm`, adding the group when new.
fn intern(ids: &mut HashMap<Vec<u8>, usize>, names: &mut Vec<String>, comm: &[u8]) -> usize {
    let group = name_group(comm);
    if let Some(&id) = ids.get(group) {
        return id;
    }
    names.push(String::from_utf8_lossy(group).into_owned());
    ids.insert(group.to_vec(), names.len() - 1);
    names.len() - 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mock_and_harness_names_win_over_variant_prefixes() {
        let c = ThreadClassifier::new(&["sync-worker-".into(), "".into(), "m".into()]);
        assert_eq!(c.classify(b"sync-worker-12"), ThreadClass::Variant);
        assert_eq!(c.classify(b"mock-3"), ThreadClass::Mock);
        assert_eq!(c.classify(b"ragperf-sampler"), ThreadClass::Harness);
        assert_eq!(c.classify(b"main"), ThreadClass::Variant);
        assert_eq!(c.classify(b"tokio-runtime-w"), ThreadClass::Other);
        // The empty prefix was dropped rather than claiming everything.
        assert_eq!(
            ThreadClassifier::new(&["".into()]).classify(b"x"),
            ThreadClass::Other
        );
    }

    #[test]
    fn prefixes_longer_than_comm_still_match_truncated_names() {
        let c = ThreadClassifier::new(&["blocking-in-async-rt-".into()]);
        assert_eq!(c.classify(b"blocking-in-asy"), ThreadClass::Variant);
        assert_eq!(c.classify(b"blocking-in-as"), ThreadClass::Other);
    }

    #[test]
    fn groups_drop_trailing_digits_only() {
        assert_eq!(name_group(b"sync-worker-17"), b"sync-worker-");
        assert_eq!(name_group(b"tokio-runtime-w"), b"tokio-runtime-w");
        assert_eq!(name_group(b"h2o2"), b"h2o");
        assert_eq!(name_group(b"123"), b"123");
    }

    /// Runs one snapshot over `threads`, reading a name only when the table asks for it.
    fn snapshot(
        table: &mut ThreadTable,
        classifier: &ThreadClassifier,
        threads: &[(u32, &str)],
    ) -> (ThreadCounts, BTreeMap<String, u64>, usize) {
        table.begin();
        let mut reads = 0;
        for &(tid, name) in threads {
            if table.cached(tid).is_none() {
                reads += 1;
                table.record(tid, name.as_bytes(), classifier);
            }
        }
        let (counts, groups) = table.finish();
        (counts, groups, reads)
    }

    #[test]
    fn names_are_read_until_confirmed_then_rechecked_in_turn() {
        let classifier = ThreadClassifier::new(&["sync-worker-".into()]);
        let mut table = ThreadTable::default();
        let threads: Vec<(u32, String)> = (100..164)
            .map(|t| (t, format!("sync-worker-{t}")))
            .collect();
        let threads: Vec<(u32, &str)> = threads.iter().map(|(t, n)| (*t, n.as_str())).collect();
        let (counts, groups, reads) = snapshot(&mut table, &classifier, &threads);
        assert_eq!((counts.variant, reads), (64, 64));
        assert_eq!(groups.get("sync-worker-"), Some(&64));
        // Second sighting confirms; after that only one id in RECHECK_EVERY is read again.
        assert_eq!(snapshot(&mut table, &classifier, &threads).2, 64);
        let (counts, _, reads) = snapshot(&mut table, &classifier, &threads);
        assert_eq!((counts.variant, reads), (64, 64 / RECHECK_EVERY as usize));
    }

    #[test]
    fn a_thread_caught_before_naming_itself_is_corrected() {
        let classifier = ThreadClassifier::new(&["sync-worker-".into()]);
        let mut table = ThreadTable::default();
        // Seen twice with its parent's name (as if it had not run yet): cached as harness.
        for _ in 0..2 {
            snapshot(&mut table, &classifier, &[(7, "ragperf-driver")]);
        }
        let mut counts = ThreadCounts::default();
        for _ in 0..RECHECK_EVERY {
            counts = snapshot(&mut table, &classifier, &[(7, "sync-worker-0")]).0;
        }
        assert_eq!((counts.variant, counts.harness), (1, 0));
    }

    #[test]
    fn exited_threads_are_forgotten() {
        let classifier = ThreadClassifier::default();
        let mut table = ThreadTable::default();
        for _ in 0..2 {
            snapshot(&mut table, &classifier, &[(1, "mock-1"), (2, "mock-2")]);
        }
        // Thread 2 exits; its id comes back under another name and is read, not trusted.
        snapshot(&mut table, &classifier, &[(1, "mock-1")]);
        let (counts, groups, _) = snapshot(&mut table, &classifier, &[(1, "mock-1"), (2, "other")]);
        assert_eq!((counts.mock, counts.other), (1, 1));
        assert_eq!(groups.get("other"), Some(&1));
    }
}
