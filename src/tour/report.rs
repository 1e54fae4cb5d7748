//! What a tour writes: `tour.json` (every verdict, check and figure, machine-readable),
//! `tour.md` (the hand-out, charts linked from `charts/`) and `index.html` (the same, one
//! self-contained page with the charts inlined as SVG, no script, no external resource).
//! All three are rewritten after every experiment, so an interrupted tour leaves a valid report
//! of what it measured.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::busy::Busy;
use super::verdict::{Check, Role, Verdict};
use super::{Mode, Table};
use crate::html::{Figure, Page, TableKind, escape, inline as inline_html};
use crate::metrics::machine::MachineInfo;

/// Schema identifier of `tour.json`.
pub const SCHEMA: &str = "ragperf.tour.v1";

/// One chart written to disk.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChartFile {
    /// Path relative to the tour folder, e.g. `charts/q5_makespan.svg`.
    pub file: String,
    /// What to look at.
    pub caption: String,
    /// The SVG text, for the HTML page (not stored in `tour.json`).
    #[serde(skip)]
    pub svg: String,
    /// Why it could not be drawn (then there is no file).
    pub error: Option<String>,
}

/// One experiment as run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExperimentReport {
    /// `Q5`, `Q1/Q3`, `X1`.
    pub id: String,
    /// Folder and chart prefix.
    pub slug: String,
    /// Heading.
    pub title: String,
    /// What the seed says.
    pub seed: String,
    /// The claim in our words.
    pub claim: String,
    /// The setup of every step, in words.
    pub setup: Vec<String>,
    /// The verdict (None when the experiment could not finish).
    pub verdict: Option<Verdict>,
    /// The key numbers in one line.
    pub headline: String,
    /// Measured figures.
    pub table: Table,
    /// Every check behind the verdict.
    pub checks: Vec<Check>,
    /// Written from the measured numbers.
    pub explanation: String,
    /// Charts.
    pub charts: Vec<ChartFile>,
    /// The steps' result files, relative to the tour folder (`q5/pool/result.json`).
    pub results: Vec<String>,
    /// Why the experiment could not finish.
    pub error: Option<String>,
    /// Wall time of the experiment, seconds.
    pub seconds: f64,
    /// How busy the machine was during the steps (None when it could not be read).
    #[serde(default)]
    pub busy: Option<Busy>,
    /// Why the verdict may be disturbed (the machine was busier than the limits of
    /// [`super::busy`]); None when it was quiet enough or could not be measured.
    #[serde(default)]
    pub disturbed: Option<String>,
    /// The first attempt, when it may have been disturbed and the experiment was run again:
    /// kept whole (its results under `<slug>/attempt-1/`), without its charts.
    #[serde(default)]
    pub first_attempt: Option<Box<ExperimentReport>>,
}

/// The whole tour.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TourReport {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// Quick or full.
    pub mode: Mode,
    /// When the tour started, RFC 3339 (UTC).
    pub created_at: String,
    /// The machine.
    pub machine: MachineInfo,
    /// Wall time so far, seconds.
    pub seconds: f64,
    /// True when the tour was interrupted before every selected experiment ran.
    pub partial: bool,
    /// The machine's 1-minute load average just before the tour started (None when
    /// unreadable): work of other processes, which takes cores from the experiments. (Later
    /// readings would count the tour's own threads.)
    pub load_before: Option<f64>,
    /// The ids of the experiments `--only` selected, in catalogue order; empty when the whole
    /// tour ran.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub only: Vec<String>,
    /// The experiments, in order.
    pub experiments: Vec<ExperimentReport>,
}

/// Writes `tour.json`, `tour.md` and `index.html` into `dir`.
pub fn write(dir: &Path, report: &TourReport) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let json = crate::result::files::json_text(report)?;
    for (name, text) in [
        ("tour.json", json),
        ("tour.md", markdown(report)),
        ("index.html", html(report)),
    ] {
        crate::result::files::write_atomic(&dir.join(name), text.as_bytes())?;
    }
    Ok(())
}

