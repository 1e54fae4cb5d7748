//! Unit tests of [`super::SseDecoder`]: line ends, chunk splits at every position, the field
//! rules, `finish`, the size bounds and UTF-8 errors.

use super::*;

const LIMIT: usize = 4096;

fn ev(event: Option<&str>, data: &str, id: Option<&str>) -> SseEvent {
    SseEvent {
        event: event.map(str::to_owned),
        data: data.to_owned(),
        id: id.map(str::to_owned),
    }
}

fn data(d: &str) -> SseEvent {
    ev(None, d, None)
}

/// Feeds `chunks` to a fresh decoder; panics on a decoding error.
fn decode_chunks(chunks: &[&[u8]]) -> (Vec<SseEvent>, Option<usize>) {
    let mut dec = SseDecoder::new(LIMIT);
    let mut out = Vec::new();
    for c in chunks {
        dec.feed(c, &mut out).expect("valid stream");
    }
    let pending = dec.finish();
    (out, pending)
}

fn decode(stream: &[u8]) -> (Vec<SseEvent>, Option<usize>) {
    decode_chunks(&[stream])
}

fn decode_err(chunks: &[&[u8]], limit: usize) -> (Vec<SseEvent>, SseError) {
    let mut dec = SseDecoder::new(limit);
    let mut out = Vec::new();
    for c in chunks {
        if let Err(e) = dec.feed(c, &mut out) {
            return (out, e);
        }
    }
    panic!("no error; decoded {out:?}");
}

/// A realistic stream: comments, `retry`, `event`/`id` fields, CRLF, lone CR, multi-line data,
/// multi-byte UTF-8 (2, 3 and 4 bytes), an event without data, a trailing unterminated event.
const STREAM: &str = concat!(
    ": keep-alive\r\n",
    "retry: 3000\n",
    "\n",
    "event: token\r\nid: 1\r\ndata: {\"type\":\"token\",\"content\":\"naïve — \"}\r\n\r\n",
    "data: {\"type\":\"token\",\"content\":\"日本語 😀\"}\n\n",
    ": keep-alive\r\r",
    "event: ping\n\n",
    "id: 2\rdata: line one\r: a comment inside an event\rdata:line two — ü\r\r",
    "data\n",
    "data: \n\n",
    "event: done\ndata: {\"type\":\"done\",\"citations\":[\"doc-1\"]}\n\n",
    "data: trailing partial",
);

fn stream_events() -> Vec<SseEvent> {
    vec![
        ev(
            Some("token"),
            "{\"type\":\"token\",\"content\":\"naïve — \"}",
            Some("1"),
        ),
        ev(
            None,
            "{\"type\":\"token\",\"content\":\"日本語 😀\"}",
            Some("1"),
        ),
        ev(None, "line one\nline two — ü", Some("2")),
        ev(None, "\n", Some("2")),
        ev(
            Some("done"),
            "{\"type\":\"done\",\"citations\":[\"doc-1\"]}",
            Some("2"),
        ),
    ]
}

const STREAM_PENDING: Option<usize> = Some("data: trailing partial".len());

#[test]
fn whole_stream_decodes_to_the_expected_events() {
    let (events, pending) = decode(STREAM.as_bytes());
    assert_eq!(events, stream_events());
    assert_eq!(pending, STREAM_PENDING);
}

#[test]
fn every_line_end_style_gives_the_same_events() {
    let expected = vec![data("a\nb"), data("c")];
    for nl in ["\n", "\r\n", "\r"] {
        let s = format!("data: a{nl}data: b{nl}{nl}data: c{nl}{nl}");
        assert_eq!(
            decode(s.as_bytes()),
            (expected.clone(), None),
            "line end {nl:?}"
        );
    }
    // Mixed in one stream.
    let (events, pending) = decode(b"data: a\r\ndata: b\r\rdata: c\n\r\n");
    assert_eq!(events, expected);
    assert_eq!(pending, None);
}

