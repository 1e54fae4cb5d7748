//! The fuzz harnesses: one function per target, each driving a public entry point of `ragperf`
//! or `mock-services` with arbitrary bytes and asserting what must hold whatever the input.
//!
//! Two users: the `cargo fuzz` targets in `fuzz_targets/` (nightly, libFuzzer), and the stable
//! replay test `tests/fuzz_replay.rs`, which includes this file with `#[path]` and runs every
//! committed seed (`fuzz/seeds/<target>/`) and regression (`fuzz/regressions/<target>/`)
//! through the same functions. So this file uses nothing but `ragperf`, `mock-services`,
//! `serde_json` and `std`.
//!
//! A harness returns normally for any input the code under test handles (with `Ok` or an
//! error); a panic, an abort, a hang or an allocation failure is the finding.

use mock_services::bedrock::{invoke, model::ModelKind, request};
use mock_services::qdrant::info::CollectionSpec;
use mock_services::qdrant::model::WithPayload;
use mock_services::qdrant::requests::{
    CountBody, DeleteBody, IndexBody, QueryBatchBody, QueryBody, RetrieveBody, ScrollBody,
    SearchBatchBody, SearchBody, UpsertBody,
};
use mock_services::qdrant::store::Store;
use mock_services::qdrant::{Filter, info::PayloadIndex};
use ragperf::client::eventstream::ConverseStreamDecoder;
use ragperf::export;
use ragperf::result::RunResult;
use ragperf::scenario::Scenario;
use ragperf::target::protocol::{Interpreted, Protocol};
use ragperf::target::sse::{SseDecoder, SseEvent};
use serde_json::Value;

/// A harness: runs one input.
pub type Harness = fn(&[u8]);

/// Every target: its name (the `fuzz_targets/<name>.rs` file and the seed folder) and harness.
pub const TARGETS: &[(&str, Harness)] = &[
    ("eventstream", eventstream),
    ("sse", sse),
    ("scenario", scenario),
    ("qdrant", qdrant),
    ("bedrock", bedrock),
    ("result", result),
];

/// Splits `data` into chunks whose lengths cycle through `pattern` (each 1..=256), so the
/// incremental decoders see frames and lines cut at every kind of place.
pub fn chunks<'a>(data: &'a [u8], pattern: &[u8]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut rest = data;
    let mut i = 0;
    while !rest.is_empty() {
        let len = pattern
            .get(i % pattern.len().max(1))
            .map_or(rest.len(), |&b| usize::from(b) + 1)
            .min(rest.len());
        let (head, tail) = rest.split_at(len);
        out.push(head);
        rest = tail;
        i += 1;
    }
    out
}

/// A finished ConverseStream: text, output tokens, usage tokens, stop reason.
type Decoded = (String, u32, Option<u64>, String);

/// What a ConverseStream decoder made of a body, comparable across chunkings: the tokens
/// delivered, and the outcome (or the error's kind; its message counts bytes, which differ).
fn decode_converse_stream(pieces: &[&[u8]]) -> (Vec<String>, Result<Decoded, String>) {
    let mut decoder = ConverseStreamDecoder::new();
    let mut tokens = Vec::new();
    for piece in pieces {
        let fed = decoder.feed(piece, &mut |t: &str| tokens.push(t.to_string()));
        if let Err(e) = fed {
            assert_eq!(decoder.tokens() as usize, tokens.len());
            return (tokens, Err(e.kind.to_string()));
        }
        assert_eq!(decoder.tokens() as usize, tokens.len());
    }
    let outcome = decoder
        .finish()
        .map(|o| {
            (
                o.text,
                o.output_tokens,
                o.usage_output_tokens,
                o.stop_reason,
            )
        })
        .map_err(|e| e.kind.to_string());
    (tokens, outcome)
}

