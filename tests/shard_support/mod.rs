//! Helpers shared by the shard tests (`tests/shard_merge.rs`, `tests/multihost_netns.rs`).
#![allow(dead_code)]

use std::path::Path;
use std::process::Output;
use std::time::{Duration, SystemTime};

use mock_services::hist::{self, Percentiles};
use serde_json::Value;

/// An RFC 3339 instant `ahead` of now, for `--start-at`.
pub fn start_at(ahead: Duration) -> String {
    humantime::format_rfc3339_seconds(SystemTime::now() + ahead).to_string()
}

/// A JSON file.
pub fn read(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("json")
}

/// A process's stdout then stderr, for assertion messages.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Percentiles of the union of every result's `runs[0].histograms[name]`.
pub fn union_percentiles(results: &[Value], name: &str) -> Percentiles {
    let mut union = hist::new_us();
    for v in results {
        let encoded = v["runs"][0]["histograms"][name]
            .as_str()
            .expect("histogram");
        union
            .add(hist::decode_b64(encoded).expect("decode"))
            .expect("add");
    }
    Percentiles::of_us(&union)
}
