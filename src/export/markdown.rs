//! `summary.md`: the comparison table a user pastes into a pull request, with the findings and
//! the scenario as run, so the table can be read without the rest of the report.

use anyhow::Result;

use super::Exporter;
use super::describe;
use super::highlights::highlights;
use crate::result::RunResult;

/// The Markdown summary.
pub struct MarkdownExporter;

impl Exporter for MarkdownExporter {
    fn file_name(&self) -> &'static str {
        "summary.md"
    }

    fn render(&self, result: &RunResult) -> Result<String> {
        Ok(render(result))
    }
}

/// Escapes a table cell (a `|` would end the cell).
fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

/// The whole summary.
pub fn render(result: &RunResult) -> String {
    let mut out = String::new();
    out.push_str("# ragperf results\n\n");
    out.push_str(&describe::provenance(result));
    out.push_str("\n\n");
    out.push_str(&table(result));
    out.push_str(
        "\nreq/s and tok/s: successful requests (their tokens) finishing inside the measured \
         window. ideal: Little's law, concurrency / expected service time. e2e, TTFT and queue \
         count from each request's intended start (coordinated-omission correct); ITL is every \
         gap between two tokens. threads: the variant's own threads. CPU ms/req: ragperf's own \
         CPU (the process minus the in-process mocks and the sampler) per finished request.\n",
    );
    if let Some(caption) = describe::server_caption(result) {
        out.push_str("\n## Target server\n\n");
        out.push_str(&caption);
        out.push_str("\n\n");
        out.push_str(&format!("| {} |\n", describe::SERVER_HEADER.join(" | ")));
        out.push_str(&format!(
            "|:--|:--|{}\n",
            "--:|".repeat(describe::SERVER_HEADER.len() - 2)
        ));
        let reps = describe::has_repetitions(result);
        for row in result
            .runs
            .iter()
            .filter_map(|r| describe::server_row(r, reps))
        {
            let cells: Vec<String> = row.iter().map(|c| cell(c)).collect();
            out.push_str(&format!("| {} |\n", cells.join(" | ")));
        }
    }
    let findings = highlights(result);
    for (heading, lines) in findings.sections() {
        out.push_str(&format!("\n## {heading}\n\n"));
        for line in lines {
            out.push_str(&format!("- {line}\n"));
        }
    }
    out.push_str("\n## Scenario as run\n\n");
    for line in describe::scenario_lines(result) {
        out.push_str(&format!("- {line}\n"));
    }
    out
}

/// The comparison table alone: one row per variant × load point (× repetition).
pub fn table(result: &RunResult) -> String {
    let reps = describe::has_repetitions(result);
    let mut out = String::new();
    let header = describe::table_header();
    out.push_str(&format!("| {} |\n", header.join(" | ")));
    let align: Vec<&str> = header
        .iter()
        .enumerate()
        .map(|(i, _)| if i < 2 { ":--" } else { "--:" })
        .collect();
    out.push_str(&format!("|{}|\n", align.join("|")));
    for run in &result.runs {
        let cells: Vec<String> = describe::table_row(run, reps)
            .iter()
            .enumerate()
            .map(|(i, c)| if i == 0 { format!("`{c}`") } else { cell(c) })
            .collect();
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    if result.runs.is_empty() {
        out.push_str("\n(no variant finished a measurement)\n");
    }
    out
}
