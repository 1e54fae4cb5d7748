//! What every subcommand's flags share: [`FlagError`] (a bad flag, exit 2), the value parsers
//! clap calls (counts, rates, durations, the time scale), the one URL rule for base-URL flags,
//! and the checks made before any load starts (open files for a closed loop's users, the output
//! directory) or after it (the error budget, `--max-error-rate`).

use std::path::Path;
use std::time::Duration;

use crate::result::RunResult;
use crate::scenario::{MAX_DURATION, MAX_TIME_SCALE};

/// A flag that makes no sense, naming the flag and the fix.
#[derive(Debug, thiserror::Error)]
#[error("{flag}: {message}")]
pub struct FlagError {
    /// The flag, e.g. `--concurrency`.
    pub flag: &'static str,
    /// What is wrong and the fix.
    pub message: String,
}

/// A [`FlagError`] as an `anyhow::Error` (it stays in the chain: `main` exits 2).
pub(crate) fn flag_err(flag: &'static str, message: impl Into<String>) -> anyhow::Error {
    FlagError {
        flag,
        message: message.into(),
    }
    .into()
}

/// Parses a duration flag (`10s`, `500ms`, `2m`), saying how to write one when it is not.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    duration(s)
}

/// Checks that `url` is an `http://host:port` base URL (the one rule of
/// [`crate::client::url`], plus: no path) and returns it without trailing slashes.
pub fn check_url(flag: &'static str, url: &str) -> anyhow::Result<String> {
    let trimmed = url.trim().trim_end_matches('/');
    let parsed = crate::client::url::check_http(trimmed).map_err(|e| {
        flag_err(
            flag,
            format!(
                "{}; write a base URL, e.g. http://127.0.0.1:6333",
                // The endpoint example of the rule's wording does not fit a base URL.
                e.describe(trimmed)
                    .split("; write e.g.")
                    .next()
                    .unwrap_or_default()
            ),
        )
    })?;
    if parsed.path() != "/" || parsed.query().is_some() {
        return Err(flag_err(
            flag,
            format!("`{url}` must be a base URL like http://127.0.0.1:6333, without a path"),
        ));
    }
    Ok(trimmed.to_string())
}

/// A count flag: a whole number ≥ 1 (negative numbers reach here instead of clap's
/// "unexpected argument").
pub fn positive_count(s: &str) -> Result<usize, String> {
    let t = s.trim();
    match t.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) if t.starts_with('-') => Err(format!(
            "`{t}` is negative; the value must be a positive whole number, e.g. 8"
        )),
        Err(_) => Err(format!("`{t}` is not a whole number; write e.g. 8")),
    }
}

/// [`positive_count`] as a u64 (`--requests`).
pub fn positive_u64(s: &str) -> Result<u64, String> {
    positive_count(s).map(|n| n as u64)
}

/// [`positive_count`] as a u32 (`--repeat`).
pub fn positive_u32(s: &str) -> Result<u32, String> {
    let n = positive_count(s)?;
    u32::try_from(n).map_err(|_| format!("`{}` is too large; write e.g. 3", s.trim()))
}

/// A number flag that may be 0 (µs of CPU work, a seed): a whole number ≥ 0.
pub fn non_negative_u64(s: &str) -> Result<u64, String> {
    let t = s.trim();
    t.parse::<u64>().map_err(|_| {
        if t.starts_with('-') {
            format!("`{t}` is negative; the value must be 0 or a positive whole number")
        } else {
            format!("`{t}` is not a whole number; write e.g. 100")
        }
    })
}

fn positive_f64(s: &str, example: &str) -> Result<f64, String> {
    let t = s.trim();
    let v: f64 = t
        .parse()
        .map_err(|_| format!("`{t}` is not a number; write e.g. {example}"))?;
    if !v.is_finite() {
        return Err(format!(
            "`{t}` is not a finite number; write e.g. {example}"
        ));
    }
    if v <= 0.0 {
        return Err(format!(
            "`{t}` is not positive; the value must be > 0, e.g. {example}"
        ));
    }
    Ok(v)
}

/// `--rate` / `--rates`: requests per second, > 0 and finite.
pub fn rate(s: &str) -> Result<f64, String> {
    positive_f64(s, "20")
}

/// `--time-scale`: > 0 and at most [`MAX_TIME_SCALE`] (0 would make every latency vanish;
/// 1e308 overflows every duration).
pub fn time_scale(s: &str) -> Result<f64, String> {
    let v = positive_f64(s, "0.1 (10x faster) or 1 (the seed's latencies)")?;
    if v > MAX_TIME_SCALE {
        return Err(format!(
            "`{}` is too large; the value must be at most {MAX_TIME_SCALE} (1 = the seed's \
             latencies, 0.01 = 100x faster)",
            s.trim()
        ));
    }
    Ok(v)
}

/// A fraction from 0 to 1; `example` completes "write a fraction, e.g. …".
fn fraction(s: &str, example: &str) -> Result<f64, String> {
    let t = s.trim();
    let v: f64 = t
        .parse()
        .map_err(|_| format!("`{t}` is not a number; write a fraction, e.g. {example}"))?;
    if !(0.0..=1.0).contains(&v) {
        return Err(format!(
            "`{t}` is outside 0..1; write a fraction, e.g. {example}"
        ));
    }
    Ok(v)
}

/// `--max-error-rate`: a fraction from 0 to 1.
pub fn error_rate_fraction(s: &str) -> Result<f64, String> {
    fraction(s, "0.01 for 1 %")
}

