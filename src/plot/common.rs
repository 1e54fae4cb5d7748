//! Drawing helpers every chart uses: the title, axes with hand-picked ticks, the mesh style,
//! markers, legend glyphs and notes, so all charts look alike.
//!
//! Every chart plots `f64 × f64` with explicit tick positions ([`Axis`]): the load axis is
//! logarithmic with a tick at each sweep point, the spectrum axis ticks at 50 %, 90 %, 99 % …,
//! and linear axes tick at 1-2-5 steps. plotters' own tick choice cannot do the first two.

use anyhow::Result;
use std::ops::Range;

use plotters::chart::SeriesAnno;
use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{
    AXIS_FONT, GRID_BOLD, GRID_LIGHT, INK, LABEL_FONT, LINE_WIDTH, MARKER_SIZE, MUTED, NOTE_FONT,
    Shape, TITLE_FONT, font::FAMILY,
};
use crate::result::LoadPoint;

/// A numeric axis with its own tick positions: major ticks (labelled, with a grid line) and
/// light grid lines. plotters' `WithKeyPoints` does this too, but its `f64` axis does not take
/// the label formatters the mesh needs.
#[derive(Clone, Debug)]
pub struct Axis {
    lo: f64,
    hi: f64,
    bold: Vec<f64>,
    light: Vec<f64>,
}

impl Ranged for Axis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let span = self.hi - self.lo;
        if span == 0.0 || !v.is_finite() {
            return (limit.0 + limit.1) / 2;
        }
        let t = (v - self.lo) / span;
        // Clamped far outside the plot so a stray value cannot overflow pixel coordinates.
        let px = limit.0 as f64 + (limit.1 - limit.0) as f64 * t.clamp(-10.0, 11.0);
        px.round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            self.light.clone()
        } else {
            self.bold.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.lo..self.hi
    }
}
/// The plane every chart draws on.
pub type Plane = Cartesian2d<Axis, Axis>;

/// A text style of the chart font.
pub fn text(size: f64) -> TextStyle<'static> {
    (FAMILY, size).into_font().color(&INK)
}

/// Muted text (notes).
pub fn muted(size: f64) -> TextStyle<'static> {
    (FAMILY, size).into_font().color(&MUTED)
}

/// Draws `title` across the top and returns the area below it.
pub fn title<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
) -> Result<DrawingArea<DB, Shift>>
where
    DB::ErrorType: 'static,
{
    Ok(root.titled(title, text(TITLE_FONT))?)
}

/// Tick positions at 1-2-5 steps covering `[lo, hi]`, about `n` of them, and the step.
pub fn nice_ticks(lo: f64, hi: f64, n: usize) -> (Vec<f64>, f64) {
    let span = (hi - lo).abs().max(1e-9);
    let raw = span / n.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() * step;
    let ticks = (0..)
        .map(|i| first + i as f64 * step)
        .take_while(|t| *t <= hi + step * 1e-6)
        .take(200)
        .collect();
    (ticks, step)
}

/// A linear axis from `lo` to `hi` with 1-2-5 ticks (and light lines halfway between).
pub fn linear(lo: f64, hi: f64, n: usize) -> Axis {
    let (ticks, step) = nice_ticks(lo, hi, n);
    let light: Vec<f64> = ticks.iter().map(|t| t + step / 2.0).filter(|t| *t < hi).collect();
    Axis {
        lo,
        hi,
        bold: ticks,
        light,
    }
}

/// A linear axis from 0 to just above `max` (at least `floor`).
pub fn from_zero(max: f64, floor: f64) -> Axis {
    let top = if max.is_finite() { max.max(floor) } else { floor } * 1.08;
    linear(0.0, top, 6)
}

/// An axis with exactly these ticks.
pub fn ticks_at(lo: f64, hi: f64, ticks: Vec<f64>) -> Axis {
    Axis {
        lo,
        hi,
        bold: ticks,
        light: Vec::new(),
    }
}

/// The load axis of a sweep: log scale (`ln` of the load), a tick at every point.
pub fn load_axis(points: &[LoadPoint]) -> Axis {
    let xs: Vec<f64> = points
        .iter()
        .map(|p| super::data::load_value(p).max(1e-3).ln())
        .collect();
    let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let pad = ((hi - lo) * 0.06).max(0.2);
    ticks_at(lo - pad, hi + pad, xs)
}

/// The load-axis position of a point.
pub fn load_x(point: &LoadPoint) -> f64 {
    super::data::load_value(point).max(1e-3).ln()
}

/// Tick label of a load-axis position: the load itself.
pub fn load_label(x: &f64) -> String {
    let v = x.exp();
    if (v - v.round()).abs() < 0.01 {
        format!("{:.0}", v.round())
    } else {
        format!("{v:.1}")
    }
}

/// A y axis that turns logarithmic when the values span more than 30×, so a variant at
/// 3 threads stays readable next to one at 500.
#[derive(Clone, Copy, Debug)]
pub struct YScale {
    /// Logarithmic (the plot holds `log10` of the values).
    pub log: bool,
    lo: f64,
    hi: f64,
}

