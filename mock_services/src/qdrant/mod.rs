//! Mock Qdrant: a real in-memory vector store behind Qdrant's REST API, faithful enough that the
//! unmodified python `qdrant-client` and LlamaIndex's `QdrantVectorStore` work against it
//! (docs/wire-facts.md §B), preloaded with a demo corpus.
//!
//! Layout:
//! - [`store`]: the collections behind locks ([`Store`]) and the search/scroll requests.
//! - [`collection`]: one collection's points and vectors, and the operations on them.
//! - [`search`]: distance kernels, Qdrant's score conventions, top-k selection.
//! - [`filter`]: payload filters.
//! - [`model`] and [`ids`]: the JSON shapes of vectors, selectors, points and ids.
//! - [`info`]: collection configuration and `CollectionInfo`.
//! - [`corpus`]: the deterministic demo passages, in LlamaIndex's payload layout.
//! - [`requests`], [`http`], [`api`]: request bodies, envelope/errors/latency, handlers.
//!
//! Latency and faults: searches wait `qdrant.search_ms`, everything else `qdrant.other_ms`
//! (times `time_scale`, times the slow-fault multiplier), slept after the store's locks are
//! released; `faults.qdrant` injects 429 (with `Retry-After`), 500, 503 and slow answers.

pub mod api;
pub mod collection;
pub mod corpus;
pub mod filter;
pub mod http;
pub mod ids;
pub mod info;
pub mod model;
pub mod requests;
pub mod search;
pub mod store;

#[cfg(test)]
mod filter_tests;
#[cfg(test)]
mod store_tests;

pub use api::{QDRANT_VERSION, router};
pub use collection::MAX_VECTOR_SIZE;
pub use corpus::{Passage, passage, passage_text};
pub use filter::Filter;
pub use ids::PointId;
pub use info::CollectionSpec;
pub use model::{
    Distance, PointInput, Record, ScoredPoint, VectorInput, VectorParams, VectorValue, WithPayload,
    WithVector,
};
pub use store::{PointSelector, Query, ScrollRequest, SearchRequest, Store, StoreError};

impl Store {
    /// A store holding the demo collection: `config.collection`, `config.corpus_size` passages
    /// (ids `1..=corpus_size`), `config.dimensions`-dimensional Cosine vectors, unnamed.
    pub fn with_demo_corpus(config: &crate::config::QdrantConfig) -> Store {
        let store = Store::new();
        store.load_demo_corpus(config);
        store
    }

    /// (Re)creates the demo collection as [`Store::with_demo_corpus`] describes.
    pub fn load_demo_corpus(&self, config: &crate::config::QdrantConfig) {
        self.delete_collection(&config.collection);
        let spec = CollectionSpec::single(config.dimensions.max(1), Distance::Cosine);
        // Neither call can fail: the collection was just dropped and every corpus vector has
        // the collection's dimension. Should that ever change, the store stays empty rather
        // than half-loaded, and the first query reports the missing collection.
        if self.create_collection(&config.collection, spec).is_ok() {
            let points = corpus::demo_points(config.corpus_size, config.dimensions.max(1));
            if self.upsert(&config.collection, points).is_err() {
                self.delete_collection(&config.collection);
            }
        }
    }
}
