//! Adding checked shards up into one result.
//!
//! - Histograms: bucket by bucket (HdrHistogram `add`), so every merged percentile is the
//!   percentile of the union of the shards' samples, within HDR precision; `latency_ms` is
//!   recomputed from them.
//! - Counters: summed. Load points: users, rates and in-flight caps summed.
//! - Throughput: each shard's rate over its own window, summed; `window_s` is the window
//!   common to every shard (`--start-at` makes the windows coincide, and `merge` refuses
//!   windows that do not overlap at all).
//! - Ideal: the shards' bounds summed (each generator has its own capacity), the efficiency
//!   recomputed as merged rate / summed bound; its stated error is the bound-weighted mean of
//!   the shards' errors, so a merged efficiency exceeds 100 % by no more than its error when no
//!   shard's does.
//! - Process figures: CPU time and context switches summed over hosts; peaks and baselines
//!   (threads, RSS) are the largest single host's, since peaks on different hosts need not
//!   coincide. Every shard's own figures stay in `shards` of each run, per host.
//! - The mocks' figures are per shard only (`shards[].mock`): with one shared mock every shard
//!   saw the same server, so a sum would count it N times.

use std::collections::BTreeMap;
use std::path::PathBuf;

use mock_services::hist::{self, Percentiles};

use super::{MergeError, MergeInfo, MergedShard, ShardPart};
use crate::load::DriveOutcome;
use crate::metrics::ideal::Ideal;
use crate::metrics::process::ProcessFigures;
use crate::result::{Counters, LoadPoint, RunResult, Throughput, VariantRun, WarmupCounters};
use crate::shard::WindowClock;

/// Merges checked shards (see [`super::rules::check`]); `missing` are the absent indices.
pub fn merge(shards: &[(PathBuf, RunResult)], missing: &[u32]) -> anyhow::Result<RunResult> {
    let mut sorted: Vec<&(PathBuf, RunResult)> = shards.iter().collect();
    sorted.sort_by_key(|(_, r)| r.shard.as_ref().map_or(0, |s| s.index));
    let Some((_, first)) = sorted.first() else {
        anyhow::bail!("no shard results to merge");
    };
    let mut out = (*first).clone();
    let results: Vec<&RunResult> = sorted.iter().map(|(_, r)| r).collect();
    out.created_at = results
        .iter()
        .map(|r| r.created_at.clone())
        .min()
        .unwrap_or_default();
    out.partial = results.iter().any(|r| r.partial) || !missing.is_empty();
    sum_load(&mut out, &results);
    out.runs = (0..first.runs.len())
        .map(|k| merge_run(&sorted, k))
        .collect::<anyhow::Result<_>>()?;
    let info = merge_info(&sorted, first, missing);
    let mut notes = backend_notes(&results);
    notes.extend(window_notes(&results, &out.runs));
    if !missing.is_empty() {
        notes.push(format!(
            "merged {} of {} shards: shard(s) {} MISSING (--allow-missing); every figure \
             covers only the shards present",
            info.shards.len(),
            info.count,
            super::rules::list(missing)
        ));
    }
    out.backends.notes = notes;
    out.origin = None;
    out.shard = None;
    out.merged = Some(info);
    Ok(out)
}

/// The whole's load: every point's and the scenario's users, rates, caps and requests added.
fn sum_load(out: &mut RunResult, results: &[&RunResult]) {
    for (k, p) in out.plan.points.iter_mut().enumerate() {
        *p = sum_points(results.iter().filter_map(|r| r.plan.points.get(k)));
    }
    let load = &mut out.scenario.load;
    load.requests = sum_opt(results.iter().map(|r| r.scenario.load.requests));
    load.concurrency = results.iter().map(|r| r.scenario.load.concurrency).sum();
    load.rate = results
        .iter()
        .map(|r| r.scenario.load.rate)
        .sum::<Option<f64>>();
    load.max_in_flight = sum_opt(results.iter().map(|r| r.scenario.load.max_in_flight));
}

