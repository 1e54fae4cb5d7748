//! HdrHistogram helpers shared by the mocks and the harness: one constructor with the project's
//! resolution, lossless base64 encoding (V2 + deflate, as HdrHistogram's other implementations
//! read it) and a percentile summary in milliseconds.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use serde::{Deserialize, Serialize};

/// Highest trackable value, µs: one hour. Larger values saturate (they are recorded as the max).
pub const MAX_TRACKABLE_US: u64 = 3_600_000_000;

/// A histogram of microseconds with 3 significant digits, auto-resizing beyond one hour.
pub fn new_us() -> Histogram<u64> {
    let mut h = Histogram::<u64>::new_with_bounds(1, MAX_TRACKABLE_US, 3)
        .expect("constant bounds are valid");
    h.auto(true);
    h
}

/// Records `value_us`, clamping 0 to 1 µs (the lowest discernible value).
pub fn record_us(h: &mut Histogram<u64>, value_us: u64) {
    // With auto-resize on, recording cannot fail except on u64 overflow of counts.
    let _ = h.record(value_us.max(1));
}

/// Serialises a histogram losslessly: HdrHistogram V2 + deflate, base64.
pub fn encode_b64(h: &Histogram<u64>) -> String {
    let mut buf = Vec::new();
    let mut ser = V2DeflateSerializer::new();
    match ser.serialize(h, &mut buf) {
        Ok(_) => STANDARD.encode(buf),
        Err(_) => String::new(),
    }
}

/// Why an encoded histogram could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Not base64.
    #[error("not valid base64: {0}")]
    Base64(#[from] base64::DecodeError),
    /// Not an HdrHistogram V2 (or V2 + deflate) payload.
    #[error("not an HdrHistogram V2 payload: {0:?}")]
    Histogram(hdrhistogram::serialization::DeserializeError),
}

/// Reads back what [`encode_b64`] wrote.
pub fn decode_b64(s: &str) -> Result<Histogram<u64>, DecodeError> {
    let bytes = STANDARD.decode(s.trim())?;
    let mut de = Deserializer::new();
    let mut h: Histogram<u64> = de
        .deserialize(&mut bytes.as_slice())
        .map_err(DecodeError::Histogram)?;
    h.auto(true);
    Ok(h)
}

/// The percentiles every report shows, in milliseconds.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Percentiles {
    /// Number of recorded values.
    pub count: u64,
    /// Mean, ms.
    pub mean: f64,
    /// Median, ms.
    pub p50: f64,
    /// 90th percentile, ms.
    pub p90: f64,
    /// 99th percentile, ms.
    pub p99: f64,
    /// 99.9th percentile, ms.
    pub p999: f64,
    /// Smallest value, ms.
    pub min: f64,
    /// Largest value, ms.
    pub max: f64,
}

impl Percentiles {
    /// Summarises a microsecond histogram in milliseconds (all zeros when empty).
    pub fn of_us(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Percentiles::default();
        }
        let ms = |us: u64| us as f64 / 1000.0;
        Percentiles {
            count: h.len(),
            mean: h.mean() / 1000.0,
            p50: ms(h.value_at_quantile(0.50)),
            p90: ms(h.value_at_quantile(0.90)),
            p99: ms(h.value_at_quantile(0.99)),
            p999: ms(h.value_at_quantile(0.999)),
            min: ms(h.min()),
            max: ms(h.max()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_losslessly() {
        let mut h = new_us();
        for v in [1u64, 5, 100, 2_500, 1_000_000, 7_200_000_000] {
            record_us(&mut h, v);
        }
        let back = decode_b64(&encode_b64(&h)).unwrap();
        assert_eq!(back.len(), h.len());
        assert_eq!(back.max(), h.max());
        assert_eq!(back.value_at_quantile(0.5), h.value_at_quantile(0.5));
    }

    #[test]
    fn corrupt_input_is_an_error_not_a_panic() {
        assert!(decode_b64("not base64!!").is_err());
        assert!(decode_b64("AAAA").is_err());
    }

    #[test]
    fn percentiles_are_in_ms() {
        let mut h = new_us();
        for v in 1..=1000u64 {
            record_us(&mut h, v * 1000);
        }
        let p = Percentiles::of_us(&h);
        assert_eq!(p.count, 1000);
        assert!((p.p50 - 500.0).abs() < 1.0, "{}", p.p50);
        assert!((p.max - 1000.0).abs() < 1.0);
    }
}
