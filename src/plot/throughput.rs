//! Throughput against load, one line per variant, with the Little's-law ideal dashed: the
//! throughput the latency model allows (concurrency / expected service time, or the offered rate,
//! capped by what the variant can hold in flight). A line that follows the ideal scales; one that
//! bends away has hit a limit the model does not inject: a thread pool, a blocked runtime, CPU.
//!
//! With one load point the chart shows bars per variant instead, with the ideal as a black tick
//! on each bar, and a note that a sweep draws the curves.

use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::common;
use super::{INK, LINE_WIDTH, data, variant_style};
use crate::result::RunResult;

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
        return bars(area, result, &variants);
    }
    // Per variant: (measured, ideal) at each point, in load order.
    let mut sorted = points.clone();
    sorted.sort_by(|a, b| data::load_value(a).total_cmp(&data::load_value(b)));
    let series: Vec<(usize, &String, Vec<(f64, f64, f64)>)> = variants
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let pts = sorted
                .iter()
                .filter_map(|p| {
                    let runs = data::cell(result, v, p);
                    Some((
                        common::load_x(p),
                        data::mean(&runs, |r| r.throughput.requests_per_s)?,
                        data::mean(&runs, |r| r.ideal.ideal_requests_per_s)?,
                    ))
                })
                .collect();
            (i, v, pts)
        })
        .collect();
    let scale = common::YScale::for_values(
        series
            .iter()
            .flat_map(|(_, _, p)| p.iter().flat_map(|(_, m, i)| [*m, *i])),
        1.0,
    );
    // Values as plotted: (x, measured, ideal) on the chosen y scale.
    let series: Vec<(usize, &String, Vec<(f64, f64, f64)>)> = series
        .into_iter()
        .map(|(i, v, p)| {
            let p = p
                .into_iter()
                .map(|(x, m, id)| (x, scale.y(m), scale.y(id)))
                .collect();
            (i, v, p)
        })
        .collect();
    let mut chart = common::build(area, common::load_axis(&points), scale.axis(1.15), 80)?;
    common::mesh(
        &mut chart,
        data::load_axis_title(&points),
        &format!("throughput (successful requests/s{})", scale.suffix()),
        &common::load_label,
        &|v| scale.label(v),
    )?;
    // Ideal lines: variants whose ideal is the same share one black dashed line.
    let mut drawn: Vec<Vec<(f64, f64)>> = Vec::new();
    for (i, v, pts) in &series {
        let ideal: Vec<(f64, f64)> = pts.iter().map(|(x, _, id)| (*x, *id)).collect();
        if drawn.iter().any(|d| same_line(d, &ideal)) {
            continue;
        }
        let shared = series
            .iter()
            .filter(|(_, _, p)| same_line(&p.iter().map(|(x, _, id)| (*x, *id)).collect::<Vec<_>>(), &ideal))
            .count();
        let (color, label) = if shared == series.len() {
            (INK, "ideal (Little's law)".to_string())
        } else {
            (variant_style(v, *i).0, format!("ideal for {v}"))
        };
        let anno = chart
            .draw_series(DashedLineSeries::new(
                ideal.clone(),
                10,
                7,
                color.stroke_width(2),
            ))?
            .label(label);
        common::legend_line(anno, None, color, true);
        drawn.push(ideal);
    }
    for (i, v, pts) in &series {
        let (color, shape) = variant_style(v, *i);
        let anno = chart
            .draw_series(LineSeries::new(
                pts.iter().map(|(x, m, _)| (*x, *m)),
                color.stroke_width(LINE_WIDTH),
            ))?
            .label(v.as_str());
        common::legend_line(anno, Some(shape), color, false);
        let measured: Vec<(f64, f64)> = pts.iter().map(|(x, m, _)| (*x, *m)).collect();
        common::markers(&mut chart, shape, color, &measured)?;
    }
    common::legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
    Ok(())
}

/// Whether two polylines are the same within 0.5 %.
fn same_line(a: &[(f64, f64)], b: &[(f64, f64)]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(p, q)| (p.0 - q.0).abs() < 1e-9 && (p.1 - q.1).abs() <= 0.005 * p.1.abs().max(1e-9))
}

/// One load point: a bar per variant, the ideal as a tick across it.
fn bars<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    result: &RunResult,
    variants: &[String],
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
                data::mean(&runs, |r| r.throughput.requests_per_s).unwrap_or(0.0),
                data::mean(&runs, |r| r.ideal.ideal_requests_per_s).unwrap_or(0.0),
            )
        })
        .collect();
    let top = rows.iter().flat_map(|(m, i)| [*m, *i]).fold(0.0, f64::max);
    let mut chart = common::build(
        area,
        common::category_axis(variants.len()),
        common::from_zero(top * 1.25, 1.0),
        80,
    )?;
    let names = variants.to_vec();
    common::category_mesh(
        &mut chart,
        &format!(
            "variant at {} (one load point: ragperf sweep draws throughput against load)",
            point.label()
        ),
        "throughput (successful requests/s)",
        &move |x| names.get(x.round() as usize).cloned().unwrap_or_default(),
        &|v| common::number_label(*v),
    )?;
    for (i, (v, (measured, ideal))) in variants.iter().zip(&rows).enumerate() {
        let (color, _) = variant_style(v, i);
        let x = i as f64;
        chart.draw_series(std::iter::once(Rectangle::new(
            [(x - 0.32, 0.0), (x + 0.32, *measured)],
            color.filled(),
        )))?;
        let label = format!(
            "{} ({:.0}%)",
            common::number_label(*measured),
            100.0 * measured / ideal.max(1e-9)
        );
        common::bar_label(&mut chart, label, (x, measured.max(*ideal)))?;
    }
    let anno = chart
        .draw_series(rows.iter().enumerate().map(|(i, (_, ideal))| {
            let x = i as f64;
            PathElement::new(vec![(x - 0.42, *ideal), (x + 0.42, *ideal)], INK.stroke_width(3))
        }))?
        .label("ideal (Little's law)");
    common::legend_line(anno, None, INK, false);
    common::legend(&mut chart, SeriesLabelPosition::UpperRight)?;
    Ok(())
}
