//! The shard flags of `run` and `sweep` (`--shard`, `--shards`, `--start-at`); the shard engine
//! (`crate::shard`) takes them as plain [`ShardFlags`].

use clap::Args;

use crate::shard::ShardFlags;

/// The flags of a sharded run (`run` and `sweep`).
#[derive(Clone, Debug, Args, Default)]
pub struct ShardArgs {
    /// Run shard I of N (I is 0-based: 0/2 and 1/2): this process takes the I-th share of the
    /// users, the rate and --requests; `ragperf merge` adds the shards' results up.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Run one of N shards, its index read from JOB_COMPLETION_INDEX (what a Kubernetes
    /// Indexed Job sets); not with --shard.
    #[arg(long, value_name = "N", env = "RAGPERF_SHARDS")]
    pub shards: Option<String>,
    /// Open the measurement window at this UTC instant, RFC 3339 (e.g. 2026-12-01T22:00:00Z);
    /// the warm-up runs before it. Give every shard the same instant.
    #[arg(long, value_name = "RFC3339")]
    pub start_at: Option<String>,
}

impl ShardArgs {
    /// The flags as plain values for the shard engine.
    pub fn flags(&self) -> ShardFlags {
        ShardFlags {
            shard: self.shard.clone(),
            shards: self.shards.clone(),
            start_at: self.start_at.clone(),
        }
    }
}
