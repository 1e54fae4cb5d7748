//! `index.html`: the whole report in one self-contained file (charts inlined as SVG, styles
//! inline, no script, no external resource), so it opens straight from disk, from a CI artefact
//! or an e-mail. It leads with the findings (who wins where, and why), then the table, the charts
//! with a short "how to read it" under each, the scenario as run and the files beside it.

use anyhow::Result;

use super::describe;
use super::highlights::highlights;
use super::{Exporter, hgrm};
use crate::html::{Figure, Page, TableKind, escape};
use crate::plot::{self, Chart, ChartKind};
use crate::result::RunResult;
use crate::result::histograms;
use crate::result::query as data;

/// The HTML report.
pub struct HtmlExporter;

impl Exporter for HtmlExporter {
    fn file_name(&self) -> &'static str {
        "index.html"
    }

    fn render(&self, result: &RunResult) -> Result<String> {
        Ok(render(result))
    }
}

/// What a reader should look at in a chart.
fn how_to_read(kind: &ChartKind, single_point: bool) -> &'static str {
    match kind {
        ChartKind::Throughput if single_point => {
            "Each bar is a variant's throughput (successful requests per second); the black tick \
             is the most the latency model allows at this load (Little's law: concurrency divided \
             by the expected service time, or the variant's capacity). A bar well below its tick \
             lost time to something the model does not inject. Run a sweep to see curves."
        }
        ChartKind::Throughput => {
            "Throughput against load. The dashed line is the Little's-law ideal. A variant that \
             follows it scales; where its line bends away, it has hit a limit of its own: a full \
             thread pool, a blocked runtime thread, the CPU."
        }
        ChartKind::LatencyVsLoad if single_point => {
            "Latency per variant at this load: the light bar is p99, the dark bar inside it p50. \
             End-to-end on the left, time to first token (what a user waits before text appears) \
             on the right."
        }
        ChartKind::LatencyVsLoad => {
            "p99 (solid) and p50 (dashed) against load. Flat lines mean requests do not wait for \
             each other; the knee where a line turns up is where a bounded resource saturates \
             and requests start to queue."
        }
        ChartKind::OsCost => {
            "What each design costs the OS: the variant's own threads at their peak (left) and the \
             process's peak resident memory (right). A thread per request grows with the load; \
             an event loop stays flat. Memory includes the in-process mocks."
        }
        ChartKind::Timeline { .. } => {
            "One row per request (the first ones by intended start), labelled with the OS thread \
             that started it. Grey is waiting for a worker, blue the embedding and retrieval \
             calls, orange CPU work, purple waiting for the first token, green streaming. Many \
             rows on one thread (T1) is an event loop interleaving users; one thread per row is \
             thread-per-request, each thread idle through its waits."
        }
        ChartKind::Spectrum { .. } => {
            "Latency at every percentile, as HdrHistogram plots it: each step right is ten times \
             rarer (90%, 99%, 99.9%). Lower is better; a line that shoots up at the right is a \
             tail of requests that waited behind others. Markers sit at p50, p90, p99, p99.9."
        }
        ChartKind::Distribution { .. } => {
            "How the values spread: the share of requests (TTFT) or token gaps (ITL) in each bin. \
             A second hump is a group that waited for something; the axis stops at the largest \
             p99.9 and the legend gives the share beyond."
        }
    }
}

/// One chart as an inline SVG figure (or a visible error in its place). Timelines share one
/// explanation above them, so their captions only name the files.
fn figure(page: &mut Page, chart: &Chart, result: &RunResult, single_point: bool) {
    let svg = plot::render_svg(chart, result).map_err(|e| format!("{e:#}"));
    let caption = match chart.kind {
        ChartKind::Timeline { .. } => "",
        ref kind => how_to_read(kind, single_point),
    };
    page.figure(&Figure {
        id: Some(&chart.name),
        svg: svg.as_deref().map_err(String::as_str),
        caption,
        files: &format!("charts/{}.svg, .png", chart.name),
    });
}

/// The results table (one row per run, its colour beside the variant) and, for a sampled
/// `--target` server, the server's own table.
fn table(page: &mut Page, result: &RunResult) {
    let reps = describe::has_repetitions(result);
    let variants = data::variants(result);
    let rows: Vec<Vec<String>> = result
        .runs
        .iter()
        .map(|run| {
            let index = variants.iter().position(|v| v == &run.variant).unwrap_or(0);
            let (color, _) = plot::variant_style(&run.variant, index);
            let mut cells: Vec<String> = describe::table_row(run, reps)
                .iter()
                .map(|c| escape(c))
                .collect();
            if let Some(first) = cells.first_mut() {
                *first = format!(
                    "<span class=\"swatch\" style=\"background:rgb({},{},{})\"></span><code>{first}</code>",
                    color.0, color.1, color.2
                );
            }
            cells
        })
        .collect();
    let header = describe::table_header();
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    page.table(TableKind::Figures, &header, &rows);
    if let Some(caption) = describe::server_caption(result) {
        page.heading(3, None, "Target server");
        page.paragraph(None, &caption);
        let rows: Vec<Vec<String>> = result
            .runs
            .iter()
            .filter_map(|r| describe::server_row(r, reps))
            .map(|row| row.iter().map(|c| escape(c)).collect())
            .collect();
        page.table(TableKind::Figures, &describe::SERVER_HEADER, &rows);
    }
}

