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

use super::common::{self, Entry, Glyph};
use super::{INK, LINE_WIDTH, variant_style};
use crate::result::query as data;
use crate::result::{LoadPoint, RunResult};

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
    let mut series = measured_series(result, &variants, &points);
    let scale = common::YScale::for_values(
        series
            .iter()
            .flat_map(|s| s.points.iter().flat_map(|(_, m, i)| [*m, *i])),
        1.0,
    );
    for s in &mut series {
        for p in &mut s.points {
            *p = (p.0, scale.y(p.1), scale.y(p.2));
        }
    }
    let (plot_area, legend_area) = common::split_legend(area);
    let mut chart = common::build(&plot_area, common::load_axis(&points), scale.axis(1.15), 80)?;
    common::mesh(
        &mut chart,
        data::load_axis_title(&points),
        &format!("throughput (successful requests/s{})", scale.suffix()),
        &common::load_label,
        &|v| scale.label(v),
    )?;
    // The largest group's ideal line is black; a variant with an ideal of its own (a bounded
    // pool, `sequential`) gets a dashed line in its colour.
    let groups = ideal_groups(&series, scale.log);
    let largest = groups.iter().map(|g| g.members).max().unwrap_or(0);
    let mut entries = Vec::new();
    let mut main_drawn = false;
    for g in &groups {
        let (color, label) = if g.members == largest && !main_drawn {
            main_drawn = true;
            (INK, "ideal (Little's law)".to_string())
        } else {
            (
                variant_style(g.variant, g.index).0,
                format!("ideal for {}", g.variant),
            )
        };
        chart.draw_series(DashedLineSeries::new(
            g.line.clone(),
            10,
            7,
            color.stroke_width(2),
        ))?;
        entries.push(Entry::new(label, color, Glyph::Dashed));
    }
    for s in &series {
        let (color, shape) = variant_style(s.variant, s.index);
        let measured: Vec<(f64, f64)> = s.points.iter().map(|(x, m, _)| (*x, *m)).collect();
        chart.draw_series(LineSeries::new(
            measured.clone(),
            color.stroke_width(LINE_WIDTH),
        ))?;
        common::markers(&mut chart, shape, color, &measured)?;
        entries.push(Entry::new(s.variant, color, Glyph::Line(shape)));
    }
    common::side_legend(&legend_area, "measured, and the ideal", &entries)?;
    Ok(())
}

/// Per variant: `(x, measured, ideal)` at each point, in load order (y not yet scaled).
fn measured_series<'a>(
    result: &RunResult,
    variants: &'a [String],
    points: &[LoadPoint],
) -> Vec<Series<'a>> {
    let mut sorted = points.to_vec();
    sorted.sort_by(|a, b| data::load_value(a).total_cmp(&data::load_value(b)));
    variants
        .iter()
        .enumerate()
        .map(|(index, v)| Series {
            index,
            variant: v,
            points: sorted
                .iter()
                .filter_map(|p| {
                    let runs = data::cell(result, v, p);
                    Some((
                        common::load_x(p),
                        data::mean(&runs, |r| r.throughput.requests_per_s)?,
                        data::mean(&runs, |r| r.ideal.ideal_requests_per_s)?,
                    ))
                })
                .collect(),
        })
        .collect()
}

/// The ideal lines: variants whose ideals agree (within a few % — the ideal follows the answer
/// lengths each variant received) share one line, in the order of their first variant.
fn ideal_groups<'a>(series: &[Series<'a>], log: bool) -> Vec<IdealLine<'a>> {
    let mut groups: Vec<IdealLine> = Vec::new();
    for s in series {
        let line: Vec<(f64, f64)> = s.points.iter().map(|(x, _, id)| (*x, *id)).collect();
        match groups.iter_mut().find(|g| same_line(&g.line, &line, log)) {
            Some(g) => g.members += 1,
            None => groups.push(IdealLine {
                index: s.index,
                variant: s.variant,
                line,
                members: 1,
            }),
        }
    }
    groups
}

/// One variant's line: `(x, measured, ideal)` per point, y as plotted.
struct Series<'a> {
    index: usize,
    variant: &'a str,
    points: Vec<(f64, f64, f64)>,
}

/// An ideal line and how many variants share it.
struct IdealLine<'a> {
    index: usize,
    variant: &'a str,
    line: Vec<(f64, f64)>,
    members: usize,
}

/// Whether two polylines (y as plotted, `log10` when `log`) are the same within 3 %.
fn same_line(a: &[(f64, f64)], b: &[(f64, f64)], log: bool) -> bool {
    let close = |p: f64, q: f64| {
        if log {
            (p - q).abs() <= 1.03f64.log10()
        } else {
            (p - q).abs() <= 0.03 * p.abs().max(q.abs()).max(0.01)
        }
    };
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(p, q)| (p.0 - q.0).abs() < 1e-9 && close(p.1, q.1))
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
    let (plot_area, legend_area) = common::split_legend(area);
    let mut chart = common::category_chart(
        &plot_area,
        variants,
        top * 1.12,
        &format!(
            "variant at {} (one load point: ragperf sweep draws throughput against load)",
            point.label()
        ),
        "throughput (successful requests/s)",
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
    chart.draw_series(rows.iter().enumerate().map(|(i, (_, ideal))| {
        let x = i as f64;
        PathElement::new(
            vec![(x - 0.42, *ideal), (x + 0.42, *ideal)],
            INK.stroke_width(3),
        )
    }))?;
    common::side_legend(
        &legend_area,
        "bar: measured (% of ideal)",
        &[Entry::new("ideal (Little's law)", INK, Glyph::Plain)],
    )?;
    Ok(())
}