/// The AWS event-stream decoder of ConverseStream bodies (`src/client/eventstream.rs`). Input:
/// one byte choosing the chunk lengths, then the body. The body is decoded in chunks and whole:
/// both must deliver the same tokens and end the same way, and a successful outcome's text is
/// the tokens joined.
pub fn eventstream(data: &[u8]) {
    let Some((&cut, body)) = data.split_first() else {
        return;
    };
    let pattern = [cut, cut.rotate_left(3), cut.wrapping_mul(7), 0];
    let chunked = decode_converse_stream(&chunks(body, &pattern));
    let whole = decode_converse_stream(&[body]);
    assert_eq!(
        chunked, whole,
        "the outcome depends on how the body was chunked"
    );
    if let (tokens, Ok((text, output_tokens, _, _))) = &whole {
        assert_eq!(*text, tokens.concat());
        assert_eq!(*output_tokens as usize, tokens.len());
    }
}

/// Every event of `pieces` and the decoder's verdict (an error, or what `finish` reported).
fn decode_sse(pieces: &[&[u8]], max: usize) -> (Vec<SseEvent>, Result<Option<usize>, String>) {
    let mut decoder = SseDecoder::new(max);
    let mut events = Vec::new();
    for piece in pieces {
        if let Err(e) = decoder.feed(piece, &mut events) {
            decoder.finish();
            return (events, Err(e.to_string()));
        }
    }
    (events, Ok(decoder.finish()))
}

fn without_text(i: Interpreted) -> Interpreted<()> {
    match i {
        Interpreted::Token {
            completion_tokens, ..
        } => Interpreted::Token {
            text: (),
            completion_tokens,
        },
        Interpreted::Usage { completion_tokens } => Interpreted::Usage { completion_tokens },
        Interpreted::Done { citations } => Interpreted::Done { citations },
        Interpreted::Error(m) => Interpreted::Error(m),
        Interpreted::Ignore => Interpreted::Ignore,
    }
}

/// The `--target` SSE decoder (`src/target/sse.rs`) and the protocols' reading of events and
/// bodies (`src/target/protocol.rs`). Input: a byte choosing the protocol, a byte choosing the
/// chunk lengths, then the body; protocol 3 (`sse` with custom flags) first takes three lines
/// from the body as `--token-pointer`, `--done-marker` and `--citations-pointer`.
/// Chunked and whole decoding must agree; `classify_event` must agree with `interpret_event`.
pub fn sse(data: &[u8]) {
    let [which, cut, rest @ ..] = data else {
        return;
    };
    let (protocol, body) = match which % 4 {
        0 => (Protocol::parse("sse", None, None, None), rest),
        1 => (Protocol::parse("openai", None, None, None), rest),
        2 => (Protocol::parse("json", None, None, None), rest),
        _ => {
            let mut parts = rest.splitn(4, |&b| b == b'\n');
            let mut flag = || {
                parts
                    .next()
                    .map(|l| String::from_utf8_lossy(l).into_owned())
            };
            let (token, done, citations) = (flag(), flag(), flag());
            let body = parts.next().unwrap_or(&[]);
            (
                Protocol::parse(
                    "sse",
                    token.as_deref(),
                    done.as_deref(),
                    citations.as_deref(),
                ),
                body,
            )
        }
    };
    let Ok(protocol) = protocol else {
        return;
    };
    if !protocol.is_streaming() {
        let _ = protocol.interpret_json_body(body);
    }
    // A small bound as well as the default, so the too-long-line path is reached.
    let max = if cut % 2 == 0 {
        ragperf::target::sse::DEFAULT_MAX_EVENT_BYTES
    } else {
        64
    };
    let pattern = [*cut, cut.rotate_left(2), 1, cut.wrapping_mul(5)];
    let chunked = decode_sse(&chunks(body, &pattern), max);
    let whole = decode_sse(&[body], max);
    assert_eq!(
        chunked, whole,
        "the events depend on how the body was chunked"
    );
    for ev in &whole.0 {
        let interpreted = protocol.interpret_event(ev);
        let classified = protocol.classify_event(ev);
        match (interpreted, classified) {
            (Ok(i), Ok(c)) => {
                if let Interpreted::Token { text, .. } = &i {
                    assert!(!text.is_empty(), "a token event with no text");
                }
                assert_eq!(without_text(i), c);
            }
            (Err(a), Err(b)) => assert_eq!(a.reason, b.reason),
            (i, c) => panic!("interpret_event {i:?} but classify_event {c:?}"),
        }
    }
}