impl YScale {
    /// The scale for `values` (at least `floor` high).
    pub fn for_values(values: impl IntoIterator<Item = f64>, floor: f64) -> YScale {
        let v: Vec<f64> = values.into_iter().filter(|v| v.is_finite()).collect();
        let hi = v.iter().copied().fold(floor, f64::max);
        let lo = v.iter().copied().filter(|v| *v > 0.0).fold(f64::INFINITY, f64::min);
        YScale {
            log: lo.is_finite() && hi / lo > 30.0,
            lo: if lo.is_finite() { lo } else { 1.0 },
            hi,
        }
    }

    /// Where `v` goes on the plot.
    pub fn y(&self, v: f64) -> f64 {
        if self.log {
            v.max(self.lo / 2.0).log10()
        } else {
            v
        }
    }

    /// The axis, with room above the largest value (`headroom` × it).
    pub fn axis(&self, headroom: f64) -> Axis {
        if !self.log {
            return from_zero(self.hi * headroom / 1.08, 1e-9);
        }
        let (lo, hi) = ((self.lo / 1.5).log10(), (self.hi * headroom).log10());
        let mut ticks = Vec::new();
        for decade in (lo.floor() as i32)..=(hi.ceil() as i32) {
            for m in [1.0, 2.0, 5.0] {
                let t = (m * 10f64.powi(decade)).log10();
                if t >= lo && t <= hi {
                    ticks.push(t);
                }
            }
        }
        ticks_at(lo, hi, ticks)
    }

    /// Tick label of a plot position.
    pub fn label(&self, v: &f64) -> String {
        number_label(if self.log { 10f64.powf(*v) } else { *v })
    }

    /// Appended to the axis title.
    pub fn suffix(&self) -> &'static str {
        if self.log { ", log scale" } else { "" }
    }
}

/// A categorical axis: one slot per name, ticks at 0, 1, 2 ….
pub fn category_axis(n: usize) -> Axis {
    ticks_at(-0.6, n as f64 - 0.4, (0..n).map(|i| i as f64).collect())
}

/// A number as a tick label: no trailing zeros, thousands as `k`.
pub fn number_label(v: f64) -> String {
    let a = v.abs();
    if a >= 10_000.0 {
        format!("{:.0}k", v / 1000.0)
    } else if a >= 100.0 || (v - v.round()).abs() < 1e-9 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.1}")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// Builds a chart on `area` with room for tick labels and axis titles.
pub fn build<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    x: Axis,
    y: Axis,
    y_label_width: u32,
) -> Result<ChartContext<'a, DB, Plane>>
where
    DB::ErrorType: 'static,
{
    Ok(ChartBuilder::on(area)
        .margin_left(10)
        .margin_right(25)
        .margin_top(10)
        .margin_bottom(10)
        .x_label_area_size(62)
        .y_label_area_size(y_label_width)
        .build_cartesian_2d(x, y)?)
}

/// Draws the grid, axes, tick labels and axis titles.
pub fn mesh<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Plane>,
    x_desc: &str,
    y_desc: &str,
    x_fmt: &dyn Fn(&f64) -> String,
    y_fmt: &dyn Fn(&f64) -> String,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    mesh_with(chart, true, x_desc, y_desc, x_fmt, y_fmt)
}

/// [`mesh`] for a categorical x axis: no vertical grid lines through the bars.
pub fn category_mesh<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Plane>,
    x_desc: &str,
    y_desc: &str,
    x_fmt: &dyn Fn(&f64) -> String,
    y_fmt: &dyn Fn(&f64) -> String,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    mesh_with(chart, false, x_desc, y_desc, x_fmt, y_fmt)
}

fn mesh_with<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Plane>,
    x_grid: bool,
    x_desc: &str,
    y_desc: &str,
    x_fmt: &dyn Fn(&f64) -> String,
    y_fmt: &dyn Fn(&f64) -> String,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let mut mesh = chart.configure_mesh();
    if !x_grid {
        mesh.disable_x_mesh();
    }
    mesh.x_desc(x_desc)
        .y_desc(y_desc)
        .x_label_formatter(x_fmt)
        .y_label_formatter(y_fmt)
        .axis_desc_style(text(AXIS_FONT))
        .label_style(text(LABEL_FONT))
        .bold_line_style(GRID_BOLD.stroke_width(1))
        .light_line_style(GRID_LIGHT.stroke_width(1))
        .axis_style(INK.stroke_width(1))
        .draw()?;
    Ok(())
}

/// Draws the legend of every labelled series.
pub fn legend<'a, DB: DrawingBackend + 'a>(
    chart: &mut ChartContext<'a, DB, Plane>,
    position: SeriesLabelPosition,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    chart
        .configure_series_labels()
        .position(position)
        .margin(12)
        .legend_area_size(36)
        .label_font(text(LABEL_FONT))
        .background_style(WHITE.mix(0.92))
        .border_style(GRID_BOLD)
        .draw()?;
    Ok(())
}

