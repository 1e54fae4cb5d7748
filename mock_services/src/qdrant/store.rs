//! The in-memory store: named collections behind locks, and the requests the REST layer and the
//! benches describe searches, pages and deletions with.
//!
//! Locking: the collection map sits behind one `RwLock` (taken briefly to find a collection) and
//! each collection behind its own, so a search holds a read lock on its collection only while it
//! computes, and writers to other collections never block it. Locks are never held across an
//! `.await` (the handlers sleep the injected latency after the operation has returned).

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use serde_json::Value;

use super::collection::Collection;
use super::filter::Filter;
use super::ids::PointId;
use super::info::{CollectionSpec, PayloadIndex};
use super::model::{PointInput, Record, ScoredPoint, ScrollPage, WithPayload, WithVector};

/// Why a store operation failed; `Display` is Qdrant's own message for the case.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum StoreError {
    /// 404.
    #[error("Not found: Collection `{0}` doesn't exist!")]
    CollectionNotFound(String),
    /// 409.
    #[error("Wrong input: Collection `{0}` already exists!")]
    AlreadyExists(String),
    /// 404.
    #[error("Not found: No point with id {0} found")]
    PointNotFound(PointId),
    /// 400 (wrong dimension, unknown vector name, unsupported form…).
    #[error("Wrong input: {0}")]
    BadInput(String),
}

impl StoreError {
    /// The HTTP status Qdrant answers with.
    pub fn status(&self) -> u16 {
        match self {
            StoreError::CollectionNotFound(_) | StoreError::PointNotFound(_) => 404,
            StoreError::AlreadyExists(_) => 409,
            StoreError::BadInput(_) => 400,
        }
    }
}

/// What a search is near.
#[derive(Clone, Debug, PartialEq)]
pub enum Query {
    /// A dense vector.
    Vector(Vec<f32>),
    /// The vector of a stored point (that point is left out of the results).
    Point(PointId),
    /// No query: points in id order, score 0 (Qdrant's `query` without `query`).
    None,
}

/// One search, as the REST layer and the benches describe it.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchRequest {
    /// What to search near.
    pub query: Query,
    /// Vector space: `None` or `""` for the unnamed one.
    pub using: Option<String>,
    /// Payload filter.
    pub filter: Option<Filter>,
    /// Maximum number of results.
    pub limit: usize,
    /// Results to skip first.
    pub offset: usize,
    /// Drop results worse than this score (Cosine/Dot: lower; Euclid/Manhattan: higher).
    pub score_threshold: Option<f32>,
    /// Payload selection.
    pub with_payload: WithPayload,
    /// Vector selection.
    pub with_vector: WithVector,
}

impl SearchRequest {
    /// The `limit` nearest points to `vector` in the unnamed space, with their whole payload.
    pub fn nearest(vector: Vec<f32>, limit: usize) -> Self {
        SearchRequest {
            query: Query::Vector(vector),
            using: None,
            filter: None,
            limit,
            offset: 0,
            score_threshold: None,
            with_payload: WithPayload::All,
            with_vector: WithVector::None,
        }
    }
}

/// One page of points in id order.
#[derive(Clone, Debug, PartialEq)]
pub struct ScrollRequest {
    /// First id of the page (inclusive); `None` from the start.
    pub offset: Option<PointId>,
    /// Page size.
    pub limit: usize,
    /// Payload filter.
    pub filter: Option<Filter>,
    /// Payload selection.
    pub with_payload: WithPayload,
    /// Vector selection.
    pub with_vector: WithVector,
}

/// Which points a delete removes.
#[derive(Clone, Debug, PartialEq)]
pub enum PointSelector {
    /// These ids (missing ones are ignored).
    Ids(Vec<PointId>),
    /// Every point matching the filter.
    Filter(Filter),
}

#[derive(Debug, Default)]
pub struct Store {
    collections: RwLock<BTreeMap<String, Arc<RwLock<Collection>>>>,
}

// A poisoned lock means a panic happened mid-operation elsewhere; the data is still usable for a
// mock, so keep serving instead of failing every later request.
fn rd<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|p| p.into_inner())
}

fn wr<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|p| p.into_inner())
}

impl Store {
    /// An empty store.
    pub fn new() -> Self {
        Store::default()
    }

