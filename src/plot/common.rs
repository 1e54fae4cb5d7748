//! Drawing helpers every chart uses: the title, the chart frame and mesh style, markers, the
//! legend beside the plot, notes and bar labels, so all charts look alike. The axes are in
//! [`super::axis`] (re-exported here).

use anyhow::Result;
use plotters::chart::SeriesAnno;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

pub use super::axis::{
    Axis, YScale, category_axis, from_zero, linear, load_axis, load_label, load_x, number_label,
    ticks_at,
};
use super::{
    AXIS_FONT, GRID_BOLD, GRID_LIGHT, INK, LABEL_FONT, LINE_WIDTH, MARKER_SIZE, MUTED, NOTE_FONT,
    Shape, TITLE_FONT, font::FAMILY,
};

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
    mesh_with(
        &mut chart,
        false,
        x_desc,
        y_desc,
        &|_| String::new(),
        &|v| number_label(*v),
    )?;
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
pub fn note<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    msg: &str,
    at: (i32, i32),
) -> Result<()>
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
        area.draw_text(
            line,
            &style,
            (w as i32 / 2, h as i32 / 2 - 20 + 30 * i as i32),
        )?;
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
    area.draw_text(
        heading,
        &muted(LABEL_FONT).pos(Pos::new(HPos::Left, VPos::Center)),
        (8, 24),
    )?;
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
                        &(at + Circle::new((0, 0), s, WHITE.filled())
                            + Circle::new((0, 0), s, thin)),
                    )?,
                    Shape::Square => area.draw(&(at + Rectangle::new([(-s, -s), (s, s)], fill)))?,
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
