//! Axes with hand-picked ticks: every chart plots `f64 × f64` on an [`Axis`] whose tick
//! positions it chooses itself. The load axis is logarithmic with a tick at each sweep point,
//! the spectrum axis ticks at 50 %, 90 %, 99 % …, linear axes tick at 1-2-5 steps, and
//! [`YScale`] turns logarithmic when values span more than 30×. plotters' own tick choice cannot
//! do the first two.

use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::prelude::*;

use crate::result::LoadPoint;

/// A numeric axis with its own tick positions: major ticks (labelled, with a grid line) and
/// light grid lines. plotters' `WithKeyPoints` does this too, but its `f64` axis does not take
/// the label formatters the mesh needs.
#[derive(Clone, Debug)]
pub struct Axis {
    lo: f64,
    hi: f64,
    bold: Vec<f64>,
    light: Vec<f64>,
}

impl Ranged for Axis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let span = self.hi - self.lo;
        if span == 0.0 || !v.is_finite() {
            return (limit.0 + limit.1) / 2;
        }
        let t = (v - self.lo) / span;
        // Clamped far outside the plot so a stray value cannot overflow pixel coordinates.
        let px = limit.0 as f64 + (limit.1 - limit.0) as f64 * t.clamp(-10.0, 11.0);
        px.round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            self.light.clone()
        } else {
            self.bold.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.lo..self.hi
    }
}

/// Tick positions at 1-2-5 steps covering `[lo, hi]`, about `n` of them, and the step.
pub fn nice_ticks(lo: f64, hi: f64, n: usize) -> (Vec<f64>, f64) {
    let span = (hi - lo).abs().max(1e-9);
    let raw = span / n.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() * step;
    let ticks = (0..)
        .map(|i| first + i as f64 * step)
        .take_while(|t| *t <= hi + step * 1e-6)
        .take(200)
        .collect();
    (ticks, step)
}

/// A linear axis from `lo` to `hi` with 1-2-5 ticks (and light lines halfway between).
pub fn linear(lo: f64, hi: f64, n: usize) -> Axis {
    let (ticks, step) = nice_ticks(lo, hi, n);
    let light: Vec<f64> = ticks
        .iter()
        .map(|t| t + step / 2.0)
        .filter(|t| *t < hi)
        .collect();
    Axis {
        lo,
        hi,
        bold: ticks,
        light,
    }
}

/// A linear axis from 0 to just above `max` (at least `floor`).
pub fn from_zero(max: f64, floor: f64) -> Axis {
    let top = if max.is_finite() {
        max.max(floor)
    } else {
        floor
    } * 1.08;
    linear(0.0, top, 6)
}

/// An axis with exactly these ticks.
pub fn ticks_at(lo: f64, hi: f64, ticks: Vec<f64>) -> Axis {
    Axis {
        lo,
        hi,
        bold: ticks,
        light: Vec::new(),
    }
}

/// The load axis of a sweep: log scale (`ln` of the load), a tick at every point.
pub fn load_axis(points: &[LoadPoint]) -> Axis {
    let xs: Vec<f64> = points
        .iter()
        .map(|p| crate::result::query::load_value(p).max(1e-3).ln())
        .collect();
    let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let pad = ((hi - lo) * 0.06).max(0.2);
    ticks_at(lo - pad, hi + pad, xs)
}

/// The load-axis position of a point.
pub fn load_x(point: &LoadPoint) -> f64 {
    crate::result::query::load_value(point).max(1e-3).ln()
}

/// Tick label of a load-axis position: the load itself.
pub fn load_label(x: &f64) -> String {
    let v = x.exp();
    if (v - v.round()).abs() < 0.01 {
        format!("{:.0}", v.round())
    } else {
        format!("{v:.1}")
    }
}

/// A y axis that turns logarithmic when the values span more than 30×, so a variant at
/// 3 threads stays readable next to one at 500.
#[derive(Clone, Copy, Debug)]
pub struct YScale {
    /// Logarithmic (the plot holds `log10` of the values).
    pub log: bool,
    lo: f64,
    hi: f64,
}

