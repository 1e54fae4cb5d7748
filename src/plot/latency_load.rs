//! p50 and p99 latency against load, end-to-end on the left and time to first token on the
//! right: solid lines are p99, dashed p50, one colour per variant. Flat lines mean requests do
//! not wait for each other; the knee where a line turns up is the load at which a bounded pool
//! (threads, blocking pool, one event loop busy with CPU) saturates and requests queue.
//!
//! With one load point it shows bars per variant instead: p99 light, p50 dark inside it.

use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::common;
use super::{LINE_WIDTH, MUTED, data, variant_style};
use crate::export::describe::pct;
use crate::result::RunResult;

/// The two panels: metric and its title.
const PANELS: [(&str, &str); 2] = [("e2e", "end-to-end"), ("ttft", "time to first token")];

/// Draws the chart.
pub fn draw<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, result: &RunResult) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let points = data::points(result);
    let variants = data::variants(result);
    if points.is_empty() || variants.is_empty() {
        return common::empty(area, "No measurements yet.");
    }
    let (w, _) = area.dim_in_pixel();
    let (left, right) = area.split_horizontally(w / 2);
    for ((metric, name), panel) in PANELS.iter().zip([left, right]) {
        if points.len() == 1 {
            bars(&panel, result, &variants, metric, name)?;
        } else {
            lines(&panel, result, &variants, metric, name)?;
        }
    }
    Ok(())
}

/// One panel of a sweep.
fn lines<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    result: &RunResult,
    variants: &[String],
    metric: &str,
    name: &str,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let mut points = data::points(result);
    points.sort_by(|a, b| data::load_value(a).total_cmp(&data::load_value(b)));
    let series: Vec<Vec<(f64, f64, f64)>> = variants
        .iter()
        .map(|v| {
            points
                .iter()
                .filter_map(|p| {
                    let runs = data::cell(result, v, p);
                    Some((
                        common::load_x(p),
                        data::mean(&runs, |r| pct(r, metric).p50)?,
                        data::mean(&runs, |r| pct(r, metric).p99)?,
                    ))
                })
                .collect()
        })
        .collect();
    let top = series
        .iter()
        .flatten()
        .map(|(_, _, p99)| *p99)
        .fold(0.0, f64::max);
    let mut chart = common::build(
        area,
        common::load_axis(&points),
        common::from_zero(top, 1.0),
        78,
    )?;
    common::mesh(
        &mut chart,
        data::load_axis_title(&points),
        &format!("{name} latency (ms)"),
        &common::load_label,
        &|v| common::number_label(*v),
    )?;
    for (i, (v, pts)) in variants.iter().zip(&series).enumerate() {
        let (color, shape) = variant_style(v, i);
        let anno = chart
            .draw_series(LineSeries::new(
                pts.iter().map(|(x, _, p99)| (*x, *p99)),
                color.stroke_width(LINE_WIDTH),
            ))?
            .label(v.as_str());
        common::legend_line(anno, Some(shape), color, false);
        let p99s: Vec<(f64, f64)> = pts.iter().map(|(x, _, p99)| (*x, *p99)).collect();
        common::markers(&mut chart, shape, color, &p99s)?;
        chart.draw_series(DashedLineSeries::new(
            pts.iter().map(|(x, p50, _)| (*x, *p50)),
            8,
            6,
            color.stroke_width(2),
        ))?;
    }
    // A legend entry for the line styles themselves.
    let anno = chart
        .draw_series(std::iter::empty::<PathElement<(f64, f64)>>())?
        .label("solid p99, dashed p50");
    common::legend_line(anno, None, MUTED, true);
    common::legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
    Ok(())
}

/// One panel at one load point: p99 bar (light) with the p50 bar (dark) inside.
fn bars<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    result: &RunResult,
    variants: &[String],
    metric: &str,
    name: &str,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let point = &data::points(result)[0];
    let rows: Vec<(f64, f64)> = variants
        .iter()
        .map(|v| {
            let runs = data::cell(result, v, point);
            (
                data::mean(&runs, |r| pct(r, metric).p50).unwrap_or(0.0),
                data::mean(&runs, |r| pct(r, metric).p99).unwrap_or(0.0),
            )
        })
        .collect();
    let top = rows.iter().map(|r| r.1).fold(0.0, f64::max);
    let mut chart = common::build(
        area,
        common::category_axis(variants.len()),
        common::from_zero(top * 1.3, 1.0),
        78,
    )?;
    let names = variants.to_vec();
    common::category_mesh(
        &mut chart,
        &format!("variant at {}", point.label()),
        &format!("{name} latency (ms)"),
        &move |x| names.get(x.round() as usize).cloned().unwrap_or_default(),
        &|v| common::number_label(*v),
    )?;
    for (i, (v, (p50, p99))) in variants.iter().zip(&rows).enumerate() {
        let (color, _) = variant_style(v, i);
        let x = i as f64;
        chart.draw_series([
            Rectangle::new([(x - 0.36, 0.0), (x + 0.36, *p99)], color.mix(0.35).filled()),
            Rectangle::new([(x - 0.22, 0.0), (x + 0.22, *p50)], color.filled()),
        ])?;
        common::bar_label(&mut chart, common::number_label(*p99), (x, *p99))?;
    }
    let anno = chart
        .draw_series(std::iter::empty::<PathElement<(f64, f64)>>())?
        .label("p99 (light bar, value on top)");
    common::legend_box(anno, MUTED.mix(0.35));
    let anno = chart
        .draw_series(std::iter::empty::<PathElement<(f64, f64)>>())?
        .label("p50 (dark bar)");
    common::legend_box(anno, MUTED.to_rgba());
    common::legend(&mut chart, SeriesLabelPosition::UpperRight)?;
    Ok(())
}