/// The merge's provenance: each shard's index, host, build, file and machine, and the missing.
fn merge_info(sorted: &[&(PathBuf, RunResult)], first: &RunResult, missing: &[u32]) -> MergeInfo {
    MergeInfo {
        count: first.shard.as_ref().map_or(0, |s| s.count),
        shards: sorted
            .iter()
            .map(|(file, r)| MergedShard {
                index: r.shard.as_ref().map_or(0, |s| s.index),
                host: r
                    .origin
                    .as_ref()
                    .map_or_else(String::new, |o| o.host.clone()),
                build: r
                    .origin
                    .as_ref()
                    .map_or_else(String::new, |o| o.build.clone()),
                file: file.display().to_string(),
                created_at: r.created_at.clone(),
                machine: r.machine.clone(),
                partial: r.partial,
            })
            .collect(),
        missing: missing.to_vec(),
    }
}

/// The shards' backend notes, each once, in shard order.
fn backend_notes(results: &[&RunResult]) -> Vec<String> {
    let mut notes: Vec<String> = Vec::new();
    for r in results {
        for n in &r.backends.notes {
            if !notes.contains(n) {
                notes.push(n.clone());
            }
        }
    }
    notes
}

/// A note per merged run whose common window is under 90 % of the longest shard's window.
fn window_notes(results: &[&RunResult], runs: &[VariantRun]) -> Vec<String> {
    let mut notes = Vec::new();
    for (k, run) in runs.iter().enumerate() {
        let longest = results
            .iter()
            .filter_map(|r| r.runs[k].clock.as_ref())
            .map(|c| c.window_end_unix_us.saturating_sub(c.window_start_unix_us))
            .max()
            .unwrap_or(0) as f64
            / 1e6;
        if run.throughput.window_s < 0.9 * longest {
            notes.push(format!(
                "{} at {}: the shards' windows overlap for only {:.2} s of {:.2} s, so the \
                 summed rates cover different times: start the shards with one --start-at",
                run.variant,
                run.point.label(),
                run.throughput.window_s,
                longest
            ));
        }
    }
    notes
}

fn sum_opt<T: std::iter::Sum<T>>(values: impl Iterator<Item = Option<T>>) -> Option<T> {
    values.sum::<Option<T>>()
}

/// The whole of the shards' load points: users, rates and caps added.
fn sum_points<'a>(points: impl Iterator<Item = &'a LoadPoint>) -> LoadPoint {
    let points: Vec<&LoadPoint> = points.collect();
    let mut p = points
        .first()
        .map_or(LoadPoint::closed(0), |p| (*p).clone());
    p.concurrency = points.iter().map(|q| q.concurrency).sum();
    p.rate = points.iter().map(|q| q.rate).sum::<Option<f64>>();
    p.max_in_flight = points
        .iter()
        .map(|q| q.max_in_flight)
        .sum::<Option<usize>>();
    p
}

fn add_counters(total: &mut Counters, c: &Counters) {
    total.sent += c.sent;
    total.ok += c.ok;
    total.failed += c.failed;
    for (kind, n) in &c.failed_by_kind {
        *total.failed_by_kind.entry(kind.clone()).or_default() += n;
    }
    total.abandoned += c.abandoned;
    total.never_sent += c.never_sent;
    total.retries += c.retries;
    total.tokens += c.tokens;
    total.citation_mismatches += c.citation_mismatches;
    total.stream_reads += c.stream_reads;
    total.warmup_completed += c.warmup_completed;
    let (t, w): (&mut WarmupCounters, &WarmupCounters) = (&mut total.warmup, &c.warmup);
    t.due += w.due;
    t.ok += w.ok;
    t.failed += w.failed;
    t.abandoned += w.abandoned;
    t.never_sent += w.never_sent;
}

/// The window common to every shard's run (latest start to earliest end).
fn common_window(clocks: &[&WindowClock]) -> Option<WindowClock> {
    let start = clocks.iter().map(|c| c.window_start_unix_us).max()?;
    let end = clocks.iter().map(|c| c.window_end_unix_us).min()?;
    let late = clocks
        .iter()
        .filter_map(|c| c.start_at_late_ms)
        .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))));
    let wall = std::time::UNIX_EPOCH + std::time::Duration::from_micros(start);
    Some(WindowClock {
        start_at_late_ms: late,
        ..WindowClock::new(wall, 0, end.saturating_sub(start), None)
    })
}