impl YScale {
    /// The scale for `values` (at least `floor` high).
    pub fn for_values(values: impl IntoIterator<Item = f64>, floor: f64) -> YScale {
        let v: Vec<f64> = values.into_iter().filter(|v| v.is_finite()).collect();
        let hi = v.iter().copied().fold(floor, f64::max);
        let lo = v
            .iter()
            .copied()
            .filter(|v| *v > 0.0)
            .fold(f64::INFINITY, f64::min);
        YScale {
            log: lo.is_finite() && hi / lo > 30.0,
            lo: if lo.is_finite() { lo } else { 1.0 },
            hi,
        }
    }

    /// Where `v` goes on the plot.
    pub fn y(&self, v: f64) -> f64 {
        if self.log {
            v.max(self.lo / 2.0).log10()
        } else {
            v
        }
    }

    /// The axis, with room above the largest value (`headroom` × it).
    pub fn axis(&self, headroom: f64) -> Axis {
        if !self.log {
            return from_zero(self.hi * headroom / 1.08, 1e-9);
        }
        YScale::log_axis((self.lo / 1.5).log10(), (self.hi * headroom).log10())
    }

    /// A log axis from `lo` to `hi` (both `log10` of values), ticks at 1, 2, 5 × 10^k.
    pub fn log_axis(lo: f64, hi: f64) -> Axis {
        let mut ticks = Vec::new();
        for decade in (lo.floor() as i32)..=(hi.ceil() as i32) {
            for m in [1.0, 2.0, 5.0] {
                let t = (m * 10f64.powi(decade)).log10();
                if t >= lo && t <= hi {
                    ticks.push(t);
                }
            }
        }
        ticks_at(lo, hi, ticks)
    }

    /// Tick label of a plot position.
    pub fn label(&self, v: &f64) -> String {
        number_label(if self.log { 10f64.powf(*v) } else { *v })
    }

    /// Appended to the axis title.
    pub fn suffix(&self) -> &'static str {
        if self.log { ", log scale" } else { "" }
    }
}

/// A categorical axis: one slot per name, ticks at 0, 1, 2 ….
pub fn category_axis(n: usize) -> Axis {
    ticks_at(-0.6, n as f64 - 0.4, (0..n).map(|i| i as f64).collect())
}

/// A number as a tick label: no trailing zeros, thousands as `k`.
pub fn number_label(v: f64) -> String {
    let a = v.abs();
    if a >= 10_000.0 {
        format!("{:.0}k", v / 1000.0)
    } else if a >= 100.0 || (v - v.round()).abs() < 1e-9 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.1}")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_step_by_one_two_five() {
        let (ticks, step) = nice_ticks(0.0, 437.0, 6);
        assert_eq!(step, 100.0);
        assert_eq!(ticks, vec![0.0, 100.0, 200.0, 300.0, 400.0]);
        let (ticks, step) = nice_ticks(0.0, 1.7, 6);
        assert_eq!(step, 0.5);
        assert_eq!(ticks, vec![0.0, 0.5, 1.0, 1.5]);
        let (_, step) = nice_ticks(0.0, 1.4, 6);
        assert_eq!(step, 0.25);
    }

    #[test]
    fn log_scale_only_for_wide_ranges() {
        assert!(!YScale::for_values([3.0, 40.0], 1.0).log);
        let wide = YScale::for_values([2.0, 500.0], 1.0);
        assert!(wide.log);
        assert!((wide.y(100.0) - 2.0).abs() < 1e-12);
        assert_eq!(wide.label(&2.0), "100");
        // Zeros go below the lowest value instead of to minus infinity.
        assert!(wide.y(0.0).is_finite());
    }

    #[test]
    fn load_labels_read_back_the_load() {
        let p = LoadPoint::closed(64);
        assert_eq!(load_label(&load_x(&p)), "64");
    }

    #[test]
    fn axis_maps_values_and_keeps_far_outliers_on_the_canvas() {
        let a = linear(0.0, 100.0, 5);
        assert_eq!(a.map(&50.0, (0, 200)), 100);
        assert_eq!(a.map(&1e300, (0, 200)), 2200);
        assert_eq!(a.map(&f64::NAN, (0, 200)), 100);
    }
}
