//! Incremental decoding of a Bedrock `ConverseStream` body (AWS event-stream framing).
//!
//! The body is fed to [`ConverseStreamDecoder::feed`] chunk by chunk, exactly as it arrives from
//! the socket; the decoder keeps only the bytes of the frame that is not complete yet, decodes
//! every complete frame with `aws_smithy_eventstream`'s [`MessageFrameDecoder`] (which checks both
//! CRCs) and calls the token callback for each `contentBlockDelta` text delta *as soon as its
//! frame is decoded*. That is where the pipeline timestamps TTFT and inter-token gaps — not when
//! the HTTP headers arrive, and never after buffering the whole body.
//!
//! Before waiting for a frame's bytes the decoder checks its prelude (length bounds and prelude
//! CRC), so garbage fails at once as `bad_response` instead of waiting for gigabytes that will
//! never come. Frame layout and limits: docs/wire-facts.md §A4.
//!
//! Events (docs/wire-facts.md §A3): `contentBlockDelta` with `delta.text` is a token; `messageStop`
//! carries the `stopReason`; `metadata` carries `usage.outputTokens`; other event types
//! (`messageStart`, `contentBlockStart/Stop`, tool-use or reasoning deltas, unknown ones) are
//! skipped like botocore does. A frame with `:message-type` `exception` (or boto's `error`)
//! ends the call with [`ErrorKind::StreamException`]. The stream is complete once `messageStop`
//! was decoded and no partial frame is left when the body ends; anything else is
//! [`ErrorKind::StreamCut`].

use std::borrow::Cow;

use aws_smithy_eventstream::frame::{DecodedFrame, MessageFrameDecoder};
use aws_smithy_types::event_stream::{HeaderValue, Message};
use bytes::BytesMut;
use serde::Deserialize;

use super::error::{ClientError, ErrorKind};
use super::outcome::GenerateOutcome;

/// Prelude: total length, headers length, prelude CRC (4 bytes each).
const PRELUDE_LEN: usize = 12;
/// Smallest frame: prelude + message CRC.
const MIN_FRAME_LEN: usize = 16;
/// botocore's limits: headers ≤ 128 KiB, payload ≤ 24 MiB.
const MAX_HEADERS_LEN: usize = 128 * 1024;
const MAX_PAYLOAD_LEN: usize = 24 * 1024 * 1024;
const MAX_FRAME_LEN: usize = MIN_FRAME_LEN + MAX_HEADERS_LEN + MAX_PAYLOAD_LEN;

const OPERATION: &str = "bedrock ConverseStream";

/// CRC-32 (IEEE, as zlib), bitwise: it only ever runs over 8 prelude bytes per frame; the
/// message CRC is checked by `aws_smithy_eventstream`.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

fn be_u32(b: &[u8]) -> usize {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize
}

#[derive(Deserialize)]
struct DeltaEvent<'a> {
    #[serde(borrow)]
    delta: Option<Delta<'a>>,
}

#[derive(Deserialize)]
struct Delta<'a> {
    #[serde(borrow)]
    text: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StopEvent {
    stop_reason: Option<String>,
}

#[derive(Deserialize)]
struct MetadataEvent {
    usage: Option<Usage>,
}

/// Bedrock `TokenUsage`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Usage {
    /// Tokens the model generated.
    pub(crate) output_tokens: Option<u64>,
}

#[derive(Deserialize)]
struct ExceptionPayload {
    #[serde(alias = "Message")]
    message: Option<String>,
}

/// Decodes one ConverseStream body incrementally; see the module docs.
#[derive(Debug, Default)]
pub struct ConverseStreamDecoder {
    buf: BytesMut,
    frames: MessageFrameDecoder,
    text: String,
    deltas: u32,
    usage_output_tokens: Option<u64>,
    stop_reason: Option<String>,
    body_bytes: u64,
}

fn header_str<'m>(msg: &'m Message, name: &str) -> Option<&'m str> {
    msg.headers()
        .iter()
        .find(|h| h.name().as_str() == name)
        .and_then(|h| match h.value() {
            HeaderValue::String(s) => Some(s.as_str()),
            _ => None,
        })
}

impl ConverseStreamDecoder {
    /// A decoder at the start of a body.
    pub fn new() -> Self {
        Self::default()
    }

    /// Text deltas decoded so far.
    pub fn tokens(&self) -> u32 {
        self.deltas
    }

    fn bad(&self, what: impl std::fmt::Display) -> ClientError {
        ClientError::new(
            ErrorKind::BadResponse,
            format!(
                "{OPERATION}: {what} (after {} tokens, {} body bytes)",
                self.deltas, self.body_bytes
            ),
        )
    }

