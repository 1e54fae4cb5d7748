//! Shards: one load spread over several `ragperf` processes (machines, pods), each measuring
//! its share, and `ragperf merge` (crate::merge) adding their results up losslessly.
//!
//! `--shard I/N` (or `--shards N` with the index from `JOB_COMPLETION_INDEX`, what a Kubernetes
//! Indexed Job sets) makes this process shard I of N: it takes the I-th share of the closed-loop
//! users, of the open-loop rate, of `--max-in-flight` and of `--requests` ([`split`]); it keeps
//! its own intended-start schedule (coordinated omission stays corrected per shard) and offsets
//! it by I/N of one gap, so the shards do not fire in lockstep. `--start-at` ([`start`]) opens
//! every shard's measurement window at the same wall-clock instant. The result records the
//! shard, the host, the build and each window's wall-clock position ([`record`]), which is what
//! `merge` checks before it adds anything.
//!
//! There is no coordinator: the shards never talk to each other; agreement comes from the same
//! flags and a shared clock (NTP on real machines).

pub(crate) mod record;
pub(crate) mod split;
pub(crate) mod start;

use std::time::{Duration, SystemTime};

pub use record::{Origin, ShardInfo, WholeLoad, WindowClock};

use crate::result::LoadPoint;
use crate::scenario::Scenario;

/// The environment variable a Kubernetes Indexed Job sets to the pod's 0-based index.
pub const INDEX_ENV: &str = "JOB_COMPLETION_INDEX";

/// A shard flag that cannot work (exit 2), naming the flag and the fix.
#[derive(Debug, thiserror::Error)]
#[error("{flag}: {message}")]
pub struct ShardError {
    /// The flag, e.g. `--shard`.
    pub flag: &'static str,
    /// What is wrong and the fix.
    pub message: String,
}

pub(crate) fn flag_err(flag: &'static str, message: impl Into<String>) -> anyhow::Error {
    ShardError {
        flag,
        message: message.into(),
    }
    .into()
}

/// The shard flags of `run` and `sweep` as plain values (`--shard`, `--shards`, `--start-at`).
#[derive(Clone, Debug, Default)]
pub struct ShardFlags {
    /// Run shard I of N (I is 0-based: 0/2 and 1/2): this process takes the I-th share of the
    /// users, the rate and --requests; `ragperf merge` adds the shards' results up.
    pub shard: Option<String>,
    /// Run one of N shards, its index read from JOB_COMPLETION_INDEX (what a Kubernetes
    /// Indexed Job sets); not with --shard.
    pub shards: Option<String>,
    /// Open the measurement window at this UTC instant, RFC 3339 (e.g. 2026-12-01T22:00:00Z);
    /// the warm-up runs before it. Give every shard the same instant.
    pub start_at: Option<String>,
}

/// This process's place among the shards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// 0-based index, below `count`.
    pub index: u32,
    /// Number of shards.
    pub count: u32,
}

/// What a plan knows about sharding: the shard (None = the whole load) and the common start.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sharding {
    /// This process's shard.
    pub shard: Option<Shard>,
    /// The load before it was split (recorded so `merge` can check every shard had the same).
    pub whole: Option<WholeLoad>,
    /// When the (only) measurement window opens.
    pub start_at: Option<SystemTime>,
}

impl Sharding {
    /// Where this shard's schedule starts within one gap of its own (0 for the whole load):
    /// shard I of N is I/N of a gap late, so N shards interleave like one schedule.
    pub fn phase(&self) -> f64 {
        self.shard
            .map_or(0.0, |s| f64::from(s.index) / f64::from(s.count.max(1)))
    }

    /// How late this shard's schedule starts, for a schedule whose gap (between two arrivals,
    /// or between two users' first requests) is `gap`: I/N of it.
    pub fn schedule_offset(&self, gap: Duration) -> Duration {
        gap.mul_f64(self.phase())
    }

    /// A seed of its own for shard I, so Poisson or gamma arrivals are independent across
    /// shards (the same seed would make every shard draw the same gaps).
    pub fn seed(&self, seed: u64) -> u64 {
        match self.shard {
            Some(s) if s.index > 0 => {
                seed ^ (u64::from(s.index)).wrapping_mul(0x9e37_79b9_7f4a_7c15)
            }
            _ => seed,
        }
    }
}

