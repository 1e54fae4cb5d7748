//! Charts with plotters, one chart per file, drawn from a [`RunResult`] alone (criterion-style):
//! the same result renders the same charts on any machine.
//!
//! This module owns what every chart shares: sizes, colours (one per variant, the same in every
//! chart), marker shapes (so lines stay distinct in black-and-white print), font sizes, the list
//! of charts a result gets ([`plan`]) and rendering to SVG or PNG ([`render`]). Each chart file
//! has one `draw` function generic over the plotters backend.
//!
//! | chart | file | needs |
//! |---|---|---|
//! | latency percentile spectrum (e2e, TTFT) | [`spectrum`] | histograms, per point |
//! | TTFT and ITL distributions | [`distribution`] | histograms, per point |
//! | throughput vs load, Little's-law ideal | [`throughput`] | a sweep for curves; bars at one point |
//! | p50/p99 latency vs load | [`latency_load`] | a sweep for curves; bars at one point |
//! | OS cost vs load (threads, RSS) | [`os_cost`] | a sweep for curves; bars at one point |
//! | request timeline | [`timeline`] | `runs[].timeline`, the heaviest point |

pub(crate) mod axis;
pub(crate) mod common;
pub(crate) mod distribution;
pub(crate) mod font;
pub(crate) mod latency_load;
pub(crate) mod os_cost;
pub(crate) mod spectrum;
pub(crate) mod text;
pub(crate) mod throughput;
pub(crate) mod timeline;

use anyhow::{Context, Result};
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::result::files::{ExportFailure, OutputFile};
use crate::result::query as data;
use crate::result::{LoadPoint, RunResult};

/// Size of a one-panel chart, pixels.
pub const SIZE: (u32, u32) = (1000, 600);
/// Size of a two-panel chart, pixels.
pub const WIDE: (u32, u32) = (1200, 560);
/// Width of a timeline; its height grows with its rows.
pub const TIMELINE_WIDTH: u32 = 1000;
/// Requests a timeline shows at most (the first ones by intended start).
pub const TIMELINE_ROWS: usize = 40;

/// Font sizes (plotters units: pixels × 1.24).
pub const TITLE_FONT: f64 = 28.0;
/// Axis titles.
pub const AXIS_FONT: f64 = 20.0;
/// Tick labels, legends.
pub const LABEL_FONT: f64 = 17.0;
/// Notes inside a chart.
pub const NOTE_FONT: f64 = 17.0;

/// Text and axes.
pub const INK: RGBColor = RGBColor(34, 34, 34);
/// Light grid lines.
pub const GRID_LIGHT: RGBColor = RGBColor(240, 240, 240);
/// Major grid lines.
pub const GRID_BOLD: RGBColor = RGBColor(215, 215, 215);
/// Muted text (notes, the ideal's label).
pub const MUTED: RGBColor = RGBColor(100, 100, 100);
/// Stroke width of data lines.
pub const LINE_WIDTH: u32 = 3;
/// Radius of data markers.
pub const MARKER_SIZE: i32 = 5;

/// Marker shapes, one per variant, so lines stay apart without colour (the registry's).
pub use crate::pipeline::Marker as Shape;

/// Colour and marker of a variant: known variants have theirs in the registry
/// ([`crate::pipeline::registry`]); others (`--target` runs) take the next free colour by their
/// index.
pub fn variant_style(name: &str, index: usize) -> (RGBColor, Shape) {
    if let Some(kind) = crate::pipeline::VariantKind::parse(name) {
        let v = kind.info();
        let (r, g, b) = v.colour;
        return (RGBColor(r, g, b), v.marker);
    }
    const MORE: [RGBColor; 3] = [
        RGBColor(0, 0, 0),
        RGBColor(150, 110, 40),
        RGBColor(120, 90, 160),
    ];
    (MORE[index % MORE.len()], Shape::Circle)
}

/// An image format charts render to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageFormat {
    /// Scalable, for the web and `index.html`.
    Svg,
    /// Raster, for chats and slides.
    Png,
}

impl ImageFormat {
    /// The file extension.
    pub fn extension(self) -> &'static str {
        match self {
            ImageFormat::Svg => "svg",
            ImageFormat::Png => "png",
        }
    }
}

/// What a chart shows.
#[derive(Clone, Debug, PartialEq)]
pub enum ChartKind {
    /// Latency percentile spectrum of `metric` at `point`.
    Spectrum {
        /// `e2e` or `ttft`.
        metric: &'static str,
        /// The load point.
        point: LoadPoint,
    },
    /// Distribution (histogram) of `metric` at `point`.
    Distribution {
        /// `ttft` or `itl`.
        metric: &'static str,
        /// The load point.
        point: LoadPoint,
    },
    /// Throughput per variant against load, with the Little's-law ideal.
    Throughput,
    /// e2e and TTFT p50/p99 against load.
    LatencyVsLoad,
    /// Threads and RSS against load.
    OsCost,
    /// One row per request of `variant` at `point`.
    Timeline {
        /// Variant name.
        variant: String,
        /// The load point.
        point: LoadPoint,
    },
}

/// One chart of a report.
#[derive(Clone, Debug, PartialEq)]
pub struct Chart {
    /// File name without extension, e.g. `spectrum_e2e_c32`.
    pub name: String,
    /// Title drawn on the chart and used as the HTML heading.
    pub title: String,
    /// Size in pixels (SVG view box and PNG size).
    pub size: (u32, u32),
    /// What it shows.
    pub kind: ChartKind,
}

