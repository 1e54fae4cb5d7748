//! An incremental decoder of HTTP/1.1 `Transfer-Encoding: chunked` bodies (RFC 9112 §7.1):
//! chunk-size lines (extensions ignored), data, and the trailer section. It hands out the data
//! as slices of the input, so a token frame is never copied on its way to the event-stream
//! decoder.

use thiserror::Error;

/// A body that breaks the chunked framing.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ChunkError {
    /// A byte that cannot appear where it did.
    #[error("malformed chunked body: {0}")]
    Malformed(&'static str),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Reading the hex chunk size.
    Size { value: u64, digits: u8 },
    /// Whitespace or a `;extension` after the size, up to CR.
    Extension { value: u64 },
    /// CR of the size line seen, LF due.
    SizeLf { value: u64 },
    /// `n` bytes of chunk data left.
    Data(u64),
    /// CR after the data due.
    DataCr,
    /// LF after the data due.
    DataLf,
    /// Inside the trailer section; `len` bytes of the current line so far.
    Trailer { len: usize },
    /// CR of a trailer line seen, LF due; `empty` = it was the blank line ending the body.
    TrailerLf { empty: bool },
    /// The last chunk and the trailers have been read.
    Done,
}

/// The decoder's position in one chunked body.
#[derive(Clone, Debug)]
pub struct Chunked {
    state: State,
}

impl Default for Chunked {
    fn default() -> Self {
        Chunked {
            state: State::Size {
                value: 0,
                digits: 0,
            },
        }
    }
}

impl Chunked {
    /// A decoder at the start of a body.
    pub fn new() -> Self {
        Self::default()
    }

    /// The whole body (last chunk and trailers) has been read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Decodes as much of `input` as possible, passing every piece of chunk data to `data` in
    /// order; returns how many bytes of `input` were consumed (less than all only when the body
    /// ended inside `input`: the rest belongs to whatever follows it).
    pub fn decode<'a, E>(
        &mut self,
        input: &'a [u8],
        data: &mut impl FnMut(&'a [u8]) -> Result<(), E>,
    ) -> Result<Result<usize, E>, ChunkError> {
        let mut i = 0;
        while i < input.len() {
            self.state = match self.state {
                State::Data(left) => {
                    let take = (input.len() - i).min(usize::try_from(left).unwrap_or(usize::MAX));
                    if let Err(e) = data(&input[i..i + take]) {
                        return Ok(Err(e));
                    }
                    i += take;
                    let left = left - take as u64;
                    if left == 0 {
                        State::DataCr
                    } else {
                        State::Data(left)
                    }
                }
                State::Done => break,
                framing => {
                    let next = framing_byte(framing, input[i])?;
                    i += 1;
                    next
                }
            };
        }
        Ok(Ok(i))
    }
}

/// The state after one byte of framing (anything but chunk data): a size line, the CRLF after
/// the data, or the trailers. Every such byte is consumed. (`Data` and `Done` are the caller's;
/// they come back unchanged.)
fn framing_byte(state: State, b: u8) -> Result<State, ChunkError> {
    Ok(match state {
        State::Size { value, digits } => match b {
            b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' => {
                if digits >= 15 {
                    return Err(ChunkError::Malformed("chunk size too large"));
                }
                let d = (b as char).to_digit(16).unwrap_or(0) as u64;
                State::Size {
                    value: value * 16 + d,
                    digits: digits + 1,
                }
            }
            _ if digits == 0 => {
                return Err(ChunkError::Malformed("chunk size line without a size"));
            }
            b'\r' => State::SizeLf { value },
            b';' | b' ' | b'\t' => State::Extension { value },
            _ => return Err(ChunkError::Malformed("non-hex byte in a chunk size")),
        },
        State::Extension { value } => match b {
            b'\r' => State::SizeLf { value },
            b'\n' => return Err(ChunkError::Malformed("bare LF in a chunk size line")),
            _ => State::Extension { value },
        },
        State::SizeLf { value } => {
            if b != b'\n' {
                return Err(ChunkError::Malformed("CR without LF after a chunk size"));
            }
            if value == 0 {
                State::Trailer { len: 0 }
            } else {
                State::Data(value)
            }
        }
        State::DataCr => {
            if b != b'\r' {
                return Err(ChunkError::Malformed("chunk data longer than its size"));
            }
            State::DataLf
        }
        State::DataLf => {
            if b != b'\n' {
                return Err(ChunkError::Malformed("CR without LF after chunk data"));
            }
            State::Size {
                value: 0,
                digits: 0,
            }
        }
        State::Trailer { len } => match b {
            b'\r' => State::TrailerLf { empty: len == 0 },
            b'\n' => return Err(ChunkError::Malformed("bare LF in the trailers")),
            _ => State::Trailer { len: len + 1 },
        },
        State::TrailerLf { empty } => {
            if b != b'\n' {
                return Err(ChunkError::Malformed("CR without LF in the trailers"));
            }
            if empty {
                State::Done
            } else {
                State::Trailer { len: 0 }
            }
        }
        State::Data(_) | State::Done => state,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes `wire` fed in pieces of `step` bytes; returns the data and the leftover.
    fn decode_in_steps(wire: &[u8], step: usize) -> Result<(Vec<u8>, Vec<u8>, bool), ChunkError> {
        let mut d = Chunked::new();
        let mut out = Vec::new();
        let mut pending: Vec<u8> = Vec::new();
        for piece in wire.chunks(step) {
            pending.extend_from_slice(piece);
            let used = d
                .decode(&pending, &mut |s: &[u8]| {
                    out.extend_from_slice(s);
                    Ok::<(), ()>(())
                })?
                .unwrap_or(0);
            pending.drain(..used);
            if d.is_done() {
                break;
            }
        }
        Ok((out, pending, d.is_done()))
    }

    #[test]
    fn decodes_chunks_whatever_the_read_boundaries() {
        let wire =
            b"5\r\nhello\r\n1;name=value\r\n \r\nA\r\n0123456789\r\n0\r\nx-trailer: 1\r\n\r\nNEXT";
        for step in 1..=wire.len() {
            let (data, rest, done) = decode_in_steps(wire, step).unwrap();
            assert_eq!(data, b"hello 0123456789", "step {step}");
            assert!(done, "step {step}");
            // Whatever follows the body stays unconsumed.
            assert!(b"NEXT".starts_with(&rest), "step {step}: {rest:?}");
        }
    }

    #[test]
    fn an_unfinished_body_is_not_done() {
        let (data, _, done) = decode_in_steps(b"5\r\nhel", 3).unwrap();
        assert_eq!(data, b"hel");
        assert!(!done);
        let (_, _, done) = decode_in_steps(b"5\r\nhello\r\n0\r\n", 4).unwrap();
        assert!(!done, "the blank line after the last chunk is still due");
    }

    #[test]
    fn rejects_broken_framing() {
        for wire in [
            &b"\r\n"[..],
            b"zz\r\n",
            b"5\r\nhello!\r\n",
            b"5\rXhello\r\n",
            b"1234567890abcdef0\r\n",
            b"5\nhello",
        ] {
            assert!(
                matches!(decode_in_steps(wire, 64), Err(ChunkError::Malformed(_))),
                "{:?}",
                String::from_utf8_lossy(wire)
            );
        }
    }

    #[test]
    fn a_data_callback_error_stops_decoding() {
        let mut d = Chunked::new();
        let r = d.decode(b"3\r\nabc\r\n", &mut |_s: &[u8]| Err("stop"));
        assert_eq!(r, Ok(Err("stop")));
    }
}
