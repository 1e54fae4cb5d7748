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
        YScale::log_axis((self.lo / 1.5).log10(), (self.hi * headroom).log10())
    }

    /// A log axis from `lo` to `hi` (both `log10` of values), ticks at 1, 2, 5 × 10^k.
    pub fn log_axis(lo: f64, hi: f64) -> Axis {
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

/// A bar chart's frame: one slot per name, the names under the slots (on two staggered rows
/// when they would collide), no vertical grid lines through the bars, y from 0 to `top`.
pub fn category_chart<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    names: &[String],
    top: f64,
    x_desc: &str,
    y_desc: &str,
) -> Result<ChartContext<'a, DB, Plane>>
where
    DB::ErrorType: 'static,
{
    let y_label_width = 78;
    let mut chart = ChartBuilder::on(area)
        .margin_left(10)
        .margin_right(25)
        .margin_top(10)
        .margin_bottom(10)
        .x_label_area_size(84)
        .y_label_area_size(y_label_width)
        .build_cartesian_2d(category_axis(names.len()), from_zero(top, 1.0))?;
    mesh_with(&mut chart, false, x_desc, y_desc, &|_| String::new(), &|v| {
        number_label(*v)
    })?;
    // Open Sans averages about 0.42 of the font size per character at these sizes.
    let (w, _) = area.dim_in_pixel();
    let slot = (w.saturating_sub(y_label_width + 35)) as f64 / names.len().max(1) as f64;
    let widest = names.iter().map(|n| n.chars().count()).max().unwrap_or(0) as f64;
    let stagger = widest * LABEL_FONT * 0.42 + 10.0 > slot;
    let style = text(LABEL_FONT).pos(Pos::new(HPos::Center, VPos::Top));
    let bottom = chart.y_range().start;
    chart.draw_series(names.iter().enumerate().map(|(i, name)| {
        let dy = if stagger && i % 2 == 1 { 30 } else { 8 };
        EmptyElement::at((i as f64, bottom)) + Text::new(name.clone(), (0, dy), style.clone())
    }))?;
    Ok(chart)
}

/// [`mesh`] for a categorical x axis built with [`build`] and [`category_axis`]: no vertical
/// grid lines through the bars; `x_fmt` names the slots. ([`category_chart`] does all of it and
/// staggers long names.)
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

/// Draws plotters' own legend of every labelled series inside the plot, at `position` (the
/// report's charts use [`side_legend`] beside the plot instead).
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

/// Sets a labelled series' legend glyph (for [`legend`]) to a filled box.
pub fn legend_box<'a, DB: DrawingBackend + 'a>(anno: &mut SeriesAnno<'a, DB>, color: RGBAColor) {
    anno.legend(move |(x, y)| Rectangle::new([(x, y - 7), (x + 22, y + 7)], color.filled()));
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

/// Width of the legend column right of a chart's plot, pixels.
pub const LEGEND_WIDTH: u32 = 250;

/// How a legend entry is drawn.
#[derive(Clone, Copy, Debug)]
pub enum Glyph {
    /// A solid line with the variant's marker.
    Line(Shape),
    /// A solid line without marker.
    Plain,
    /// A dashed line.
    Dashed,
    /// A filled box.
    Box,
}

/// One legend entry.
#[derive(Clone, Debug)]
pub struct Entry {
    /// The text.
    pub label: String,
    /// Its colour.
    pub color: RGBAColor,
    /// Its glyph.
    pub glyph: Glyph,
}

impl Entry {
    /// An entry of `glyph` in `color`.
    pub fn new(label: impl Into<String>, color: impl Color, glyph: Glyph) -> Entry {
        Entry {
            label: label.into(),
            color: color.to_rgba(),
            glyph,
        }
    }
}

/// Splits `area` into the plot (left) and a legend column (right).
pub fn split_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
) -> (DrawingArea<DB, Shift>, DrawingArea<DB, Shift>) {
    let (w, _) = area.dim_in_pixel();
    area.split_horizontally(w.saturating_sub(LEGEND_WIDTH))
}

/// Draws a legend down the top of `area`: beside the plot, never over the data.
pub fn side_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    heading: &str,
    entries: &[Entry],
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let style = text(LABEL_FONT).pos(Pos::new(HPos::Left, VPos::Center));
    area.draw_text(heading, &muted(LABEL_FONT).pos(Pos::new(HPos::Left, VPos::Center)), (8, 24))?;
    let s = MARKER_SIZE;
    for (i, e) in entries.iter().enumerate() {
        let y = 56 + 28 * i as i32;
        let c = e.color;
        let line = c.stroke_width(LINE_WIDTH);
        match e.glyph {
            Glyph::Box => area.draw(&Rectangle::new([(8, y - 8), (34, y + 8)], c.filled()))?,
            Glyph::Plain => area.draw(&PathElement::new(vec![(8, y), (34, y)], line))?,
            Glyph::Dashed => {
                area.draw(&PathElement::new(vec![(8, y), (17, y)], line))?;
                area.draw(&PathElement::new(vec![(25, y), (34, y)], line))?;
            }
            Glyph::Line(shape) => {
                area.draw(&PathElement::new(vec![(8, y), (34, y)], line))?;
                let (fill, thin) = (c.filled(), c.stroke_width(2));
                let at = EmptyElement::at((21, y));
                match shape {
                    Shape::Circle => area.draw(&(at + Circle::new((0, 0), s, fill)))?,
                    Shape::Ring => area.draw(
                        &(at + Circle::new((0, 0), s, WHITE.filled()) + Circle::new((0, 0), s, thin)),
                    )?,
                    Shape::Square => {
                        area.draw(&(at + Rectangle::new([(-s, -s), (s, s)], fill)))?
                    }
                    Shape::Frame => area.draw(
                        &(at + Rectangle::new([(-s, -s), (s, s)], WHITE.filled())
                            + Rectangle::new([(-s, -s), (s, s)], thin)),
                    )?,
                    Shape::Triangle => {
                        area.draw(&(at + TriangleMarker::new((0, 0), s + 1, fill)))?
                    }
                    Shape::Cross => area.draw(&(at + Cross::new((0, 0), s, thin)))?,
                }
            }
        }
        area.draw_text(&e.label, &style, (44, y))?;
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