fn add_histograms(
    sorted: &[&(PathBuf, RunResult)],
    k: usize,
) -> anyhow::Result<BTreeMap<String, String>> {
    let mut merged: BTreeMap<String, hdrhistogram::Histogram<u64>> = BTreeMap::new();
    for (file, result) in sorted {
        for (name, encoded) in &result.runs[k].histograms {
            let h = hist::decode_b64(encoded).map_err(|e| {
                MergeError::new(
                    file,
                    format!("runs[{k}].histograms.{name}"),
                    format!("cannot be read ({e}): the file was changed; re-run the shard"),
                )
            })?;
            let total = merged.entry(name.clone()).or_insert_with(hist::new_us);
            total.add(&h).map_err(|e| {
                MergeError::new(
                    file,
                    format!("runs[{k}].histograms.{name}"),
                    format!("cannot be added ({e:?})"),
                )
            })?;
        }
    }
    Ok(merged
        .iter()
        .map(|(name, h)| (name.clone(), hist::encode_b64(h)))
        .collect())
}

fn merge_process(parts: &[&ProcessFigures]) -> ProcessFigures {
    let mut p = ProcessFigures::default();
    for f in parts {
        p.threads_peak = p.threads_peak.max(f.threads_peak);
        p.process_threads_peak = p.process_threads_peak.max(f.process_threads_peak);
        p.threads_baseline = p.threads_baseline.max(f.threads_baseline);
        p.process_threads_baseline = p.process_threads_baseline.max(f.process_threads_baseline);
        p.mock_threads_peak = p.mock_threads_peak.max(f.mock_threads_peak);
        for (group, n) in &f.thread_groups_peak {
            let e = p.thread_groups_peak.entry(group.clone()).or_default();
            *e = (*e).max(*n);
        }
        p.rss_start_bytes = p.rss_start_bytes.max(f.rss_start_bytes);
        p.rss_peak_bytes = p.rss_peak_bytes.max(f.rss_peak_bytes);
        p.cpu_user_s += f.cpu_user_s;
        p.cpu_sys_s += f.cpu_sys_s;
        p.mock_cpu_s += f.mock_cpu_s;
        p.sampler_cpu_s += f.sampler_cpu_s;
        p.ctx_switches_voluntary += f.ctx_switches_voluntary;
        p.ctx_switches_involuntary += f.ctx_switches_involuntary;
        p.snapshots += f.snapshots;
        p.failed_reads += f.failed_reads;
    }
    p.rss_peak_is_kernel_hwm = !parts.is_empty() && parts.iter().all(|f| f.rss_peak_is_kernel_hwm);
    // The sampler's window (warm-up, window and drain), the longest host's: CPU summed over
    // hosts over it is the fleet's mean busy cores, never more.
    p.window_s = parts.iter().map(|f| f.window_s).fold(0.0, f64::max);
    p
}

/// The whole's ideal: the shards' bounds summed; efficiency = merged rate / that sum.
fn merge_ideal(ideals: &[&Ideal], oks: &[u64], requests_per_s: f64) -> Ideal {
    let bound: f64 = ideals.iter().map(|i| i.ideal_requests_per_s).sum();
    let ok_total: u64 = oks.iter().sum();
    let service = if ok_total > 0 {
        ideals
            .iter()
            .zip(oks)
            .map(|(i, n)| i.expected_service_s * *n as f64)
            .sum::<f64>()
            / ok_total as f64
    } else {
        ideals.first().map_or(0.0, |i| i.expected_service_s)
    };
    let error = if bound > 0.0 {
        ideals
            .iter()
            .map(|i| i.efficiency_error * i.ideal_requests_per_s)
            .sum::<f64>()
            / bound
    } else {
        0.0
    };
    let ideal = Ideal {
        expected_service_s: service,
        capacity: ideals.iter().map(|i| i.capacity).sum(),
        ideal_requests_per_s: bound,
        efficiency: 0.0,
        efficiency_error: 0.0,
    };
    ideal.with_measured(requests_per_s, error)
}

