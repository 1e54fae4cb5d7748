//! Incremental Server-Sent Events decoder: response-body bytes in, dispatched [`SseEvent`]s out,
//! following the WHATWG HTML "event stream interpretation" rules.
//!
//! This module owns the byte → line → field → event steps and nothing else: what an event's data
//! means belongs to [`super::protocol`], the HTTP connection to the executor.
//!
//! - Lines end with `\n`, `\r\n` or a lone `\r`; a `\r` ending one chunk and a `\n` starting the
//!   next are one line end.
//! - Chunk boundaries may fall anywhere (mid-line, mid-field name, inside a multi-byte UTF-8
//!   character, between `\r` and `\n`): the decoder works on bytes and decodes each *complete*
//!   line as UTF-8, so a split character is never seen half. A line that is not UTF-8 is an error
//!   ([`SseError::InvalidUtf8`]) rather than the spec's U+FFFD replacement: a benchmark should
//!   say the server is broken, not measure mangled text.
//! - One UTF-8 BOM at the start of the stream is skipped; lines starting with `:` are comments
//!   (keep-alives) and are skipped without being decoded.
//! - `field:value` loses one space after the colon; a line without a colon is a field with an
//!   empty value. `data` lines are joined with `\n`; `event` sets the next event's type; `id`
//!   (unless it contains NUL) sets the last event ID, which persists across events as the spec
//!   says; `retry` and unknown fields are ignored.
//! - A blank line dispatches the event when at least one `data` line was seen (an event with no
//!   data lines is dropped, per spec). At the end of the body an undispatched event is
//!   discarded, and [`SseDecoder::finish`] says how many bytes of it there were.
//!
//! Cost per event: lines wholly inside one chunk are parsed in place; only a line split across
//! chunks is copied into a reused buffer. The data buffer is reused too, so a dispatched event
//! costs one allocation for its `data` (plus one each for an `event` type or `id`).
//!
//! A hostile or broken server cannot make the decoder grow without bound: a line longer than
//! `max_event_bytes` ([`SseError::LineTooLong`]) or an event whose joined data would be
//! ([`SseError::EventTooLarge`]) is an error, raised before the buffer grows past the limit.

use thiserror::Error;

/// The UTF-8 byte order mark, skipped once at the start of a stream.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// A sensible `max_event_bytes` for [`SseDecoder::new`]: 1 MiB, far above any token event and
/// far below what would hurt when thousands of streams run at once.
pub const DEFAULT_MAX_EVENT_BYTES: usize = 1 << 20;

/// One dispatched event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SseEvent {
    /// The event type from this event's `event:` field; `None` when absent or empty (what a
    /// browser calls `message`).
    pub event: Option<String>,
    /// The event's `data:` lines joined with `\n` (no trailing `\n`).
    pub data: String,
    /// The last event ID when the event was dispatched: set by this event's `id:` field or an
    /// earlier event's (it persists, per spec); `None` when never set or reset by an empty `id:`.
    pub id: Option<String>,
}

/// Why an event stream could not be decoded. After an error the stream is broken: abandon it
/// (and call [`SseDecoder::finish`], which resets the decoder, before reusing the decoder).
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum SseError {
    /// A line (without its line end) is longer than the decoder's `max_event_bytes`.
    #[error("an event-stream line is longer than the {limit}-byte limit")]
    LineTooLong {
        /// The decoder's `max_event_bytes`.
        limit: usize,
    },
    /// An event's `data` lines joined are longer than the decoder's `max_event_bytes`.
    #[error("an event's data is longer than the {limit}-byte limit")]
    EventTooLarge {
        /// The decoder's `max_event_bytes`.
        limit: usize,
    },
    /// A (non-comment) line is not valid UTF-8.
    #[error(
        "event-stream line {line} is not valid UTF-8 (bad byte at offset {valid_up_to} of the line)"
    )]
    InvalidUtf8 {
        /// 1-based number of the line in the stream (every line end counts, blank lines too).
        line: u64,
        /// Bytes of the line (after a leading BOM on line 1) that are valid UTF-8.
        valid_up_to: usize,
    },
}

/// Incremental event-stream decoder: [`feed`](Self::feed) it the body's chunks as they arrive,
/// then call [`finish`](Self::finish) at the end of the body. See the module doc for the rules.
#[derive(Debug)]
pub struct SseDecoder {
    /// Bound on one line and on one event's joined data.
    max: usize,
    /// The start of a line split across chunks (never the line end itself).
    line: Vec<u8>,
    /// The previous chunk ended with `\r`: a `\n` starting the next chunk is part of that line end.
    after_cr: bool,
    /// Lines completed so far (1-based number of the last one); 0 at the start of a stream.
    lines: u64,
    /// The data buffer: `data` values joined with `\n`.
    data: String,
    /// At least one `data` line since the last dispatch (so `data:` alone gives an empty event).
    has_data: bool,
    /// The event type buffer.
    event_type: String,
    /// The last event ID buffer (persists across events).
    last_id: String,
    /// Bytes of the field lines (without line ends) since the last blank line.
    pending_bytes: usize,
}

