//! Exact (brute-force) nearest-neighbour search with Qdrant's score conventions.
//!
//! Internally every distance is turned into a *similarity* where higher is better (Cosine and
//! Dot: the dot product; Euclid: minus the squared distance; Manhattan: minus the L1 distance), so
//! one top-k selection serves all four; [`to_score`] converts back to what Qdrant returns (Euclid
//! and Manhattan as the distance itself, ascending). Cosine vectors are normalised at insert, so
//! a cosine search is a dot product, as in Qdrant.
//!
//! The hot path (1,000+ searches/s sharing two cores with the harness) is one pass over a flat
//! `n × dim` matrix with a bounded heap of `k` candidates: no per-point allocation and no full
//! sort. Ties are broken by the smaller point id so results are deterministic.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use super::ids::PointId;
use super::model::Distance;

/// Dot product. Eight independent accumulators let the compiler vectorise the loop.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    let mut tail = 0.0;
    for (x, y) in ra.iter().zip(rb) {
        tail += x * y;
    }
    acc.iter().sum::<f32>() + tail
}

/// Squared Euclidean distance.
pub fn l2_squared(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            let d = x[i] - y[i];
            acc[i] += d * d;
        }
    }
    let mut tail = 0.0;
    for (x, y) in ra.iter().zip(rb) {
        tail += (x - y) * (x - y);
    }
    acc.iter().sum::<f32>() + tail
}

/// Manhattan (L1) distance.
pub fn l1(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += (x[i] - y[i]).abs();
        }
    }
    let mut tail = 0.0;
    for (x, y) in ra.iter().zip(rb) {
        tail += (x - y).abs();
    }
    acc.iter().sum::<f32>() + tail
}

/// Scales `v` to unit length in place (a zero vector stays zero), as Qdrant does for Cosine.
pub fn normalize(v: &mut [f32]) {
    let norm = dot(v, v).sqrt();
    if norm > f32::EPSILON {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

/// Internal similarity of a (preprocessed) query and a stored vector: higher is closer.
#[inline]
pub fn similarity(distance: Distance, query: &[f32], stored: &[f32]) -> f32 {
    match distance {
        Distance::Cosine | Distance::Dot => dot(query, stored),
        Distance::Euclid => -l2_squared(query, stored),
        Distance::Manhattan => -l1(query, stored),
    }
}

/// The score Qdrant reports for an internal similarity.
pub fn to_score(distance: Distance, similarity: f32) -> f32 {
    match distance {
        Distance::Cosine | Distance::Dot => similarity,
        Distance::Euclid => (-similarity).max(0.0).sqrt(),
        Distance::Manhattan => -similarity,
    }
}

/// The internal similarity a `score_threshold` corresponds to: a point is kept when its
/// similarity is at least this (Cosine/Dot: score >= threshold; Euclid/Manhattan: distance <=
/// threshold).
pub fn threshold_similarity(distance: Distance, threshold: f32) -> f32 {
    match distance {
        Distance::Cosine | Distance::Dot => threshold,
        Distance::Euclid if threshold < 0.0 => f32::INFINITY,
        Distance::Euclid => -(threshold * threshold),
        Distance::Manhattan => -threshold,
    }
}

/// One candidate: its similarity, id and row in the matrix.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Hit {
    /// Internal similarity (higher is closer).
    pub similarity: f32,
    /// Point id (breaks ties: smaller first).
    pub id: PointId,
    /// Row of the point in its collection.
    pub row: usize,
}

impl Eq for Hit {}

/// "Greater" means *worse*, so a max-heap keeps the worst kept hit on top and `into_sorted_vec`
/// lists the best first.
impl Ord for Hit {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .similarity
            .total_cmp(&self.similarity)
            .then_with(|| self.id.cmp(&other.id))
    }
}

impl PartialOrd for Hit {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Keeps the `k` best hits seen.
#[derive(Debug)]
pub struct TopK {
    k: usize,
    heap: BinaryHeap<Hit>,
}

impl TopK {
    /// An empty selection of at most `k` hits.
    pub fn new(k: usize) -> Self {
        TopK {
            k,
            heap: BinaryHeap::with_capacity(k.min(4096) + 1),
        }
    }

    /// Would a hit with this similarity and id be kept? (Cheap pre-check before building one.)
    #[inline]
    pub fn admits(&self, similarity: f32, id: PointId) -> bool {
        if self.heap.len() < self.k {
            return true;
        }
        match self.heap.peek() {
            Some(worst) => {
                let probe = Hit {
                    similarity,
                    id,
                    row: 0,
                };
                probe < *worst
            }
            None => false,
        }
    }

    /// Offers a hit.
    #[inline]
    pub fn push(&mut self, hit: Hit) {
        if self.k == 0 {
            return;
        }
        if self.heap.len() < self.k {
            self.heap.push(hit);
        } else if let Some(mut worst) = self.heap.peek_mut()
            && hit < *worst
        {
            *worst = hit;
        }
    }

