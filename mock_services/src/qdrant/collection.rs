//! One collection: points as dense rows (id, version, payload) and one flat row-major vector
//! matrix per vector space, with the operations on them (upsert, delete, exact search, scroll).
//!
//! Rows are dense (`0..len`): a deleted point's row is filled by the last one (swap-remove), so a
//! search is always one pass over contiguous memory. A `BTreeMap` from id to row gives lookups
//! and the id order that `scroll` pages in. Locking is the caller's ([`super::store::Store`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::filter::{Filter, values_at};
use super::ids::PointId;
use super::info::{CollectionSpec, PayloadIndex, collection_info};
use super::model::{
    Distance, PointInput, Record, ScoredPoint, ScrollPage, VectorInput, VectorOutput, VectorParams,
    VectorValue, VectorsConfig, WithPayload, WithVector,
};
use super::search::{exact_top_k, normalize, threshold_similarity, to_score};
use super::store::{PointSelector, Query, ScrollRequest, SearchRequest, StoreError};

#[derive(Debug)]
struct Space {
    name: String,
    params: VectorParams,
    /// Row-major, `rows × params.size`.
    data: Vec<f32>,
    present: Vec<bool>,
}

impl Space {
    fn row(&self, row: usize) -> &[f32] {
        &self.data[row * self.params.size..(row + 1) * self.params.size]
    }
}

/// One collection.
/// One collection (see the module doc).
#[derive(Debug)]
pub struct Collection {
    spec: CollectionSpec,
    spaces: Vec<Space>,
    ids: Vec<PointId>,
    versions: Vec<u64>,
    payloads: Vec<Arc<Map<String, Value>>>,
    index: BTreeMap<PointId, usize>,
    payload_schema: BTreeMap<String, PayloadIndex>,
    next_op: u64,
}

fn dim_error(expected: usize, got: usize) -> StoreError {
    StoreError::BadInput(format!(
        "Vector dimension error: expected dim: {expected}, got {got}"
    ))
}

fn name_error(name: &str) -> StoreError {
    StoreError::BadInput(format!("Not existing vector name error: {name}"))
}

impl Collection {
    /// An empty collection with the spec's vector spaces.
    pub(super) fn new(spec: CollectionSpec) -> Result<Self, StoreError> {
        let spaces = spec
            .vectors
            .as_ref()
            .map(VectorsConfig::spaces)
            .unwrap_or_default();
        if let Some((name, p)) = spaces.iter().find(|(_, p)| p.size == 0) {
            return Err(StoreError::BadInput(format!(
                "vector size of `{name}` must be at least 1, got {}",
                p.size
            )));
        }
        if let Some((name, _)) = spaces.iter().find(|(_, p)| {
            p.extra
                .get("multivector_config")
                .is_some_and(|v| !v.is_null())
        }) {
            return Err(StoreError::BadInput(format!(
                "multivector_config (vector `{name}`) is not supported by the ragperf mock"
            )));
        }
        Ok(Collection {
            spaces: spaces
                .into_iter()
                .map(|(name, params)| Space {
                    name,
                    params,
                    data: Vec::new(),
                    present: Vec::new(),
                })
                .collect(),
            spec,
            ids: Vec::new(),
            versions: Vec::new(),
            payloads: Vec::new(),
            index: BTreeMap::new(),
            payload_schema: BTreeMap::new(),
            next_op: 0,
        })
    }

    fn space(&self, name: &str) -> Result<usize, StoreError> {
        self.spaces
            .iter()
            .position(|s| s.name == name)
            .ok_or_else(|| name_error(name))
    }

    fn take_op(&mut self) -> u64 {
        let op = self.next_op;
        self.next_op += 1;
        op
    }

    /// Checks a point's vectors and returns them per space (normalised for Cosine).
    fn resolve(&self, input: &VectorInput) -> Result<Vec<Option<Vec<f32>>>, StoreError> {
        let mut out: Vec<Option<Vec<f32>>> = vec![None; self.spaces.len()];
        let single;
        let named: &[(String, VectorValue)] = match input {
            VectorInput::Single(v) => {
                single = [(String::new(), v.clone())];
                &single
            }
            VectorInput::Named(list) => list,
        };
        for (name, value) in named {
            let si = self.space(name)?;
            let params = &self.spaces[si].params;
            let mut v = match value {
                VectorValue::Dense(v) => v.clone(),
                VectorValue::Unsupported(kind) => {
                    return Err(StoreError::BadInput(format!(
                        "{kind} are not supported by the ragperf mock (vector `{name}`): send dense vectors"
                    )));
                }
            };
            if v.len() != params.size {
                return Err(dim_error(params.size, v.len()));
            }
            if params.distance == Distance::Cosine {
                normalize(&mut v);
            }
            out[si] = Some(v);
        }
        Ok(out)
    }

