//! Reading the `/proc` records the server sampler needs: [`ProcReader`] reads files of another
//! process into one reused buffer, and the parsers turn `stat`, `status`, `cmdline` and
//! `children` into figures. Field positions in `stat` are counted after the name's last `)`.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, Read};

use crate::metrics::process::{parse_u64, stat_fields, status_bytes};

/// Start size of the read buffer: any `stat` line, a `status` file, most `children` lists.
const READ_BUF_BYTES: usize = 8 * 1024;

/// What one `/proc/<pid>/stat` line says, as far as the server sampler needs it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ProcStat {
    /// Field 3: `R`, `S`, `D`, `Z` (zombie), `X` (dead), …
    pub state: u8,
    /// Field 4: parent process id.
    pub ppid: u32,
    /// Fields 14 and 16: user CPU of the process plus that of its waited-for children, ticks.
    pub user_ticks: u64,
    /// Fields 15 and 17: system CPU of the process plus that of its waited-for children, ticks.
    pub sys_ticks: u64,
    /// Field 20: threads in the process.
    pub threads: u64,
    /// Field 22: when the process started, clock ticks since boot.
    pub starttime: u64,
    /// Field 24: resident set size, pages (the counter `VmRSS` in `status` shows in kB).
    pub rss_pages: u64,
}

impl ProcStat {
    /// A zombie whose threads have all exited: nothing left but its exit status.
    pub fn defunct(&self) -> bool {
        matches!(self.state, b'Z' | b'X') && self.threads <= 1
    }
}

/// Parses a `/proc/<pid>/stat` line; fields are counted after the last `)`, so a name such as
/// `a) b (c` cannot shift them.
pub(crate) fn parse_proc_stat(stat: &[u8]) -> Option<ProcStat> {
    // Indices after the name: 0 is field 3.
    let mut f: [&[u8]; 22] = [&[]; 22];
    let mut n = 0;
    for field in stat_fields(stat)?.take(f.len()) {
        f[n] = field;
        n += 1;
    }
    if n < f.len() || f[0].len() != 1 {
        return None;
    }
    let field = |i: usize| parse_u64(f[i]);
    // rss (field 24) is a signed long; a negative value would be a kernel accounting glitch.
    let rss_pages = field(21).unwrap_or(0);
    Some(ProcStat {
        state: f[0][0],
        ppid: u32::try_from(field(1)?).ok()?,
        user_ticks: field(11)?.saturating_add(field(13)?),
        sys_ticks: field(12)?.saturating_add(field(14)?),
        threads: field(17)?,
        starttime: field(19)?,
        rss_pages,
    })
}

/// The name in field 2 of a `stat` line: between the first `(` and the last `)`.
pub(crate) fn stat_comm(stat: &[u8]) -> Option<String> {
    let open = stat.iter().position(|&b| b == b'(')?;
    let close = stat.iter().rposition(|&b| b == b')')?;
    (open < close).then(|| String::from_utf8_lossy(&stat[open + 1..close]).into_owned())
}

/// `voluntary_ctxt_switches` and `nonvoluntary_ctxt_switches` of a thread's `status` file.
pub(crate) fn parse_ctxt_switches(status: &[u8]) -> Option<(u64, u64)> {
    // `status_bytes` returns a unit-less value as it stands.
    Some((
        status_bytes(status, "voluntary_ctxt_switches")?,
        status_bytes(status, "nonvoluntary_ctxt_switches")?,
    ))
}

/// A `cmdline` file (arguments separated and ended by NUL) as one line (control characters such
/// as the newlines of a `python3 -c` program become spaces), at most `max_chars` characters (an
/// ellipsis marks a cut). Empty for kernel threads and zombies.
pub(crate) fn join_cmdline(cmdline: &[u8], max_chars: usize) -> String {
    let joined = cmdline
        .split(|&b| b == 0)
        .filter(|arg| !arg.is_empty())
        .map(String::from_utf8_lossy)
        .collect::<Vec<_>>()
        .join(" ")
        .replace(char::is_control, " ")
        .trim_end()
        .to_string();
    match joined.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &joined[..cut]),
        None => joined,
    }
}

/// Pids in a `children` file (space-separated).
pub(crate) fn parse_pids(list: &[u8]) -> impl Iterator<Item = u32> + '_ {
    list.split(u8::is_ascii_whitespace)
        .filter_map(|w| parse_u64(w).and_then(|p| u32::try_from(p).ok()))
}

/// Reads `/proc` files into one reused buffer.
#[derive(Debug)]
pub(crate) struct ProcReader {
    path: String,
    buf: Vec<u8>,
}

