//! One `slim` for every result that is kept smaller than written: the CI baseline (no timeline,
//! no process series: `compare` needs neither) and the tour's committed results (a first part of
//! each timeline, process series folded). Histograms and figures are never touched.

use crate::metrics::process::ProcessSample;
use crate::result::RunResult;

/// Keeps the first `timeline_keep` requests of every run's timeline and folds every process
/// series to at most `samples_keep` points (0 drops it).
pub fn slim(result: &mut RunResult, timeline_keep: usize, samples_keep: usize) {
    for run in &mut result.runs {
        run.timeline.truncate(timeline_keep);
        if samples_keep == 0 {
            run.process.samples.clear();
        } else if run.process.samples.len() > samples_keep {
            run.process.samples = fold_samples(&run.process.samples, samples_keep);
        }
    }
}

/// Folds a process series to at most `keep` points, each the maximum of the consecutive points
/// it replaces (so peaks stay), stamped with the last one's time.
pub fn fold_samples(samples: &[ProcessSample], keep: usize) -> Vec<ProcessSample> {
    let per = samples.len().div_ceil(keep.max(1)).max(1);
    samples
        .chunks(per)
        .filter_map(|c| {
            Some(ProcessSample {
                t_s: c.last()?.t_s,
                variant_threads: c.iter().map(|s| s.variant_threads).max()?,
                process_threads: c.iter().map(|s| s.process_threads).max()?,
                rss_bytes: c.iter().map(|s| s.rss_bytes).max()?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_keeps_peaks_and_the_length_bound() {
        let mut samples: Vec<ProcessSample> = (0..1000)
            .map(|i| ProcessSample {
                t_s: i as f64,
                variant_threads: 1,
                process_threads: 5,
                rss_bytes: 100,
            })
            .collect();
        samples[777].variant_threads = 99;
        samples[3].rss_bytes = 7_000;
        let folded = fold_samples(&samples, 400);
        assert!(folded.len() <= 400 && folded.len() >= 200);
        assert_eq!(folded.iter().map(|s| s.variant_threads).max(), Some(99));
        assert_eq!(folded.iter().map(|s| s.rss_bytes).max(), Some(7_000));
        assert_eq!(folded.last().map(|s| s.t_s), Some(999.0));
        assert_eq!(fold_samples(&samples[..10], 400).len(), 10);
    }

    #[test]
    fn nothing_kept_means_cleared() {
        let mut result: RunResult =
            serde_json::from_str(include_str!("../../tests/fixtures/report/result.json"))
                .expect("the report fixture parses");
        assert!(result.runs.iter().any(|r| !r.timeline.is_empty()));
        let histograms: Vec<usize> = result.runs.iter().map(|r| r.histograms.len()).collect();
        slim(&mut result, 0, 0);
        assert!(result.runs.iter().all(|r| r.timeline.is_empty()));
        assert!(result.runs.iter().all(|r| r.process.samples.is_empty()));
        let after: Vec<usize> = result.runs.iter().map(|r| r.histograms.len()).collect();
        assert_eq!(after, histograms);
    }
}
