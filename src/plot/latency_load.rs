//! p50 and p99 latency against load, end-to-end on the left and time to first token on the
//! right: solid lines are p99, dashed p50, one colour per variant. Flat lines mean requests do
//! not wait for each other; the knee where a line turns up is the load at which a bounded pool
//! (threads, blocking pool, one event loop busy with CPU) saturates and requests queue.
//!
//! With one load point it shows bars per variant instead: p99 light, p50 dark inside it.

use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::common::{self, Entry, Glyph};
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
    if points.len() == 1 {
        // Bars are labelled on the axis; the axis title says which bar is which.
        let (w, _) = area.dim_in_pixel();
        let (left, right) = area.split_horizontally(w / 2);
        for ((metric, name), panel) in PANELS.iter().zip([left, right]) {
            bars(&panel, result, &variants, metric, name)?;
        }
        return Ok(());
    }
    let (panels, legend_area) = common::split_legend(area);
    let (w, _) = panels.dim_in_pixel();
    let (left, right) = panels.split_horizontally(w / 2);
    for ((metric, name), panel) in PANELS.iter().zip([left, right]) {
        lines(&panel, result, &variants, metric, name)?;
    }
    let mut entries = Vec::new();
    for (i, v) in variants.iter().enumerate() {
        let (color, shape) = variant_style(v, i);
        entries.push(Entry::new(v.as_str(), color, Glyph::Line(shape)));
    }
    entries.push(Entry::new("p99 (solid)", MUTED, Glyph::Plain));
    entries.push(Entry::new("p50 (dashed)", MUTED, Glyph::Dashed));
    common::side_legend(&legend_area, "variant", &entries)?;
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
    let scale = common::YScale::for_values(
        series
            .iter()
            .flatten()
            .flat_map(|(_, p50, p99)| [*p50, *p99]),
        1.0,
    );
    let series: Vec<Vec<(f64, f64, f64)>> = series
        .into_iter()
        .map(|pts| {
            pts.into_iter()
                .map(|(x, p50, p99)| (x, scale.y(p50), scale.y(p99)))
                .collect()
        })
        .collect();
    let mut chart = common::build(area, common::load_axis(&points), scale.axis(1.15), 78)?;
    common::mesh(
        &mut chart,
        data::load_axis_title(&points),
        &format!("{name} latency (ms{})", scale.suffix()),
        &common::load_label,
        &|v| scale.label(v),
    )?;
    for (i, (v, pts)) in variants.iter().zip(&series).enumerate() {
        let (color, shape) = variant_style(v, i);
        chart.draw_series(LineSeries::new(
            pts.iter().map(|(x, _, p99)| (*x, *p99)),
            color.stroke_width(LINE_WIDTH),
        ))?;
        let p99s: Vec<(f64, f64)> = pts.iter().map(|(x, _, p99)| (*x, *p99)).collect();
        common::markers(&mut chart, shape, color, &p99s)?;
        chart.draw_series(DashedLineSeries::new(
            pts.iter().map(|(x, p50, _)| (*x, *p50)),
            8,
            6,
            color.stroke_width(2),
        ))?;
    }
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
    let mut chart = common::category_chart(
        area,
        variants,
        top * 1.08,
        &format!("at {}: dark bar p50, light bar p99 (value)", point.label()),
        &format!("{name} latency (ms)"),
    )?;
    for (i, (v, (p50, p99))) in variants.iter().zip(&rows).enumerate() {
        let (color, _) = variant_style(v, i);
        let x = i as f64;
        chart.draw_series([
            Rectangle::new(
                [(x - 0.36, 0.0), (x + 0.36, *p99)],
                color.mix(0.35).filled(),
            ),
            Rectangle::new([(x - 0.22, 0.0), (x + 0.22, *p50)], color.filled()),
        ])?;
        // No value at all (nothing finished in the window) is not a latency of 0.
        let finished: u64 = data::cell(result, v, point)
            .iter()
            .map(|r| pct(r, metric).count)
            .sum();
        let label = if finished == 0 {
            "none finished".to_string()
        } else {
            common::number_label(*p99)
        };
        common::bar_label(&mut chart, label, (x, *p99))?;
    }
    Ok(())
}