    /// Feeds the next body chunk; calls `on_token` for every text delta completed by it, in
    /// order. Returns an error for an exception frame or an undecodable frame; the call is then
    /// over (the rest of the body must not be fed).
    pub fn feed<F: FnMut(&str) + ?Sized>(
        &mut self,
        chunk: &[u8],
        on_token: &mut F,
    ) -> Result<(), ClientError> {
        self.body_bytes += chunk.len() as u64;
        self.buf.extend_from_slice(chunk);
        loop {
            if self.buf.len() < PRELUDE_LEN {
                return Ok(());
            }
            let total = be_u32(&self.buf[0..4]);
            let headers = be_u32(&self.buf[4..8]);
            let prelude_crc = be_u32(&self.buf[8..12]) as u32;
            if crc32(&self.buf[0..8]) != prelude_crc {
                return Err(
                    self.bad("event-stream prelude CRC mismatch (corrupt or not an event stream)")
                );
            }
            if !(MIN_FRAME_LEN..=MAX_FRAME_LEN).contains(&total)
                || headers > MAX_HEADERS_LEN
                || headers > total - MIN_FRAME_LEN
            {
                return Err(self.bad(format!(
                    "event-stream frame of {total} bytes with {headers} header bytes is out of bounds"
                )));
            }
            if self.buf.len() < total {
                return Ok(());
            }
            let message = match self.frames.decode_frame(&mut self.buf) {
                Ok(DecodedFrame::Complete(m)) => m,
                Ok(DecodedFrame::Incomplete) => {
                    return Err(
                        self.bad("event-stream decoder wanted more bytes than the frame length")
                    );
                }
                Err(e) => return Err(self.bad(format_args!("undecodable event-stream frame: {e}"))),
            };
            self.handle(&message, on_token)?;
        }
    }