/// The whole page.
pub fn render(result: &RunResult) -> String {
    let mut page = Page::new(
        &format!("ragperf report: {}", result.created_at),
        "ragperf: sync vs hybrid vs async under load",
        &describe::provenance(result),
    );
    navigation(&mut page, result);
    findings(&mut page, result);
    page.heading(2, Some("results"), "Results");
    table(&mut page, result);
    page.push(
        "<p class=\"note\">req/s and tok/s count successful requests (their tokens) finishing \
         inside the measured window; ideal is Little's law (concurrency / expected service \
         time); efficiency is measured / ideal. e2e, TTFT and queue count from each request's \
         intended start, so time spent waiting for a thread or worker is included \
         (coordinated omission corrected); ITL is every gap between two tokens. threads (peak) \
         counts only the variant's own threads; CPU ms/req is ragperf's own CPU (the process \
         minus the in-process mocks and the sampler) per finished request.</p>\n",
    );
    let charts = plot::plan(result);
    let single = data::points(result).len() == 1;
    page.heading(
        2,
        Some("load"),
        "Throughput, latency and OS cost against load",
    );
    for chart in charts.iter().filter(|c| {
        matches!(
            c.kind,
            ChartKind::Throughput | ChartKind::LatencyVsLoad | ChartKind::OsCost
        )
    }) {
        figure(&mut page, chart, result, single);
    }
    timelines_section(&mut page, result, &charts, single);
    latency_section(&mut page, result, &charts, single);
    page.heading(2, Some("scenario"), "Scenario as run");
    let lines = describe::scenario_lines(result);
    page.list(lines.iter().map(String::as_str));
    files(&mut page, result);
    page.finish()
}

/// The navigation, and a warning when the result file is damaged.
fn navigation(page: &mut Page, result: &RunResult) {
    page.push(
        "<nav><a href=\"#findings\">Findings</a><a href=\"#results\">Table</a>\
         <a href=\"#load\">Load</a><a href=\"#timelines\">Timelines</a>\
         <a href=\"#latency\">Latency</a><a href=\"#scenario\">Scenario</a>\
         <a href=\"#files\">Files</a></nav>\n",
    );
    let problems = histograms::check(result);
    if !problems.is_empty() {
        let items: String = problems
            .iter()
            .map(|p| format!("<li>{}</li>", escape(&p.to_string())))
            .collect();
        page.push(&format!(
            "<div class=\"warn\"><strong>This result file is damaged:</strong><ul>{items}</ul></div>\n"
        ));
    }
}

/// The findings, one list per section.
fn findings(page: &mut Page, result: &RunResult) {
    page.heading(2, Some("findings"), "Findings");
    for (heading, lines) in highlights(result).sections() {
        page.heading(3, None, heading);
        page.list(lines.iter().map(String::as_str));
    }
}

/// The request timelines at the headline point, in a grid.
fn timelines_section(page: &mut Page, result: &RunResult, charts: &[Chart], single: bool) {
    let timelines: Vec<&Chart> = charts
        .iter()
        .filter(|c| matches!(c.kind, ChartKind::Timeline { .. }))
        .collect();
    let at = data::headline_point(result).map_or(String::new(), |p| format!(" at {}", p.label()));
    page.heading(2, Some("timelines"), &format!("Request timelines{at}"));
    if timelines.is_empty() {
        page.paragraph(None, "No request timelines were recorded.");
    } else {
        page.paragraph(None, how_to_read(&timelines[0].kind, single));
        page.push("<div class=\"grid\">");
        for chart in timelines {
            page.push("<div>");
            figure(page, chart, result, single);
            page.push("</div>");
        }
        page.push("</div>\n");
    }
}

/// The latency spectra and distributions per point, heaviest first; lighter points fold away.
fn latency_section(page: &mut Page, result: &RunResult, charts: &[Chart], single: bool) {
    page.heading(2, Some("latency"), "Latency distributions");
    let mut points = data::points(result);
    points.sort_by(|a, b| data::load_value(b).total_cmp(&data::load_value(a)));
    for (i, point) in points.iter().enumerate() {
        let of_point: Vec<&Chart> = charts
            .iter()
            .filter(|c| match &c.kind {
                ChartKind::Spectrum { point: p, .. } | ChartKind::Distribution { point: p, .. } => {
                    data::same_point(p, point)
                }
                _ => false,
            })
            .collect();
        // The heaviest point is open; lighter points of a sweep fold away.
        page.push(&format!(
            "<details{}><summary>At {}</summary><div class=\"grid\">\n",
            if i == 0 { " open" } else { "" },
            escape(&point.label())
        ));
        for chart in of_point {
            page.push("<div>");
            figure(page, chart, result, single);
            page.push("</div>");
        }
        page.push("</div></details>\n");
    }
}

/// The files beside this page.
fn files(page: &mut Page, result: &RunResult) {
    page.heading(2, Some("files"), "Files");
    let example = result
        .runs
        .first()
        .map(|r| hgrm::file_name(r, "e2e", describe::has_repetitions(result)))
        .unwrap_or_else(|| "sync_c8_e2e.hgrm".into());
    page.list([
        "`result.json`: everything measured, with every histogram serialised; `ragperf report` \
         re-renders this page from it.",
        "`summary.md`: the table and findings, to paste into a pull request.",
        "`results.csv`: one row per variant × load point, for spreadsheets.",
        "`charts/`: every chart as SVG and PNG.",
        &format!(
            "`hgrm/`: every histogram as an HdrHistogram percentile distribution (e.g. \
             `{example}`), for HdrHistogram's plotter."
        ),
    ]);
}
