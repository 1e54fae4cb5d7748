//! AWS event-stream frames of a ConverseStream body (docs/wire-facts.md §A3, §A4).
//!
//! Frames are encoded by `aws-smithy-eventstream` (the same code the Rust SDK decodes with), not
//! by a hand-rolled CRC. Headers go in the order real Bedrock sends them: `:event-type` (or
//! `:exception-type`), `:content-type`, `:message-type`, all strings.
//!
//! Event payloads are the event's own members, unwrapped, plus the `"p"` padding field real
//! responses carry (a prefix of an alphanumeric alphabet of random length; both SDKs ignore it).

use aws_smithy_eventstream::frame::write_message_to;
use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use aws_smithy_types::str_bytes::StrBytes;
use bytes::{Bytes, BytesMut};
use serde::Serialize;

/// `Content-Type` of an event-stream response body.
pub const CONTENT_TYPE: &str = "application/vnd.amazon.eventstream";

/// The padding alphabet; `"p"` is a prefix of it.
const PAD_ALPHABET: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// Longest padding the mock adds (the whole alphabet).
pub const MAX_PADDING: usize = PAD_ALPHABET.len();

/// The padding string of length `len` (clamped to [`MAX_PADDING`]); empty means no `"p"` field.
pub fn padding(len: usize) -> &'static str {
    &PAD_ALPHABET[..len.min(MAX_PADDING)]
}

/// A string header; `StrBytes` from a `&'static str` borrows it, so the constant headers of
/// every token frame cost no allocation.
fn string_header(name: &'static str, value: impl Into<StrBytes>) -> Header {
    Header::new(name, HeaderValue::String(value.into()))
}

/// Encodes one message into its wire bytes.
pub fn encode(message: &Message) -> Bytes {
    let mut buf = BytesMut::with_capacity(16 + message.payload().len() + 96);
    // Writing into a growable buffer only fails for headers or payloads beyond the format's
    // limits (u16 header values, u32 lengths), which the mock's small JSON events never reach.
    if let Err(e) = write_message_to(message, &mut buf) {
        unreachable_frame(&e.to_string());
    }
    buf.freeze()
}

#[cold]
fn unreachable_frame(why: &str) -> ! {
    // Only an internal bug (an oversized header) gets here; fail loudly in that case.
    panic!("event-stream frame could not be encoded: {why}")
}

/// An `event` frame: `:event-type`=`event_type`, JSON payload.
pub fn event(event_type: &'static str, payload: Vec<u8>) -> Bytes {
    let message = Message::new_from_parts(
        vec![
            string_header(":event-type", event_type),
            string_header(":content-type", "application/json"),
            string_header(":message-type", "event"),
        ],
        payload,
    );
    encode(&message)
}

/// An `exception` frame: `:exception-type`=`kind` (lowerCamel member name, e.g.
/// `throttlingException`), payload `{"message": ...}`.
pub fn exception(kind: &str, message: &str) -> Bytes {
    let payload = serde_json::json!({ "message": message }).to_string();
    let m = Message::new_from_parts(
        vec![
            string_header(":exception-type", kind.to_string()),
            string_header(":content-type", "application/json"),
            string_header(":message-type", "exception"),
        ],
        payload.into_bytes(),
    );
    encode(&m)
}

/// Serialises `value` (a struct with a trailing `p: &str` field skipped when empty).
fn json<T: Serialize>(value: &T) -> Vec<u8> {
    // Serialising these plain structs of strings and integers cannot fail.
    serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec())
}

fn no_padding(p: &&str) -> bool {
    p.is_empty()
}

#[derive(Serialize)]
struct MessageStart<'a> {
    role: &'a str,
    #[serde(skip_serializing_if = "no_padding")]
    p: &'a str,
}

/// The token payload as serde would write it: the reference [`text_delta`] is tested against.
#[cfg(test)]
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BlockDelta<'a> {
    content_block_index: u32,
    delta: TextDelta<'a>,
    #[serde(skip_serializing_if = "no_padding")]
    p: &'a str,
}

#[cfg(test)]
#[derive(Serialize)]
struct TextDelta<'a> {
    text: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BlockStop<'a> {
    content_block_index: u32,
    #[serde(skip_serializing_if = "no_padding")]
    p: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MessageStop<'a> {
    stop_reason: &'a str,
    #[serde(skip_serializing_if = "no_padding")]
    p: &'a str,
}

/// Token counts of one call, as in `usage`.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    /// Tokens of the input (system + messages).
    pub input_tokens: u64,
    /// Tokens generated.
    pub output_tokens: u64,
    /// The sum of both.
    pub total_tokens: u64,
}