#[test]
fn cr_at_chunk_end_and_lf_at_next_chunk_start_are_one_line_end() {
    // Were the `\n` a second line end, it would be a blank line dispatching "a" alone.
    let (events, pending) = decode_chunks(&[b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"]);
    assert_eq!(events, vec![data("a\nb")]);
    assert_eq!(pending, None);
    // Empty chunks between the `\r` and the `\n` change nothing.
    let (events, _) = decode_chunks(&[b"data: a\r", b"", b"", b"\ndata: b\r\n\r\n"]);
    assert_eq!(events, vec![data("a\nb")]);
    // A `\r` at a chunk end followed by another line's text: the `\r` alone ended the line.
    let (events, _) = decode_chunks(&[b"data: a\r", b"data: b\r", b"\r"]);
    assert_eq!(events, vec![data("a\nb")]);
}

#[test]
fn byte_by_byte_feeding_matches_whole_feeding() {
    let bytes = STREAM.as_bytes();
    let chunks: Vec<&[u8]> = bytes.chunks(1).collect();
    assert_eq!(decode_chunks(&chunks), (stream_events(), STREAM_PENDING));
}

#[test]
fn every_two_way_split_matches_whole_feeding() {
    let bytes = STREAM.as_bytes();
    for i in 0..=bytes.len() {
        let (a, b) = bytes.split_at(i);
        assert_eq!(
            decode_chunks(&[a, b]),
            (stream_events(), STREAM_PENDING),
            "split at byte {i}"
        );
    }
}

#[test]
fn every_three_way_split_matches_whole_feeding() {
    let bytes = STREAM.as_bytes();
    for i in 0..=bytes.len() {
        for j in i..=bytes.len() {
            let chunks = [&bytes[..i], &bytes[i..j], &bytes[j..]];
            assert_eq!(
                decode_chunks(&chunks),
                (stream_events(), STREAM_PENDING),
                "splits at bytes {i} and {j}"
            );
        }
    }
}

/// Deterministic 64-bit LCG (Knuth's MMIX constants): no `rand` in a unit test's inputs.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A generated stream and the events it must decode to.
fn generated_stream(rng: &mut Lcg) -> (Vec<u8>, Vec<SseEvent>) {
    const WORDS: [&str; 8] = [
        "a",
        "naïve",
        "—",
        "日本語",
        "😀",
        "x y",
        " lead",
        "{\"k\":1}",
    ];
    const NL: [&str; 3] = ["\n", "\r\n", "\r"];
    let mut s = String::new();
    let mut events = Vec::new();
    let mut last_id: Option<String> = None;
    let nl = |rng: &mut Lcg| NL[rng.below(NL.len())];
    for n in 0..40 {
        if rng.below(4) == 0 {
            s.push_str(": keep-alive");
            s.push_str(nl(rng));
        }
        let event = (rng.below(3) == 0).then(|| format!("kind{n}"));
        if let Some(e) = &event {
            s.push_str(&format!("event: {e}{}", nl(rng)));
        }
        if rng.below(3) == 0 {
            last_id = Some(format!("id-{n}"));
            s.push_str(&format!("id:id-{n}{}", nl(rng)));
        }
        let mut lines = Vec::new();
        for _ in 0..1 + rng.below(3) {
            let w = WORDS[rng.below(WORDS.len())];
            lines.push(w.to_owned());
            s.push_str(&format!("data: {w}{}", nl(rng)));
        }
        // The blank line. After a lone `\r`, a `\n` would complete a CRLF, not end a line.
        let blank = match nl(rng) {
            "\n" if s.ends_with('\r') => "\r",
            other => other,
        };
        s.push_str(blank);
        events.push(SseEvent {
            event,
            data: lines.join("\n"),
            id: last_id.clone(),
        });
    }
    (s.into_bytes(), events)
}

#[test]
fn random_splits_of_generated_streams_always_decode_the_same() {
    let mut rng = Lcg(0x5EED);
    for _ in 0..50 {
        let (bytes, expected) = generated_stream(&mut rng);
        assert_eq!(decode(&bytes), (expected.clone(), None));
        for _ in 0..20 {
            let mut chunks = Vec::new();
            let mut rest = &bytes[..];
            while !rest.is_empty() {
                let n = rng.below(rest.len().min(16) + 1); // 0..=16: empty chunks too
                let (c, r) = rest.split_at(n);
                chunks.push(c);
                rest = r;
            }
            assert_eq!(decode_chunks(&chunks), (expected.clone(), None));
        }
    }
}

#[test]
fn bom_at_stream_start_is_skipped_even_when_split() {
    let s = b"\xEF\xBB\xBFdata: a\n\n";
    let expected = (vec![data("a")], None);
    assert_eq!(decode(s), expected);
    for i in 0..=4 {
        assert_eq!(decode_chunks(&[&s[..i], &s[i..]]), expected, "split at {i}");
    }
    // Only one, and only at the start: a later BOM is part of a field name (unknown, ignored).
    assert_eq!(
        decode(b"\xEF\xBB\xBF\xEF\xBB\xBFdata: a\n\n"),
        (vec![], None)
    );
    assert_eq!(
        decode(b"data: a\n\n\xEF\xBB\xBFdata: b\n\n").0,
        vec![data("a")]
    );
    // A body that is only a BOM (or part of one) ended cleanly.
    assert_eq!(decode(b"\xEF\xBB\xBF"), (vec![], None));
    assert_eq!(decode(b"\xEF\xBB"), (vec![], None));
}

#[test]
fn events_without_data_lines_are_not_dispatched() {
    let (events, pending) = decode(b"event: ping\n\nid: 3\n\nretry: 10\n\n");
    assert_eq!(events, vec![]);
    assert_eq!(pending, None);
    // The dropped event's type does not leak into the next event; its id does (it persists).
    let (events, _) = decode(b"event: ping\nid: 3\n\ndata: x\n\n");
    assert_eq!(events, vec![ev(None, "x", Some("3"))]);
}

#[test]
fn empty_data_lines_do_dispatch() {
    assert_eq!(decode(b"data:\n\n").0, vec![data("")]);
    assert_eq!(decode(b"data\n\n").0, vec![data("")]);
    assert_eq!(decode(b"data\ndata\n\n").0, vec![data("\n")]);
}

#[test]
fn field_parsing_removes_exactly_one_space() {
    let (events, _) = decode(b"data:x\n\ndata:  two\n\ndata: a:b: c\n\ndata:\tt\n\n");
    assert_eq!(
        events,
        vec![data("x"), data(" two"), data("a:b: c"), data("\tt")]
    );
    // Field names are case-sensitive and exact.
    assert_eq!(decode(b"Data: x\ndata : y\n\n").0, vec![]);
}

#[test]
fn comments_retry_and_unknown_fields_are_ignored() {
    let (events, pending) = decode(
        b": hello\ndata: a\n: keep-alive\nretry: 5\nfoo: bar\nunknown\ndata: b\n:\n\n: bye\n",
    );
    assert_eq!(events, vec![data("a\nb")]);
    assert_eq!(pending, None);
    // A comment is not decoded, so it may hold any bytes.
    assert_eq!(decode(b":\xff\xfe\ndata: a\n\n").0, vec![data("a")]);
}

#[test]
fn event_type_and_id_follow_the_spec() {
    let (events, _) = decode(
        b"event: a\nid: 1\ndata: x\n\ndata: y\n\nid\ndata: z\n\nid: 7\n\nid: bad\0id\ndata: w\n\nevent:\ndata: v\n\n",
    );
    assert_eq!(
        events,
        vec![
            ev(Some("a"), "x", Some("1")),
            // The type is reset per event; the id persists.
            ev(None, "y", Some("1")),
            // An empty `id` resets it.
            ev(None, "z", None),
            // An `id` with NUL is ignored; the earlier one (set by a data-less event) stays.
            ev(None, "w", Some("7")),
            // An empty `event` is no type.
            ev(None, "v", Some("7")),
        ]
    );
    // The last `event` field of an event wins.
    assert_eq!(
        decode(b"event: a\nevent: b\ndata: x\n\n").0,
        vec![ev(Some("b"), "x", None)]
    );
}

#[test]
fn finish_reports_a_pending_event_or_line() {
    assert_eq!(decode(b"data: x\n\n"), (vec![data("x")], None));
    assert_eq!(decode(b""), (vec![], None));
    assert_eq!(decode(b": keep-alive\n"), (vec![], None));
    // Data lines without the dispatching blank line: discarded, bytes reported.
    assert_eq!(decode(b"data: partial\n"), (vec![], Some(13)));
    assert_eq!(decode(b"event: e\r\ndata: ab\r\n"), (vec![], Some(16)));
    // The body ends mid-line.
    assert_eq!(decode(b"data: x\n\ndata: y"), (vec![data("x")], Some(7)));
    assert_eq!(decode(b": keep-al"), (vec![], Some(9)));
    // The body ends after a `\r`: the line is complete, the event is not.
    assert_eq!(decode(b"data: x\r"), (vec![], Some(7)));
    assert_eq!(decode(b"data: x\r\r"), (vec![data("x")], None));
    // A field line with no data is still part of an unterminated event.
    assert_eq!(decode(b"id: 5\n"), (vec![], Some(5)));
}

#[test]
fn finish_resets_the_decoder_for_a_new_stream() {
    let mut dec = SseDecoder::new(LIMIT);
    let mut out = Vec::new();
    dec.feed(b"id: 9\nevent: e\ndata: half", &mut out).unwrap();
    assert_eq!(dec.finish(), Some(23));
    dec.feed(b"\xEF\xBB\xBFdata: b\n\n", &mut out).unwrap();
    assert_eq!(dec.finish(), None);
    // No leftover line, type, id or data; the BOM was stripped as at a stream start.
    assert_eq!(out, vec![data("b")]);
}

#[test]
fn a_line_longer_than_the_limit_is_an_error_in_any_chunking() {
    let limit = 16;
    let ok = format!("data: {}\n\n", "x".repeat(limit - 6)); // a line of exactly 16 bytes
    let mut dec = SseDecoder::new(limit);
    let mut out = Vec::new();
    dec.feed(ok.as_bytes(), &mut out).unwrap();
    assert_eq!(out.len(), 1);
    let long = format!("data: {}\n\n", "x".repeat(limit - 5));
    let bytes = long.as_bytes();
    let (_, e) = decode_err(&[bytes], limit);
    assert_eq!(e, SseError::LineTooLong { limit });
    let chunks: Vec<&[u8]> = bytes.chunks(1).collect();
    assert_eq!(
        decode_err(&chunks, limit).1,
        SseError::LineTooLong { limit }
    );
    for i in 0..bytes.len() {
        let (a, b) = bytes.split_at(i);
        assert_eq!(
            decode_err(&[a, b], limit).1,
            SseError::LineTooLong { limit }
        );
    }
    // Comments count too: a keep-alive cannot be endless.
    let comment = format!(":{}\n", "k".repeat(limit));
    assert_eq!(
        decode_err(&[comment.as_bytes()], limit).1,
        SseError::LineTooLong { limit }
    );
}

#[test]
fn an_endless_line_never_grows_the_buffer_past_the_limit() {
    let limit = 64;
    let mut dec = SseDecoder::new(limit);
    let mut out = Vec::new();
    let mut err = None;
    for _ in 0..10_000 {
        match dec.feed(b"data: aaaaaaaa", &mut out) {
            Ok(()) => assert!(dec.line.len() <= limit),
            Err(e) => {
                err = Some(e);
                break;
            }
        }
    }
    assert_eq!(err, Some(SseError::LineTooLong { limit }));
    assert!(dec.line.len() <= limit);
    assert!(dec.line.capacity() <= 2 * limit, "{}", dec.line.capacity());
}

#[test]
fn an_event_whose_data_exceeds_the_limit_is_an_error() {
    let limit = 32;
    // Each line is short, but the joined data grows without a blank line.
    let line = b"data: 0123456789\n";
    let mut dec = SseDecoder::new(limit);
    let mut out = Vec::new();
    dec.feed(line, &mut out).unwrap();
    dec.feed(line, &mut out).unwrap(); // 10 + 1 + 10 = 21 bytes
    dec.feed(line, &mut out).unwrap(); // 32 bytes: at the limit
    assert_eq!(dec.data.len(), limit);
    assert_eq!(
        dec.feed(line, &mut out),
        Err(SseError::EventTooLarge { limit })
    );
    assert!(dec.data.len() <= limit);
    // Dispatched events do not add up.
    let mut dec = SseDecoder::new(limit);
    for _ in 0..100 {
        dec.feed(b"data: 0123456789\n\n", &mut out).unwrap();
    }
    assert_eq!(out.len(), 100);
}

#[test]
fn invalid_utf8_is_an_error_with_its_line() {
    let (_, e) = decode_err(&[b"data: a\n\ndata: \xff\n\n"], LIMIT);
    assert_eq!(
        e,
        SseError::InvalidUtf8 {
            line: 3,
            valid_up_to: 6
        }
    );
    // A truncated multi-byte character at a line end is invalid even when split across chunks.
    let (_, e) = decode_err(&[b"data: \xE6\x97", b"\n\n"], LIMIT);
    assert!(matches!(e, SseError::InvalidUtf8 { line: 1, .. }), "{e:?}");
    // Invalid bytes in a field name count too.
    let (_, e) = decode_err(&[b"\xC0\xAF: x\n"], LIMIT);
    assert!(matches!(e, SseError::InvalidUtf8 { line: 1, .. }), "{e:?}");
    // Events completed before the error are delivered.
    let (out, _) = decode_err(&[b"data: ok\n\ndata: \xff\n"], LIMIT);
    assert_eq!(out, vec![data("ok")]);
}

#[test]
fn a_multibyte_character_split_across_chunks_is_decoded_whole() {
    let s = "data: 😀日\n\n".as_bytes();
    for i in 6..12 {
        assert_eq!(
            decode_chunks(&[&s[..i], &s[i..]]).0,
            vec![data("😀日")],
            "{i}"
        );
    }
}

#[test]
fn lines_inside_one_chunk_are_not_copied() {
    let mut dec = SseDecoder::new(LIMIT);
    let mut out = Vec::new();
    dec.feed(b"event: e\r\ndata: a\r\n\r\n", &mut out).unwrap();
    dec.feed(b"data: b\n\n", &mut out).unwrap();
    assert_eq!(out.len(), 2);
    assert_eq!(dec.line.capacity(), 0, "the split-line buffer was used");
}

#[test]
fn errors_say_what_went_wrong() {
    assert_eq!(
        SseError::LineTooLong { limit: 10 }.to_string(),
        "an event-stream line is longer than the 10-byte limit"
    );
    assert_eq!(
        SseError::EventTooLarge { limit: 10 }.to_string(),
        "an event's data is longer than the 10-byte limit"
    );
    assert_eq!(
        SseError::InvalidUtf8 {
            line: 3,
            valid_up_to: 6
        }
        .to_string(),
        "event-stream line 3 is not valid UTF-8 (bad byte at offset 6 of the line)"
    );
}
