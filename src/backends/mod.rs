//! The services a run talks to: embedded mocks (started in-process on free ports), external
//! ragperf mocks or other services (`--qdrant-url`/`--bedrock-url`), or none (a `--target` run
//! whose server uses backends ragperf does not see).
//!
//! One type answers the questions every run asks between variants: where are they, what did the
//! mocks inject (their `/__ragperf/stats`), and how much CPU did an external mock process spend.
//! Every HTTP call here has a timeout, so a backend that accepts connections and never answers
//! cannot hang a run, and none of them delays a Ctrl-C/SIGTERM: after the signal they are
//! abandoned (an external mock's figures are then missing, never invented).
//!
//! `run`, `streams` and `--target` use the one [`Backend`] type; [`stats`] talks to a mock's
//! `/__ragperf/stats` route, [`probe`] checks external backends before the load, and
//! [`process`] holds what a load generator does to its own process (open-files limit, heap
//! trim between variants).

pub(crate) mod probe;
pub(crate) mod process;
pub(crate) mod stats;

pub use process::{raise_fd_limit, release_freed_memory};
pub use stats::{STATS_TIMEOUT, fetch_mock_stats, reset_mock_stats};

use std::time::Duration;

use anyhow::{Context, Result};
use mock_services::stats::StatsSnapshot;
use mock_services::{Bind, MockConfig, MockServices, OwnedMockServices};

/// The backends of a whole run.
pub enum Backend {
    /// In-process mocks, owned by the run.
    Embedded(OwnedMockServices),
    /// Services at these base URLs (ragperf mocks answer the stats route; others don't).
    External {
        /// Qdrant base URL (None when only Bedrock is used: `streams`).
        qdrant: Option<String>,
        /// Bedrock Runtime base URL.
        bedrock: String,
    },
    /// No backends known to ragperf (a target whose services are its own business).
    Unknown,
}

impl Backend {
    /// Starts embedded mocks with `config` on free loopback ports.
    pub fn embedded(config: MockConfig, threads: usize) -> Result<Backend> {
        Ok(Backend::Embedded(
            MockServices::start_on_own_runtime(config, Bind::default(), threads)
                .context("starting the embedded mock services")?,
        ))
    }

    /// `embedded`, `external` or `none` (result.json's `backends.mode`).
    pub fn mode(&self) -> &'static str {
        match self {
            Backend::Embedded(_) => "embedded",
            Backend::External { .. } => "external",
            Backend::Unknown => "none",
        }
    }

    /// Qdrant and Bedrock base URLs (empty when unknown).
    pub fn urls(&self) -> (String, String) {
        match self {
            Backend::Embedded(m) => (m.qdrant_url(), m.bedrock_url()),
            Backend::External { qdrant, bedrock } => {
                (qdrant.clone().unwrap_or_default(), bedrock.clone())
            }
            Backend::Unknown => (String::new(), String::new()),
        }
    }

    /// Zeroes the mocks' statistics (best effort for external services).
    pub fn reset_stats(&self) {
        match self {
            Backend::Embedded(m) => m.stats().reset(),
            Backend::External { qdrant, bedrock } => {
                for base in qdrant.iter().chain(std::iter::once(bedrock)) {
                    let base = base.clone();
                    crate::interrupt::unless_stopped(move || reset_mock_stats(&base));
                }
            }
            Backend::Unknown => {}
        }
    }

    /// CPU seconds of an external mock process so far (None when embedded or unknown).
    pub fn external_cpu_s(&self) -> Option<f64> {
        match self {
            Backend::External { .. } => self.stats().map(|s| s.process_cpu_s),
            _ => None,
        }
    }

    /// The mocks' statistics (one snapshot covers both servers in-process; external mocks
    /// started by `ragperf mock` share one state too, so either URL answers for both).
    pub fn stats(&self) -> Option<StatsSnapshot> {
        match self {
            Backend::Embedded(m) => Some(m.stats().snapshot()),
            Backend::External { bedrock, .. } => {
                let base = bedrock.clone();
                crate::interrupt::unless_stopped(move || fetch_mock_stats(&base)).flatten()
            }
            Backend::Unknown => None,
        }
    }

    /// Stops embedded mocks (external ones are not ours to stop).
    pub fn shutdown(self, grace: Duration) {
        if let Backend::Embedded(m) = self {
            m.shutdown(grace);
        }
    }
}