impl Usage {
    /// Usage of `input` + `output` tokens.
    pub fn new(input: u64, output: u64) -> Self {
        Usage {
            input_tokens: input,
            output_tokens: output,
            total_tokens: input + output,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Metrics {
    latency_ms: u64,
}

#[derive(Serialize)]
struct Metadata<'a> {
    usage: Usage,
    metrics: Metrics,
    #[serde(skip_serializing_if = "no_padding")]
    p: &'a str,
}

/// `messageStart` `{"role":"assistant"}`.
pub fn message_start(p: &str) -> Bytes {
    event(
        "messageStart",
        json(&MessageStart {
            role: "assistant",
            p,
        }),
    )
}

/// Appends `s` as a JSON string: copied as it is when nothing needs escaping (the common case
/// for a token), otherwise through serde_json.
fn push_json_str(out: &mut Vec<u8>, s: &str) {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        // Writing a string into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, s);
    }
}

/// `contentBlockDelta` `{"contentBlockIndex":0,"delta":{"text":...}}`: the per-token frame, its
/// JSON written directly (the same bytes serde_json writes for [`BlockDelta`], without
/// escaping every key on every token).
pub fn text_delta(text: &str, p: &str) -> Bytes {
    let mut payload = Vec::with_capacity(56 + text.len() + p.len());
    payload.extend_from_slice(br#"{"contentBlockIndex":0,"delta":{"text":"#);
    push_json_str(&mut payload, text);
    payload.push(b'}');
    if !p.is_empty() {
        payload.extend_from_slice(br#","p":"#);
        push_json_str(&mut payload, p);
    }
    payload.push(b'}');
    event("contentBlockDelta", payload)
}

/// `contentBlockStop` `{"contentBlockIndex":0}`.
pub fn block_stop(p: &str) -> Bytes {
    event(
        "contentBlockStop",
        json(&BlockStop {
            content_block_index: 0,
            p,
        }),
    )
}

/// `messageStop` `{"stopReason":...}`.
pub fn message_stop(stop_reason: &str, p: &str) -> Bytes {
    event("messageStop", json(&MessageStop { stop_reason, p }))
}

/// `metadata` `{"usage":{...},"metrics":{"latencyMs":...}}`.
pub fn metadata(usage: Usage, latency_ms: u64, p: &str) -> Bytes {
    event(
        "metadata",
        json(&Metadata {
            usage,
            metrics: Metrics { latency_ms },
            p,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_eventstream::frame::{DecodedFrame, MessageFrameDecoder, read_message_from};
    use aws_smithy_eventstream::smithy::parse_response_headers;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn empty_frame_matches_the_published_vector() {
        let b = encode(&Message::new(Bytes::new()));
        assert_eq!(hex(&b), "000000100000000005c248eb7d98c8ff");
    }

    #[test]
    fn message_start_without_padding_matches_the_captured_prelude() {
        let b = message_start("");
        assert_eq!(b.len(), 118);
        assert_eq!(hex(&b[..12]), "000000760000005296d5fade");
    }

    #[test]
    fn the_token_payload_is_what_serde_writes() {
        for (text, p) in [
            (" the", ""),
            (" the", "abc"),
            (" caf\u{e9} \"q\" \\ back", padding(MAX_PADDING)),
            ("tab\there\nnew\u{1}line", "p"),
            ("", ""),
            ("\u{1F600} [doc-3]", "xy"),
        ] {
            let frame = text_delta(text, p);
            let m = read_message_from(&mut frame.clone()).unwrap();
            let expected = json(&BlockDelta {
                content_block_index: 0,
                delta: TextDelta { text },
                p,
            });
            assert_eq!(
                String::from_utf8_lossy(m.payload()),
                String::from_utf8_lossy(&expected),
                "{text:?} {p:?}"
            );
        }
    }

    #[test]
    fn frames_round_trip_through_the_sdk_decoder() {
        let mut wire = BytesMut::new();
        wire.extend_from_slice(&message_start(padding(7)));
        wire.extend_from_slice(&text_delta(" caf\u{e9} \"q\"", padding(MAX_PADDING)));
        wire.extend_from_slice(&block_stop(""));
        wire.extend_from_slice(&message_stop("end_turn", padding(3)));
        wire.extend_from_slice(&metadata(Usage::new(12, 3), 57, padding(1)));
        wire.extend_from_slice(&exception("throttlingException", "slow down"));

        let mut decoder = MessageFrameDecoder::new();
        let mut buf = wire.freeze();
        let mut got = Vec::new();
        while let DecodedFrame::Complete(m) = decoder.decode_frame(&mut buf).unwrap() {
            let h = parse_response_headers(&m).unwrap();
            let names: Vec<String> = m
                .headers()
                .iter()
                .map(|h| h.name().as_str().to_string())
                .collect();
            let payload: serde_json::Value = serde_json::from_slice(m.payload()).unwrap();
            got.push((
                h.message_type.as_str().to_string(),
                h.smithy_type.as_str().to_string(),
                h.content_type().map(str::to_string),
                names,
                payload,
            ));
        }
        assert_eq!(got.len(), 6);
        assert_eq!(got[0].1, "messageStart");
        assert_eq!(got[0].3, [":event-type", ":content-type", ":message-type"]);
        assert_eq!(got[0].4["role"], "assistant");
        assert_eq!(got[0].4["p"], "abcdefg");
        assert_eq!(got[1].4["delta"]["text"], " caf\u{e9} \"q\"");
        assert_eq!(got[1].4["contentBlockIndex"], 0);
        assert!(got[2].4.get("p").is_none());
        assert_eq!(got[3].4["stopReason"], "end_turn");
        assert_eq!(got[4].4["usage"]["totalTokens"], 15);
        assert_eq!(got[4].4["metrics"]["latencyMs"], 57);
        assert_eq!(got[5].0, "exception");
        assert_eq!(got[5].1, "throttlingException");
        assert_eq!(got[5].2.as_deref(), Some("application/json"));
        assert_eq!(
            got[5].3,
            [":exception-type", ":content-type", ":message-type"]
        );
        assert_eq!(got[5].4["message"], "slow down");

        // A single frame also parses with the one-shot reader.
        let one = read_message_from(&mut block_stop("ab")).unwrap();
        assert_eq!(
            one.payload().as_ref(),
            br#"{"contentBlockIndex":0,"p":"ab"}"#
        );
    }
}
