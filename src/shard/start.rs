//! `--start-at`: every shard opens its measurement window at the same wall-clock instant.
//!
//! The load starts one warm-up earlier, so the warm-up runs before the instant and the window
//! opens on it. The instant is checked before anything starts: more than [`PAST_TOLERANCE`] in
//! the past or more than [`MAX_AHEAD`] ahead is an error (exit 2). Waiting is in short steps
//! that watch the Ctrl-C flag, so a signal while waiting ends the run before any load.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use super::flag_err;

/// How far in the past `--start-at` may be when the run is planned (a shard that started a
/// moment late still joins; its window opens at once, and the lateness is recorded).
pub const PAST_TOLERANCE: Duration = Duration::from_secs(2);
/// How far ahead `--start-at` may be: further is almost certainly a typo (a wrong day).
pub const MAX_AHEAD: Duration = Duration::from_secs(24 * 3600);
/// Longest single sleep while waiting, so Ctrl-C is seen promptly.
const STEP: Duration = Duration::from_millis(50);

/// Reads `--start-at` (RFC 3339 in UTC, `Z`), checking it against `now`.
pub fn parse(text: &str, now: SystemTime) -> anyhow::Result<SystemTime> {
    let at = humantime::parse_rfc3339_weak(text.trim()).map_err(|e| {
        flag_err(
            "--start-at",
            format!(
                "`{text}` is not an RFC 3339 UTC time ({e}): write e.g. 2026-12-01T22:00:00Z \
                 (`date -u -d '+1 min' +%FT%TZ` prints one a minute ahead)"
            ),
        )
    })?;
    if let Some(past) = now.duration_since(at).ok().filter(|p| *p > PAST_TOLERANCE) {
        return Err(flag_err(
            "--start-at",
            format!(
                "{text} is {:.1} s in the past: give every shard an instant they all reach \
                 after starting, e.g. `date -u -d '+1 min' +%FT%TZ`",
                past.as_secs_f64()
            ),
        ));
    }
    if let Some(ahead) = at.duration_since(now).ok().filter(|a| *a > MAX_AHEAD) {
        return Err(flag_err(
            "--start-at",
            format!(
                "{text} is {:.1} h ahead (at most 24 h): check the date",
                ahead.as_secs_f64() / 3600.0
            ),
        ));
    }
    Ok(at)
}

/// Sleeps until the wall clock reaches `at`; false when `stop` was raised first.
pub fn wait_until(at: SystemTime, stop: &AtomicBool) -> bool {
    loop {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        let Ok(left) = at.duration_since(SystemTime::now()) else {
            return true;
        };
        if left.is_zero() {
            return true;
        }
        if left <= STEP {
            // The last step on the monotonic clock: exact to the timer's resolution.
            let deadline = Instant::now() + left;
            std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
            return !stop.load(Ordering::Relaxed);
        }
        std::thread::sleep(STEP);
    }
}

/// The line `run` prints before it waits for `--start-at`: the shard, the instant and how long
/// until then (None without `--start-at`).
pub fn announce(sharding: &super::Sharding) -> Option<String> {
    let at = sharding.start_at?;
    let wait = at
        .duration_since(SystemTime::now())
        .unwrap_or_default()
        .as_secs_f64();
    let shard = sharding
        .shard
        .map(|s| format!("shard {}/{}: ", s.index, s.count))
        .unwrap_or_default();
    Some(format!(
        "{shard}the measurement window opens at {} (in {wait:.1} s; the warm-up runs just before it); Ctrl-C stops without sending anything",
        humantime::format_rfc3339(at)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str, now: SystemTime) -> String {
        format!("{:#}", parse(text, now).expect_err("must fail"))
    }

    #[test]
    fn start_at_is_checked_against_now() {
        let now = humantime::parse_rfc3339("2026-12-01T22:00:00Z").expect("time");
        let at = parse("2026-12-01T22:01:00Z", now).expect("a minute ahead");
        assert_eq!(at.duration_since(now).ok(), Some(Duration::from_secs(60)));
        // A moment late is accepted; more is an error naming the flag.
        assert!(parse("2026-12-01T21:59:59Z", now).is_ok());
        let e = err("2026-12-01T21:59:00Z", now);
        assert!(
            e.starts_with("--start-at:") && e.contains("60.0 s in the past"),
            "{e}"
        );
        let e = err("2026-12-03T22:00:00Z", now);
        assert!(e.contains("48.0 h ahead"), "{e}");
        let e = err("tomorrow", now);
        assert!(
            e.contains("not an RFC 3339") && e.contains("2026-12-01T22:00:00Z"),
            "{e}"
        );
    }

    #[test]
    fn waiting_ends_on_time_or_on_stop() {
        let stop = AtomicBool::new(false);
        let t0 = Instant::now();
        assert!(wait_until(
            SystemTime::now() + Duration::from_millis(120),
            &stop
        ));
        assert!(t0.elapsed() >= Duration::from_millis(100));
        stop.store(true, Ordering::Relaxed);
        let t0 = Instant::now();
        assert!(!wait_until(
            SystemTime::now() + Duration::from_secs(60),
            &stop
        ));
        assert!(t0.elapsed() < Duration::from_secs(10));
    }
}
