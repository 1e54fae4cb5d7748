//! The median: the statistic every comparison is made on, because one slow repetition (a
//! neighbour's compile on a shared CI machine) moves a mean but not a median.

/// The median of `xs` (the mean of the middle two for an even count); `None` when empty.
/// NaNs are not expected (metrics are filtered for finiteness) and sort last if present.
pub fn median(xs: &[f64]) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    let mut v = xs.to_vec();
    Some(median_in_place(&mut v))
}

/// The median of a non-empty buffer, reordering it (no allocation: the bootstrap's hot loop).
pub fn median_in_place(v: &mut [f64]) -> f64 {
    let n = v.len();
    debug_assert!(n > 0);
    let mid = n / 2;
    let (_, upper, _) = v.select_nth_unstable_by(mid, f64::total_cmp);
    let upper = *upper;
    if n % 2 == 1 {
        upper
    } else {
        // The largest of the lower half is the other middle value.
        let lower = v[..mid]
            .iter()
            .copied()
            .max_by(f64::total_cmp)
            .unwrap_or(upper);
        (lower + upper) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_even_and_empty() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[7.0]), Some(7.0));
        assert_eq!(median(&[]), None);
        assert_eq!(
            median(&[1.0, 100.0, 2.0]),
            Some(2.0),
            "an outlier does not move it"
        );
    }
}
