//! The request timeline: one row per request (the first [`TIMELINE_ROWS`] by intended start),
//! time across, one bar segment per phase: waiting in the queue, embedding, retrieval, CPU
//! work, waiting for the first token and streaming. Each row is labelled with the OS thread that
//! started the request (`T1`, `T2` … in order of appearance) and the request id.
//!
//! It is the picture behind the numbers: in `async-single` every row says `T1` (one thread
//! interleaves every user, the bars overlap in time); in `sync` each row has its own thread,
//! which sits idle through the purple and green waits. Each timeline has its own time axis, so a
//! fast variant's phases stay visible next to one that queued for seconds.

use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::TIMELINE_ROWS;
use super::common::{self, Entry, Glyph};
use crate::metrics::recorder::TimelineEntry;
use crate::result::query as data;
use crate::result::{LoadPoint, RunResult};

/// Pixels per row.
const ROW_PX: u32 = 22;
/// Pixels around the rows: title, axis, legend.
const FRAME_PX: u32 = 190;

/// The phases, their colours (light to dark: waits light, work saturated) and names.
pub const PHASES: [(&str, RGBColor); 6] = [
    ("queue", RGBColor(190, 190, 190)),
    ("embed", RGBColor(86, 180, 233)),
    ("retrieve", RGBColor(0, 114, 178)),
    ("cpu", RGBColor(230, 159, 0)),
    ("wait for first token", RGBColor(204, 170, 210)),
    ("stream tokens", RGBColor(0, 158, 115)),
];
/// The rest of a failed request, after its last completed phase.
const FAILED: RGBColor = RGBColor(213, 40, 40);
/// The per-token CPU of a stream, added up: a thin bar along the bottom of its row.
const TOKEN_CPU: RGBColor = RGBColor(213, 94, 0);
/// Legend name of [`TOKEN_CPU`].
const TOKEN_CPU_NAME: &str = "CPU per token, summed";

/// Height of a timeline with `rows` rows.
pub fn height(rows: usize) -> u32 {
    FRAME_PX + ROW_PX * rows.max(1) as u32
}

/// The requests a timeline shows: the first ones by intended start (merged over repetitions
/// would mix time bases, so the first repetition only).
pub fn rows<'a>(result: &'a RunResult, variant: &str, point: &LoadPoint) -> Vec<&'a TimelineEntry> {
    let runs = data::cell(result, variant, point);
    let Some(run) = runs.iter().min_by_key(|r| r.repetition) else {
        return Vec::new();
    };
    let mut rows: Vec<&TimelineEntry> = run.timeline.iter().collect();
    rows.sort_by_key(|e| (e.intended_us, e.id));
    rows.truncate(TIMELINE_ROWS);
    rows
}

/// Span of a set of rows, µs: first intended start to last finish.
fn span(rows: &[&TimelineEntry]) -> (u64, u64) {
    let t0 = rows.iter().map(|e| e.intended_us).min().unwrap_or(0);
    let t1 = rows.iter().map(|e| e.finished_us).max().unwrap_or(t0);
    (t0, t1)
}

/// Each row's label, `T<thread> #<request>`, threads numbered in order of first appearance;
/// and how many threads there were.
fn row_labels(rows: &[&TimelineEntry]) -> (Vec<String>, usize) {
    let mut threads: Vec<i32> = Vec::new();
    let labels: Vec<String> = rows
        .iter()
        .map(|e| {
            let t = match threads.iter().position(|t| *t == e.tid) {
                Some(i) => i + 1,
                None => {
                    threads.push(e.tid);
                    threads.len()
                }
            };
            format!("T{t} #{}", e.id)
        })
        .collect();
    (labels, threads.len())
}

/// The legend: every phase's colour, then the colour of a failed request, then the per-token
/// CPU bar when some row has one.
fn phase_entries(token_cpu: bool) -> Vec<Entry> {
    let mut entries: Vec<Entry> = PHASES
        .iter()
        .map(|(name, color)| Entry::new(*name, *color, Glyph::Box))
        .collect();
    entries.push(Entry::new("failed", FAILED, Glyph::Box));
    if token_cpu {
        entries.push(Entry::new(TOKEN_CPU_NAME, TOKEN_CPU, Glyph::Box));
    }
    entries
}

/// The per-token CPU bar of one request, µs since epoch: `token_cpu_us` long, from its first
/// token, never past its end. The work really happens token by token across the stream (the
/// first token's before it arrives); the bar adds it up so its length reads against the
/// stream's. None without per-token CPU or without a first token.
fn token_cpu_bar(e: &TimelineEntry) -> Option<(u64, u64)> {
    let first = e.first_token_us?;
    if e.token_cpu_us == 0 {
        return None;
    }
    let end = e.finished_us.max(first);
    Some((first, (first + e.token_cpu_us).min(end)))
}

