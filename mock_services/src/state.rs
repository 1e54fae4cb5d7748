//! [`MockState`]: what every handler of both mocks shares (the validated config, statistics,
//! fault injectors, the Qdrant store, the token clock, the request RNGs). Its own module, so
//! the handlers and the server that mounts them both depend on it and not on each other.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::config::{ConfigError, MockConfig};
use crate::embedding::fnv1a;
use crate::faults::FaultInjector;
use crate::stats::{MockStats, Operation};

/// State shared by every handler of both mocks.
#[derive(Debug)]
pub struct MockState {
    /// The model as configured (validated).
    pub config: MockConfig,
    /// What the mocks did.
    pub stats: Arc<MockStats>,
    /// Faults of Bedrock `InvokeModel`.
    pub embed_faults: FaultInjector,
    /// Faults of Bedrock `Converse`.
    pub converse_faults: FaultInjector,
    /// Faults of Bedrock `ConverseStream`.
    pub stream_faults: FaultInjector,
    /// Faults of every Qdrant operation.
    pub qdrant_faults: FaultInjector,
    /// The Qdrant collections.
    pub qdrant: crate::qdrant::Store,
    /// Wakes streams at their token deadlines (sub-millisecond; see [`crate::clock`]).
    pub clock: crate::clock::TokenClock,
    sequence: AtomicU64,
}

impl MockState {
    /// Builds the state: validates the config and preloads the demo collection.
    pub fn new(config: MockConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let f = &config.faults;
        Ok(MockState {
            embed_faults: FaultInjector::new(f.embed.clone(), false),
            converse_faults: FaultInjector::new(f.converse.clone(), false),
            stream_faults: FaultInjector::new(f.converse_stream.clone(), true),
            qdrant_faults: FaultInjector::new(f.qdrant.clone(), false),
            qdrant: crate::qdrant::Store::with_demo_corpus(&config.qdrant),
            stats: Arc::new(MockStats::with_settings(config.clone())),
            clock: crate::clock::TokenClock::new(),
            sequence: AtomicU64::new(0),
            config,
        })
    }

    /// A fresh RNG for one request of `op`: seeded by the config's seed, the operation and a
    /// per-process request sequence, so a run with the same seed and arrival order repeats.
    pub fn request_rng(&self, op: Operation) -> StdRng {
        let n = self.sequence.fetch_add(1, Ordering::Relaxed);
        let mut key = [0u8; 24];
        key[..8].copy_from_slice(&self.config.seed.to_le_bytes());
        key[8..16].copy_from_slice(&(op as u64).to_le_bytes());
        key[16..].copy_from_slice(&n.to_le_bytes());
        StdRng::seed_from_u64(fnv1a(&key))
    }

    /// An RNG that depends only on the seed and `content` (e.g. the prompt), for answers that are
    /// the same every time the same prompt is sent.
    pub fn content_rng(&self, content: &[u8]) -> StdRng {
        StdRng::seed_from_u64(fnv1a(content) ^ self.config.seed.rotate_left(17))
    }

    /// The configured time scale.
    pub fn time_scale(&self) -> f64 {
        self.config.time_scale
    }
}