fn parse_count(flag: &'static str, text: &str) -> anyhow::Result<u32> {
    match text.trim().parse::<u32>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(flag_err(
            flag,
            format!("`{text}` is not a number of shards: write a whole number of at least 1"),
        )),
    }
}

/// Reads the shard from `--shard I/N`, or `--shards N` (or `RAGPERF_SHARDS`) with the index in
/// `env_index` (`JOB_COMPLETION_INDEX`). None when neither is given.
pub fn resolve(args: &ShardFlags, env_index: Option<&str>) -> anyhow::Result<Option<Shard>> {
    // An empty RAGPERF_SHARDS (a template left blank) is no shard count.
    let shards = args.shards.as_ref().filter(|n| !n.trim().is_empty());
    match (&args.shard, shards) {
        (Some(_), Some(n)) => Err(flag_err(
            "--shard",
            format!(
                "given together with --shards {n} (or RAGPERF_SHARDS={n}): use one of them: \
                 --shard I/N, or --shards N with the index in {INDEX_ENV}"
            ),
        )),
        (Some(text), None) => {
            let bad = || {
                flag_err(
                    "--shard",
                    format!(
                        "`{text}` is not I/N: write the 0-based index and the count, e.g. 0/2 \
                         and 1/2 for two shards"
                    ),
                )
            };
            let (i, n) = text.split_once('/').ok_or_else(bad)?;
            let index: u32 = i.trim().parse().map_err(|_| bad())?;
            let count: u32 = n.trim().parse().map_err(|_| bad())?;
            if count == 0 {
                return Err(flag_err(
                    "--shard",
                    format!("`{text}`: the count must be at least 1"),
                ));
            }
            if index >= count {
                return Err(flag_err(
                    "--shard",
                    format!(
                        "`{text}`: the index is 0-based and must be below the count: 0/{count} \
                         .. {}/{count}",
                        count - 1
                    ),
                ));
            }
            Ok(Some(Shard { index, count }))
        }
        (None, Some(n)) => {
            let count = parse_count("--shards", n)?;
            let Some(raw) = env_index else {
                return Err(flag_err(
                    "--shards",
                    format!(
                        "{count} shards, but {INDEX_ENV} (this shard's 0-based index, set by a \
                         Kubernetes Indexed Job) is not set: set it, or give --shard I/{count}"
                    ),
                ));
            };
            let index = raw.trim().parse::<u32>().ok().filter(|i| *i < count);
            match index {
                Some(index) => Ok(Some(Shard { index, count })),
                None => Err(flag_err(
                    "--shards",
                    format!(
                        "{INDEX_ENV}=`{raw}` is not a shard index below {count}: it must be \
                         0 .. {} (the Job's completions must equal --shards)",
                        count - 1
                    ),
                )),
            }
        }
        (None, None) => Ok(None),
    }
}

/// Applies the shard flags to a plan's load points and scenario: splits the load (see
/// [`split`]) and reads the common start (checked against the wall clock now). `windows` is
/// how many measurement windows the plan has (subjects x points x repetitions).
pub fn apply(
    points: &mut [LoadPoint],
    scenario: &mut Scenario,
    windows: usize,
    args: &ShardFlags,
    env_index: Option<&str>,
) -> anyhow::Result<Sharding> {
    let shard = resolve(args, env_index)?;
    let start_at = match &args.start_at {
        Some(text) => Some(start::parse(text, SystemTime::now())?),
        None => None,
    };
    if start_at.is_some() && windows != 1 {
        return Err(flag_err(
            "--start-at",
            format!(
                "opens one measurement window at one instant, but this plan has {windows} \
                 (subjects x points x --repeat): give one variant (-v async) or --target, \
                 one load point and --repeat 1 per run, or leave --start-at out"
            ),
        ));
    }
    let whole = shard
        .map(|s| split::apply(points, scenario, s))
        .transpose()?;
    Ok(Sharding {
        shard,
        whole,
        start_at,
    })
}

/// The host name (`gethostname`), or `unknown` when it cannot be read.
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at most that many bytes.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "unknown".into();
    }
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    let name = String::from_utf8_lossy(&buf[..end]).trim().to_string();
    if name.is_empty() {
        "unknown".into()
    } else {
        name
    }
}