/// Every chart `result` gets: the load charts, then per point (heaviest first) the spectra and
/// distributions, then one timeline per variant at the heaviest point.
pub fn plan(result: &RunResult) -> Vec<Chart> {
    let mut points = data::points(result);
    // One point: the load charts become bars per variant at that point.
    let at = match points.as_slice() {
        [only] => format!(" at {}", only.label()),
        _ => " vs load".into(),
    };
    let mut charts = vec![
        Chart {
            name: "throughput".into(),
            title: format!("Throughput{at}"),
            size: SIZE,
            kind: ChartKind::Throughput,
        },
        Chart {
            name: "latency_vs_load".into(),
            title: format!("Latency{at}: p50 and p99"),
            size: WIDE,
            kind: ChartKind::LatencyVsLoad,
        },
        Chart {
            name: "os_cost".into(),
            title: format!("OS cost{at}: threads and memory"),
            size: WIDE,
            kind: ChartKind::OsCost,
        },
    ];
    points.sort_by(|a, b| data::load_value(b).total_cmp(&data::load_value(a)));
    for point in &points {
        let slug = data::point_slug(point);
        for metric in ["e2e", "ttft"] {
            charts.push(Chart {
                name: format!("spectrum_{metric}_{slug}"),
                title: format!(
                    "{} by percentile at {}",
                    metric_title(metric),
                    point.label()
                ),
                size: SIZE,
                kind: ChartKind::Spectrum {
                    metric,
                    point: point.clone(),
                },
            });
        }
        for metric in ["ttft", "itl"] {
            charts.push(Chart {
                name: format!("distribution_{metric}_{slug}"),
                title: format!("{} distribution at {}", metric_title(metric), point.label()),
                size: SIZE,
                kind: ChartKind::Distribution {
                    metric,
                    point: point.clone(),
                },
            });
        }
    }
    if let Some(point) = points.first() {
        for variant in data::variants(result) {
            let rows = timeline::rows(result, &variant, point).len();
            if rows == 0 {
                continue;
            }
            charts.push(Chart {
                name: format!("timeline_{variant}_{}", data::point_slug(point)),
                title: format!("Request timeline: {variant} at {}", point.label()),
                size: (TIMELINE_WIDTH, timeline::height(rows)),
                kind: ChartKind::Timeline {
                    variant,
                    point: point.clone(),
                },
            });
        }
    }
    charts
}

/// A metric's name in titles (the catalogue's, [`crate::metrics::catalogue::latency_title`]).
pub fn metric_title(metric: &str) -> &'static str {
    crate::metrics::catalogue::latency_title(metric)
}

/// Draws `chart` on any backend.
fn draw<DB: DrawingBackend>(
    chart: &Chart,
    result: &RunResult,
    root: &DrawingArea<DB, Shift>,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let area = common::title(root, &chart.title)?;
    match &chart.kind {
        ChartKind::Spectrum { metric, point } => spectrum::draw(&area, result, metric, point)?,
        ChartKind::Distribution { metric, point } => {
            distribution::draw(&area, result, metric, point)?
        }
        ChartKind::Throughput => throughput::draw(&area, result)?,
        ChartKind::LatencyVsLoad => latency_load::draw(&area, result)?,
        ChartKind::OsCost => os_cost::draw(&area, result)?,
        ChartKind::Timeline { variant, point } => timeline::draw(&area, result, variant, point)?,
    }
    root.present()?;
    Ok(())
}

/// Renders one chart as SVG text.
pub fn render_svg(chart: &Chart, result: &RunResult) -> Result<String> {
    font::ensure_registered()?;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, chart.size).into_drawing_area();
        draw(chart, result, &root)?;
    }
    Ok(svg)
}

/// Renders one chart as a PNG file's bytes.
pub fn render_png(chart: &Chart, result: &RunResult) -> Result<Vec<u8>> {
    font::ensure_registered()?;
    let (w, h) = chart.size;
    let mut rgb = vec![255u8; w as usize * h as usize * 3];
    {
        let root =
            text::GlyphText(BitMapBackend::with_buffer(&mut rgb, (w, h))).into_drawing_area();
        draw(chart, result, &root)?;
    }
    let mut png_bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut png_bytes, w, h);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().context("encoding the PNG header")?;
    writer
        .write_image_data(&rgb)
        .context("encoding the PNG image")?;
    writer.finish().context("finishing the PNG")?;
    Ok(png_bytes)
}

/// Renders one chart in `format`.
pub fn render(chart: &Chart, result: &RunResult, format: ImageFormat) -> Result<Vec<u8>> {
    match format {
        ImageFormat::Svg => render_svg(chart, result).map(String::into_bytes),
        ImageFormat::Png => render_png(chart, result),
    }
}

/// Every chart of [`plan`] in `format`, as `charts/<name>.<ext>`; a chart that fails is left out
/// and added to `failures`.
pub fn render_all(
    result: &RunResult,
    format: ImageFormat,
    failures: &mut Vec<ExportFailure>,
) -> Vec<OutputFile> {
    let mut files = Vec::new();
    for chart in plan(result) {
        // Chart names hold variant and metric names from the result file: made safe first.
        let path = format!(
            "charts/{}.{}",
            crate::result::files::safe_name(&chart.name),
            format.extension()
        );
        match render(&chart, result, format) {
            Ok(bytes) => files.push(OutputFile { path, bytes }),
            Err(e) => failures.push(ExportFailure {
                what: format!("chart {path}"),
                message: format!("{e:#}"),
            }),
        }
    }
    files
}
