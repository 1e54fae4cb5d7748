//! `index.html`: the whole report in one self-contained file (charts inlined as SVG, styles
//! inline, no script, no external resource), so it opens straight from disk, from a CI artefact
//! or an e-mail. It leads with the findings (who wins where, and why), then the table, the charts
//! with a short "how to read it" under each, the scenario as run and the files beside it.

use std::fmt::Write;

use anyhow::Result;

use super::describe;
use super::highlights::highlights;
use super::{Exporter, hgrm};
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

const STYLE: &str = "
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'Open Sans',sans-serif;color:#222;
 max-width:1280px;margin:0 auto;padding:0 24px 48px;line-height:1.5;background:#fff}
h1{margin:28px 0 4px;font-size:28px}h2{margin-top:40px;border-bottom:1px solid #ddd;padding-bottom:4px}
h3{margin:28px 0 6px}
.prov{color:#555;margin-top:0}
code{background:#f3f3f3;padding:1px 4px;border-radius:3px;font-size:92%}
table{border-collapse:collapse;font-size:13px;margin:12px 0;display:block;overflow-x:auto}
th,td{padding:4px 7px;border-bottom:1px solid #e4e4e4;white-space:nowrap;text-align:right}
th{background:#f6f6f6;position:sticky;top:0}td:first-child,td:nth-child(2),th:first-child,th:nth-child(2){text-align:left}
tr:hover td{background:#fafafa}
.swatch{display:inline-block;width:11px;height:11px;border-radius:2px;margin-right:6px;vertical-align:-1px}
figure{margin:18px 0 30px}figure svg{max-width:100%;height:auto;border:1px solid #eee}
figcaption{color:#444;max-width:920px;margin-top:6px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(900px,1fr));gap:8px 24px}
.warn{background:#fff4e5;border:1px solid #f0b060;padding:10px 14px;border-radius:4px}
.note{color:#555;font-size:14px;max-width:980px}
details{margin:12px 0}summary{cursor:pointer;font-weight:600}
nav a{margin-right:14px}
@media print{nav{display:none}figure{break-inside:avoid}}
";

/// Escapes text for HTML.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The little Markdown the describing text uses: `code` and **bold**, escaped (also the tour
/// report's).
pub fn inline(md: &str) -> String {
    let mut out = String::new();
    for (i, part) in escape(md).split('`').enumerate() {
        if i % 2 == 1 {
            let _ = write!(out, "<code>{part}</code>");
        } else {
            for (j, piece) in part.split("**").enumerate() {
                if j % 2 == 1 {
                    let _ = write!(out, "<strong>{piece}</strong>");
                } else {
                    out.push_str(piece);
                }
            }
        }
    }
    out
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
fn figure(out: &mut String, chart: &Chart, result: &RunResult, single_point: bool) {
    let _ = writeln!(out, "<figure id=\"{}\">", escape(&chart.name));
    match plot::render_svg(chart, result) {
        Ok(svg) => out.push_str(&svg),
        Err(e) => {
            let _ = write!(
                out,
                "<p class=\"warn\">This chart could not be drawn: {}</p>",
                escape(&format!("{e:#}"))
            );
        }
    }
    let caption = match chart.kind {
        ChartKind::Timeline { .. } => "",
        ref kind => how_to_read(kind, single_point),
    };
    let _ = writeln!(
        out,
        "<figcaption>{caption} <em>(charts/{}.svg, .png)</em></figcaption></figure>",
        escape(&chart.name)
    );
}

fn table(out: &mut String, result: &RunResult) {
    let reps = describe::has_repetitions(result);
    out.push_str("<table><thead><tr>");
    for h in describe::table_header() {
        let _ = write!(out, "<th>{}</th>", escape(&h));
    }
    out.push_str("</tr></thead><tbody>\n");
    let variants = data::variants(result);
    for run in &result.runs {
        let index = variants.iter().position(|v| v == &run.variant).unwrap_or(0);
        let (color, _) = plot::variant_style(&run.variant, index);
        out.push_str("<tr>");
        for (i, cell) in describe::table_row(run, reps).iter().enumerate() {
            if i == 0 {
                let _ = write!(
                    out,
                    "<td><span class=\"swatch\" style=\"background:rgb({},{},{})\"></span><code>{}</code></td>",
                    color.0,
                    color.1,
                    color.2,
                    escape(cell)
                );
            } else {
                let _ = write!(out, "<td>{}</td>", escape(cell));
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table>\n");
    if let Some(caption) = describe::server_caption(result) {
        let _ = write!(out, "<h3>Target server</h3><p>{}</p>", inline(&caption));
        out.push_str("<table><thead><tr>");
        for h in describe::SERVER_HEADER {
            let _ = write!(out, "<th>{}</th>", escape(h));
        }
        out.push_str("</tr></thead><tbody>\n");
        for row in result
            .runs
            .iter()
            .filter_map(|r| describe::server_row(r, reps))
        {
            out.push_str("<tr>");
            for c in row {
                let _ = write!(out, "<td>{}</td>", escape(&c));
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody></table>\n");
    }
}

/// The whole page.
pub fn render(result: &RunResult) -> String {
    let mut out = String::new();
    page_head(&mut out, result);
    findings(&mut out, result);
    out.push_str("<h2 id=\"results\">Results</h2>\n");
    table(&mut out, result);
    out.push_str(
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
    out.push_str("<h2 id=\"load\">Throughput, latency and OS cost against load</h2>\n");
    for chart in charts.iter().filter(|c| {
        matches!(
            c.kind,
            ChartKind::Throughput | ChartKind::LatencyVsLoad | ChartKind::OsCost
        )
    }) {
        figure(&mut out, chart, result, single);
    }
    timelines_section(&mut out, result, &charts, single);
    latency_section(&mut out, result, &charts, single);
    out.push_str("<h2 id=\"scenario\">Scenario as run</h2>\n<ul>\n");
    for line in describe::scenario_lines(result) {
        let _ = writeln!(out, "<li>{}</li>", inline(&line));
    }
    out.push_str("</ul>\n");
    files(&mut out, result);
    out.push_str("</body></html>\n");
    out
}

/// The page's head, title, provenance and navigation, and a warning when the result file is
/// damaged.
fn page_head(out: &mut String, result: &RunResult) {
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>ragperf report: {}</title><style>{STYLE}</style></head><body>\n",
        escape(&result.created_at)
    );
    out.push_str("<h1>ragperf: sync vs hybrid vs async under load</h1>\n");
    let _ = writeln!(
        out,
        "<p class=\"prov\">{}</p>",
        inline(&describe::provenance(result))
    );
    out.push_str(
        "<nav><a href=\"#findings\">Findings</a><a href=\"#results\">Table</a>\
         <a href=\"#load\">Load</a><a href=\"#timelines\">Timelines</a>\
         <a href=\"#latency\">Latency</a><a href=\"#scenario\">Scenario</a>\
         <a href=\"#files\">Files</a></nav>\n",
    );
    let problems = histograms::check(result);
    if !problems.is_empty() {
        out.push_str("<div class=\"warn\"><strong>This result file is damaged:</strong><ul>");
        for p in &problems {
            let _ = write!(out, "<li>{}</li>", escape(&p.to_string()));
        }
        out.push_str("</ul></div>\n");
    }
}

/// The findings, one list per section.
fn findings(out: &mut String, result: &RunResult) {
    out.push_str("<h2 id=\"findings\">Findings</h2>\n");
    for (heading, lines) in highlights(result).sections() {
        let _ = writeln!(out, "<h3>{heading}</h3>\n<ul>");
        for line in lines {
            let _ = writeln!(out, "<li>{}</li>", inline(line));
        }
        out.push_str("</ul>\n");
    }
}

/// The request timelines at the headline point, in a grid.
fn timelines_section(out: &mut String, result: &RunResult, charts: &[Chart], single: bool) {
    let timelines: Vec<&Chart> = charts
        .iter()
        .filter(|c| matches!(c.kind, ChartKind::Timeline { .. }))
        .collect();
    let _ = writeln!(
        out,
        "<h2 id=\"timelines\">Request timelines{}</h2>",
        data::headline_point(result).map_or(String::new(), |p| format!(" at {}", p.label()))
    );
    if timelines.is_empty() {
        out.push_str("<p>No request timelines were recorded.</p>\n");
    } else {
        let _ = writeln!(
            out,
            "<p>{}</p>\n<div class=\"grid\">",
            how_to_read(&timelines[0].kind, single)
        );
        for chart in timelines {
            out.push_str("<div>");
            figure(out, chart, result, single);
            out.push_str("</div>");
        }
        out.push_str("</div>\n");
    }
}

/// The latency spectra and distributions per point, heaviest first; lighter points fold away.
fn latency_section(out: &mut String, result: &RunResult, charts: &[Chart], single: bool) {
    out.push_str("<h2 id=\"latency\">Latency distributions</h2>\n");
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
        let _ = writeln!(
            out,
            "<details{}><summary>At {}</summary><div class=\"grid\">",
            if i == 0 { " open" } else { "" },
            escape(&point.label())
        );
        for chart in of_point {
            out.push_str("<div>");
            figure(out, chart, result, single);
            out.push_str("</div>");
        }
        out.push_str("</div></details>\n");
    }
}

/// The files beside this page.
fn files(out: &mut String, result: &RunResult) {
    out.push_str("<h2 id=\"files\">Files</h2>\n<ul>\n");
    out.push_str(
        "<li><code>result.json</code>: everything measured, with every histogram serialised; \
         <code>ragperf report</code> re-renders this page from it.</li>\n\
         <li><code>summary.md</code>: the table and findings, to paste into a pull request.</li>\n\
         <li><code>results.csv</code>: one row per variant × load point, for spreadsheets.</li>\n\
         <li><code>charts/</code>: every chart as SVG and PNG.</li>\n",
    );
    let example = result
        .runs
        .first()
        .map(|r| hgrm::file_name(r, "e2e", describe::has_repetitions(result)))
        .unwrap_or_else(|| "sync_c8_e2e.hgrm".into());
    let _ = writeln!(
        out,
        "<li><code>hgrm/</code>: every histogram as an HdrHistogram percentile distribution \
         (e.g. <code>{}</code>), for HdrHistogram's plotter.</li>\n</ul>",
        escape(&example)
    );
}