/// Scenario TOML (`src/scenario.rs`): parse and validate, and build the `[target]` spec
/// (`src/target/config.rs`) when there is one; an accepted scenario must survive the
/// trip through `result.json` (JSON out and back in, still valid) and give the durations a run
/// computes from it.
pub fn scenario(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(s) = Scenario::from_toml(text) else {
        return;
    };
    let _ = s.mock_config();
    assert!(!s.questions().is_empty());
    let _ = s.measured_duration();
    let _ = s.scaled_ms(s.load.think_time_ms);
    // The `[target]` section is checked when a run builds its spec (URL, protocol, body
    // template, headers), not by `validate`.
    if let Some(target) = &s.target {
        let _ = target.spec(&s.client);
    }
    let json = serde_json::to_string(&s).expect("an accepted scenario serialises");
    let back: Scenario = serde_json::from_str(&json)
        .unwrap_or_else(|e| panic!("an accepted scenario does not read back from JSON: {e}"));
    back.validate()
        .unwrap_or_else(|e| panic!("an accepted scenario is invalid after JSON: {e}"));
}

/// The collections a Qdrant request runs against: `c` (one 4-d cosine vector) and `n` (named
/// vectors `a`, 2-d dot, and `b`, 3-d euclid), with a few points and payloads.
fn qdrant_store() -> Store {
    let store = Store::new();
    let spec = |json: &str| -> CollectionSpec { serde_json::from_str(json).expect("spec") };
    let upsert = |json: &str| {
        serde_json::from_str::<UpsertBody>(json)
            .expect("upsert")
            .into_points()
            .expect("points")
    };
    store
        .create_collection("c", spec(r#"{"vectors":{"size":4,"distance":"Cosine"}}"#))
        .expect("create c");
    store
        .upsert(
            "c",
            upsert(
                r#"{"points":[
                {"id":1,"vector":[0.1,0.2,0.3,0.4],"payload":{"doc_id":"a","n":1,"tags":["x","y"],"nested":{"k":[{"v":1}]}}},
                {"id":"6e3a4a9e-8d1b-4c1e-9f6e-1b2c3d4e5f60","vector":[1,0,0,0],"payload":{"doc_id":"b","n":2.5,"flag":true,"geo":{"lon":1.0,"lat":2.0}}},
                {"id":3,"vector":[0,0,0,0],"payload":{}}]}"#,
            ),
        )
        .expect("upsert c");
    store
        .create_collection(
            "n",
            spec(
                r#"{"vectors":{"a":{"size":2,"distance":"Dot"},"b":{"size":3,"distance":"Euclid"}}}"#,
            ),
        )
        .expect("create n");
    store
        .upsert(
            "n",
            upsert(
                r#"{"points":[{"id":7,"vector":{"a":[1,2],"b":[3,4,5]},"payload":{"doc_id":"z"}}]}"#,
            ),
        )
        .expect("upsert n");
    store
}