/// This build: the version, plus the git commit when it was known at build time.
pub fn build_id() -> String {
    // Set by build.rs; `option_env!` so a build without it (no build script) still compiles.
    let commit = option_env!("RAGPERF_GIT_COMMIT").unwrap_or("");
    if commit.is_empty() {
        env!("CARGO_PKG_VERSION").to_string()
    } else {
        format!("{}+{commit}", env!("CARGO_PKG_VERSION"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(shard: Option<&str>, shards: Option<&str>) -> ShardFlags {
        ShardFlags {
            shard: shard.map(String::from),
            shards: shards.map(String::from),
            start_at: None,
        }
    }

    fn err(a: &ShardFlags, env: Option<&str>) -> String {
        format!("{:#}", resolve(a, env).expect_err("must fail"))
    }

    #[test]
    fn shard_flag_reads_index_and_count() {
        let s = resolve(&args(Some("1/3"), None), None).expect("ok");
        assert_eq!(s, Some(Shard { index: 1, count: 3 }));
        let s = resolve(&args(Some("1/3"), Some(" ")), None).expect("empty --shards");
        assert_eq!(s, Some(Shard { index: 1, count: 3 }));
        assert_eq!(resolve(&args(None, None), Some("4")).expect("ok"), None);
    }

    #[test]
    fn shard_flag_refuses_bad_values_naming_the_flag() {
        for bad in ["2/2", "3/2", "x/2", "1", "-1/2", "0/0", "1/x"] {
            let e = err(&args(Some(bad), None), None);
            assert!(e.starts_with("--shard:"), "{bad}: {e}");
        }
        assert!(err(&args(Some("2/2"), None), None).contains("below the count"));
    }

    #[test]
    fn shards_take_the_index_from_the_job() {
        let s = resolve(&args(None, Some("4")), Some("3")).expect("ok");
        assert_eq!(s, Some(Shard { index: 3, count: 4 }));
        let e = err(&args(None, Some("4")), None);
        assert!(e.contains("--shards") && e.contains(INDEX_ENV), "{e}");
        let e = err(&args(None, Some("4")), Some("4"));
        assert!(e.contains("not a shard index below 4"), "{e}");
        let e = err(&args(None, Some("0")), Some("0"));
        assert!(e.starts_with("--shards:"), "{e}");
    }

    #[test]
    fn both_forms_at_once_are_refused() {
        let e = err(&args(Some("0/2"), Some("2")), Some("0"));
        assert!(e.contains("--shard") && e.contains("--shards"), "{e}");
    }

    #[test]
    fn shards_get_different_phases_and_seeds() {
        let of = |index| Sharding {
            shard: Some(Shard { index, count: 4 }),
            ..Sharding::default()
        };
        assert_eq!(of(0).phase(), 0.0);
        assert_eq!(of(2).phase(), 0.5);
        assert_eq!(of(0).seed(7), 7);
        assert_ne!(of(1).seed(7), of(2).seed(7));
        assert_eq!(Sharding::default().seed(7), 7);
    }

    #[test]
    fn constant_schedules_of_the_shards_interleave_into_the_whole() {
        use crate::load::Source;
        use crate::load::arrivals::Arrivals;
        use crate::load::open_loop::OpenLoop;
        // 4 shards of 100/s: each 25/s, a 40 ms gap, shard I starting I x 10 ms late.
        let t0 = std::time::Instant::now();
        let mut all = Vec::new();
        for index in 0..4 {
            let sharding = Sharding {
                shard: Some(Shard { index, count: 4 }),
                ..Sharding::default()
            };
            let offset = sharding.schedule_offset(Duration::from_secs_f64(1.0 / 25.0));
            let mut s = OpenLoop::new(25.0, Arrivals::Constant, t0 + offset, 1, None);
            let mut out = Vec::new();
            s.due(t0 + Duration::from_millis(995), &mut out);
            all.extend(out.into_iter().map(|a| a.intended - t0));
        }
        all.sort();
        let expected: Vec<Duration> = (0..100).map(|i| Duration::from_millis(10 * i)).collect();
        assert_eq!(all.len(), 100);
        for (got, want) in all.iter().zip(&expected) {
            assert!(
                got.abs_diff(*want) < Duration::from_micros(1),
                "{got:?} vs {want:?}"
            );
        }
    }

    #[test]
    fn build_id_starts_with_the_version() {
        assert!(build_id().starts_with(env!("CARGO_PKG_VERSION")));
        assert!(!hostname().is_empty());
    }
}
