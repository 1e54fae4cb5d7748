//! Mock Qdrant REST (placeholder while the store is being written).
use std::sync::Arc;

use axum::Router;

use crate::config::QdrantConfig;
use crate::server::MockState;

/// The collections.
#[derive(Debug, Default)]
pub struct Store {}

impl Store {
    /// Builds the store with the demo collection preloaded.
    pub fn with_demo_corpus(_config: &QdrantConfig) -> Self {
        Store {}
    }
}

/// The Qdrant routes.
pub fn router() -> Router<Arc<MockState>> {
    Router::new()
}
