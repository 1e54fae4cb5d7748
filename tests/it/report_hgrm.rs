//! The `.hgrm` files: HdrHistogram's `outputPercentileDistribution` text format, parsed back
//! and checked against the histogram's own percentiles, and one file per histogram per run.

use crate::report_common;

use hdrhistogram::Histogram;
use ragperf::export::Exporter;
use ragperf::export::hgrm::{HgrmExporter, file_name, percentile_distribution};
use ragperf::result::histograms::decode;
use report_common::fixture;

/// One data line: value (ms), percentile, total count, 1/(1-p) (absent on the last line).
type Line = (f64, f64, u64, Option<f64>);

fn parse(text: &str) -> (Vec<Line>, Vec<String>) {
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("       Value     Percentile TotalCount 1/(1-Percentile)")
    );
    assert_eq!(lines.next(), Some(""));
    let mut data = Vec::new();
    let mut footer = Vec::new();
    for line in lines {
        if line.starts_with("#[") {
            footer.push(line.to_string());
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        assert!(f.len() == 3 || f.len() == 4, "{line}");
        data.push((
            f[0].parse().expect("value"),
            f[1].parse().expect("percentile"),
            f[2].parse().expect("count"),
            f.get(3).map(|v| v.parse().expect("1/(1-p)")),
        ));
    }
    (data, footer)
}

fn footer_number(line: &str, key: &str) -> f64 {
    let rest = &line[line.find(key).expect(key) + key.len()..];
    let rest = rest.trim_start_matches([' ', '=']);
    let end = rest.find([',', ']']).expect("a number ends");
    rest[..end].trim().parse().expect("a number")
}

fn check(h: &Histogram<u64>, text: &str) {
    let (data, footer) = parse(text);
    assert!(data.len() >= 2, "{text}");
    let mut last_count = 0;
    let mut last_p = -1.0;
    for (value, p, count, inverse) in &data {
        assert!(*p >= last_p && *count >= last_count, "monotone: {text}");
        last_p = *p;
        last_count = *count;
        // Every value is the histogram's own value at that percentile, in ms with µs digits.
        // The printed percentile is rounded to 12 digits and the iterator's ticks are sums of
        // floats (0.75 may be 0.7500000000000001), so the value is the one at p or just above.
        let at = |q: f64| h.value_at_quantile(q.clamp(0.0, 1.0)) as f64 / 1000.0;
        let (low, high) = (at(p - 1e-9), at(p + 1e-9));
        assert!(
            *value >= low - 0.0015 && *value <= high + 0.0015,
            "value at {p}: {value} not in [{low}, {high}]"
        );
        match inverse {
            Some(inv) => assert!((inv - 1.0 / (1.0 - p)).abs() < 0.006, "{inv} at {p}"),
            None => assert_eq!(*p, 1.0, "only the 100% line has no 1/(1-p)"),
        }
    }
    let (max, p, count, _) = data[data.len() - 1];
    assert_eq!(p, 1.0);
    assert_eq!(count, h.len());
    assert!((max - h.max() as f64 / 1000.0).abs() < 0.0015);
    assert_eq!(footer.len(), 3, "{footer:?}");
    assert!(footer[0].starts_with("#[Mean    = "));
    assert!((footer_number(&footer[0], "Mean") - h.mean() / 1000.0).abs() < 0.0015);
    assert!((footer_number(&footer[0], "StdDeviation") - h.stdev() / 1000.0).abs() < 0.0015);
    assert!(footer[1].starts_with("#[Max     = "));
    assert_eq!(footer_number(&footer[1], "Total count") as u64, h.len());
    assert!(footer[2].starts_with("#[Buckets = "));
    assert_eq!(footer_number(&footer[2], "SubBuckets"), 2048.0);
}

#[test]
fn every_histogram_round_trips_through_its_hgrm_text() {
    let result = fixture();
    let mut checked = 0;
    for run in &result.runs {
        for metric in run.histograms.keys() {
            let h = decode(run, metric).expect("the fixture's histograms decode");
            if h.is_empty() {
                continue;
            }
            check(&h, &percentile_distribution(&h));
            checked += 1;
        }
    }
    assert!(checked >= 20, "checked {checked}");
}

#[test]
fn the_median_line_is_the_stored_p50() {
    let result = fixture();
    let run = &result.runs[0];
    let h = decode(run, "e2e").expect("decodes");
    let (data, _) = parse(&percentile_distribution(&h));
    let median = data
        .iter()
        .find(|l| l.1 == 0.5)
        .expect("a 50% line (5 ticks per half distance)");
    assert!((median.0 - run.latency_ms["e2e"].p50).abs() < 0.0015);
}

#[test]
fn one_file_per_histogram_per_run() {
    let result = fixture();
    let files = HgrmExporter.files(&result).expect("renders");
    assert_eq!(files[0].path, "hgrm/README.txt");
    let mut expected = 0;
    for run in &result.runs {
        for metric in run.histograms.keys() {
            if decode(run, metric).map(|h| h.is_empty()).unwrap_or(true) {
                continue;
            }
            expected += 1;
            let path = format!("hgrm/{}", file_name(run, metric, false));
            assert!(files.iter().any(|f| f.path == path), "{path}");
        }
    }
    assert_eq!(files.len(), expected + 1);
    assert!(files.iter().any(|f| f.path == "hgrm/sync_c2_e2e.hgrm"));
}
