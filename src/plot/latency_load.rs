//! p50 and p99 latency against load, end-to-end on the left and time to first token on the
//! right: solid lines are p99, dashed p50, one colour per variant. Flat lines mean requests do
//! not wait for each other; the knee where a line turns up is the load at which a bounded pool
//! (threads, blocking pool, one event loop busy with CPU) saturates and requests queue.
//!
//! A point where nothing finished has no latency: its line breaks there and a ring in the
//! variant's colour sits at the top of the panel ("none finished" in the legend), never a 0.
//!
//! With one load point it shows bars per variant instead: p99 light, p50 dark inside it.

use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::common::{self, Entry, Glyph};
use super::{LINE_WIDTH, MUTED, Shape, variant_style};
use crate::result::query as data;
use crate::result::query::pct;
use crate::result::{LoadPoint, RunResult};

/// One load point of a variant: x, and (p50, p99) when something finished there.
type Point = (f64, Option<(f64, f64)>);

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
    if PANELS.iter().any(|(m, _)| any_none_finished(result, m)) {
        entries.push(Entry::new(
            "ring at top: none finished",
            MUTED,
            Glyph::Line(Shape::Ring),
        ));
    }
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
    let series = latency_series(result, variants, &points, metric);
    let scale = common::YScale::for_values(
        series
            .iter()
            .flatten()
            .filter_map(|(_, v)| *v)
            .flat_map(|(p50, p99)| [p50, p99]),
        1.0,
    );
    let series: Vec<Vec<Point>> = series
        .into_iter()
        .map(|pts| {
            pts.into_iter()
                .map(|(x, v)| (x, v.map(|(p50, p99)| (scale.y(p50), scale.y(p99)))))
                .collect()
        })
        .collect();
    let top = series
        .iter()
        .flatten()
        .filter_map(|(_, v)| v.map(|(_, p99)| p99))
        .fold(0.0, f64::max);
    let none_y = if top > 0.0 { top * 1.1 } else { 1.0 };
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
        for segment in segments(pts) {
            chart.draw_series(LineSeries::new(
                segment.iter().map(|(x, _, p99)| (*x, *p99)),
                color.stroke_width(LINE_WIDTH),
            ))?;
            let p99s: Vec<(f64, f64)> = segment.iter().map(|(x, _, p99)| (*x, *p99)).collect();
            common::markers(&mut chart, shape, color, &p99s)?;
            chart.draw_series(DashedLineSeries::new(
                segment.iter().map(|(x, p50, _)| (*x, *p50)),
                8,
                6,
                color.stroke_width(2),
            ))?;
        }
        let none: Vec<(f64, f64)> = pts
            .iter()
            .filter(|(_, v)| v.is_none())
            .map(|(x, _)| (*x, none_y))
            .collect();
        common::markers(&mut chart, Shape::Ring, color, &none)?;
    }
    Ok(())
}

/// Per variant and point (in the order of `points`): (x, Some((p50, p99))), or (x, None) where
/// no request finished (no sample is no latency: the line breaks there and a ring marks the
/// point).
fn latency_series(
    result: &RunResult,
    variants: &[String],
    points: &[LoadPoint],
    metric: &str,
) -> Vec<Vec<Point>> {
    variants
        .iter()
        .map(|v| {
            points
                .iter()
                .filter_map(|p| {
                    let runs: Vec<_> = data::cell(result, v, p)
                        .into_iter()
                        .filter(|r| pct(r, metric).count > 0)
                        .collect();
                    let ran = !data::cell(result, v, p).is_empty();
                    let value = data::mean(&runs, |r| pct(r, metric).p50)
                        .zip(data::mean(&runs, |r| pct(r, metric).p99));
                    ran.then_some((common::load_x(p), value))
                })
                .collect()
        })
        .collect()
}

/// The runs of consecutive points that have a value: a line never bridges a point where
/// nothing finished.
fn segments(pts: &[Point]) -> Vec<Vec<(f64, f64, f64)>> {
    let mut out = vec![Vec::new()];
    for (x, v) in pts {
        match v {
            Some((p50, p99)) => out.last_mut().map_or((), |s| s.push((*x, *p50, *p99))),
            None => out.push(Vec::new()),
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

/// True when some variant at some point finished nothing (its ring is drawn at the top).
fn any_none_finished(result: &RunResult, metric: &str) -> bool {
    let variants = data::variants(result);
    data::points(result).iter().any(|p| {
        variants.iter().any(|v| {
            let runs = data::cell(result, v, p);
            !runs.is_empty() && runs.iter().all(|r| pct(r, metric).count == 0)
        })
    })
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

#[cfg(test)]
mod tests {
    use super::segments;

    #[test]
    fn a_point_where_nothing_finished_breaks_the_line() {
        let pts = [
            (1.0, Some((1.0, 2.0))),
            (2.0, Some((1.5, 3.0))),
            (3.0, None),
            (4.0, Some((9.0, 20.0))),
            (5.0, None),
        ];
        let s = segments(&pts);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0], vec![(1.0, 1.0, 2.0), (2.0, 1.5, 3.0)]);
        assert_eq!(s[1], vec![(4.0, 9.0, 20.0)]);
        assert!(segments(&[(1.0, None)]).is_empty());
    }
}