/// Phase segments of one request, µs since epoch: (phase index or None for failed, start, end).
fn segments(e: &TimelineEntry) -> Vec<(Option<usize>, u64, u64)> {
    let marks = [
        Some(e.started_us),
        e.embed_done_us,
        e.retrieve_done_us,
        e.cpu_done_us,
        e.first_token_us,
        Some(e.finished_us),
    ];
    let mut out = Vec::new();
    let mut from = e.intended_us;
    for (i, mark) in marks.iter().enumerate() {
        match mark {
            Some(to) => {
                // A success always has every mark; a failed one stops at its last.
                let to = (*to).max(from);
                out.push((Some(i), from, to));
                from = to;
            }
            None => {
                if e.finished_us > from {
                    out.push((None, from, e.finished_us));
                }
                return out;
            }
        }
    }
    if !e.ok
        && let Some(last) = out.last_mut()
    {
        last.0 = None;
    }
    out
}

/// One bar per phase for each row, and the per-token CPU bar under its stream.
fn draw_rows<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, common::Plane>,
    shown: &[&TimelineEntry],
    ms: &dyn Fn(u64) -> f64,
    x_max: f64,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    for (row, e) in shown.iter().enumerate() {
        let y = row as f64;
        chart.draw_series(segments(e).into_iter().map(|(phase, a, b)| {
            let color = phase.map_or(FAILED, |p| PHASES[p].1);
            Rectangle::new(
                [
                    (ms(a), y - 0.36),
                    (ms(b).max(ms(a) + x_max * 0.001), y + 0.36),
                ],
                color.filled(),
            )
        }))?;
        if let Some((a, b)) = token_cpu_bar(e) {
            chart.draw_series(std::iter::once(Rectangle::new(
                [
                    (ms(a), y + 0.16),
                    (ms(b).max(ms(a) + x_max * 0.001), y + 0.36),
                ],
                TOKEN_CPU.filled(),
            )))?;
        }
    }
    Ok(())
}

/// Draws the timeline of `variant` at `point`.
pub fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    result: &RunResult,
    variant: &str,
    point: &LoadPoint,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let shown = rows(result, variant, point);
    if shown.is_empty() {
        return common::empty(
            area,
            &format!("No timeline for `{variant}` at {}.", point.label()),
        );
    }
    // Each timeline spans its own requests: a variant that queues for seconds would otherwise
    // squeeze a fast one's phases into slivers. The x axis says how long each took.
    let (t0, t1) = span(&shown);
    let width_us = (t1 - t0).max(1);
    let ms = |us: u64| us.saturating_sub(t0) as f64 / 1000.0;
    let (labels, threads) = row_labels(&shown);
    let n = shown.len();
    let total = data::cell(result, variant, point)
        .first()
        .map_or(0, |r| r.timeline.len());
    let (_, h) = area.dim_in_pixel();
    let (body, foot) = area.split_vertically(h - 40);
    let (body, side) = common::split_legend(&body);
    let x_max = width_us as f64 / 1000.0 * 1.02;
    let y = common::ticks_at(n as f64 - 0.5, -0.5, (0..n).map(|i| i as f64).collect());
    let mut chart = common::build(&body, common::linear(0.0, x_max, 10), y, 92)?;
    let label_of = move |v: &f64| labels.get(v.round() as usize).cloned().unwrap_or_default();
    common::mesh(
        &mut chart,
        "time since the first request's intended start (ms)",
        "OS thread · request",
        &|v| common::number_label(*v),
        &label_of,
    )?;
    draw_rows(&mut chart, &shown, &ms, x_max)?;
    let token_cpu = shown.iter().any(|e| token_cpu_bar(e).is_some());
    common::side_legend(&side, "phase", &phase_entries(token_cpu))?;
    common::note(
        &foot,
        &format!(
            "First {n} of {total} recorded requests by intended start; {} OS thread(s) started them. \
             T = thread that started the request.",
            threads
        ),
        (20, 8),
    )?;
    if token_cpu {
        common::note(
            &foot,
            "The thin bar under a stream is its per-token CPU added up (GIL waits included); \
             it really falls token by token across the stream.",
            (20, 24),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(token_cpu_us: u64, first: Option<u64>, finished: u64) -> TimelineEntry {
        TimelineEntry {
            id: 1,
            tid: 1,
            intended_us: 0,
            started_us: 10,
            embed_done_us: Some(20),
            retrieve_done_us: Some(30),
            cpu_done_us: Some(40),
            first_token_us: first,
            finished_us: finished,
            ok: true,
            token_cpu_us,
        }
    }

    #[test]
    fn token_cpu_bar_starts_at_the_first_token_and_stays_inside_the_request() {
        assert_eq!(token_cpu_bar(&entry(0, Some(100), 1_000)), None);
        assert_eq!(token_cpu_bar(&entry(50, None, 1_000)), None);
        assert_eq!(
            token_cpu_bar(&entry(300, Some(100), 1_000)),
            Some((100, 400))
        );
        // More CPU than the stream lasted (clock granularity): clipped at the end.
        assert_eq!(
            token_cpu_bar(&entry(5_000, Some(100), 1_000)),
            Some((100, 1_000))
        );
    }

    #[test]
    fn the_legend_names_the_bar_only_when_a_row_has_one() {
        let names = |on| {
            phase_entries(on)
                .iter()
                .map(|e| format!("{e:?}"))
                .filter(|d| d.contains(TOKEN_CPU_NAME))
                .count()
        };
        assert_eq!(names(false), 0);
        assert_eq!(names(true), 1);
    }
}