impl SseDecoder {
    /// A decoder for one stream at a time; `max_event_bytes` bounds a line and one event's data
    /// (e.g. [`DEFAULT_MAX_EVENT_BYTES`]).
    pub fn new(max_event_bytes: usize) -> Self {
        SseDecoder {
            max: max_event_bytes,
            line: Vec::new(),
            after_cr: false,
            lines: 0,
            data: String::new(),
            has_data: false,
            event_type: String::new(),
            last_id: String::new(),
            pending_bytes: 0,
        }
    }

    /// Decodes the next chunk of the body, appending every event it completes to `out` (events
    /// completed before an error are still appended).
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        let mut rest = chunk;
        if self.after_cr
            && let Some((&first, tail)) = rest.split_first()
        {
            self.after_cr = false;
            if first == b'\n' {
                rest = tail;
            }
        }
        while let Some(end) = rest.iter().position(|&b| b == b'\n' || b == b'\r') {
            if self.line.is_empty() {
                self.check_line_len(end)?;
                self.process_line(&rest[..end], out)?;
            } else {
                self.check_line_len(self.line.len() + end)?;
                self.line.extend_from_slice(&rest[..end]);
                let line = std::mem::take(&mut self.line);
                let processed = self.process_line(&line, out);
                self.line = line;
                self.line.clear();
                processed?;
            }
            let was_cr = rest[end] == b'\r';
            rest = &rest[end + 1..];
            if was_cr {
                match rest.first() {
                    Some(b'\n') => rest = &rest[1..],
                    Some(_) => {}
                    None => self.after_cr = true,
                }
            }
        }
        if !rest.is_empty() {
            self.check_line_len(self.line.len() + rest.len())?;
            self.line.extend_from_slice(rest);
        }
        Ok(())
    }

    /// Ends the stream: returns `Some(bytes)` when an event or a line was still pending (the
    /// body ended mid-event; per spec the unterminated event is discarded), `None` when the body
    /// ended cleanly. `bytes` counts the pending event's field lines and the unterminated line,
    /// without line ends, so it is at least 1. The decoder is then ready for a new stream.
    pub fn finish(&mut self) -> Option<usize> {
        // A stream that is nothing but (part of) a BOM ended cleanly.
        let partial = if self.lines == 0 && BOM.starts_with(&self.line) {
            0
        } else {
            self.line.len()
        };
        let pending = self.pending_bytes + partial;
        self.line.clear();
        self.after_cr = false;
        self.lines = 0;
        self.data.clear();
        self.has_data = false;
        self.event_type.clear();
        self.last_id.clear();
        self.pending_bytes = 0;
        (pending > 0).then_some(pending)
    }

    fn check_line_len(&self, len: usize) -> Result<(), SseError> {
        if len > self.max {
            return Err(SseError::LineTooLong { limit: self.max });
        }
        Ok(())
    }

    /// One complete line, without its line end.
    fn process_line(&mut self, raw: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        self.lines += 1;
        let raw = if self.lines == 1 {
            raw.strip_prefix(BOM).unwrap_or(raw)
        } else {
            raw
        };
        match raw.first() {
            None => {
                self.dispatch(out);
                return Ok(());
            }
            Some(b':') => return Ok(()),
            Some(_) => {}
        }
        let line = std::str::from_utf8(raw).map_err(|e| SseError::InvalidUtf8 {
            line: self.lines,
            valid_up_to: e.valid_up_to(),
        })?;
        self.pending_bytes += raw.len();
        let (name, value) = match line.split_once(':') {
            Some((name, value)) => (name, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match name {
            "data" => {
                let sep = usize::from(self.has_data);
                if self.data.len() + sep + value.len() > self.max {
                    return Err(SseError::EventTooLarge { limit: self.max });
                }
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "event" => {
                self.event_type.clear();
                self.event_type.push_str(value);
            }
            "id" if !value.contains('\0') => {
                self.last_id.clear();
                self.last_id.push_str(value);
            }
            _ => {} // `retry`, an `id` with NUL, unknown fields
        }
        Ok(())
    }

    /// A blank line: dispatch the event if it has data, then start a new one.
    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        if self.has_data {
            out.push(SseEvent {
                event: (!self.event_type.is_empty()).then(|| self.event_type.clone()),
                // A clone is one exact-size allocation and keeps the buffer's capacity.
                data: self.data.clone(),
                id: (!self.last_id.is_empty()).then(|| self.last_id.clone()),
            });
        }
        self.data.clear();
        self.has_data = false;
        self.event_type.clear();
        self.pending_bytes = 0;
    }
}

#[cfg(test)]
#[path = "sse_tests.rs"]
mod tests;