/// The 1-minute load average from `/proc/loadavg` (None when unreadable).
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn verdict_text(v: Option<Verdict>) -> &'static str {
    v.map_or("did not finish", Verdict::label)
}

/// How busy the machine was while an experiment ran, and its first attempt when it was run
/// again: paragraphs of inline Markdown (`**bold**`, `code`), for both the Markdown and the
/// HTML report.
pub fn machine_paragraphs(e: &ExperimentReport) -> Vec<String> {
    let mut out = Vec::new();
    if e.error.is_none() || e.busy.is_some() {
        let sentence = e.busy.map_or_else(
            || "How busy the machine was could not be measured.".to_string(),
            |b| b.sentence(),
        );
        out.push(format!("**Machine.** {sentence}"));
    }
    if let Some(first) = &e.first_attempt {
        let failed = super::verdict::failed_text(&first.checks, None);
        let mut text = format!(
            "**First attempt: {}** ({}), on a busy machine: {}. So the experiment was run \
             once more; the verdict above is the second attempt's.",
            verdict_text(first.verdict),
            first.headline,
            first
                .disturbed
                .as_deref()
                .unwrap_or("busier than the limits")
        );
        if !failed.is_empty() {
            text.push_str(&format!(" Its failed checks: {failed}."));
        }
        if !first.explanation.is_empty() {
            text.push_str(&format!(" Its explanation: {}", first.explanation));
        }
        if !first.results.is_empty() {
            let files: Vec<String> = first.results.iter().map(|f| format!("`{f}`")).collect();
            text.push_str(&format!(" Its results: {}.", files.join(", ")));
        }
        out.push(text);
    }
    out
}

/// The summary's headline cell: the key numbers, and what the machine did to them.
fn summary_headline(e: &ExperimentReport) -> String {
    let mut out = e.headline.clone();
    if let Some(first) = &e.first_attempt {
        out.push_str(&format!(
            " (rerun: the first attempt was {} on a busy machine)",
            verdict_text(first.verdict)
        ));
    }
    if e.disturbed.is_some() {
        out.push_str(" (may be disturbed: the machine was busy)");
    }
    out
}

/// What ran: `quick tour` / `full tour` for the whole tour; with `--only`, which experiments
/// (never "full tour": `full` is the size, not the extent): `full-size run of Q5, Q30 only (2 of
/// 12 experiments, --only)`.
pub fn scope(mode: Mode, only: &[String]) -> String {
    if only.is_empty() {
        return format!("{} tour", mode.name());
    }
    let size = match mode {
        Mode::Quick => "quick",
        Mode::Full => "full-size",
    };
    format!(
        "{size} run of {} only ({} of {} experiments, --only)",
        only.join(", "),
        only.len(),
        super::catalogue().len()
    )
}

fn provenance(r: &TourReport) -> String {
    let m = &r.machine;
    let load = match r.load_before {
        Some(l) => format!(
            " The 1-minute load average just before the tour was {} on {} cores: other \
             processes' work takes cores from the experiments.",
            super::verdict::num(l),
            m.cores
        ),
        None => String::new(),
    };
    format!(
        "Measured {} on `{}` ({} cores, {}, {}), ragperf {}, {} in {:.0} s{}.{load}",
        r.created_at,
        m.hostname,
        m.cores,
        m.cpu_model,
        m.os,
        m.ragperf_version,
        scope(r.mode, &r.only),
        r.seconds,
        if r.partial {
            " — interrupted, partial"
        } else {
            ""
        }
    )
}

const INTRO: &str = "Each section takes one claim of the seed Q&A about sync and async RAG \
services, runs it as a small experiment against the in-process mock Qdrant and Bedrock, and \
gives a verdict computed from the measurements: **confirmed** (every check passed), \
**qualified** (the heart of the claim holds, a part of it did not, as measured here) or \
**not confirmed** (a core check failed). Latencies are the seed's own (retrieval ~100 ms, \
generation ~2.9 s, 3 s per request) shrunk by a time scale so the tour runs in minutes; every \
explanation is written from this run's numbers.";