    /// The kept hits, best first.
    pub fn into_sorted(self) -> Vec<Hit> {
        self.heap.into_sorted_vec()
    }
}

/// Exact top-`k` over a flat row-major matrix (`ids.len()` rows of `dim` floats).
///
/// `accept(row)` filters rows before any arithmetic (missing vector, payload filter, excluded
/// id); `min_similarity` drops rows below the threshold.
pub fn exact_top_k(
    distance: Distance,
    query: &[f32],
    matrix: &[f32],
    ids: &[PointId],
    k: usize,
    min_similarity: Option<f32>,
    mut accept: impl FnMut(usize) -> bool,
) -> Vec<Hit> {
    let dim = query.len();
    let mut top = TopK::new(k);
    if k == 0 || dim == 0 {
        return Vec::new();
    }
    for (row, (stored, &id)) in matrix.chunks_exact(dim).zip(ids).enumerate() {
        if !accept(row) {
            continue;
        }
        let similarity = similarity(distance, query, stored);
        if min_similarity.is_some_and(|m| similarity < m) || !top.admits(similarity, id) {
            continue;
        }
        top.push(Hit {
            similarity,
            id,
            row,
        });
    }
    top.into_sorted()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    /// The obvious implementation: score everything, sort everything.
    fn naive(
        distance: Distance,
        query: &[f32],
        rows: &[Vec<f32>],
        k: usize,
        threshold: Option<f32>,
    ) -> Vec<(u64, f32)> {
        let mut q = query.to_vec();
        if distance == Distance::Cosine {
            q = unit(&q);
        }
        let mut all: Vec<(u64, f32)> = rows
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let r = if distance == Distance::Cosine {
                    unit(r)
                } else {
                    r.clone()
                };
                let score = match distance {
                    Distance::Cosine | Distance::Dot => {
                        q.iter().zip(&r).map(|(a, b)| a * b).sum::<f32>()
                    }
                    Distance::Euclid => q
                        .iter()
                        .zip(&r)
                        .map(|(a, b)| (a - b) * (a - b))
                        .sum::<f32>()
                        .sqrt(),
                    Distance::Manhattan => q.iter().zip(&r).map(|(a, b)| (a - b).abs()).sum(),
                };
                (i as u64, score)
            })
            .collect();
        let higher_better = matches!(distance, Distance::Cosine | Distance::Dot);
        all.retain(|&(_, s)| match threshold {
            None => true,
            Some(t) if higher_better => s >= t - 1e-5,
            Some(t) => s <= t + 1e-5,
        });
        all.sort_by(|a, b| {
            let o = if higher_better {
                b.1.total_cmp(&a.1)
            } else {
                a.1.total_cmp(&b.1)
            };
            o.then(a.0.cmp(&b.0))
        });
        all.truncate(k);
        all
    }

    fn unit(v: &[f32]) -> Vec<f32> {
        let mut u = v.to_vec();
        normalize(&mut u);
        u
    }

    fn run(
        distance: Distance,
        query: &[f32],
        rows: &[Vec<f32>],
        k: usize,
        thr: Option<f32>,
    ) -> Vec<(u64, f32)> {
        let dim = query.len();
        let mut matrix = Vec::with_capacity(rows.len() * dim);
        for r in rows {
            if distance == Distance::Cosine {
                matrix.extend(unit(r));
            } else {
                matrix.extend_from_slice(r);
            }
        }
        let mut q = query.to_vec();
        if distance == Distance::Cosine {
            normalize(&mut q);
        }
        let ids: Vec<PointId> = (0..rows.len() as u64).map(PointId::Num).collect();
        exact_top_k(
            distance,
            &q,
            &matrix,
            &ids,
            k,
            thr.map(|t| threshold_similarity(distance, t)),
            |_| true,
        )
        .into_iter()
        .map(|h| {
            let PointId::Num(n) = h.id else {
                unreachable!()
            };
            (n, to_score(distance, h.similarity))
        })
        .collect()
    }

    const ALL: [Distance; 4] = [
        Distance::Cosine,
        Distance::Dot,
        Distance::Euclid,
        Distance::Manhattan,
    ];

    #[test]
    fn matches_the_naive_reference_for_every_distance() {
        let mut rng = StdRng::seed_from_u64(11);
        for distance in ALL {
            for &(n, dim, k) in &[
                (1, 3, 1),
                (50, 7, 5),
                (300, 19, 10),
                (200, 64, 200),
                (40, 16, 100),
            ] {
                let rows: Vec<Vec<f32>> = (0..n)
                    .map(|_| (0..dim).map(|_| rng.random_range(-1.0..1.0)).collect())
                    .collect();
                let q: Vec<f32> = (0..dim).map(|_| rng.random_range(-1.0..1.0)).collect();
                let got = run(distance, &q, &rows, k, None);
                let want = naive(distance, &q, &rows, k, None);
                assert_eq!(got.len(), want.len(), "{distance:?} n={n}");
                for (g, w) in got.iter().zip(&want) {
                    assert_eq!(
                        g.0, w.0,
                        "{distance:?} n={n} dim={dim}: {got:?} vs {want:?}"
                    );
                    assert!((g.1 - w.1).abs() < 1e-4, "{distance:?}: {g:?} vs {w:?}");
                }
            }
        }
    }

    #[test]
    fn ordering_direction_follows_the_distance() {
        let rows = vec![vec![1.0, 0.0], vec![0.0, 1.0], vec![3.0, 0.1]];
        let q = [1.0, 0.0];
        // Cosine: row 0 (identical direction) scores 1.0 first.
        let c = run(Distance::Cosine, &q, &rows, 3, None);
        assert_eq!(c[0].0, 0);
        assert!((c[0].1 - 1.0).abs() < 1e-6);
        assert!(c[0].1 >= c[1].1 && c[1].1 >= c[2].1);
        // Dot: the longest aligned vector wins.
        assert_eq!(run(Distance::Dot, &q, &rows, 1, None)[0].0, 2);
        // Euclid / Manhattan: ascending distances, exact match first with score 0.
        for d in [Distance::Euclid, Distance::Manhattan] {
            let r = run(d, &q, &rows, 3, None);
            assert_eq!(r[0], (0, 0.0));
            assert!(r[0].1 <= r[1].1 && r[1].1 <= r[2].1, "{d:?} {r:?}");
        }
        assert!((run(Distance::Euclid, &q, &rows, 2, None)[1].1 - 2.0f32.sqrt()).abs() < 1e-6);
    }

    #[test]
    fn ties_break_by_smaller_id_and_top_k_truncates() {
        let rows = vec![vec![1.0, 0.0]; 6];
        for d in ALL {
            let r = run(d, &[1.0, 0.0], &rows, 4, None);
            assert_eq!(
                r.iter().map(|x| x.0).collect::<Vec<_>>(),
                vec![0, 1, 2, 3],
                "{d:?}"
            );
        }
        assert!(run(Distance::Dot, &[1.0, 0.0], &rows, 0, None).is_empty());
    }

    #[test]
    fn score_threshold_keeps_only_close_enough_points() {
        let mut rng = StdRng::seed_from_u64(5);
        let rows: Vec<Vec<f32>> = (0..400)
            .map(|_| (0..8).map(|_| rng.random_range(-1.0..1.0)).collect())
            .collect();
        let q: Vec<f32> = (0..8).map(|_| rng.random_range(-1.0..1.0)).collect();
        for (d, thr) in [
            (Distance::Cosine, 0.5),
            (Distance::Dot, 0.8),
            (Distance::Euclid, 1.5),
            (Distance::Manhattan, 3.0),
        ] {
            let got = run(d, &q, &rows, 400, Some(thr));
            let want = naive(d, &q, &rows, 400, Some(thr));
            assert!(!got.is_empty() && got.len() < 400, "{d:?}: {}", got.len());
            assert_eq!(got.len(), want.len(), "{d:?}");
            let higher_better = matches!(d, Distance::Cosine | Distance::Dot);
            assert!(got.iter().all(|&(_, s)| if higher_better {
                s >= thr - 1e-5
            } else {
                s <= thr + 1e-5
            }));
        }
        assert!(run(Distance::Euclid, &q, &rows, 10, Some(-1.0)).is_empty());
    }

    #[test]
    fn accept_skips_rows() {
        let rows: Vec<Vec<f32>> = (0..10).map(|i| vec![i as f32, 1.0]).collect();
        let matrix: Vec<f32> = rows.concat();
        let ids: Vec<PointId> = (0..10).map(PointId::Num).collect();
        let hits = exact_top_k(Distance::Dot, &[1.0, 0.0], &matrix, &ids, 3, None, |r| {
            r % 2 == 0
        });
        assert_eq!(
            hits.iter().map(|h| h.row).collect::<Vec<_>>(),
            vec![8, 6, 4]
        );
    }

    #[test]
    fn vector_kernels_handle_remainders() {
        let a: Vec<f32> = (0..13).map(|i| i as f32).collect();
        let b: Vec<f32> = (0..13).map(|i| (i * 2) as f32).collect();
        let d: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert_eq!(dot(&a, &b), d);
        assert_eq!(l1(&a, &b), (0..13).map(|i| i as f32).sum::<f32>());
        assert_eq!(
            l2_squared(&a, &b),
            (0..13).map(|i| (i * i) as f32).sum::<f32>()
        );
        let mut z = vec![0.0; 4];
        normalize(&mut z);
        assert_eq!(z, vec![0.0; 4]);
    }
}
