//! What a result records about where and when it was measured: the host and build
//! ([`Origin`]), the shard ([`ShardInfo`]) and each window's wall-clock position
//! ([`WindowClock`]). `ragperf merge` reads these to check that shards belong together.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::result::LoadPoint;

/// Where a result was measured and with what.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Origin {
    /// The host name of the machine (or pod) that ran the load.
    pub host: String,
    /// The build: version, plus `+<git commit>` when it was known at build time.
    pub build: String,
}

impl Origin {
    /// This process: its host name and build.
    pub fn here() -> Origin {
        Origin {
            host: super::hostname(),
            build: super::build_id(),
        }
    }
}

/// The load before it was split among the shards.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct WholeLoad {
    /// The load points of the whole (users, rate and in-flight cap before the split).
    pub points: Vec<LoadPoint>,
    /// `--requests` of the whole, if any.
    pub requests: Option<u64>,
}

/// This result's shard.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ShardInfo {
    /// 0-based index.
    pub index: u32,
    /// Number of shards.
    pub count: u32,
    /// The whole load this shard took a share of.
    pub whole: WholeLoad,
    /// `--start-at` as given (RFC 3339, UTC), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_at: Option<String>,
}

/// Where a measured window lies on the wall clock. Times inside a run are monotonic
/// (`Instant`, microseconds since the run's epoch); the wall clock is read once, at the epoch,
/// and every wall-clock time is `epoch_unix_us` plus the monotonic offset, so a clock step
/// during the run cannot bend the window.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct WindowClock {
    /// The wall clock (µs since 1970-01-01 UTC) read at the run's monotonic epoch.
    pub epoch_unix_us: u64,
    /// The window's start, µs since 1970-01-01 UTC (`epoch_unix_us + window_start_us`).
    pub window_start_unix_us: u64,
    /// The window's end, µs since 1970-01-01 UTC.
    pub window_end_unix_us: u64,
    /// The window's start, RFC 3339 UTC with microseconds.
    pub window_start_utc: String,
    /// How late the window opened after `--start-at`, ms (absent without it; negative =
    /// early, which only the wall clock's own resolution allows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_at_late_ms: Option<f64>,
}

/// Microseconds since 1970 of a wall-clock time (0 before 1970).
pub fn unix_us(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros().min(u128::from(u64::MAX)) as u64)
}

impl WindowClock {
    /// The clock of a window `[start_us, end_us]` (µs since the epoch) of a run whose epoch is
    /// at wall-clock `epoch_wall`.
    pub fn new(
        epoch_wall: SystemTime,
        start_us: u64,
        end_us: u64,
        start_at: Option<SystemTime>,
    ) -> WindowClock {
        let epoch_unix_us = unix_us(epoch_wall);
        let start = epoch_wall + Duration::from_micros(start_us);
        WindowClock {
            epoch_unix_us,
            window_start_unix_us: epoch_unix_us + start_us,
            window_end_unix_us: epoch_unix_us + end_us,
            window_start_utc: humantime::format_rfc3339_micros(start).to_string(),
            start_at_late_ms: start_at.map(|at| {
                let late = start_us as f64 + epoch_unix_us as f64 - unix_us(at) as f64;
                late / 1000.0
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_is_the_epoch_plus_monotonic_offsets() {
        let epoch = UNIX_EPOCH + Duration::from_secs(1_796_162_400); // 2026-12-01T22:00:00Z
        let at = epoch + Duration::from_millis(1_500);
        let c = WindowClock::new(epoch, 1_502_000, 4_502_000, Some(at));
        assert_eq!(c.window_start_unix_us, 1_796_162_401_502_000);
        assert_eq!(c.window_end_unix_us - c.window_start_unix_us, 3_000_000);
        assert_eq!(c.window_start_utc, "2026-12-01T22:00:01.502000Z");
        assert_eq!(c.start_at_late_ms, Some(2.0));
    }
}