fn checks_md(out: &mut String, checks: &[Check]) {
    out.push_str("| | check | measured | bound | role |\n|---|---|---|---|---|\n");
    for c in checks {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            if c.pass { "✅" } else { "❌" },
            c.what,
            c.measured,
            c.expected,
            match c.role {
                Role::Core => "core",
                Role::Detail => "detail",
            }
        );
    }
}

fn table_md(out: &mut String, t: &Table) {
    if t.header.is_empty() {
        return;
    }
    let _ = writeln!(out, "| {} |", t.header.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(t.header.len()));
    for row in &t.rows {
        let _ = writeln!(out, "| {} |", row.join(" | "));
    }
    out.push('\n');
}

/// `tour.md`.
pub fn markdown(r: &TourReport) -> String {
    let mut out = String::from("# The seed's claims, measured (`ragperf tour`)\n\n");
    let _ = writeln!(out, "{}\n\n{INTRO}\n", provenance(r));
    out.push_str("| claim | verdict | measured |\n|---|---|---|\n");
    for e in &r.experiments {
        let _ = writeln!(
            out,
            "| [{}: {}](#{}) | **{}** | {} |",
            e.id,
            e.title,
            e.slug,
            verdict_text(e.verdict),
            summary_headline(e)
        );
    }
    out.push('\n');
    for e in &r.experiments {
        let _ = writeln!(
            out,
            "<a id=\"{}\"></a>\n\n## {}: {}\n",
            e.slug, e.id, e.title
        );
        let _ = writeln!(out, "> **The seed:** {}\n", e.seed);
        let _ = writeln!(out, "**Claim.** {}\n", e.claim);
        let _ = writeln!(out, "**Verdict: {}.**\n", verdict_text(e.verdict));
        for p in machine_paragraphs(e) {
            let _ = writeln!(out, "{p}\n");
        }
        out.push_str("**Setup.**\n\n");
        for s in &e.setup {
            let _ = writeln!(out, "- {s}");
        }
        out.push('\n');
        if let Some(err) = &e.error {
            let _ = writeln!(out, "**Could not finish:** {err}\n");
        }
        if !e.table.rows.is_empty() {
            out.push_str("**Measured.**\n\n");
            table_md(&mut out, &e.table);
        }
        if !e.explanation.is_empty() {
            let _ = writeln!(out, "**Why.** {}\n", e.explanation);
        }
        for c in &e.charts {
            match &c.error {
                None => {
                    let _ = writeln!(out, "![{}]({})\n\n*{}*\n", c.caption, c.file, c.caption);
                }
                Some(err) => {
                    let _ = writeln!(out, "*Chart not drawn: {err}*\n");
                }
            }
        }
        if !e.checks.is_empty() {
            out.push_str("**Checks behind the verdict.**\n\n");
            checks_md(&mut out, &e.checks);
            out.push('\n');
        }
        if !e.results.is_empty() {
            let files: Vec<String> = e.results.iter().map(|f| format!("[`{f}`]({f})")).collect();
            let _ = writeln!(
                out,
                "Raw results: {} (`ragperf report <folder>` renders the full report of one).\n",
                files.join(", ")
            );
        }
    }
    out.push_str(
        "---\n\nResult files keep every histogram and figure, the first 400 requests' \
         timelines and a 400-point process series (trimmed to keep the report small); the \
         verdicts were computed from exactly what is saved.\n",
    );
    out
}

fn badge(v: Option<Verdict>) -> String {
    let class = match v {
        Some(Verdict::Confirmed) => "confirmed",
        Some(Verdict::Qualified) => "qualified",
        Some(Verdict::NotConfirmed) => "not-confirmed",
        None => "none",
    };
    format!("<span class=\"v {class}\">{}</span>", verdict_text(v))
}

/// A table of text cells (Markdown-flavoured).
fn table_html(page: &mut Page, header: &[String], rows: &[Vec<String>]) {
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|row| row.iter().map(|c| inline_html(c)).collect())
        .collect();
    page.table(TableKind::Text, &header, &rows);
}

