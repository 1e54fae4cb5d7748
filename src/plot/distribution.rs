//! Distribution of one latency (TTFT or ITL) at one load point: the share of values in each of
//! 40 equal bins, one outline per variant. Where the spectrum shows the tail, this shows the
//! body: a second hump is a group of requests that waited for something.
//!
//! The x axis ends at the largest p99.9 of the variants, so one outlier does not squeeze the
//! body into one bin; the legend says how much of each variant lies beyond.

use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::common;
use super::{LINE_WIDTH, data, variant_style};
use crate::export::histograms;
use crate::result::{LoadPoint, RunResult};

/// Bins across the x axis.
const BINS: usize = 40;

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
    let mut hists = Vec::new();
    for (index, variant) in data::variants(result).into_iter().enumerate() {
        let runs = data::cell(result, &variant, point);
        if let Some(h) = histograms::merged(&runs, metric) {
            hists.push((variant, index, h));
        }
    }
    let hi_us = hists
        .iter()
        .map(|(_, _, h)| h.value_at_quantile(0.999))
        .max()
        .unwrap_or(0);
    if hists.is_empty() || hi_us == 0 {
        return common::empty(
            area,
            &format!("No `{metric}` values at {}: nothing to plot.", point.label()),
        );
    }
    let hi_ms = hi_us as f64 / 1000.0 * 1.02;
    let width = hi_ms / BINS as f64;
    let outlines: Vec<Outline> = hists
        .iter()
        .map(|(variant, index, h)| {
            let mut counts = vec![0u64; BINS];
            let mut beyond = 0u64;
            for v in h.iter_recorded() {
                let ms = h.median_equivalent(v.value_iterated_to()) as f64 / 1000.0;
                let n = v.count_at_value();
                match (ms / width) as usize {
                    b if b < BINS => counts[b] += n,
                    _ => beyond += n,
                }
            }
            let total = h.len().max(1) as f64;
            Outline {
                variant: variant.clone(),
                index: *index,
                shares: counts.iter().map(|c| *c as f64 * 100.0 / total).collect(),
                beyond: beyond as f64 * 100.0 / total,
                count: h.len(),
            }
        })
        .collect();
    let top = outlines
        .iter()
        .flat_map(|o| o.shares.iter().copied())
        .fold(0.0, f64::max);
    let mut chart = common::build(
        area,
        common::linear(0.0, hi_ms, 8),
        common::from_zero(top, 1.0),
        80,
    )?;
    common::mesh(
        &mut chart,
        &format!("{} (ms), {BINS} bins", super::metric_title(metric).to_lowercase()),
        "share of values (%)",
        &|v| common::number_label(*v),
        &|v| common::number_label(*v),
    )?;
    for o in &outlines {
        let (color, shape) = variant_style(&o.variant, o.index);
        // A step outline: flat across each bin, vertical between bins.
        let mut steps = vec![(0.0, 0.0)];
        for (b, share) in o.shares.iter().enumerate() {
            steps.push((b as f64 * width, *share));
            steps.push(((b + 1) as f64 * width, *share));
        }
        steps.push((BINS as f64 * width, 0.0));
        let beyond = if o.beyond >= 0.05 {
            format!(", {:.1}% beyond", o.beyond)
        } else {
            String::new()
        };
        let anno = chart
            .draw_series(LineSeries::new(steps, color.stroke_width(LINE_WIDTH)))?
            .label(format!("{} (n={}{beyond})", o.variant, o.count));
        common::legend_line(anno, Some(shape), color, false);
        // The marker sits on the highest bin: the mode.
        if let Some((b, share)) = o
            .shares
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
        {
            common::markers(&mut chart, shape, color, &[((b as f64 + 0.5) * width, *share)])?;
        }
    }
    common::legend(&mut chart, SeriesLabelPosition::UpperRight)?;
    Ok(())
}
