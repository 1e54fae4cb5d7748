//! Latency percentile spectrum, as HdrHistogram plots it: x is the percentile on a
//! `1/(1-p)` log axis (0 %, 90 %, 99 %, 99.9 % … equally spaced), y the latency in ms, one line
//! per variant. The tail is where designs differ: a flat line is a predictable service, a line
//! that shoots up at 99 % is one where some requests wait behind others.

use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::common::{self, Axis, Entry, Glyph};
use super::{LINE_WIDTH, variant_style};
use crate::result::histograms;
use crate::result::histograms::TICKS_PER_HALF_DISTANCE;
use crate::result::query as data;
use crate::result::{LoadPoint, RunResult};

/// Percentiles that get a marker on every line (so lines stay apart in black-and-white).
const MARKED: [f64; 4] = [0.5, 0.9, 0.99, 0.999];

/// Position of quantile `q` on the x axis: `log10(1/(1-q))`, capped at `cap` (q = 1 sits there).
fn x_of(q: f64, cap: f64) -> f64 {
    if q >= 1.0 {
        cap
    } else {
        (-(1.0 - q).log10()).min(cap)
    }
}

/// Tick label of an x position: the percentile (`99.9%`).
fn label(x: &f64) -> String {
    if *x <= 1e-9 {
        return "0%".into();
    }
    let p = 100.0 * (1.0 - 10f64.powf(-*x));
    let decimals = (x.ceil() as i32 - 2).max(0) as usize;
    format!("{p:.decimals$}%")
}

/// One variant's line.
struct Line {
    variant: String,
    index: usize,
    count: u64,
    points: Vec<(f64, f64)>,
    marked: Vec<(f64, f64)>,
}

/// Draws the spectrum of `metric` at `point`.
pub fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    result: &RunResult,
    metric: &str,
    point: &LoadPoint,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let lines = spectrum_lines(result, metric, point);
    let max_count = lines.iter().map(|l| l.count).max().unwrap_or(0);
    if lines.is_empty() {
        return common::empty(
            area,
            &format!(
                "No `{metric}` histogram at {}: nothing to plot.",
                point.label()
            ),
        );
    }
    // The axis reaches the resolution the sample supports: with n values, 1/(1-p) ≈ n.
    let cap = (max_count.max(10) as f64).log10().ceil().clamp(2.0, 6.0);
    // Log y when one variant is 30x slower than another, so the fast ones stay readable.
    let scale =
        common::YScale::for_values(lines.iter().flat_map(|l| l.points.iter().map(|p| p.1)), 1.0);
    let mut ticks = vec![0.0, 2f64.log10()];
    ticks.extend((1..=cap as i32).map(f64::from));
    let x: Axis = common::ticks_at(0.0, cap * 1.02, ticks);
    let (plot_area, legend_area) = common::split_legend(area);
    let mut chart = common::build(&plot_area, x, scale.axis(1.08), 80)?;
    common::mesh(
        &mut chart,
        "percentile (log scale of 1/(1−p): each step right is ten times rarer)",
        &format!(
            "{} (ms{})",
            super::metric_title(metric).to_lowercase(),
            scale.suffix()
        ),
        &label,
        &|v| scale.label(v),
    )?;
    let mut entries = Vec::new();
    for line in &lines {
        let (color, shape) = variant_style(&line.variant, line.index);
        let style = color.stroke_width(LINE_WIDTH);
        chart.draw_series(LineSeries::new(
            line.points
                .iter()
                .map(|(q, v)| (x_of(*q, cap), scale.y(*v))),
            style,
        ))?;
        let marked: Vec<(f64, f64)> = line
            .marked
            .iter()
            .map(|(q, v)| (x_of(*q, cap), scale.y(*v)))
            .collect();
        common::markers(&mut chart, shape, color, &marked)?;
        entries.push(Entry::new(
            format!("{} (n={})", line.variant, line.count),
            color,
            Glyph::Line(shape),
        ));
    }
    common::side_legend(&legend_area, "variant (requests)", &entries)?;
    Ok(())
}

/// Each variant's `metric` at `point` (repetitions merged) as a percentile line with its marked
/// percentiles, in run order; variants without a histogram are left out.
fn spectrum_lines(result: &RunResult, metric: &str, point: &LoadPoint) -> Vec<Line> {
    let mut lines = Vec::new();
    for (index, variant) in data::variants(result).into_iter().enumerate() {
        let runs = data::cell(result, &variant, point);
        let Some(h) = histograms::merged(&runs, metric) else {
            continue;
        };
        lines.push(Line {
            variant,
            index,
            count: h.len(),
            points: h
                .iter_quantiles(TICKS_PER_HALF_DISTANCE)
                .map(|v| {
                    (
                        v.quantile_iterated_to(),
                        v.value_iterated_to() as f64 / 1000.0,
                    )
                })
                .collect(),
            marked: MARKED
                .iter()
                .filter(|q| (1.0 / (1.0 - **q)) <= h.len() as f64)
                .map(|q| (*q, h.value_at_quantile(*q) as f64 / 1000.0))
                .collect(),
        });
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_sit_a_decade_apart() {
        assert_eq!(label(&0.0), "0%");
        assert_eq!(label(&2f64.log10()), "50%");
        assert_eq!(label(&1.0), "90%");
        assert_eq!(label(&2.0), "99%");
        assert_eq!(label(&3.0), "99.9%");
        assert_eq!(label(&4.0), "99.99%");
        assert!((x_of(0.99, 6.0) - 2.0).abs() < 1e-9);
        assert_eq!(x_of(1.0, 3.0), 3.0);
    }
}