    fn handle<F: FnMut(&str) + ?Sized>(
        &mut self,
        msg: &Message,
        on_token: &mut F,
    ) -> Result<(), ClientError> {
        match header_str(msg, ":message-type") {
            Some("event") => {}
            Some("exception") => {
                let kind = header_str(msg, ":exception-type").unwrap_or("unknownException");
                return Err(self.exception(kind, msg.payload()));
            }
            Some("error") => {
                let kind = header_str(msg, ":error-code").unwrap_or("unknownError");
                let text = header_str(msg, ":error-message").unwrap_or("");
                return Err(self.exception(kind, text.as_bytes()));
            }
            Some(other) => return Err(self.bad(format!("unknown :message-type `{other}`"))),
            None => return Err(self.bad("event-stream frame without a :message-type header")),
        }
        let payload = msg.payload();
        match header_str(msg, ":event-type") {
            Some("contentBlockDelta") => {
                let ev: DeltaEvent<'_> = serde_json::from_slice(payload).map_err(|e| {
                    self.bad(format_args!("contentBlockDelta payload is not JSON: {e}"))
                })?;
                // An empty delta carries no token: counting it would fake an early TTFT.
                if let Some(text) = ev.delta.and_then(|d| d.text).filter(|t| !t.is_empty()) {
                    self.deltas += 1;
                    self.text.push_str(&text);
                    on_token(&text);
                }
            }
            Some("messageStop") => {
                let ev: StopEvent = serde_json::from_slice(payload)
                    .map_err(|e| self.bad(format_args!("messageStop payload is not JSON: {e}")))?;
                self.stop_reason = Some(ev.stop_reason.unwrap_or_default());
            }
            Some("metadata") => {
                let ev: MetadataEvent = serde_json::from_slice(payload)
                    .map_err(|e| self.bad(format_args!("metadata payload is not JSON: {e}")))?;
                self.usage_output_tokens = ev.usage.and_then(|u| u.output_tokens);
            }
            // messageStart, contentBlockStart/Stop and unknown events: skipped, as botocore does.
            _ => {}
        }
        Ok(())
    }

    fn exception(&self, kind: &str, payload: &[u8]) -> ClientError {
        let message = serde_json::from_slice::<ExceptionPayload>(payload)
            .ok()
            .and_then(|p| p.message)
            .unwrap_or_else(|| String::from_utf8_lossy(payload).into_owned());
        ClientError::new(
            ErrorKind::StreamException(kind.to_string()),
            format!(
                "{OPERATION}: exception frame `{kind}` after {} tokens: {message}",
                self.deltas
            ),
        )
    }

    /// The body ended cleanly: the outcome if the stream was complete, else `stream_cut`.
    pub fn finish(self) -> Result<GenerateOutcome, ClientError> {
        if !self.buf.is_empty() {
            return Err(self.cut(&format!(
                "in the middle of a frame ({} bytes pending)",
                self.buf.len()
            )));
        }
        match self.stop_reason {
            Some(stop_reason) => Ok(GenerateOutcome {
                text: self.text,
                output_tokens: self.deltas,
                usage_output_tokens: self.usage_output_tokens,
                stop_reason,
            }),
            None => Err(self.cut("before messageStop")),
        }
    }

    /// The error for a body that ended (or a connection that dropped: `why`) too early.
    pub fn cut(&self, why: &str) -> ClientError {
        ClientError::new(
            ErrorKind::StreamCut,
            format!(
                "{OPERATION}: the stream ended {why} after {} tokens and {} body bytes",
                self.deltas, self.body_bytes
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_eventstream::frame::write_message_to;
    use aws_smithy_types::event_stream::Header;

    fn frame(headers: &[(&str, &str)], payload: &str) -> Vec<u8> {
        let hs = headers
            .iter()
            .map(|(k, v)| Header::new(k.to_string(), HeaderValue::String(v.to_string().into())))
            .collect();
        let msg = Message::new_from_parts(hs, payload.as_bytes().to_vec());
        let mut out = Vec::new();
        write_message_to(&msg, &mut out).unwrap();
        out
    }

    fn event(kind: &str, payload: &str) -> Vec<u8> {
        frame(
            &[
                (":event-type", kind),
                (":content-type", "application/json"),
                (":message-type", "event"),
            ],
            payload,
        )
    }

    #[test]
    fn crc_matches_the_botocore_test_vector() {
        // EMPTY_MESSAGE = 00000010 00000000 05c248eb 7d98c8ff
        let empty = [0u8, 0, 0, 0x10, 0, 0, 0, 0];
        assert_eq!(crc32(&empty), 0x05c2_48eb);
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn frame_without_message_type_is_bad_response() {
        let bytes = [
            0u8, 0, 0, 0x10, 0, 0, 0, 0, 0x05, 0xc2, 0x48, 0xeb, 0x7d, 0x98, 0xc8, 0xff,
        ];
        let mut d = ConverseStreamDecoder::new();
        // botocore's empty frame: valid framing, but not a ConverseStream event.
        let e = d.feed(&bytes, &mut |_: &str| {}).unwrap_err();
        assert_eq!(e.kind, ErrorKind::BadResponse);
    }

    #[test]
    fn full_stream_in_one_chunk() {
        let mut body = event("messageStart", r#"{"role":"assistant"}"#);
        body.extend(event(
            "contentBlockDelta",
            r#"{"contentBlockIndex":0,"delta":{"text":"Hel"},"p":"abc"}"#,
        ));
        body.extend(event(
            "contentBlockDelta",
            r#"{"contentBlockIndex":0,"delta":{"text":""}}"#,
        ));
        body.extend(event(
            "contentBlockDelta",
            r#"{"contentBlockIndex":0,"delta":{"text":"lo \"x\""}}"#,
        ));
        body.extend(event("contentBlockStop", r#"{"contentBlockIndex":0}"#));
        body.extend(event("messageStop", r#"{"stopReason":"end_turn"}"#));
        body.extend(event(
            "metadata",
            r#"{"usage":{"inputTokens":5,"outputTokens":2,"totalTokens":7},"metrics":{"latencyMs":3}}"#,
        ));
        let mut d = ConverseStreamDecoder::new();
        let mut seen = Vec::new();
        d.feed(&body, &mut |t: &str| seen.push(t.to_string()))
            .unwrap();
        let out = d.finish().unwrap();
        assert_eq!(seen, ["Hel", "lo \"x\""]);
        assert_eq!(out.text, "Hello \"x\"");
        assert_eq!(out.output_tokens, 2);
        assert_eq!(out.usage_output_tokens, Some(2));
        assert_eq!(out.stop_reason, "end_turn");
    }

    #[test]
    fn huge_length_prelude_fails_at_once() {
        let mut p = vec![0xff, 0xff, 0xff, 0x00, 0, 0, 0, 0];
        let crc = crc32(&p);
        p.extend(crc.to_be_bytes());
        let e = ConverseStreamDecoder::new()
            .feed(&p, &mut |_: &str| {})
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::BadResponse);
        assert!(e.message.contains("out of bounds"), "{}", e.message);
    }
}
