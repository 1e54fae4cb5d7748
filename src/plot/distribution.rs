//! Distribution of one latency (TTFT or ITL) at one load point: the share of values in each of
//! 40 equal bins, one outline per variant. Where the spectrum shows the tail, this shows the
//! body: a second hump is a group of requests that waited for something.
//!
//! The x axis ends at the largest p99.9 of the variants, so one outlier does not squeeze the
//! body into one bin; the legend says how much of each variant lies beyond.

use anyhow::Result;
use hdrhistogram::Histogram;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::common::{self, Axis, Entry, Glyph};
use super::{LINE_WIDTH, variant_style};
use crate::result::histograms;
use crate::result::query as data;
use crate::result::{LoadPoint, RunResult};

/// Bins across the x axis.
const BINS: usize = 40;

/// The bins: equal widths from 0, or equal ratios (a log axis) when the values span more than
/// 20×, so a 40 ms variant and a 4 s one both show their shape.
struct Bins {
    log: bool,
    /// First edge, in plot units (ms, or log10 ms).
    lo: f64,
    /// Bin width in plot units.
    step: f64,
}

impl Bins {
    fn new(lo_ms: f64, hi_ms: f64) -> Bins {
        if lo_ms > 0.0 && hi_ms / lo_ms > 20.0 {
            let (lo, hi) = ((lo_ms * 0.95).log10(), hi_ms.log10());
            Bins {
                log: true,
                lo,
                step: (hi - lo) / BINS as f64,
            }
        } else {
            Bins {
                log: false,
                lo: 0.0,
                step: hi_ms / BINS as f64,
            }
        }
    }

    /// The bin of a value, None beyond the last edge.
    fn index(&self, ms: f64) -> Option<usize> {
        let x = if self.log { ms.max(1e-6).log10() } else { ms };
        let b = ((x - self.lo) / self.step).floor().max(0.0) as usize;
        (b < BINS).then_some(b)
    }

    /// Edge `k` in plot units.
    fn edge(&self, k: usize) -> f64 {
        self.lo + k as f64 * self.step
    }

    fn axis(&self) -> Axis {
        let hi = self.edge(BINS);
        if self.log {
            common::YScale::log_axis(self.lo, hi)
        } else {
            common::linear(0.0, hi, 8)
        }
    }

    fn label(&self, x: f64) -> String {
        common::number_label(if self.log { 10f64.powf(x) } else { x })
    }
}

/// One variant's outline.
struct Outline {
    variant: String,
    index: usize,
    /// Share of values per bin, %.
    shares: Vec<f64>,
    /// Share beyond the axis, %.
    beyond: f64,
    count: u64,
}

/// Draws the distribution of `metric` at `point`.
pub fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    result: &RunResult,
    metric: &str,
    point: &LoadPoint,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let hists = variant_histograms(result, metric, point);
    let hi_us = hists
        .iter()
        .map(|(_, _, h)| h.value_at_quantile(0.999))
        .max()
        .unwrap_or(0);
    if hists.is_empty() || hi_us == 0 {
        return common::empty(
            area,
            &format!(
                "No `{metric}` values at {}: nothing to plot.",
                point.label()
            ),
        );
    }
    let hi_ms = hi_us as f64 / 1000.0 * 1.02;
    let lo_ms = hists
        .iter()
        .map(|(_, _, h)| h.min().max(1) as f64 / 1000.0)
        .fold(f64::INFINITY, f64::min);
    let bins = Bins::new(lo_ms, hi_ms);
    let outlines: Vec<Outline> = hists
        .iter()
        .map(|(variant, index, h)| Outline::new(&bins, variant, *index, h))
        .collect();
    let top = outlines
        .iter()
        .flat_map(|o| o.shares.iter().copied())
        .fold(0.0, f64::max);
    let (plot_area, legend_area) = common::split_legend(area);
    let mut chart = common::build(&plot_area, bins.axis(), common::from_zero(top, 1.0), 80)?;
    common::mesh(
        &mut chart,
        &format!(
            "{} (ms), {BINS} bins{}",
            super::metric_title(metric).to_lowercase(),
            if bins.log { ", log scale" } else { "" }
        ),
        "share of values (%)",
        &|v| bins.label(*v),
        &|v| common::number_label(*v),
    )?;
    let mut entries = Vec::new();
    let mut beyond = Vec::new();
    for o in &outlines {
        let (color, shape) = variant_style(&o.variant, o.index);
        let steps = bins.steps(&o.shares);
        if o.beyond >= 0.05 {
            beyond.push(format!("{} {:.1}%", o.variant, o.beyond));
        }
        chart.draw_series(LineSeries::new(steps, color.stroke_width(LINE_WIDTH)))?;
        entries.push(Entry::new(
            format!("{} (n={})", o.variant, o.count),
            color,
            Glyph::Line(shape),
        ));
        // The marker sits on the highest bin: the mode.
        if let Some((b, share)) = o
            .shares
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
        {
            let mid = (bins.edge(b) + bins.edge(b + 1)) / 2.0;
            common::markers(&mut chart, shape, color, &[(mid, *share)])?;
        }
    }
    common::side_legend(&legend_area, "variant (values)", &entries)?;
    beyond_notes(&legend_area, entries.len(), &beyond)
}

/// Each variant's `metric` at `point`, its repetitions merged, with its index in run order;
/// variants without values are left out.
fn variant_histograms(
    result: &RunResult,
    metric: &str,
    point: &LoadPoint,
) -> Vec<(String, usize, Histogram<u64>)> {
    let mut hists = Vec::new();
    for (index, variant) in data::variants(result).into_iter().enumerate() {
        let runs = data::cell(result, &variant, point);
        if let Some(h) = histograms::merged(&runs, metric) {
            hists.push((variant, index, h));
        }
    }
    hists
}

/// Below the legend, what lies right of the axis (above the largest p99.9), per variant.
fn beyond_notes<DB: DrawingBackend>(
    legend_area: &DrawingArea<DB, Shift>,
    entries: usize,
    beyond: &[String],
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let mut y = 56 + 28 * entries as i32 + 16;
    if !beyond.is_empty() {
        common::note(legend_area, "beyond the axis:", (8, y))?;
        for line in beyond {
            y += 24;
            common::note(legend_area, line, (16, y))?;
        }
    }
    Ok(())
}

impl Outline {
    /// Counts `h` into `bins`, as shares of all its values.
    fn new(bins: &Bins, variant: &str, index: usize, h: &Histogram<u64>) -> Outline {
        let mut counts = vec![0u64; BINS];
        let mut beyond = 0u64;
        for v in h.iter_recorded() {
            let ms = h.median_equivalent(v.value_iterated_to()) as f64 / 1000.0;
            let n = v.count_at_value();
            match bins.index(ms) {
                Some(b) => counts[b] += n,
                None => beyond += n,
            }
        }
        let total = h.len().max(1) as f64;
        Outline {
            variant: variant.to_string(),
            index,
            shares: counts.iter().map(|c| *c as f64 * 100.0 / total).collect(),
            beyond: beyond as f64 * 100.0 / total,
            count: h.len(),
        }
    }
}

impl Bins {
    /// A step outline of `shares`: flat across each bin, vertical between bins.
    fn steps(&self, shares: &[f64]) -> Vec<(f64, f64)> {
        let mut steps = vec![(self.edge(0), 0.0)];
        for (b, share) in shares.iter().enumerate() {
            steps.push((self.edge(b), *share));
            steps.push((self.edge(b + 1), *share));
        }
        steps.push((self.edge(BINS), 0.0));
        steps
    }
}