/// Qdrant request bodies and filters (`mock_services/src/qdrant/requests.rs`, `filter.rs`),
/// parsed as the handlers parse them (`serde_json::from_slice` into the body type), validated,
/// converted, and run against a small store. Input: a byte choosing the request kind and the
/// collection, then the JSON body.
pub fn qdrant(data: &[u8]) {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    let name = if which & 0x80 == 0 { "c" } else { "n" };
    fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Option<T> {
        serde_json::from_slice(body).ok()
    }
    let store = qdrant_store();
    match which % 12 {
        0 => {
            if let Some(b) = parse::<QueryBody>(body) {
                let _ = b.problems("internal");
                if let Ok(req) = b.into_search() {
                    let _ = store.search(name, &req);
                }
            }
        }
        1 => {
            if let Some(b) = parse::<QueryBatchBody>(body) {
                let reqs: Result<Vec<_>, _> = b
                    .searches
                    .into_iter()
                    .map(|s| {
                        let _ = s.problems("internal");
                        s.into_search()
                    })
                    .collect();
                if let Ok(reqs) = reqs {
                    let _ = store.search_batch(name, &reqs);
                }
            }
        }
        2 => {
            if let Some(b) = parse::<SearchBody>(body) {
                let _ = b.problems("search_request");
                if let Ok(req) = b.into_search() {
                    let _ = store.search(name, &req);
                }
            }
        }
        3 => {
            if let Some(b) = parse::<SearchBatchBody>(body) {
                let reqs: Result<Vec<_>, _> = b
                    .searches
                    .into_iter()
                    .map(|s| {
                        let _ = s.problems("search_request");
                        s.into_search()
                    })
                    .collect();
                if let Ok(reqs) = reqs {
                    let _ = store.search_batch(name, &reqs);
                }
            }
        }
        4 => {
            if let Some(b) = parse::<ScrollBody>(body) {
                let _ = b.problems();
                if let Ok(req) = b.into_scroll() {
                    let _ = store.scroll(name, &req);
                }
            }
        }
        5 => {
            if let Some(b) = parse::<CountBody>(body) {
                let _ = store.count(name, b.filter.as_ref());
            }
        }
        6 => {
            if let Some(b) = parse::<UpsertBody>(body) {
                let before = store.point_count(name).ok();
                if let Ok(points) = b.into_points()
                    && store.upsert(name, points).is_err()
                {
                    assert_eq!(
                        store.point_count(name).ok(),
                        before,
                        "a failed upsert changed the collection"
                    );
                }
                let _ = store.collection_info(name);
            }
        }
        7 => {
            if let Some(b) = parse::<DeleteBody>(body)
                && let Ok(selector) = b.selector()
            {
                let _ = store.delete_points(name, &selector);
            }
        }
        8 => {
            if let Some(b) = parse::<RetrieveBody>(body) {
                let _ = store.retrieve(
                    name,
                    &b.ids,
                    &b.with_payload.unwrap_or(WithPayload::All),
                    &b.with_vector.unwrap_or_default(),
                );
            }
        }
        9 => {
            if let Some(b) = parse::<IndexBody>(body)
                && let Ok(index) =
                    PayloadIndex::parse(b.field_schema.as_ref().unwrap_or(&Value::Null))
            {
                let _ = store.create_payload_index(name, &b.field_name, index);
                let _ = store.collection_info(name);
            }
        }
        10 => {
            // Parsed only: creating a collection allocates nothing up front, but the sizes are
            // what the issue-13 defects were about, so the spec's own checks are exercised.
            let _ = parse::<CollectionSpec>(body);
        }
        _ => {
            if let Some(v) = parse::<Value>(body)
                && let Ok(filter) = Filter::parse(&v)
            {
                let _ = filter.is_empty();
                let _ = store.count(name, Some(&filter));
            }
        }
    }
}

/// Bedrock request bodies (`mock_services/src/bedrock/request.rs` for Converse and
/// ConverseStream, `invoke.rs` for the Titan embedding bodies). Input: a byte choosing the
/// operation, then the body.
pub fn bedrock(data: &[u8]) {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    match which % 3 {
        0 => {
            if let Ok(input) = request::parse(body) {
                let _ = input.prompt();
                let _ = input.question();
            }
        }
        1 => {
            if let Ok(req) = invoke::parse(body, ModelKind::TitanEmbedV2) {
                let _ = invoke::respond_json(&req, ModelKind::TitanEmbedV2);
            }
        }
        _ => {
            if let Ok(req) = invoke::parse(body, ModelKind::TitanEmbedV1) {
                let _ = invoke::respond_json(&req, ModelKind::TitanEmbedV1);
            }
        }
    }
}

/// The `result.json` loader `report` and `compare` use (`RunResult::parse`, `src/result.rs`),
/// then what `report` renders from a loaded result, in memory: the histogram check and every
/// `.hgrm` distribution, the terminal table, Markdown, CSV, HTML and the highlights.
pub fn result(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(r) = RunResult::parse(text, "fuzz.json") else {
        return;
    };
    let _ = ragperf::result::histograms::check(&r);
    let with_rep = export::describe::has_repetitions(&r);
    for run in &r.runs {
        for metric in run.histograms.keys() {
            let _ = export::hgrm::file_name(run, metric, with_rep);
            if let Ok(h) = ragperf::result::histograms::decode(run, metric) {
                let _ = export::hgrm::percentile_distribution(&h);
            }
        }
    }
    let _ = export::table::render(&r);
    let _ = export::markdown::render(&r);
    let _ = export::csv::render(&r);
    let _ = export::html::render(&r);
    let _ = export::highlights::highlights(&r);
}
