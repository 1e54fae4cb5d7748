//! How busy the machine was while an experiment ran: the CPU other processes used and the
//! time the hypervisor stole, so a report can say when a verdict may be disturbed.
//!
//! A [`CpuSample`] reads the machine's CPU time from `/proc/stat` (every core, in clock ticks)
//! and ragperf's own CPU time from `getrusage` (this process — the variants, the in-process
//! mocks, the sampler — and its reaped children). Between two samples, the machine's busy time
//! minus ragperf's is what other processes used; [`Busy`] adds those up over an experiment's
//! step windows. Steal is the share of all CPU time the hypervisor gave to other guests.
//!
//! A verdict **may be disturbed** ([`Busy::disturbed`]) when other processes used more than
//! [`OTHERS_CORES_LIMIT`] of a core on average or steal exceeded [`STEAL_LIMIT`]: the tour
//! then reruns the experiment once and reports both attempts (see [`super::runner`]).

use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::verdict::num;

/// Other processes' average CPU, in cores, above which a verdict may be disturbed: a quarter
/// of a core is a compiler or a browser tab at work, enough to stretch the CPU-sensitive
/// experiments' figures past their margins on a 2-core machine.
pub const OTHERS_CORES_LIMIT: f64 = 0.25;

/// Share of the machine's CPU time stolen by the hypervisor above which a verdict may be
/// disturbed.
pub const STEAL_LIMIT: f64 = 0.05;

/// The machine's CPU time from the `cpu` line of `/proc/stat`, in clock ticks.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct MachineTicks {
    /// user + nice + system + irq + softirq (guest time is inside user already).
    pub busy: u64,
    /// Time stolen by the hypervisor.
    pub steal: u64,
    /// Every field but guest and guest_nice: busy, idle, iowait and steal.
    pub total: u64,
}

/// Reads the aggregate `cpu` line of `/proc/stat` text (None when it is missing or short).
pub fn parse_proc_stat(text: &str) -> Option<MachineTicks> {
    let line = text
        .lines()
        .find(|l| l.split_whitespace().next() == Some("cpu"))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().ok())
        .collect::<Option<Vec<u64>>>()?;
    if v.len() < 8 {
        return None;
    }
    // user nice system idle iowait irq softirq steal [guest guest_nice]
    let busy = v[0] + v[1] + v[2] + v[5] + v[6];
    Some(MachineTicks {
        busy,
        steal: v[7],
        total: busy + v[3] + v[4] + v[7],
    })
}

/// One reading of the machine's and ragperf's CPU time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CpuSample {
    /// Seconds since an arbitrary origin (the wall clock between samples).
    pub wall_s: f64,
    /// The machine's ticks.
    pub machine: MachineTicks,
    /// Clock ticks per second of `/proc/stat`.
    pub ticks_per_s: f64,
    /// ragperf's CPU time (user + system, this process and its reaped children), seconds.
    pub own_s: f64,
}

impl CpuSample {
    /// Reads now; None when `/proc/stat` or `getrusage` cannot be read (then nothing is
    /// claimed about the machine).
    pub fn now(origin: Instant) -> Option<CpuSample> {
        let text = std::fs::read_to_string("/proc/stat").ok()?;
        let machine = parse_proc_stat(&text)?;
        let own = |who| {
            crate::metrics::process::rusage(who).map(|u| {
                crate::metrics::process::timeval_s(u.ru_utime)
                    + crate::metrics::process::timeval_s(u.ru_stime)
            })
        };
        Some(CpuSample {
            wall_s: origin.elapsed().as_secs_f64(),
            machine,
            ticks_per_s: crate::metrics::process::clock_ticks_per_s(),
            own_s: own(libc::RUSAGE_SELF).ok()? + own(libc::RUSAGE_CHILDREN).ok()?,
        })
    }
}

/// How busy the machine was over one or more windows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Busy {
    /// Wall time covered, seconds.
    pub seconds: f64,
    /// CPU used by other processes (the machine's busy time minus ragperf's), core-seconds.
    pub others_cpu_s: f64,
    /// CPU time stolen by the hypervisor, core-seconds.
    pub steal_s: f64,
    /// All CPU time of the machine (every core), core-seconds.
    pub total_s: f64,
}

impl Busy {
    /// Adds the window from `a` to `b` (a window that ran backwards adds nothing).
    pub fn add(&mut self, a: &CpuSample, b: &CpuSample) {
        let wall = b.wall_s - a.wall_s;
        if wall <= 0.0 || b.machine.total < a.machine.total {
            return;
        }
        let t = a.ticks_per_s.max(1.0);
        let ticks = |x: u64, y: u64| y.saturating_sub(x) as f64 / t;
        let machine_busy = ticks(a.machine.busy, b.machine.busy);
        let own = (b.own_s - a.own_s).max(0.0);
        self.seconds += wall;
        // Tick rounding can make ragperf's precise time exceed the machine's coarse one.
        self.others_cpu_s += (machine_busy - own).max(0.0);
        self.steal_s += ticks(a.machine.steal, b.machine.steal);
        self.total_s += ticks(a.machine.total, b.machine.total);
    }

    /// Other processes' average CPU, cores (NaN when no time was covered).
    pub fn others_cores(&self) -> f64 {
        if self.seconds > 0.0 {
            self.others_cpu_s / self.seconds
        } else {
            f64::NAN
        }
    }

    /// Stolen share of the machine's CPU time (NaN when none was covered).
    pub fn steal_share(&self) -> f64 {
        if self.total_s > 0.0 {
            self.steal_s / self.total_s
        } else {
            f64::NAN
        }
    }