/// Draws `shape` markers at `points`.
pub fn markers<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Plane>,
    shape: Shape,
    color: RGBColor,
    points: &[(f64, f64)],
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let s = MARKER_SIZE;
    let fill = color.filled();
    let line = color.stroke_width(2);
    let pts = points.iter().copied();
    match shape {
        Shape::Circle => chart.draw_series(pts.map(|p| Circle::new(p, s, fill)))?,
        Shape::Ring => chart.draw_series(pts.map(|p| Circle::new(p, s, line)))?,
        Shape::Square => chart.draw_series(
            pts.map(|p| EmptyElement::at(p) + Rectangle::new([(-s, -s), (s, s)], fill)),
        )?,
        Shape::Frame => chart.draw_series(
            pts.map(|p| EmptyElement::at(p) + Rectangle::new([(-s, -s), (s, s)], line)),
        )?,
        Shape::Triangle => chart.draw_series(pts.map(|p| TriangleMarker::new(p, s + 1, fill)))?,
        Shape::Cross => chart.draw_series(pts.map(|p| Cross::new(p, s, line)))?,
    };
    Ok(())
}

/// Sets a series' legend glyph: a short line (solid, or dashed without marker) with the
/// variant's marker in the middle.
pub fn legend_line<'a, DB: DrawingBackend + 'a>(
    anno: &mut SeriesAnno<'a, DB>,
    shape: Option<Shape>,
    color: RGBColor,
    dashed: bool,
) {
    let style = color.stroke_width(LINE_WIDTH);
    let s = MARKER_SIZE;
    let fill = color.filled();
    let thin = color.stroke_width(2);
    if dashed {
        anno.legend(move |(x, y)| {
            EmptyElement::at((x, y))
                + PathElement::new(vec![(0, 0), (9, 0)], style)
                + PathElement::new(vec![(17, 0), (26, 0)], style)
        });
        return;
    }
    let line = move |(x, y): (i32, i32)| {
        EmptyElement::at((x, y)) + PathElement::new(vec![(0, 0), (26, 0)], style)
    };
    match shape {
        None => anno.legend(line),
        Some(Shape::Circle) => anno.legend(move |at| line(at) + Circle::new((13, 0), s, fill)),
        Some(Shape::Ring) => anno.legend(move |at| {
            line(at) + Circle::new((13, 0), s, WHITE.filled()) + Circle::new((13, 0), s, thin)
        }),
        Some(Shape::Square) => {
            anno.legend(move |at| line(at) + Rectangle::new([(13 - s, -s), (13 + s, s)], fill))
        }
        Some(Shape::Frame) => anno.legend(move |at| {
            line(at)
                + Rectangle::new([(13 - s, -s), (13 + s, s)], WHITE.filled())
                + Rectangle::new([(13 - s, -s), (13 + s, s)], thin)
        }),
        Some(Shape::Triangle) => {
            anno.legend(move |at| line(at) + TriangleMarker::new((13, 0), s + 1, fill))
        }
        Some(Shape::Cross) => anno.legend(move |at| line(at) + Cross::new((13, 0), s, thin)),
    };
}

/// Sets a series' legend glyph to a filled box.
pub fn legend_box<'a, DB: DrawingBackend + 'a>(anno: &mut SeriesAnno<'a, DB>, color: RGBAColor) {
    anno.legend(move |(x, y)| Rectangle::new([(x, y - 7), (x + 22, y + 7)], color.filled()));
}

/// Draws a muted note at pixel `(x, y)` of `area`, left-aligned.
pub fn note<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, msg: &str, at: (i32, i32)) -> Result<()>
where
    DB::ErrorType: 'static,
{
    area.draw_text(msg, &muted(NOTE_FONT), at)?;
    Ok(())
}

/// Draws a centred message over the whole area (a chart with nothing to plot).
pub fn empty<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, msg: &str) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let (w, h) = area.dim_in_pixel();
    let style = muted(AXIS_FONT).pos(Pos::new(HPos::Center, VPos::Center));
    for (i, line) in msg.lines().enumerate() {
        area.draw_text(line, &style, (w as i32 / 2, h as i32 / 2 - 20 + 30 * i as i32))?;
    }
    Ok(())
}

/// Draws a legend of filled boxes down the top of `area` (beside a plot, not over it).
pub fn side_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    heading: &str,
    entries: &[(&str, RGBColor)],
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let style = text(LABEL_FONT).pos(Pos::new(HPos::Left, VPos::Center));
    area.draw_text(heading, &style, (8, 24))?;
    for (i, (name, color)) in entries.iter().enumerate() {
        let y = 56 + 28 * i as i32;
        area.draw(&Rectangle::new([(8, y - 8), (30, y + 8)], color.filled()))?;
        area.draw_text(name, &style, (38, y))?;
    }
    Ok(())
}

/// Draws `label` centred just above `at` (a bar's top).
pub fn bar_label<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Plane>,
    label: String,
    at: (f64, f64),
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let style = text(LABEL_FONT).pos(Pos::new(HPos::Center, VPos::Bottom));
    chart.draw_series(std::iter::once(
        EmptyElement::at(at) + Text::new(label, (0, -4), style),
    ))?;
    Ok(())
}