    pub(super) fn upsert(&mut self, points: Vec<PointInput>) -> Result<u64, StoreError> {
        // Validate the whole batch first: a bad point rejects the request and changes nothing.
        let resolved = points
            .iter()
            .map(|p| self.resolve(&p.vector))
            .collect::<Result<Vec<_>, _>>()?;
        let op = self.take_op();
        for (p, vectors) in points.into_iter().zip(resolved) {
            let row = match self.index.get(&p.id) {
                Some(&row) => row,
                None => {
                    let row = self.ids.len();
                    self.ids.push(p.id);
                    self.versions.push(op);
                    self.payloads.push(Arc::default());
                    for s in &mut self.spaces {
                        s.data.resize(s.data.len() + s.params.size, 0.0);
                        s.present.push(false);
                    }
                    self.index.insert(p.id, row);
                    row
                }
            };
            self.versions[row] = op;
            self.payloads[row] = Arc::new(p.payload.unwrap_or_default());
            for (s, v) in self.spaces.iter_mut().zip(vectors) {
                let dim = s.params.size;
                let slot = &mut s.data[row * dim..(row + 1) * dim];
                match v {
                    Some(v) => {
                        slot.copy_from_slice(&v);
                        s.present[row] = true;
                    }
                    None => {
                        slot.fill(0.0);
                        s.present[row] = false;
                    }
                }
            }
        }
        Ok(op)
    }

    fn remove_row(&mut self, row: usize) {
        let last = self.ids.len() - 1;
        self.index.remove(&self.ids[row]);
        self.ids.swap_remove(row);
        self.versions.swap_remove(row);
        self.payloads.swap_remove(row);
        for s in &mut self.spaces {
            let dim = s.params.size;
            if row != last {
                s.data.copy_within(last * dim..(last + 1) * dim, row * dim);
            }
            s.data.truncate(last * dim);
            s.present.swap_remove(row);
        }
        if row != last {
            self.index.insert(self.ids[row], row);
        }
    }

    pub(super) fn delete(&mut self, selector: &PointSelector) -> u64 {
        let doomed: Vec<PointId> = match selector {
            PointSelector::Ids(ids) => ids.clone(),
            PointSelector::Filter(f) => self
                .ids
                .iter()
                .zip(&self.payloads)
                .filter(|(id, p)| f.matches(id, p))
                .map(|(id, _)| *id)
                .collect(),
        };
        for id in doomed {
            if let Some(&row) = self.index.get(&id) {
                self.remove_row(row);
            }
        }
        self.take_op()
    }

    fn vectors_of(&self, row: usize, with: &WithVector) -> Option<VectorOutput> {
        if *with == WithVector::None {
            return None;
        }
        match self.spec.vectors {
            Some(VectorsConfig::Single(_)) => {
                let s = &self.spaces[0];
                let wanted = with.wants("") && s.present[row];
                wanted.then(|| VectorOutput::Single(s.row(row).to_vec()))
            }
            _ => Some(VectorOutput::Named(
                self.spaces
                    .iter()
                    .filter(|s| with.wants(&s.name) && s.present[row])
                    .map(|s| (s.name.clone(), s.row(row).to_vec()))
                    .collect(),
            )),
        }
    }

    fn passes(&self, filter: Option<&Filter>, row: usize) -> bool {
        filter.is_none_or(|f| f.matches(&self.ids[row], &self.payloads[row]))
    }

