//! The ConverseStream decoder on its own: frames split at every possible boundary, exception
//! frames, corrupt CRCs, garbage and truncated bodies.

use crate::client_support;

use client_support::{delta, exception, full_stream, start, tail};
use ragperf::client::{ConverseStreamDecoder, ErrorKind};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const TOKENS: [&str; 5] = ["Paris", " is", " the", " capital", " [doc-1]"];

#[test]
fn byte_by_byte_delivers_each_token_as_soon_as_its_frame_completes() {
    // Where each delta frame ends in the body.
    let mut body = start();
    let mut ends = Vec::new();
    for t in TOKENS {
        body.extend(delta(t));
        ends.push(body.len());
    }
    body.extend(tail(TOKENS.len() as u64));

    let mut dec = ConverseStreamDecoder::new();
    let mut seen: Vec<String> = Vec::new();
    for (i, b) in body.iter().enumerate() {
        dec.feed(std::slice::from_ref(b), &mut |t: &str| {
            seen.push(t.to_string())
        })
        .unwrap();
        // After byte i, exactly the deltas whose frames ended at or before i+1 were delivered.
        let complete = ends.iter().filter(|&&e| e <= i + 1).count();
        assert_eq!(seen.len(), complete, "after byte {i}");
    }
    let out = dec.finish().unwrap();
    assert_eq!(seen, TOKENS);
    assert_eq!(out.text, TOKENS.concat());
    assert_eq!(out.output_tokens, 5);
    assert_eq!(out.usage_output_tokens, Some(5));
    assert_eq!(out.stop_reason, "end_turn");
}

#[test]
fn arbitrary_chunkings_decode_the_same() {
    let body = full_stream(&TOKENS);
    let mut rng = StdRng::seed_from_u64(2024);
    for _ in 0..200 {
        let mut dec = ConverseStreamDecoder::new();
        let mut seen = Vec::new();
        let mut at = 0;
        while at < body.len() {
            let n = rng.random_range(1..=64).min(body.len() - at);
            dec.feed(&body[at..at + n], &mut |t: &str| seen.push(t.to_string()))
                .unwrap();
            at += n;
        }
        assert_eq!(seen, TOKENS);
        assert_eq!(dec.finish().unwrap().text, TOKENS.concat());
    }
    // And everything in one chunk.
    let mut dec = ConverseStreamDecoder::new();
    let mut n = 0;
    dec.feed(&body, &mut |_: &str| n += 1).unwrap();
    assert_eq!(n, 5);
    assert_eq!(dec.finish().unwrap().output_tokens, 5);
}

#[test]
fn exception_frame_is_a_stream_exception_after_the_tokens_before_it() {
    let mut body = start();
    body.extend(delta("Hel"));
    body.extend(exception(
        "throttlingException",
        "Too many tokens, please wait.",
    ));
    body.extend(delta("never"));
    let mut dec = ConverseStreamDecoder::new();
    let mut seen = Vec::new();
    let err = dec
        .feed(&body, &mut |t: &str| seen.push(t.to_string()))
        .unwrap_err();
    assert_eq!(seen, ["Hel"]);
    assert_eq!(
        err.kind,
        ErrorKind::StreamException("throttlingException".into())
    );
    assert_eq!(err.kind.name(), "stream_exception");
    assert!(!err.kind.is_retryable());
    assert!(
        err.message.contains("Too many tokens, please wait."),
        "{}",
        err.message
    );
}

#[test]
fn corrupt_message_crc_is_bad_response() {
    let mut body = start();
    let mut d = delta("Hello");
    let payload_byte = d.len() - 10; // inside the JSON payload, before the message CRC
    d[payload_byte] ^= 0x20;
    body.extend(d);
    let mut dec = ConverseStreamDecoder::new();
    let mut n = 0;
    let err = dec.feed(&body, &mut |_: &str| n += 1).unwrap_err();
    assert_eq!(err.kind, ErrorKind::BadResponse);
    assert_eq!(n, 0, "a corrupt frame delivers no token");
    assert!(
        err.message.to_lowercase().contains("crc") || err.message.contains("checksum"),
        "{}",
        err.message
    );
}

#[test]
fn garbage_fails_as_soon_as_a_prelude_is_readable() {
    let mut dec = ConverseStreamDecoder::new();
    let garbage = b"<html><body>502 Bad Gateway</body></html>";
    // 11 bytes are not a prelude yet: no verdict.
    dec.feed(&garbage[..11], &mut |_: &str| {}).unwrap();
    let err = dec.feed(&garbage[11..12], &mut |_: &str| {}).unwrap_err();
    assert_eq!(err.kind, ErrorKind::BadResponse);
}

#[test]
fn truncated_bodies_are_stream_cuts() {
    let body = full_stream(&TOKENS);
    // Cut in the middle of a frame.
    let mut dec = ConverseStreamDecoder::new();
    let mut n = 0;
    dec.feed(&body[..body.len() - 7], &mut |_: &str| n += 1)
        .unwrap();
    assert_eq!(n, 5);
    let err = dec.finish().unwrap_err();
    assert_eq!(err.kind, ErrorKind::StreamCut);
    assert!(err.message.contains("5 tokens"), "{}", err.message);

    // Cut cleanly between frames, before messageStop.
    let mut body = start();
    body.extend(delta("a"));
    let mut dec = ConverseStreamDecoder::new();
    dec.feed(&body, &mut |_: &str| {}).unwrap();
    assert_eq!(dec.finish().unwrap_err().kind, ErrorKind::StreamCut);

    // An empty body.
    assert_eq!(
        ConverseStreamDecoder::new().finish().unwrap_err().kind,
        ErrorKind::StreamCut
    );
}
