//! The tour's own chart: grouped bars with reference lines ("two requests: sequential vs a pool",
//! "speed-up with 4 threads, with and without the GIL"), drawn with the report charts' helpers
//! (`crate::plot::common`: axes, fonts, labels, legend) so the tour looks like the rest of the
//! reports. The request timeline, throughput and OS-cost charts come from `crate::plot` itself.

use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::plot::common;
use crate::plot::{INK, LABEL_FONT, SIZE, font, variant_style};

/// One bar per group of this series.
#[derive(Clone, Debug, PartialEq)]
pub struct BarSeries {
    /// Legend entry (hidden when the chart has one series).
    pub name: String,
    /// Fill colour.
    pub color: RGBColor,
    /// One value per group (NaN = no bar, labelled `n/a`).
    pub values: Vec<f64>,
}

/// A horizontal dashed line across the chart, labelled at its right end.
#[derive(Clone, Debug, PartialEq)]
pub struct RefLine {
    /// Where, in the y axis' unit.
    pub value: f64,
    /// What it means ("one request: 150 ms").
    pub label: String,
}

/// Grouped bars: `groups` along x, one bar per series in each group.
#[derive(Clone, Debug, PartialEq)]
pub struct BarChart {
    /// Drawn across the top.
    pub title: String,
    /// Under the x axis.
    pub x_label: String,
    /// Beside the y axis, with the unit.
    pub y_label: String,
    /// Group names along x.
    pub groups: Vec<String>,
    /// The series.
    pub series: Vec<BarSeries>,
    /// Reference lines.
    pub lines: Vec<RefLine>,
}

/// The colour of a variant in every ragperf chart.
pub fn variant_color(name: &str) -> RGBColor {
    variant_style(name, 0).0
}

/// Colours for series that are not variants (light then dark, Okabe–Ito).
pub const PAIR: [RGBColor; 2] = [RGBColor(86, 180, 233), RGBColor(0, 114, 178)];

/// Renders `chart` as SVG text, `plot::SIZE` pixels.
pub fn render_svg(chart: &BarChart) -> Result<String> {
    font::ensure_registered()?;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE)?;
        let area = common::title(&root, &chart.title)?;
        draw(&area, chart)?;
        root.present()?;
    }
    Ok(svg)
}

fn draw<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, c: &BarChart) -> Result<()>
where
    DB::ErrorType: 'static,
{
    if c.groups.is_empty() || c.series.is_empty() {
        return common::empty(area, "Nothing was measured.");
    }
    let top = c
        .series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .chain(c.lines.iter().map(|l| l.value))
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    // Reference lines are labelled in a margin right of the last group, clear of the bars.
    let n_groups = c.groups.len() as f64;
    let x_hi = if c.lines.is_empty() {
        n_groups - 0.4
    } else {
        n_groups + 0.5
    };
    let x_axis = common::ticks_at(-0.6, x_hi, (0..c.groups.len()).map(|i| i as f64).collect());
    let mut chart = common::build(area, x_axis, common::from_zero(top * 1.18, 1e-3), 90)?;
    let names = c.groups.clone();
    common::category_mesh(
        &mut chart,
        &c.x_label,
        &c.y_label,
        &move |x| names.get(x.round() as usize).cloned().unwrap_or_default(),
        &|v| common::number_label(*v),
    )?;
    let n = c.series.len() as f64;
    let width = 0.8 / n;
    for (si, s) in c.series.iter().enumerate() {
        let offset = -0.4 + width * (si as f64 + 0.5);
        let bars: Vec<(f64, f64)> = s
            .values
            .iter()
            .enumerate()
            .map(|(gi, v)| (gi as f64 + offset, *v))
            .collect();
        let anno = chart
            .draw_series(bars.iter().filter(|(_, v)| v.is_finite()).map(|(x, v)| {
                Rectangle::new(
                    [(x - width * 0.42, 0.0), (x + width * 0.42, *v)],
                    s.color.filled(),
                )
            }))?
            .label(s.name.as_str());
        common::legend_box(anno, s.color.to_rgba());
        for (x, v) in bars {
            let label = if v.is_finite() {
                common::number_label(v)
            } else {
                "n/a".into()
            };
            common::bar_label(&mut chart, label, (x, if v.is_finite() { v } else { 0.0 }))?;
        }
    }
    for line in &c.lines {
        chart.draw_series(DashedLineSeries::new(
            [(-0.6, line.value), (x_hi, line.value)],
            8,
            6,
            INK.stroke_width(2),
        ))?;
        let style = common::text(LABEL_FONT).pos(Pos::new(HPos::Left, VPos::Bottom));
        chart.draw_series(std::iter::once(
            EmptyElement::at((n_groups - 0.45, line.value))
                + Text::new(line.label.clone(), (4, -4), style),
        ))?;
    }
    if c.series.len() > 1 {
        common::legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_bars_lines_and_missing_values() {
        let chart = BarChart {
            title: "Two requests".into(),
            x_label: "variant".into(),
            y_label: "ms".into(),
            groups: vec!["sequential".into(), "pool".into()],
            series: vec![BarSeries {
                name: "wall time".into(),
                color: variant_color("sync"),
                values: vec![300.0, f64::NAN],
            }],
            lines: vec![RefLine {
                value: 150.0,
                label: "one request".into(),
            }],
        };
        let svg = render_svg(&chart).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..40.min(svg.len())]);
        assert!(svg.contains("one request"));
        assert!(svg.contains("n/a"));
        assert!(svg.contains("300"));
    }
}