/// `index.html`.
pub fn html(r: &TourReport) -> String {
    let mut page = Page::new(
        "ragperf tour: the seed's claims, measured",
        "The seed's claims, measured",
        &provenance(r),
    );
    page.paragraph(None, INTRO);
    summary_html(&mut page, r);
    for e in &r.experiments {
        experiment_html(&mut page, e);
    }
    page.paragraph(
        Some("note"),
        "Result files keep every histogram and figure, the first 400 requests' timelines and \
         a 400-point process series; the verdicts were computed from exactly what is saved. \
         `ragperf report <folder>` renders the full report of one step.",
    );
    page.finish()
}

/// The summary table: one linked row per experiment with its verdict and headline.
fn summary_html(page: &mut Page, r: &TourReport) {
    let rows: Vec<Vec<String>> = r
        .experiments
        .iter()
        .map(|e| {
            vec![
                format!(
                    "<a href=\"#{}\">{}</a>",
                    escape(&e.slug),
                    inline_html(&format!("{}: {}", e.id, e.title))
                ),
                badge(e.verdict),
                inline_html(&summary_headline(e)),
            ]
        })
        .collect();
    page.table(TableKind::Text, &["claim", "verdict", "measured"], &rows);
}

/// One experiment's section: heading, seed, claim, setup, table, explanation, charts, checks
/// and result files.
fn experiment_html(page: &mut Page, e: &ExperimentReport) {
    page.push(&format!(
        "<h2 id=\"{}\">{}: {} {}</h2>\n",
        escape(&e.slug),
        escape(&e.id),
        inline_html(&e.title),
        badge(e.verdict)
    ));
    page.push(&format!(
        "<blockquote><strong>The seed:</strong> {}</blockquote>\n",
        inline_html(&e.seed)
    ));
    page.paragraph(None, &format!("**Claim.** {}", e.claim));
    for p in machine_paragraphs(e) {
        page.paragraph(Some("note"), &p);
    }
    page.paragraph(None, "**Setup.**");
    page.list(e.setup.iter().map(String::as_str));
    if let Some(err) = &e.error {
        page.push(&format!(
            "<p class=\"warn\">Could not finish: {}</p>\n",
            escape(err)
        ));
    }
    if !e.table.rows.is_empty() {
        table_html(page, &e.table.header, &e.table.rows);
    }
    if !e.explanation.is_empty() {
        page.paragraph(None, &format!("**Why.** {}", e.explanation));
    }
    for c in &e.charts {
        page.figure(&Figure {
            id: None,
            svg: match &c.error {
                None => Ok(&c.svg),
                Some(err) => Err(err),
            },
            caption: &inline_html(&c.caption),
            files: &c.file,
        });
    }
    checks_html(page, e);
    if !e.results.is_empty() {
        let files: Vec<String> = e
            .results
            .iter()
            .map(|f| format!("<a href=\"{0}\"><code>{0}</code></a>", escape(f)))
            .collect();
        page.push(&format!(
            "<p class=\"note\">Raw results: {}</p>\n",
            files.join(", ")
        ));
    }
}

/// The checks behind an experiment's verdict, if it has any.
fn checks_html(page: &mut Page, e: &ExperimentReport) {
    if !e.checks.is_empty() {
        let rows: Vec<Vec<String>> = e
            .checks
            .iter()
            .map(|c| {
                vec![
                    if c.pass { "✅" } else { "❌" }.to_string(),
                    c.what.clone(),
                    c.measured.clone(),
                    c.expected.clone(),
                    match c.role {
                        Role::Core => "core".into(),
                        Role::Detail => "detail".into(),
                    },
                ]
            })
            .collect();
        page.push("<details open><summary>Checks behind the verdict</summary>\n");
        let header: Vec<String> = ["", "check", "measured", "bound", "role"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        table_html(page, &header, &rows);
        page.push("</details>\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_only_run_names_its_experiments_and_is_never_the_full_tour() {
        assert_eq!(scope(Mode::Full, &[]), "full tour");
        let only = scope(Mode::Full, &["Q5".into(), "Q30".into()]);
        assert!(
            only.starts_with("full-size run of Q5, Q30 only (2 of "),
            "{only}"
        );
        assert!(
            !only.contains("full tour") && only.contains("--only"),
            "{only}"
        );
    }
}