/// The `k`-th run of every shard as one run; each shard's own figures kept in `shards`.
fn merge_run(sorted: &[&(PathBuf, RunResult)], k: usize) -> anyhow::Result<VariantRun> {
    let runs: Vec<&VariantRun> = sorted.iter().map(|(_, r)| &r.runs[k]).collect();
    let mut out = runs[0].clone();
    out.point = sum_points(runs.iter().map(|r| &r.point));
    let mut counters = Counters::default();
    for r in &runs {
        add_counters(&mut counters, &r.counters);
    }
    out.counters = counters;
    out.histograms = add_histograms(sorted, k)?;
    out.latency_ms = out
        .histograms
        .iter()
        .filter_map(|(name, encoded)| {
            let h = hist::decode_b64(encoded).ok()?;
            Some((name.clone(), Percentiles::of_us(&h)))
        })
        .collect();
    let clocks: Vec<&WindowClock> = runs.iter().filter_map(|r| r.clock.as_ref()).collect();
    out.clock = common_window(&clocks);
    let window_s = out.clock.as_ref().map_or(0.0, |c| {
        c.window_end_unix_us.saturating_sub(c.window_start_unix_us) as f64 / 1e6
    });
    out.throughput = sum_throughput(&runs, window_s);
    let ideals: Vec<&Ideal> = runs.iter().map(|r| &r.ideal).collect();
    let oks: Vec<u64> = runs.iter().map(|r| r.counters.ok).collect();
    out.ideal = merge_ideal(&ideals, &oks, out.throughput.requests_per_s);
    let processes: Vec<&ProcessFigures> = runs.iter().map(|r| &r.process).collect();
    out.process = merge_process(&processes);
    out.mock = if runs.len() == 1 {
        runs[0].mock.clone()
    } else {
        None
    };
    out.server = None;
    // Each host's GIL is its own: their idle times are not one lock's.
    if runs.len() > 1 {
        out.gil_cap_idle_s = None;
    }
    out.drive = sum_drive(&runs, window_s);
    out.shards = shard_parts(sorted, &runs);
    Ok(out)
}

/// Each shard's rates over its own window, summed; `window_s` the common window.
fn sum_throughput(runs: &[&VariantRun], window_s: f64) -> Throughput {
    let goodput = runs
        .iter()
        .map(|r| r.throughput.goodput_per_s)
        .sum::<Option<f64>>();
    Throughput {
        window_s,
        requests_per_s: runs.iter().map(|r| r.throughput.requests_per_s).sum(),
        tokens_per_s: runs.iter().map(|r| r.throughput.tokens_per_s).sum(),
        goodput_per_s: goodput,
    }
}

/// The drivers' counts summed over the common window; the peak in flight the largest shard's.
fn sum_drive(runs: &[&VariantRun], window_s: f64) -> DriveOutcome {
    DriveOutcome {
        window_start_us: 0,
        window_end_us: (window_s * 1e6) as u64,
        issued: runs.iter().map(|r| r.drive.issued).sum(),
        measured_issued: runs.iter().map(|r| r.drive.measured_issued).sum(),
        abandoned: runs.iter().map(|r| r.drive.abandoned).sum(),
        never_sent: runs.iter().map(|r| r.drive.never_sent).sum(),
        warmup_due: runs.iter().map(|r| r.drive.warmup_due).sum(),
        warmup_abandoned: runs.iter().map(|r| r.drive.warmup_abandoned).sum(),
        warmup_never_sent: runs.iter().map(|r| r.drive.warmup_never_sent).sum(),
        interrupted: runs.iter().any(|r| r.drive.interrupted),
        // Like the process peaks: the largest single shard's.
        peak_in_flight: runs
            .iter()
            .map(|r| r.drive.peak_in_flight)
            .max()
            .unwrap_or(0),
    }
}

/// Every shard's own figures for this run, per host.
fn shard_parts(sorted: &[&(PathBuf, RunResult)], runs: &[&VariantRun]) -> Vec<ShardPart> {
    sorted
        .iter()
        .zip(runs)
        .map(|((_, result), r)| ShardPart {
            index: result.shard.as_ref().map_or(0, |s| s.index),
            host: result
                .origin
                .as_ref()
                .map_or_else(String::new, |o| o.host.clone()),
            users: r.point.concurrency,
            rate: r.point.rate,
            counters: r.counters.clone(),
            throughput: r.throughput.clone(),
            ideal: r.ideal.clone(),
            process: r.process.clone(),
            drive: r.drive.clone(),
            mock: r.mock.clone(),
            server: r.server.clone(),
            clock: r.clock.clone(),
        })
        .collect()
}
