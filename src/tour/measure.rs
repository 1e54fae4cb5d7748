//! Figures the tour reads out of a [`RunResult`] beyond its summary: how long a batch of
//! requests took from first intended start to last finish, how requests sat on OS threads (from
//! the per-request timeline), and memory growth. Pure functions of the result, so a saved
//! `result.json` gives the same figures as the live run.

use anyhow::{Result, anyhow};

use crate::metrics::recorder::TimelineEntry;
use crate::result::{RunResult, VariantRun};

/// The run of `variant` at closed-loop `users` in `result`.
pub fn run<'a>(result: &'a RunResult, variant: &str, users: usize) -> Result<&'a VariantRun> {
    result
        .runs
        .iter()
        .find(|r| r.variant == variant && r.point.concurrency == users && r.point.rate.is_none())
        .ok_or_else(|| {
            anyhow!("the result has no run of `{variant}` at c={users} (was the step interrupted?)")
        })
}

/// The only run of `variant` in `result`.
pub fn only<'a>(result: &'a RunResult, variant: &str) -> Result<&'a VariantRun> {
    result
        .runs
        .iter()
        .find(|r| r.variant == variant)
        .ok_or_else(|| anyhow!("the result has no run of `{variant}` (was the step interrupted?)"))
}

/// A percentile (or the mean) of histogram `metric` of `run`, ms; NaN when the histogram is
/// missing or empty, so every check on it fails instead of passing on a zero.
pub fn ms(
    run: &VariantRun,
    metric: &str,
    pick: fn(&mock_services::hist::Percentiles) -> f64,
) -> f64 {
    match run.latency_ms.get(metric) {
        Some(p) if p.count > 0 => pick(p),
        _ => f64::NAN,
    }
}

/// Wall time from the first request's intended start to the last request's finish, ms (NaN
/// without requests): "how long did these requests take together".
pub fn makespan_ms(run: &VariantRun) -> f64 {
    let t0 = run.timeline.iter().map(|e| e.intended_us).min();
    let t1 = run.timeline.iter().map(|e| e.finished_us).max();
    match (t0, t1) {
        (Some(a), Some(b)) => b.saturating_sub(a) as f64 / 1000.0,
        _ => f64::NAN,
    }
}

/// Peak resident memory above the level when the window started, MiB.
pub fn rss_growth_mib(run: &VariantRun) -> f64 {
    run.process
        .rss_peak_bytes
        .saturating_sub(run.process.rss_start_bytes) as f64
        / (1024.0 * 1024.0)
}

/// Peak resident memory, MiB.
pub fn rss_peak_mib(run: &VariantRun) -> f64 {
    run.process.rss_peak_bytes as f64 / (1024.0 * 1024.0)
}

/// How the requests of a run sat on OS threads, from the timeline (each request is attributed
/// to the thread that started it).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ThreadUse {
    /// Requests in the timeline.
    pub requests: usize,
    /// Distinct OS threads that started them.
    pub threads: usize,
    /// Most requests in progress at once on one thread (1 = a thread never serves two).
    pub max_per_thread: usize,
    /// Most requests in progress at once overall.
    pub max_overall: usize,
    /// Sum over threads of the time the thread had at least one request in progress, divided
    /// by the requests, ms: the thread time one request cost.
    pub thread_ms_per_request: f64,
    /// Mean time from start on a worker to finish, ms (successful requests).
    pub held_ms: f64,
    /// Mean time from the first token to the last, ms (successful requests): the stream.
    pub stream_ms: f64,
    /// Mean time from the end of the CPU step to the last token, ms: the whole generation call,
    /// waiting for the first token included.
    pub generate_ms: f64,
}

/// Most intervals overlapping at one instant (an interval ending at t does not overlap one
/// starting at t).
fn max_overlap(intervals: &[(u64, u64)]) -> usize {
    let mut events: Vec<(u64, i32)> = Vec::with_capacity(intervals.len() * 2);
    for &(a, b) in intervals {
        events.push((a, 1));
        events.push((b.max(a), -1));
    }
    // Ends sort before starts at the same instant.
    events.sort_by_key(|&(t, d)| (t, d));
    let mut now = 0i32;
    let mut best = 0i32;
    for (_, d) in events {
        now += d;
        best = best.max(now);
    }
    best.max(0) as usize
}

