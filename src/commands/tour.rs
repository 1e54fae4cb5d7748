//! `ragperf tour`: run the seed's claims as experiments (all, or `--only`), print each claim with
//! its measured verdict, and write the tour report.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use crate::tour::report::TourReport;
use crate::tour::runner::selected_ids;
use crate::tour::{Mode, TourOptions, select};

/// `ragperf tour`.
#[derive(Debug, Args)]
pub struct TourArgs {
    /// Small time scales and request counts: under a minute on two cores (the full tour takes
    /// a few minutes).
    #[arg(long)]
    pub quick: bool,
    /// Only these experiments, comma-separated: Q1/Q3 (or Q1, Q3), Q5, Q4, Q6, Q7, Q16, Q22,
    /// Q30, X1 (blocking-in-async), X2 (cpu-on-loop), X3 (stream-pool), X4 (cpu-scaling).
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Output directory (tour.md, index.html, tour.json, charts/, one folder per experiment).
    #[arg(long, short = 'o', default_value = "reports/tour-latest")]
    pub out: PathBuf,
}

/// `ragperf tour`: runs, prints every claim with its verdict on stdout, progress on stderr.
/// Exit code 0 when every selected experiment finished (whatever its verdict: "not confirmed"
/// is a finding, not a failure), 1 when one could not finish, 130/143 when interrupted (SIGINT/SIGTERM).
pub fn tour(args: &TourArgs) -> Result<std::process::ExitCode> {
    let opts = TourOptions {
        mode: if args.quick { Mode::Quick } else { Mode::Full },
        only: args.only.clone(),
        out: args.out.clone(),
    };
    // Checked before anything starts, so a typo costs nothing.
    let selected = select(&opts.only)?;
    let stop = crate::interrupt::stop_flag();
    eprintln!(
        "ragperf tour: {}, {} experiment(s), writing {}",
        crate::tour::report::scope(opts.mode, &selected_ids(&opts, &selected)),
        selected.len(),
        opts.out.display()
    );
    let tour = crate::tour::run(&opts, &stop, &mut |line| eprintln!("{line}"))?;
    println!("{}", summary(&tour));
    eprintln!(
        "report: {} and {} ({:.0} s)",
        opts.out.join("tour.md").display(),
        opts.out.join("index.html").display(),
        tour.seconds
    );
    Ok(if tour.partial {
        std::process::ExitCode::from(crate::interrupt::exit_code())
    } else if tour.experiments.iter().any(|e| e.verdict.is_none()) {
        std::process::ExitCode::FAILURE
    } else {
        std::process::ExitCode::SUCCESS
    })
}

/// Every claim with its verdict and key numbers, for the terminal.
pub fn summary(tour: &TourReport) -> String {
    // What ran: the whole tour, or (with --only) which experiments.
    let mut out = format!("{}\n", crate::tour::report::scope(tour.mode, &tour.only));
    for e in &tour.experiments {
        let verdict = e.verdict.map_or("DID NOT FINISH", |v| v.shout());
        out.push_str(&format!("{:<6} {verdict:<13} {}\n", e.id, e.title));
        out.push_str(&format!("       claim:    {}\n", e.claim));
        if !e.headline.is_empty() {
            out.push_str(&format!("       measured: {}\n", e.headline));
        }
        for c in e.checks.iter().filter(|c| !c.pass) {
            out.push_str(&format!(
                "       not met:  {} ({} against {})\n",
                c.what, c.measured, c.expected
            ));
        }
        if let Some(first) = &e.first_attempt {
            out.push_str(&format!(
                "       rerun:    the first attempt was {} on a busy machine ({})\n",
                first.verdict.map_or("DID NOT FINISH", |v| v.shout()),
                first.disturbed.as_deref().unwrap_or("")
            ));
        }
        if let Some(why) = &e.disturbed {
            out.push_str(&format!("       machine:  may be disturbed: {why}\n"));
        }
        if let Some(err) = &e.error {
            out.push_str(&format!("       error:    {err}\n"));
        }
    }
    out
}