    pub(super) fn search(&self, req: &SearchRequest) -> Result<Vec<ScoredPoint>, StoreError> {
        let filter = req.filter.as_ref().filter(|f| !f.is_empty());
        let (mut query, exclude, si) = match &req.query {
            Query::None => {
                return Ok(self
                    .index
                    .values()
                    .filter(|&&row| self.passes(filter, row))
                    .skip(req.offset)
                    .take(req.limit)
                    .map(|&row| self.scored(row, 0.0, req))
                    .collect());
            }
            Query::Vector(v) => {
                let si = self.space(req.using.as_deref().unwrap_or(""))?;
                let dim = self.spaces[si].params.size;
                if v.len() != dim {
                    return Err(dim_error(dim, v.len()));
                }
                (v.clone(), None, si)
            }
            Query::Point(id) => {
                let name = req.using.as_deref().unwrap_or("");
                let si = self.space(name)?;
                let row = *self.index.get(id).ok_or(StoreError::PointNotFound(*id))?;
                if !self.spaces[si].present[row] {
                    return Err(StoreError::BadInput(format!(
                        "point {id} has no vector `{name}` to search with"
                    )));
                }
                (self.spaces[si].row(row).to_vec(), Some(row), si)
            }
        };
        let space = &self.spaces[si];
        let distance = space.params.distance;
        if distance == Distance::Cosine {
            normalize(&mut query);
        }
        let hits = exact_top_k(
            distance,
            &query,
            &space.data,
            &self.ids,
            req.limit.saturating_add(req.offset),
            req.score_threshold
                .map(|t| threshold_similarity(distance, t)),
            |row| space.present[row] && Some(row) != exclude && self.passes(filter, row),
        );
        Ok(hits
            .into_iter()
            .skip(req.offset)
            .map(|h| self.scored(h.row, to_score(distance, h.similarity), req))
            .collect())
    }

    fn scored(&self, row: usize, score: f32, req: &SearchRequest) -> ScoredPoint {
        ScoredPoint {
            id: self.ids[row],
            version: self.versions[row],
            score,
            payload: req.with_payload.select(&self.payloads[row]),
            vector: self.vectors_of(row, &req.with_vector),
        }
    }

    fn record(&self, row: usize, wp: &WithPayload, wv: &WithVector) -> Record {
        Record {
            id: self.ids[row],
            payload: wp.select(&self.payloads[row]),
            vector: self.vectors_of(row, wv),
        }
    }

    pub(super) fn scroll(&self, req: &ScrollRequest) -> ScrollPage {
        let filter = req.filter.as_ref().filter(|f| !f.is_empty());
        let start = req.offset.unwrap_or(PointId::Num(0));
        let mut rows = self
            .index
            .range(start..)
            .map(|(_, &row)| row)
            .filter(|&row| self.passes(filter, row));
        let points = rows
            .by_ref()
            .take(req.limit)
            .map(|row| self.record(row, &req.with_payload, &req.with_vector))
            .collect();
        ScrollPage {
            points,
            next_page_offset: rows.next().map(|row| self.ids[row]),
        }
    }

    /// Number of points.
    pub(super) fn len(&self) -> usize {
        self.ids.len()
    }

    /// Qdrant's `CollectionInfo`.
    pub(super) fn info(&self) -> Value {
        collection_info(&self.spec, self.ids.len(), &self.payload_schema, |field| {
            self.payloads
                .iter()
                .filter(|p| !values_at(p, field).is_empty())
                .count()
        })
    }

    /// Records a payload index; returns the operation id.
    pub(super) fn create_index(&mut self, field: &str, index: PayloadIndex) -> u64 {
        self.payload_schema.insert(field.to_string(), index);
        self.take_op()
    }

    /// Forgets a payload index; returns the operation id.
    pub(super) fn delete_index(&mut self, field: &str) -> u64 {
        self.payload_schema.remove(field);
        self.take_op()
    }

    /// Points matching the filter (all without one).
    pub(super) fn count(&self, filter: Option<&Filter>) -> usize {
        match filter.filter(|f| !f.is_empty()) {
            None => self.ids.len(),
            f => (0..self.ids.len()).filter(|&r| self.passes(f, r)).count(),
        }
    }

    /// The points with these ids, in the order asked (missing ids are skipped).
    pub(super) fn retrieve(
        &self,
        ids: &[PointId],
        wp: &WithPayload,
        wv: &WithVector,
    ) -> Vec<Record> {
        ids.iter()
            .filter_map(|id| self.index.get(id))
            .map(|&row| self.record(row, wp, wv))
            .collect()
    }
}
