//! The machine a result was measured on (docs/design.md §7: "the machine (cores, OS, versions)"), so a
//! reader of `result.json` — or `compare`/`merge` — knows whether two runs are comparable.
//! Detection never fails: what cannot be read becomes `"unknown"` or 0.

use std::ffi::CStr;

use serde::{Deserialize, Serialize};

/// Written for a field that could not be detected.
pub const UNKNOWN: &str = "unknown";

/// Hardware, OS and versions of the machine running ragperf.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MachineInfo {
    /// CPUs this process may use (`available_parallelism`: honours affinity and cgroup quotas).
    pub cores: u64,
    /// CPU model (`model name` in `/proc/cpuinfo`).
    pub cpu_model: String,
    /// CPU architecture, e.g. `x86_64`, `aarch64`.
    pub arch: String,
    /// Operating system (`PRETTY_NAME` in `/etc/os-release`).
    pub os: String,
    /// Kernel release (`uname -r`).
    pub kernel: String,
    /// Physical memory (`MemTotal` in `/proc/meminfo`), bytes.
    pub memory_bytes: u64,
    /// Host name (`uname -n`).
    pub hostname: String,
    /// Version of ragperf that measured.
    pub ragperf_version: String,
    /// Soft limit on open file descriptors when detected (`ulimit -n`; `u64::MAX` = unlimited).
    /// Each connection needs one, two with in-process mocks (docs/design.md §10).
    pub fd_soft_limit: u64,
    /// Hard limit on open file descriptors (`ulimit -Hn`; `u64::MAX` = unlimited).
    pub fd_hard_limit: u64,
    /// How ragperf was built: `release` or `debug` (`cargo run` / `cargo test`); CPU and
    /// latency figures of the two are not comparable. Empty in results from before it was
    /// recorded.
    #[serde(default)]
    pub build_profile: String,
}

/// `release` or `debug`: the build profile of this binary (debug assertions on = `debug`).
pub fn build_profile() -> &'static str {
    if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    }
}

impl MachineInfo {
    /// Detects the machine. Call it after raising the file-descriptor limit, so the result shows
    /// the limit the run actually had.
    pub fn detect() -> MachineInfo {
        let (kernel, hostname) = uname();
        let (fd_soft_limit, fd_hard_limit) = fd_limits();
        MachineInfo {
            cores: std::thread::available_parallelism().map_or(0, |n| n.get() as u64),
            cpu_model: read("/proc/cpuinfo")
                .and_then(|s| cpu_model(&s))
                .unwrap_or_else(unknown),
            arch: std::env::consts::ARCH.to_string(),
            os: read("/etc/os-release")
                .and_then(|s| os_pretty_name(&s))
                .unwrap_or_else(|| std::env::consts::OS.to_string()),
            kernel,
            hostname,
            memory_bytes: read("/proc/meminfo")
                .and_then(|s| mem_total_bytes(&s))
                .unwrap_or(0),
            ragperf_version: env!("CARGO_PKG_VERSION").to_string(),
            fd_soft_limit,
            fd_hard_limit,
            build_profile: build_profile().to_string(),
        }
    }
}

fn unknown() -> String {
    UNKNOWN.to_string()
}

fn read(path: &str) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

/// The first `model name : …` of a `/proc/cpuinfo`.
fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(key, _)| key.trim() == "model name")
        .map(|(_, value)| value.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// `PRETTY_NAME` of an os-release file, without its quotes.
fn os_pretty_name(os_release: &str) -> Option<String> {
    os_release
        .lines()
        .find_map(|line| line.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim().trim_matches(|c| c == '"' || c == '\'').to_string())
        .filter(|v| !v.is_empty())
}

/// `MemTotal` of a `/proc/meminfo`, in bytes.
fn mem_total_bytes(meminfo: &str) -> Option<u64> {
    let rest = meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))?;
    let kib: u64 = rest.split_whitespace().next()?.parse().ok()?;
    kib.checked_mul(1024)
}

/// Kernel release and node name from `uname(2)`.
fn uname() -> (String, String) {
    // SAFETY: utsname is arrays of C chars, so all-zero is valid; uname only writes into it.
    let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
    if unsafe { libc::uname(&mut uts) } != 0 {
        return (unknown(), unknown());
    }
    let field = |chars: &[libc::c_char]| {
        // The fields are NUL-terminated by uname; `from_bytes_until_nul` checks it anyway
        // rather than trusting it.
        let bytes: Vec<u8> = chars.iter().map(|&c| c as u8).collect();
        CStr::from_bytes_until_nul(&bytes)
            .ok()
            .map(|s| s.to_string_lossy().into_owned())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(unknown)
    };
    (field(&uts.release), field(&uts.nodename))
}

/// Soft and hard `RLIMIT_NOFILE`; (0, 0) when they cannot be read.
fn fd_limits() -> (u64, u64) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes into the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return (0, 0);
    }
    // rlim_t is 32 bits on some 32-bit targets.
    #[allow(clippy::unnecessary_cast)]
    let as_u64 = |v: libc::rlim_t| {
        if v == libc::RLIM_INFINITY {
            u64::MAX
        } else {
            v as u64
        }
    };
    (as_u64(limit.rlim_cur), as_u64(limit.rlim_max))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cpu_model_os_and_memory() {
        let cpuinfo = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) CPU @ 2.20GHz\n";
        assert_eq!(
            cpu_model(cpuinfo).as_deref(),
            Some("Intel(R) Xeon(R) CPU @ 2.20GHz")
        );
        assert_eq!(cpu_model("processor : 0\nHardware : BCM2835\n"), None);

        let os_release =
            "NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n";
        assert_eq!(
            os_pretty_name(os_release).as_deref(),
            Some("Debian GNU/Linux 12 (bookworm)")
        );
        assert_eq!(os_pretty_name("NAME=x\n"), None);

        assert_eq!(
            mem_total_bytes("MemTotal:       24683520 kB\nMemFree: 1 kB\n"),
            Some(24_683_520 * 1024)
        );
        assert_eq!(mem_total_bytes("MemFree: 1 kB\n"), None);
    }
}