    fn get(&self, name: &str) -> Result<Arc<RwLock<Collection>>, StoreError> {
        rd(&self.collections)
            .get(name)
            .cloned()
            .ok_or_else(|| StoreError::CollectionNotFound(name.to_string()))
    }

    fn read<T>(&self, name: &str, f: impl FnOnce(&Collection) -> T) -> Result<T, StoreError> {
        let c = self.get(name)?;
        let guard = rd(&c);
        Ok(f(&guard))
    }

    fn write<T>(&self, name: &str, f: impl FnOnce(&mut Collection) -> T) -> Result<T, StoreError> {
        let c = self.get(name)?;
        let mut guard = wr(&c);
        Ok(f(&mut guard))
    }

    /// Creates a collection; `AlreadyExists` if the name is taken.
    pub fn create_collection(&self, name: &str, spec: CollectionSpec) -> Result<(), StoreError> {
        let collection = Collection::new(spec)?;
        let mut map = wr(&self.collections);
        if map.contains_key(name) {
            return Err(StoreError::AlreadyExists(name.to_string()));
        }
        map.insert(name.to_string(), Arc::new(RwLock::new(collection)));
        Ok(())
    }

    /// Drops a collection; `false` if there was none.
    pub fn delete_collection(&self, name: &str) -> bool {
        wr(&self.collections).remove(name).is_some()
    }

    /// Collection names, sorted.
    pub fn collection_names(&self) -> Vec<String> {
        rd(&self.collections).keys().cloned().collect()
    }

    /// Does the collection exist?
    pub fn exists(&self, name: &str) -> bool {
        rd(&self.collections).contains_key(name)
    }

    /// Number of points in a collection.
    pub fn point_count(&self, name: &str) -> Result<usize, StoreError> {
        self.read(name, Collection::len)
    }

    /// Qdrant's `CollectionInfo` as JSON.
    pub fn collection_info(&self, name: &str) -> Result<Value, StoreError> {
        self.read(name, Collection::info)
    }

    /// Inserts or replaces points (atomically: one bad point rejects the batch). Returns the
    /// operation id.
    pub fn upsert(&self, name: &str, points: Vec<PointInput>) -> Result<u64, StoreError> {
        self.write(name, |c| c.upsert(points))?
    }

    /// Deletes points. Returns the operation id.
    pub fn delete_points(&self, name: &str, selector: &PointSelector) -> Result<u64, StoreError> {
        self.write(name, |c| c.delete(selector))
    }

    /// Records a payload index (filters work without one; it shows in `payload_schema`).
    pub fn create_payload_index(
        &self,
        name: &str,
        field: &str,
        index: PayloadIndex,
    ) -> Result<u64, StoreError> {
        self.write(name, |c| c.create_index(field, index))
    }

    /// Forgets a payload index.
    pub fn delete_payload_index(&self, name: &str, field: &str) -> Result<u64, StoreError> {
        self.write(name, |c| c.delete_index(field))
    }

    /// Exact nearest-neighbour search.
    pub fn search(&self, name: &str, req: &SearchRequest) -> Result<Vec<ScoredPoint>, StoreError> {
        self.read(name, |c| c.search(req))?
    }

    /// Several searches under one read lock.
    pub fn search_batch(
        &self,
        name: &str,
        reqs: &[SearchRequest],
    ) -> Result<Vec<Vec<ScoredPoint>>, StoreError> {
        self.read(name, |c| reqs.iter().map(|r| c.search(r)).collect())?
    }

    /// One page of points in id order.
    pub fn scroll(&self, name: &str, req: &ScrollRequest) -> Result<ScrollPage, StoreError> {
        self.read(name, |c| c.scroll(req))
    }

    /// Number of points matching the filter (all points without one).
    pub fn count(&self, name: &str, filter: Option<&Filter>) -> Result<usize, StoreError> {
        self.read(name, |c| c.count(filter))
    }

    /// The points with these ids, in the order asked (missing ids are skipped).
    pub fn retrieve(
        &self,
        name: &str,
        ids: &[PointId],
        with_payload: &WithPayload,
        with_vector: &WithVector,
    ) -> Result<Vec<Record>, StoreError> {
        self.read(name, |c| c.retrieve(ids, with_payload, with_vector))
    }
}
