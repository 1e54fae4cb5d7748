//! `hgrm/*.hgrm`: every histogram of every run as a percentile distribution in the text format
//! HdrHistogram's own `outputPercentileDistribution` writes (Java, C, Go, .NET all agree), so
//! the online HdrHistogram plotter (`plotFiles.html`) and its tools load them as they are.
//!
//! The format: a `Value Percentile TotalCount 1/(1-Percentile)` header and a blank line, one line
//! per percentile step (5 ticks per half distance to 100%, as the Java default), the 100% line
//! without its infinite last column, then the `#[Mean …]`, `#[Max …]` and `#[Buckets …]`
//! footer. Values are recorded in µs and written in ms (the output value unit scaling ratio is
//! 1000), with as many decimals as the histogram's significant digits.

use std::fmt::Write;

use anyhow::Result;
use hdrhistogram::Histogram;

use super::{Exporter, OutputFile};
use crate::result::histograms::decode;
use crate::result::query::point_slug;
use crate::result::{RunResult, VariantRun};

pub use crate::result::histograms::TICKS_PER_HALF_DISTANCE;
/// Recorded values are µs; files are in ms.
pub const SCALING_RATIO: f64 = 1000.0;

/// One `.hgrm` file per histogram per run, plus a README for the folder.
pub struct HgrmExporter;

impl Exporter for HgrmExporter {
    fn file_name(&self) -> &'static str {
        "hgrm/README.txt"
    }

    /// The folder's README: what each file holds and how to plot it.
    fn render(&self, result: &RunResult) -> Result<String> {
        let mut out = String::from(
            "HdrHistogram percentile distributions, one file per variant x load point x metric.\n\
             Values are milliseconds; latencies count from each request's intended start.\n\
             Plot them by loading several files into HdrHistogram's online plotter\n\
             (https://hdrhistogram.github.io/HdrHistogram/plotFiles.html).\n\n",
        );
        let _ = writeln!(
            out,
            "{:<48} {:>8} {:>12} {:>12} {:>12}",
            "file", "count", "p50 ms", "p99 ms", "max ms"
        );
        for (name, run, metric) in entries(result) {
            if let Some(p) = run.latency_ms.get(&metric) {
                let _ = writeln!(
                    out,
                    "{:<48} {:>8} {:>12.3} {:>12.3} {:>12.3}",
                    name, p.count, p.p50, p.p99, p.max
                );
            }
        }
        Ok(out)
    }

    fn files(&self, result: &RunResult) -> Result<Vec<OutputFile>> {
        let mut files = vec![OutputFile {
            path: self.file_name().into(),
            bytes: self.render(result)?.into_bytes(),
        }];
        for (name, run, metric) in entries(result) {
            // A histogram that does not decode is reported by `histograms::check`; the other
            // files are still written.
            let Ok(h) = decode(run, &metric) else {
                continue;
            };
            if h.is_empty() {
                continue;
            }
            files.push(OutputFile {
                path: format!("hgrm/{name}"),
                bytes: percentile_distribution(&h).into_bytes(),
            });
        }
        Ok(files)
    }
}

/// File name, run and metric of every histogram in the result.
fn entries(result: &RunResult) -> Vec<(String, &VariantRun, String)> {
    let reps = result.runs.iter().any(|r| r.repetition > 0);
    let mut out = Vec::new();
    for run in &result.runs {
        for metric in run.histograms.keys() {
            out.push((file_name(run, metric, reps), run, metric.clone()));
        }
    }
    out
}

/// `<variant>_<point>[_rep<n>]_<metric>.hgrm`, e.g. `sync_c8_e2e.hgrm`.
pub fn file_name(run: &VariantRun, metric: &str, with_repetition: bool) -> String {
    let rep = if with_repetition {
        format!("_rep{}", run.repetition + 1)
    } else {
        String::new()
    };
    // Names come from the result file: made safe before they become a file name.
    super::safe_name(&format!(
        "{}_{}{rep}_{metric}.hgrm",
        run.variant,
        point_slug(&run.point)
    ))
}

/// The sub-bucket count HdrHistogram derives from the significant digits (lowest discernible
/// value 1): the power of two holding `2 * 10^sigfig` values at unit resolution.
fn sub_bucket_count(sigfig: u8) -> u64 {
    (2 * 10u64.pow(u32::from(sigfig))).next_power_of_two()
}

/// `h` (µs) as `outputPercentileDistribution(out, 5, 1000.0)` prints it.
pub fn percentile_distribution(h: &Histogram<u64>) -> String {
    let digits = usize::from(h.sigfig());
    let mut out = String::new();
    let _ = write!(
        out,
        "{:>12} {:>14} {:>10} {:>14}\n\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    );
    let total = h.len();
    for v in h.iter_quantiles(TICKS_PER_HALF_DISTANCE) {
        let value = v.value_iterated_to() as f64 / SCALING_RATIO;
        let q = v.quantile_iterated_to();
        // The iterator reports the share of values at or below this step; times the total it is
        // the running count HdrHistogram prints (exact: the share was computed from it).
        let count = (v.quantile() * total as f64).round() as u64;
        if q < 1.0 {
            let _ = writeln!(
                out,
                "{value:>12.digits$} {q:>2.12} {count:>10} {:>14.2}",
                1.0 / (1.0 - q)
            );
        } else {
            let _ = writeln!(out, "{value:>12.digits$} {q:>2.12} {count:>10}");
        }
    }
    let _ = writeln!(
        out,
        "#[Mean    = {:>12.digits$}, StdDeviation   = {:>12.digits$}]",
        h.mean() / SCALING_RATIO,
        h.stdev() / SCALING_RATIO
    );
    let _ = writeln!(
        out,
        "#[Max     = {:>12.digits$}, Total count    = {:>12}]",
        h.max() as f64 / SCALING_RATIO,
        total
    );
    let _ = writeln!(
        out,
        "#[Buckets = {:>12}, SubBuckets     = {:>12}]",
        h.buckets(),
        sub_bucket_count(h.sigfig())
    );
    out
}