    /// Why a verdict measured in this window may be disturbed, or None when the machine was
    /// quiet enough (or nothing was covered).
    pub fn disturbed(&self) -> Option<String> {
        let others = self.others_cores();
        let steal = self.steal_share();
        let mut why = Vec::new();
        if others > OTHERS_CORES_LIMIT {
            why.push(format!(
                "other processes used {} cores on average, above the limit of {}",
                num(others),
                num(OTHERS_CORES_LIMIT)
            ));
        }
        if steal > STEAL_LIMIT {
            why.push(format!(
                "the hypervisor stole {}% of the CPU time, above the limit of {}%",
                num(100.0 * steal),
                num(100.0 * STEAL_LIMIT)
            ));
        }
        if why.is_empty() {
            None
        } else {
            Some(why.join(" and "))
        }
    }

    /// One sentence for a report or the terminal: what was measured, and whether the verdict
    /// may be disturbed.
    pub fn sentence(&self) -> String {
        if self.seconds <= 0.0 {
            return "How busy the machine was could not be measured.".into();
        }
        let measured = format!(
            "While this ran ({} s), other processes used {} cores on average and steal was {}%",
            num(self.seconds),
            num(self.others_cores()),
            num(100.0 * self.steal_share())
        );
        match self.disturbed() {
            Some(_) => format!(
                "{measured}: above the limits ({} cores, {}% steal) under which a verdict is \
                 taken as undisturbed, so this verdict may be disturbed.",
                num(OTHERS_CORES_LIMIT),
                num(100.0 * STEAL_LIMIT)
            ),
            None => format!(
                "{measured}: below the limits ({} cores, {}% steal) under which a verdict is \
                 taken as undisturbed.",
                num(OTHERS_CORES_LIMIT),
                num(100.0 * STEAL_LIMIT)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(user: u64, idle: u64, steal: u64) -> String {
        format!("cpu  {user} 0 0 {idle} 0 0 0 {steal} 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\nintr 1 2\n")
    }

    fn sample(wall_s: f64, text: &str, own_s: f64) -> CpuSample {
        CpuSample {
            wall_s,
            machine: parse_proc_stat(text).unwrap(),
            ticks_per_s: 100.0,
            own_s,
        }
    }

    #[test]
    fn parses_the_cpu_line() {
        let t = parse_proc_stat("cpu  10 2 3 100 4 5 6 7 9 9\n").unwrap();
        assert_eq!(t.busy, 10 + 2 + 3 + 5 + 6);
        assert_eq!(t.steal, 7);
        assert_eq!(t.total, 26 + 100 + 4 + 7);
        assert!(parse_proc_stat("cpu0 1 2 3 4 5 6 7 8\n").is_none());
        assert!(parse_proc_stat("cpu  1 2 x 4 5 6 7 8\n").is_none());
        assert!(parse_proc_stat("cpu  1 2 3\n").is_none());
    }

    #[test]
    fn others_are_the_machine_minus_ragperf() {
        // 2 cores for 10 s = 2,000 ticks; the machine was busy 1,200 ticks = 12 s, of which
        // ragperf used 7 s: others 5 core-seconds = 0.5 cores.
        let a = sample(0.0, &stat(0, 0, 0), 1.0);
        let b = sample(10.0, &stat(1200, 800, 0), 8.0);
        let mut busy = Busy::default();
        busy.add(&a, &b);
        assert!((busy.others_cores() - 0.5).abs() < 1e-9);
        assert_eq!(busy.steal_share(), 0.0);
        let why = busy.disturbed().unwrap();
        assert!(why.contains("0.5 cores"), "{why}");
        assert!(busy.sentence().contains("may be disturbed"));
    }

    #[test]
    fn a_quiet_machine_is_not_disturbed() {
        // ragperf alone kept the machine busy: others ~0.
        let a = sample(0.0, &stat(0, 0, 0), 0.0);
        let b = sample(10.0, &stat(1000, 1000, 0), 10.2);
        let mut busy = Busy::default();
        busy.add(&a, &b);
        assert_eq!(busy.others_cores(), 0.0);
        assert!(busy.disturbed().is_none());
        assert!(busy.sentence().contains("below the limits"));
    }

    #[test]
    fn steal_alone_disturbs_and_windows_add_up() {
        // Two windows of 5 s; 10 % of all ticks stolen in the second.
        let a = sample(0.0, &stat(0, 0, 0), 0.0);
        let b = sample(5.0, &stat(500, 500, 0), 5.0);
        let c = sample(5.0, &stat(500, 500, 0), 5.0);
        let d = sample(10.0, &stat(900, 1000, 100), 9.0);
        let mut busy = Busy::default();
        busy.add(&a, &b);
        busy.add(&c, &d);
        assert!((busy.seconds - 10.0).abs() < 1e-9);
        assert!((busy.steal_share() - 0.05).abs() < 1e-9);
        assert!(busy.disturbed().is_none(), "5 % is the limit, not above it");
        let e = sample(12.0, &stat(900, 1100, 200), 9.0);
        busy.add(&d, &e);
        assert!(busy.disturbed().unwrap().contains("stole"));
    }

    #[test]
    fn nothing_covered_claims_nothing() {
        let busy = Busy::default();
        assert!(busy.others_cores().is_nan());
        assert!(busy.disturbed().is_none());
        assert!(busy.sentence().contains("could not be measured"));
        // A window that ran backwards is ignored.
        let mut busy = Busy::default();
        let a = sample(5.0, &stat(10, 10, 0), 0.0);
        let b = sample(1.0, &stat(20, 20, 0), 0.0);
        busy.add(&a, &b);
        assert_eq!(busy.seconds, 0.0);
    }
}
