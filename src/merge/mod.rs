//! `ragperf merge SHARD... --out DIR`: one result from the results of `run --shard I/N`.
//!
//! Reading ([`inputs`]) finds the shard files (a result.json, a folder holding one, or a folder
//! of shard folders); [`rules`] refuses what does not belong together (exit 2, naming the file
//! and the field) and finds the missing shards; [`combine`] adds the rest up losslessly:
//! histograms bucket by bucket, counters summed, rates summed over the window common to every
//! shard, the ideal summed and the efficiency recomputed from it. The merged file is an ordinary
//! `result.json`: `report` renders it and `compare` gates on it.

pub(crate) mod combine;
pub(crate) mod inputs;
pub(crate) mod rules;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

use crate::load::DriveOutcome;
use crate::metrics::ideal::Ideal;
use crate::metrics::machine::MachineInfo;
use crate::metrics::process::ProcessFigures;
use crate::metrics::server::ServerFigures;
use crate::result::{Counters, MockSide, Throughput};
use crate::shard::WindowClock;

pub use rules::MergeError;

/// How a merged result came about.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct MergeInfo {
    /// Shards the load was split into.
    pub count: u32,
    /// The shards merged, in index order.
    pub shards: Vec<MergedShard>,
    /// Indices of the shards with no result (merged with `--allow-missing`).
    pub missing: Vec<u32>,
}

/// One shard that went into a merged result.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct MergedShard {
    /// Its 0-based index.
    pub index: u32,
    /// The host that ran it.
    pub host: String,
    /// Its build.
    pub build: String,
    /// The file it was read from.
    pub file: String,
    /// When it started, RFC 3339.
    pub created_at: String,
    /// Its machine.
    pub machine: MachineInfo,
    /// Whether it was itself partial (interrupted or failed).
    pub partial: bool,
}

/// One shard's own figures for one run of a merged result.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ShardPart {
    /// The shard's index.
    pub index: u32,
    /// Its host.
    pub host: String,
    /// Its closed-loop users (its share; 0 in an open loop).
    pub users: usize,
    /// Its open-loop rate, requests/s.
    pub rate: Option<f64>,
    /// Its counters.
    pub counters: Counters,
    /// Its rates over its own window.
    pub throughput: Throughput,
    /// Its ideal and efficiency.
    pub ideal: Ideal,
    /// Its process figures (on its own host).
    pub process: ProcessFigures,
    /// Its driver's view.
    pub drive: DriveOutcome,
    /// The mocks' figures as it saw them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mock: Option<MockSide>,
    /// The target server's figures, when it sampled one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<ServerFigures>,
    /// Its window on the wall clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<WindowClock>,
}

/// One sentence for a report's provenance: which shards, on which hosts, and which are missing.
pub fn provenance(info: &MergeInfo) -> String {
    let hosts: Vec<String> = info
        .shards
        .iter()
        .map(|s| format!("{} on {}", s.index, s.host))
        .collect();
    let mut line = format!(
        "Merged by `ragperf merge` from {} of {} shards ({}); the machine above is shard {}'s.",
        info.shards.len(),
        info.count,
        hosts.join(", "),
        info.shards.first().map_or(0, |s| s.index)
    );
    if !info.missing.is_empty() {
        line.push_str(&format!(
            " **Shard(s) {} MISSING**: every figure covers only the shards present.",
            rules::list(&info.missing)
        ));
    }
    line
}
