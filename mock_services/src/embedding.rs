//! Deterministic text embeddings: the function behind the mock Titan embeddings endpoint and the
//! vectors of the preloaded Qdrant corpus, so a question retrieves the passages that share its
//! words, as with a real model (only cruder).
//!
//! Signed feature hashing of lower-cased content words and word bigrams into `dimensions` slots,
//! then L2-normalised. The hash is FNV-1a (stable across platforms and Rust versions), so the same
//! text gives the same vector everywhere, which is what lets the harness check citations end to
//! end.

/// Words too common to say anything about a passage.
const STOP_WORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "by", "do", "does", "for", "from", "how", "in",
    "is", "it", "of", "on", "or", "that", "the", "this", "to", "what", "when", "which", "who",
    "why", "with",
];

/// FNV-1a, 64-bit.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The content words of `text`: lower-cased alphanumeric runs, stop words removed.
pub fn content_words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .filter(|w| !STOP_WORDS.contains(&w.as_str()))
        .collect()
}

/// Number of tokens Titan would bill for `text` (approximated as words + punctuation runs).
pub fn token_count(text: &str) -> usize {
    text.split_whitespace()
        .count()
        .max(if text.is_empty() { 0 } else { 1 })
}

fn add_feature(v: &mut [f32], feature: &[u8], weight: f32) {
    let h = fnv1a(feature);
    let idx = (h % v.len() as u64) as usize;
    let sign = if h >> 63 == 0 { 1.0 } else { -1.0 };
    v[idx] += sign * weight;
}

/// Embeds `text` into `dimensions` floats; unit length when `normalize` (Titan's default).
///
/// A text with no content word gets a fixed unit vector derived from its raw bytes, so every
/// input still has a well-defined, deterministic embedding.
pub fn embed(text: &str, dimensions: usize, normalize: bool) -> Vec<f32> {
    let dimensions = dimensions.max(1);
    let mut v = vec![0.0f32; dimensions];
    let words = content_words(text);
    for w in &words {
        add_feature(&mut v, w.as_bytes(), 1.0);
    }
    for pair in words.windows(2) {
        let bigram = format!("{} {}", pair[0], pair[1]);
        add_feature(&mut v, bigram.as_bytes(), 0.5);
    }
    if words.is_empty() {
        add_feature(&mut v, text.as_bytes(), 1.0);
    }
    if normalize {
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            for x in &mut v {
                *x /= norm;
            }
        }
    }
    v
}

/// Cosine similarity of two vectors of equal length (0 when either is all zeros).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let (mut dot, mut na, mut nb) = (0.0f32, 0.0f32, 0.0f32);
    for (x, y) in a.iter().zip(b) {
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na.sqrt() * nb.sqrt())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_normalised() {
        let a = embed("What is the site status?", 256, true);
        let b = embed("What is the site status?", 256, true);
        assert_eq!(a, b);
        let norm: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5);
        assert_eq!(embed("x", 1024, true).len(), 1024);
    }

    #[test]
    fn shared_words_mean_higher_similarity() {
        let q = embed("reactor cooling pump maintenance", 256, true);
        let near = embed(
            "The cooling pump of the reactor needs maintenance weekly",
            256,
            true,
        );
        let far = embed("Quarterly revenue grew in the retail segment", 256, true);
        assert!(cosine(&q, &near) > cosine(&q, &far) + 0.3);
    }

    #[test]
    fn empty_and_stopword_only_texts_are_still_unit_vectors() {
        for t in ["", "the of and", "???"] {
            let v = embed(t, 256, true);
            let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-5, "{t:?}");
        }
    }
}