/// Total length of the union of intervals, µs.
fn union_us(intervals: &mut [(u64, u64)]) -> u64 {
    intervals.sort_unstable();
    let mut total = 0;
    let mut current: Option<(u64, u64)> = None;
    for &(a, b) in intervals.iter() {
        current = match current {
            Some((s, e)) if a <= e => Some((s, e.max(b))),
            Some((s, e)) => {
                total += e - s;
                Some((a, b))
            }
            None => Some((a, b)),
        };
    }
    if let Some((s, e)) = current {
        total += e - s;
    }
    total
}

/// The [`ThreadUse`] of a timeline.
pub fn thread_use(timeline: &[TimelineEntry]) -> ThreadUse {
    let mut tids: Vec<i32> = timeline.iter().map(|e| e.tid).collect();
    tids.sort_unstable();
    tids.dedup();
    let interval = |e: &TimelineEntry| (e.started_us, e.finished_us.max(e.started_us));
    let mut max_per_thread = 0;
    let mut busy_us = 0u64;
    for tid in &tids {
        let mut on: Vec<(u64, u64)> = timeline
            .iter()
            .filter(|e| e.tid == *tid)
            .map(interval)
            .collect();
        max_per_thread = max_per_thread.max(max_overlap(&on));
        busy_us += union_us(&mut on);
    }
    let all: Vec<(u64, u64)> = timeline.iter().map(interval).collect();
    let ok: Vec<&TimelineEntry> = timeline.iter().filter(|e| e.ok).collect();
    let mean = |f: &dyn Fn(&TimelineEntry) -> Option<u64>| {
        let v: Vec<f64> = ok
            .iter()
            .filter_map(|e| f(e))
            .map(|us| us as f64 / 1000.0)
            .collect();
        if v.is_empty() {
            f64::NAN
        } else {
            v.iter().sum::<f64>() / v.len() as f64
        }
    };
    let n = timeline.len();
    ThreadUse {
        requests: n,
        threads: tids.len(),
        max_per_thread,
        max_overall: max_overlap(&all),
        thread_ms_per_request: if n > 0 {
            busy_us as f64 / 1000.0 / n as f64
        } else {
            f64::NAN
        },
        held_ms: mean(&|e| Some(e.finished_us.saturating_sub(e.started_us))),
        stream_ms: mean(&|e| e.first_token_us.map(|f| e.finished_us.saturating_sub(f))),
        generate_ms: mean(&|e| e.cpu_done_us.map(|c| e.finished_us.saturating_sub(c))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: u64, tid: i32, start: u64, end: u64) -> TimelineEntry {
        TimelineEntry {
            id,
            tid,
            intended_us: start,
            started_us: start,
            embed_done_us: Some(start + 10),
            retrieve_done_us: Some(start + 20),
            cpu_done_us: Some(start + 30),
            first_token_us: Some(start + 100),
            finished_us: end,
            ok: true,
            token_cpu_us: 0,
        }
    }

    #[test]
    fn one_thread_per_request() {
        let t = vec![
            entry(1, 1, 0, 1000),
            entry(2, 2, 0, 1000),
            entry(3, 1, 1000, 2000),
        ];
        let u = thread_use(&t);
        assert_eq!(u.threads, 2);
        assert_eq!(u.max_per_thread, 1);
        assert_eq!(u.max_overall, 2);
        assert!((u.thread_ms_per_request - 1.0).abs() < 1e-9);
        assert!((u.stream_ms - 0.9).abs() < 1e-9);
    }

    #[test]
    fn one_thread_interleaving() {
        let t: Vec<TimelineEntry> = (0..4)
            .map(|i| entry(i, 7, i * 100, 1000 + i * 100))
            .collect();
        let u = thread_use(&t);
        assert_eq!(u.threads, 1);
        assert_eq!(u.max_per_thread, 4);
        // The thread was busy 1.3 ms in all, shared by 4 requests.
        assert!((u.thread_ms_per_request - 1.3 / 4.0).abs() < 1e-9);
    }

    #[test]
    fn empty_timeline_is_nan_not_zero() {
        let u = thread_use(&[]);
        assert_eq!(u.threads, 0);
        assert!(u.thread_ms_per_request.is_nan());
        assert!(u.stream_ms.is_nan());
    }
}
