//! What each design costs the operating system, against load: on the left the variant's own
//! threads at their peak (workers, blocking pool, runtime; never the mocks' or the sampler's), on
//! the right the process's peak resident memory. A thread per request grows with concurrency;
//! an event loop stays flat.
//!
//! With one load point it shows bars per variant instead, with the value on each bar.
//!
//! A `--target` run whose server was sampled (`--target-pid`, `--target-cmd`) shows the
//! *server's* threads and memory instead: that is the cost the user asked about, not the load
//! generator's.

use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::common::{self, Entry, Glyph};
use super::{LINE_WIDTH, variant_style};
use crate::result::query as data;
use crate::result::{RunResult, VariantRun};

/// One panel: its y-axis title and the figure it plots.
struct Panel {
    title: &'static str,
    value: fn(&VariantRun) -> f64,
}

const PANELS: [Panel; 2] = [
    Panel {
        title: "threads of the variant (peak)",
        value: |r| r.process.threads_peak as f64,
    },
    Panel {
        title: "resident memory of the process (peak, MiB)",
        value: |r| r.process.rss_peak_bytes as f64 / (1024.0 * 1024.0),
    },
];

const SERVER_PANELS: [Panel; 2] = [
    Panel {
        title: "threads of the target server (peak)",
        value: |r| r.server.as_ref().map_or(0.0, |s| s.threads_peak as f64),
    },
    Panel {
        title: "resident memory of the server (peak, MiB)",
        value: |r| {
            r.server
                .as_ref()
                .map_or(0.0, |s| s.rss_peak_bytes as f64 / (1024.0 * 1024.0))
        },
    },
];

fn panels_for(result: &RunResult) -> &'static [Panel; 2] {
    if result.runs.iter().any(|r| r.server.is_some()) {
        &SERVER_PANELS
    } else {
        &PANELS
    }
}

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
        // Bars are labelled by variant on the axis: no legend needed.
        let (w, _) = area.dim_in_pixel();
        let (left, right) = area.split_horizontally(w / 2);
        for (panel, sub) in panels_for(result).iter().zip([left, right]) {
            bars(&sub, result, &variants, panel)?;
        }
        return Ok(());
    }
    let (panels, legend_area) = common::split_legend(area);
    let (w, _) = panels.dim_in_pixel();
    let (left, right) = panels.split_horizontally(w / 2);
    for (panel, sub) in panels_for(result).iter().zip([left, right]) {
        lines(&sub, result, &variants, panel)?;
    }
    let entries: Vec<Entry> = variants
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let (color, shape) = variant_style(v, i);
            Entry::new(v.as_str(), color, Glyph::Line(shape))
        })
        .collect();
    common::side_legend(&legend_area, "variant", &entries)?;
    Ok(())
}

fn lines<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    result: &RunResult,
    variants: &[String],
    panel: &Panel,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let mut points = data::points(result);
    points.sort_by(|a, b| data::load_value(a).total_cmp(&data::load_value(b)));
    let series: Vec<Vec<(f64, f64)>> = variants
        .iter()
        .map(|v| {
            points
                .iter()
                .filter_map(|p| {
                    let runs = data::cell(result, v, p);
                    Some((common::load_x(p), data::mean(&runs, panel.value)?))
                })
                .collect()
        })
        .collect();
    let scale = common::YScale::for_values(series.iter().flatten().map(|p| p.1), 2.0);
    let series: Vec<Vec<(f64, f64)>> = series
        .into_iter()
        .map(|pts| pts.into_iter().map(|(x, v)| (x, scale.y(v))).collect())
        .collect();
    let mut chart = common::build(area, common::load_axis(&points), scale.axis(1.15), 78)?;
    common::mesh(
        &mut chart,
        data::load_axis_title(&points),
        &format!("{}{}", panel.title, scale.suffix()),
        &common::load_label,
        &|v| scale.label(v),
    )?;
    for (i, (v, pts)) in variants.iter().zip(&series).enumerate() {
        let (color, shape) = variant_style(v, i);
        chart.draw_series(LineSeries::new(pts.clone(), color.stroke_width(LINE_WIDTH)))?;
        common::markers(&mut chart, shape, color, pts)?;
    }
    Ok(())
}

fn bars<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    result: &RunResult,
    variants: &[String],
    panel: &Panel,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let point = &data::points(result)[0];
    let values: Vec<f64> = variants
        .iter()
        .map(|v| data::mean(&data::cell(result, v, point), panel.value).unwrap_or(0.0))
        .collect();
    let top = values.iter().copied().fold(0.0, f64::max);
    let mut chart = common::category_chart(
        area,
        variants,
        top * 1.1,
        &format!("variant at {}", point.label()),
        panel.title,
    )?;
    for (i, (v, value)) in variants.iter().zip(&values).enumerate() {
        let (color, _) = variant_style(v, i);
        let x = i as f64;
        chart.draw_series(std::iter::once(Rectangle::new(
            [(x - 0.32, 0.0), (x + 0.32, *value)],
            color.filled(),
        )))?;
        common::bar_label(&mut chart, common::number_label(*value), (x, *value))?;
    }
    Ok(())
}
