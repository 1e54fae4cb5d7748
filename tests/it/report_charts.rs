//! Every chart renders from the committed fixture, as a sweep and cut to one load point, to a
//! non-empty SVG and a PNG of the stated size with something drawn on it; colours follow the
//! variant across charts; an empty result still draws (a message, not an error).

use crate::report_common;

use ragperf::plot::{self, ChartKind, ImageFormat};
use ragperf::result::RunResult;
use report_common::{fixture, one_point, png_size};

fn check_all(result: &RunResult) -> usize {
    let charts = plot::plan(result);
    for chart in &charts {
        let svg =
            plot::render_svg(chart, result).unwrap_or_else(|e| panic!("{}: {e:#}", chart.name));
        assert!(svg.starts_with("<svg"), "{}", chart.name);
        assert!(svg.trim_end().ends_with("</svg>"), "{}", chart.name);
        let (w, h) = chart.size;
        assert!(
            svg.contains(&format!("width=\"{w}\"")) && svg.contains(&format!("height=\"{h}\"")),
            "{}: size",
            chart.name
        );
        assert!(svg.contains("<text"), "{}: labelled", chart.name);
        assert!(svg.contains(&chart.title), "{}: titled", chart.name);
        for bad in ["NaN", "inf"] {
            assert!(!svg.contains(bad), "{}: {bad} in the SVG", chart.name);
        }
        let png = plot::render(chart, result, ImageFormat::Png)
            .unwrap_or_else(|e| panic!("{}: {e:#}", chart.name));
        assert_eq!(png_size(&png), chart.size, "{}", chart.name);
        let decoder = png::Decoder::new(png.as_slice());
        let mut reader = decoder.read_info().expect("a readable PNG");
        let mut pixels = vec![0; reader.output_buffer_size()];
        reader.next_frame(&mut pixels).expect("one frame");
        let ink = pixels
            .chunks(3)
            .filter(|p| p.iter().any(|c| *c < 200))
            .count();
        assert!(ink > 2_000, "{}: only {ink} dark pixels", chart.name);
    }
    charts.len()
}

#[test]
fn every_chart_of_a_sweep_renders_as_svg_and_png() {
    let result = fixture();
    let charts = plot::plan(&result);
    let has = |f: &dyn Fn(&ChartKind) -> bool| charts.iter().filter(|c| f(&c.kind)).count();
    assert_eq!(has(&|k| matches!(k, ChartKind::Throughput)), 1);
    assert_eq!(has(&|k| matches!(k, ChartKind::LatencyVsLoad)), 1);
    assert_eq!(has(&|k| matches!(k, ChartKind::OsCost)), 1);
    // Two points: e2e and TTFT spectra, TTFT and ITL distributions at each.
    assert_eq!(has(&|k| matches!(k, ChartKind::Spectrum { .. })), 4);
    assert_eq!(has(&|k| matches!(k, ChartKind::Distribution { .. })), 4);
    // One timeline per variant, at the heaviest point.
    assert_eq!(has(&|k| matches!(k, ChartKind::Timeline { .. })), 2);
    assert_eq!(check_all(&result), charts.len());
}

#[test]
fn every_chart_of_one_load_point_renders() {
    let result = one_point();
    assert_eq!(check_all(&result), 3 + 2 + 2 + 2);
}

#[test]
fn a_variant_has_one_colour_in_every_chart() {
    let result = fixture();
    let (sync, _) = plot::variant_style("sync", 0);
    let hex = format!("#{:02X}{:02X}{:02X}", sync.0, sync.1, sync.2);
    for chart in plot::plan(&result) {
        if matches!(chart.kind, ChartKind::Timeline { .. }) {
            continue; // coloured by phase, not variant
        }
        let svg = plot::render_svg(&chart, &result).expect("renders");
        assert!(svg.contains(&hex), "{} draws sync in {hex}", chart.name);
    }
}

#[test]
fn timelines_show_the_threads_that_ran_the_requests() {
    let result = fixture();
    let chart = plot::plan(&result)
        .into_iter()
        .find(
            |c| matches!(&c.kind, ChartKind::Timeline { variant, .. } if variant == "async-single"),
        )
        .expect("an async-single timeline");
    let svg = plot::render_svg(&chart, &result).expect("renders");
    // One thread runs every request of async-single: every row is labelled T1.
    assert!(svg.contains("T1 #"));
    assert!(!svg.contains("T2 #"));
    assert!(svg.contains("1 OS thread(s)"));
}

#[test]
fn an_empty_result_draws_messages_not_errors() {
    let mut result = fixture();
    result.runs.clear();
    let charts = plot::plan(&result);
    assert_eq!(
        charts.len(),
        3,
        "only the load charts, which say there is nothing yet"
    );
    for chart in &charts {
        let svg = plot::render_svg(chart, &result).expect("renders");
        assert!(svg.contains("No measurements yet."));
        let png = plot::render_png(chart, &result).expect("renders");
        assert_eq!(png_size(&png), chart.size);
    }
}
