//! The comparison as Markdown for a pull-request comment: a headline with the outcome, the
//! regressions spelled out (which metric, by how much, how sure), the gated rows as a table, the
//! informational rows folded away, then the method and any notes.

use std::fmt::Write as _;

use super::stats::ChangeKind;
use super::verdict::{Evidence, Verdict};
use super::{Comparison, Row};

/// A value in its unit, with as many digits as its size deserves.
pub fn number(x: f64) -> String {
    let a = x.abs();
    if a >= 1000.0 {
        format!("{x:.0}")
    } else if a >= 100.0 {
        format!("{x:.1}")
    } else if a >= 10.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

/// A change: `+30.5%` or `+0.012`.
pub fn change(x: f64, kind: ChangeKind) -> String {
    if x.is_infinite() {
        return if x > 0.0 { "new (was 0)" } else { "gone" }.into();
    }
    match kind {
        ChangeKind::Relative => format!("{:+.1}%", x * 100.0),
        ChangeKind::Absolute => {
            let s = number(x);
            if x >= 0.0 { format!("+{s}") } else { s }
        }
    }
}

fn value(v: Option<f64>, unit: &str) -> String {
    match v {
        Some(x) if unit == "ratio" || unit == "count" => number(x),
        Some(x) => format!("{} {unit}", number(x)),
        None => "—".into(),
    }
}

/// "How sure" for one row.
pub fn sureness(row: &Row) -> String {
    let d = &row.decision;
    let runs = format!(
        "{} vs {} run{}",
        row.baseline_samples.len(),
        row.current_samples.len(),
        if row.current_samples.len() == 1 {
            ""
        } else {
            "s"
        }
    );
    match &d.evidence {
        Evidence::Bootstrap {
            low,
            high,
            confidence,
            share_worse,
        } => format!(
            "{:.0}% CI {} … {}, P(worse) {:.0}%, {runs}",
            confidence * 100.0,
            change(*low, d.change_kind),
            change(*high, d.change_kind),
            share_worse * 100.0
        ),
        Evidence::Threshold => format!("limit only ({runs})"),
        Evidence::Missing { reason } => reason.clone(),
    }
}

fn change_cell(row: &Row) -> String {
    let Some(c) = row.decision.change else {
        return "—".into();
    };
    let worse = match row.direction {
        super::metric::Direction::LowerIsBetter => c > 0.0,
        super::metric::Direction::HigherIsBetter => c < 0.0,
    };
    let word = if c == 0.0 {
        ""
    } else if worse {
        " worse"
    } else {
        " better"
    };
    format!("{}{word}", change(c, row.decision.change_kind))
}

fn table(out: &mut String, rows: &[&Row]) {
    out.push_str(
        "| variant | load | metric | baseline | current | change | limit | verdict | how sure |\n",
    );
    out.push_str("|---|---|---|--:|--:|--:|--:|---|---|\n");
    for r in rows {
        let verdict = if r.gated && r.decision.verdict == Verdict::Regressed {
            format!("**{}**", r.decision.verdict.label(r.gated))
        } else {
            r.decision.verdict.label(r.gated).to_string()
        };
        let _ = writeln!(
            out,
            "| {} | {} | `{}` | {} | {} | {} | {} | {} | {} |",
            r.variant,
            r.point,
            r.metric,
            value(r.decision.baseline, r.unit),
            value(r.decision.current, r.unit),
            change_cell(r),
            r.limit,
            verdict,
            sureness(r)
        );
    }
}

/// One line per regression (or improvement): the whole story of a row.
fn story(r: &Row) -> String {
    format!(
        "- `{}` {} **`{}`**: {} → {} ({}, limit {}); {}",
        r.variant,
        r.point,
        r.metric,
        value(r.decision.baseline, r.unit),
        value(r.decision.current, r.unit),
        change_cell(r),
        r.limit,
        sureness(r)
    )
}

/// Under a bold `title`, one line per gated row with `verdict` (nothing when there is none).
fn stories(out: &mut String, c: &Comparison, verdict: Verdict, title: &str) {
    let rows: Vec<&Row> = c
        .rows
        .iter()
        .filter(|r| r.gated && r.decision.verdict == verdict)
        .collect();
    if rows.is_empty() {
        return;
    }
    out.push_str(&format!("**{title}**\n\n"));
    for r in rows {
        out.push_str(&story(r));
        out.push('\n');
    }
    out.push('\n');
}

/// Renders the comparison.
pub fn render(c: &Comparison) -> String {
    let mut out = String::new();
    let headline = match c.regressions {
        0 => "PASS, no gated regression".to_string(),
        1 => "FAIL, 1 gated regression".to_string(),
        n => format!("FAIL, {n} gated regressions"),
    };
    let _ = writeln!(out, "### ragperf compare: {headline}\n");
    let _ = writeln!(
        out,
        "Baseline `{}` ({}, {} run(s) per point) → current `{}` ({}, {} run(s) per point); {}.\n",
        c.baseline.path,
        c.baseline.created_at,
        c.baseline.repetitions,
        c.current.path,
        c.current.created_at,
        c.current.repetitions,
        c.gates
    );
    stories(&mut out, c, Verdict::Regressed, "Regressions");
    stories(&mut out, c, Verdict::Improved, "Improvements");
    let gated: Vec<&Row> = c.rows.iter().filter(|r| r.gated).collect();
    let info: Vec<&Row> = c.rows.iter().filter(|r| !r.gated).collect();
    if !gated.is_empty() {
        table(&mut out, &gated);
        out.push('\n');
    }
    if !info.is_empty() {
        let _ = writeln!(
            out,
            "<details><summary>Informational metrics ({} rows, not gated; limit = noise)\
             </summary>\n",
            info.len()
        );
        table(&mut out, &info);
        out.push_str("\n</details>\n\n");
    }
    let _ = writeln!(
        out,
        "Method: medians over repetitions. With ≥ {} repetitions per side a change counts only \
         when it exceeds its limit *and* the {:.0}% bootstrap interval of the median change \
         ({} resamples, seed {}) lies on one side of zero; with fewer, the limit alone decides.",
        c.min_repetitions,
        c.bootstrap.confidence * 100.0,
        c.bootstrap.resamples,
        c.bootstrap.seed
    );
    if !c.notes.is_empty() {
        out.push_str("\nNotes:\n");
        for n in &c.notes {
            let _ = writeln!(out, "- {n}");
        }
    }
    out
}