/// `--cpu-steps`: 1, 2 or [`MAX_CPU_STEPS`](crate::scenario::MAX_CPU_STEPS).
pub fn cpu_steps(s: &str) -> Result<u8, String> {
    let t = s.trim();
    match t.parse::<u8>() {
        Ok(n) if (1..=crate::scenario::MAX_CPU_STEPS).contains(&n) => Ok(n),
        _ => Err(format!(
            "`{t}` is not 1, 2 or 3; write 1 (all CPU at the prompt), 2 (+ before the retrieval) \
             or 3 (+ before the embedding)"
        )),
    }
}

/// `--cpu-offloop-share`, `--cpu-parallel-share`, `--cpu-token-loop-share`,
/// `--cpu-request-loop-share`: a share from 0 to 1.
pub fn share(s: &str) -> Result<f64, String> {
    fraction(s, "0.3 for 30 %")
}

/// A duration flag (`10s`, `500ms`, `2m`), at most [`MAX_DURATION`].
pub fn duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if t.starts_with('-') {
        return Err(format!(
            "`{t}` is negative; write a positive duration, e.g. 10s, 500ms or 2m"
        ));
    }
    let d = humantime::parse_duration(t)
        .map_err(|e| format!("`{t}` is not a duration ({e}); write e.g. 10s, 500ms or 2m"))?;
    if d > MAX_DURATION {
        return Err(format!(
            "`{t}` is longer than the limit of 7 days; write e.g. 30m or 2h"
        ));
    }
    Ok(d)
}

/// Open files a closed loop of `users` needs: a connection per user to each of the two
/// services, and with embedded mocks the server end of each in this process too, plus a
/// margin for the rest of the process.
pub fn files_needed(users: usize, embedded_mocks: bool) -> u64 {
    let per_user = if embedded_mocks { 4 } else { 2 };
    (users as u64).saturating_mul(per_user).saturating_add(256)
}

/// The hard limit of open files (RLIMIT_NOFILE), or None when it cannot be read or is
/// unlimited.
pub fn hard_file_limit() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return None;
    }
    (lim.rlim_max != libc::RLIM_INFINITY).then_some(lim.rlim_max)
}

/// Refuses a closed loop whose users need more open files than the hard limit allows (the
/// run would fail with "too many open files" half-way); warns about the threads of the
/// thread-per-request variants from 10,000 users on.
pub fn users_fit(flag: &'static str, users: usize, embedded_mocks: bool) -> anyhow::Result<()> {
    let needed = files_needed(users, embedded_mocks);
    if let Some(hard) = hard_file_limit()
        && needed > hard
    {
        return Err(flag_err(
            flag,
            format!(
                "{users} users need about {needed} open files (a connection per user to Qdrant \
                 and to Bedrock{}), but the hard limit is {hard}: lower {flag}, or raise the \
                 limit (`ulimit -Hn`, systemd LimitNOFILE=, docker --ulimit nofile=)",
                if embedded_mocks {
                    ", and their server ends in the embedded mocks"
                } else {
                    ""
                }
            ),
        ));
    }
    if users >= 10_000 {
        eprintln!(
            "warning: {flag} {users}: about {needed} open files, and the thread-per-request \
             variants (sequential aside: sync, blocking-in-async's pool, hybrid's blocking pool) \
             start up to {users} OS threads (each reserves an 8 MiB stack); pick variants with \
             --variant async,async-single to keep the thread count small"
        );
    }
    Ok(())
}

/// Checks that `dir` can be created and written, before the load (a run should not fail only
/// at its end for want of a folder).
pub fn writable_dir(flag: &'static str, dir: &Path) -> anyhow::Result<()> {
    let fail = |what: String| {
        flag_err(
            flag,
            format!(
                "cannot write to `{}` ({what}); choose a directory you can write to",
                dir.display()
            ),
        )
    };
    std::fs::create_dir_all(dir).map_err(|e| fail(e.to_string()))?;
    let probe = dir.join(format!(".ragperf-write-check-{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(|e| fail(e.to_string()))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Failed or unfinished requests over the measured requests sent, across every run.
pub fn error_rate(result: &RunResult) -> (u64, u64) {
    let mut bad = 0;
    let mut sent = 0;
    for r in &result.runs {
        bad += r.counters.failed + r.counters.abandoned;
        sent += r.counters.sent;
    }
    (bad, sent)
}

/// The message when the run's error rate exceeds `limit` (None when within it).
pub fn error_budget_exceeded(result: &RunResult, limit: f64) -> Option<String> {
    let (bad, sent) = error_rate(result);
    if sent == 0 {
        return None;
    }
    let rate = bad as f64 / sent as f64;
    (rate > limit).then(|| {
        format!(
            "error rate {:.2} % ({bad} of {sent} requests failed or unfinished) exceeds \
             --max-error-rate {limit} ({:.2} %)",
            rate * 100.0,
            limit * 100.0
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_numbers() {
        assert_eq!(positive_count("8"), Ok(8));
        assert!(positive_count("0").unwrap_err().contains("at least 1"));
        assert!(positive_count("-5").unwrap_err().contains("positive"));
        assert!(rate("-5").unwrap_err().contains("> 0"));
        assert!(rate("inf").is_err());
        assert!(time_scale("0").is_err());
        assert!(time_scale("1e308").unwrap_err().contains("at most"));
        assert_eq!(time_scale("0.01"), Ok(0.01));
        assert!(duration("100000000000h").unwrap_err().contains("7 days"));
        assert_eq!(duration("2m"), Ok(Duration::from_secs(120)));
        assert!(error_rate_fraction("1.5").is_err());
        assert_eq!(error_rate_fraction("0"), Ok(0.0));
    }

    #[test]
    fn files_per_user() {
        assert_eq!(files_needed(1_000, true), 4_256);
        assert_eq!(files_needed(1_000, false), 2_256);
        assert_eq!(files_needed(usize::MAX, true), u64::MAX);
    }
}