impl ProcReader {
    pub fn new() -> Self {
        Self {
            path: String::with_capacity(64),
            buf: vec![0; READ_BUF_BYTES],
        }
    }

    /// Reads `/proc/<pid>/<leaf>` whole (growing the buffer when needed).
    pub fn read(&mut self, pid: u32, leaf: &str) -> io::Result<&[u8]> {
        self.path.clear();
        // Writing into a String cannot fail.
        let _ = write!(self.path, "/proc/{pid}/{leaf}");
        self.read_path()
    }

    /// Reads `/proc/<pid>/task/<tid>/<leaf>` whole.
    pub fn read_task(&mut self, pid: u32, tid: u32, leaf: &str) -> io::Result<&[u8]> {
        self.path.clear();
        let _ = write!(self.path, "/proc/{pid}/task/{tid}/{leaf}");
        self.read_path()
    }

    fn read_path(&mut self) -> io::Result<&[u8]> {
        let mut file = File::open(&self.path)?;
        let mut len = 0;
        loop {
            if len == self.buf.len() {
                self.buf.resize(len * 2, 0);
            }
            match file.read(&mut self.buf[len..]) {
                Ok(0) => break,
                Ok(n) => len += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(&self.buf[..len])
    }

    /// Thread ids of a process (`/proc/<pid>/task`).
    pub fn tids(&mut self, pid: u32) -> io::Result<Vec<u32>> {
        self.path.clear();
        let _ = write!(self.path, "/proc/{pid}/task");
        Ok(std::fs::read_dir(&self.path)?
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stat line in the kernel's format with the given name and figures.
    fn stat_line(name: &str, state: char, ppid: u32, utime: u64, cutime: u64) -> Vec<u8> {
        format!(
            "4242 ({name}) {state} {ppid} 4242 4242 0 -1 4194560 100 0 0 0 {utime} 7 {cutime} 3 \
             20 0 5 0 123456 10000000 250 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 \
             0 0 0\n"
        )
        .into_bytes()
    }

    #[test]
    fn stat_with_hostile_name_parses_after_the_last_paren() {
        let line = stat_line("a) b (c", 'S', 17, 40, 2);
        let s = parse_proc_stat(&line);
        assert_eq!(
            s,
            Some(ProcStat {
                state: b'S',
                ppid: 17,
                user_ticks: 42,
                sys_ticks: 10,
                threads: 5,
                starttime: 123456,
                rss_pages: 250,
            })
        );
        assert_eq!(stat_comm(&line).as_deref(), Some("a) b (c"));
        let fake = stat_line(
            ") Z 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 (",
            'R',
            9,
            1,
            0,
        );
        let s = parse_proc_stat(&fake).map(|s| (s.state, s.ppid, s.threads));
        assert_eq!(s, Some((b'R', 9, 5)));
    }

    #[test]
    fn short_or_broken_stat_lines_are_rejected() {
        assert_eq!(parse_proc_stat(b"12 (x) S 1 2 3"), None);
        assert_eq!(parse_proc_stat(b"no parenthesis at all"), None);
        let line = stat_line("x", 'S', 1, 1, 1);
        let text = String::from_utf8_lossy(&line).replace(" S ", " SS ");
        assert_eq!(parse_proc_stat(text.as_bytes()), None);
    }

    #[test]
    fn zombie_is_defunct_only_without_live_threads() {
        let zombie =
            parse_proc_stat(&stat_line("z", 'Z', 1, 0, 0)).map(|s| ProcStat { threads: 1, ..s });
        assert!(zombie.is_some_and(|s| s.defunct()));
        // A leader that exited while its other threads run still shows `Z`.
        let busy = parse_proc_stat(&stat_line("z", 'Z', 1, 0, 0));
        assert!(busy.is_some_and(|s| !s.defunct()));
    }

    #[test]
    fn status_context_switches_parse() {
        let status = b"Name:\ta) b (c\nThreads:\t1\nvoluntary_ctxt_switches:\t150\n\
                       nonvoluntary_ctxt_switches:\t7\n";
        assert_eq!(parse_ctxt_switches(status), Some((150, 7)));
        assert_eq!(parse_ctxt_switches(b"voluntary_ctxt_switches:\t1\n"), None);
    }

    #[test]
    fn cmdline_joins_and_truncates() {
        assert_eq!(
            join_cmdline(b"uvicorn\0app:app\0--port\08000\0", 200),
            "uvicorn app:app --port 8000"
        );
        assert_eq!(join_cmdline(b"", 200), "");
        assert_eq!(
            join_cmdline(b"python3\0-c\0import x\nx.y()\0", 200),
            "python3 -c import x x.y()"
        );
        assert_eq!(join_cmdline("ééééé\0".as_bytes(), 3), "ééé…");
    }
}
