//! A minimal HTTP/1.1 client connection for one request at a time, kept alive between them:
//! the client of `ragperf streams` and of `ragperf run --target`.
//!
//! The request is written with one `write_all`; the response head is parsed with `httparse`
//! (hyper's parser); the body is read straight off the socket into one reusable buffer and
//! handed on as slices, with the time each read returned. Compared with a general client
//! (reqwest/hyper: a connection task that forwards body chunks over a channel to the task
//! reading the response) a token event costs one task wake-up and one `read` here, so the
//! instrument stays cheaper than the server it measures, as wrk's own parser is for HTTP servers.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

pub(crate) mod chunked;
pub(crate) mod pool;

use chunked::{ChunkError, Chunked};

/// Largest response head accepted.
const MAX_HEAD: usize = 64 * 1024;
/// Headers parsed at most.
const MAX_HEADERS: usize = 64;
/// Buffer space made available for each read.
const READ_SPACE: usize = 4096;

/// Why a response could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// A socket error.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The server closed the connection before the response was complete.
    #[error("the connection closed {0}")]
    Closed(&'static str),
    /// Not a valid HTTP/1.1 response.
    #[error("bad HTTP response: {0}")]
    Bad(String),
    /// The body's chunked framing is broken.
    #[error("{0}")]
    Chunked(#[from] ChunkError),
    /// No bytes arrived for this long while reading the body.
    #[error("no bytes for {} ms", .0.as_millis())]
    Idle(Duration),
}

/// How the body of a response is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyLength {
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// `Content-Length: n`.
    Fixed(u64),
    /// Neither: the body runs until the server closes the connection.
    UntilClose,
}

/// A parsed response head.
#[derive(Clone, Debug)]
pub struct Head {
    /// Status code.
    pub status: u16,
    /// How the body is delimited.
    pub body: BodyLength,
    /// The connection cannot be reused afterwards (`Connection: close`, HTTP/1.0, no length).
    pub close: bool,
    /// `Content-Type`, if any.
    pub content_type: Option<String>,
    /// `x-amzn-ErrorType` up to its first `:` (the AWS error code), if any.
    pub error_type: Option<String>,
}

impl Head {
    /// The connection can carry another request after a body read that ended with `end`: the
    /// response was read to the end of its framing and the server did not say it would close
    /// (a body delimited by the close itself sets `close`).
    pub fn reusable_after(&self, end: BodyEnd) -> bool {
        !self.close && matches!(end, BodyEnd::Complete | BodyEnd::Stopped { complete: true })
    }
}

/// One kept-alive connection.
#[derive(Debug)]
pub struct Conn {
    stream: TcpStream,
    buf: BytesMut,
    /// Requests sent on it so far.
    pub requests: u64,
}

impl Conn {
    /// Connects with `TCP_NODELAY` (a request must not wait for Nagle).
    pub async fn connect(addr: SocketAddr) -> io::Result<Conn> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            buf: BytesMut::new(),
            requests: 0,
        })
    }

    /// Writes a whole request.
    pub async fn send(&mut self, request: &[u8]) -> io::Result<()> {
        self.requests += 1;
        self.buf.clear();
        self.stream.write_all(request).await
    }

    /// Reads more bytes into the buffer; `Ok(false)` at end of stream.
    async fn fill(&mut self) -> io::Result<bool> {
        self.buf.reserve(READ_SPACE);
        Ok(self.stream.read_buf(&mut self.buf).await? > 0)
    }

    /// Reads and parses the response head; `Ok(None)` when the server closed the connection
    /// before sending a byte (a kept-alive connection it had already given up on).
    pub async fn read_head(&mut self) -> Result<Option<Head>, HttpError> {
        loop {
            if let Some((head, len)) = parse_head(&self.buf)? {
                self.buf.advance(len);
                return Ok(Some(head));
            }
            if self.buf.len() > MAX_HEAD {
                return Err(HttpError::Bad(format!(
                    "response head longer than {MAX_HEAD} bytes"
                )));
            }
            if !self.fill().await? {
                return if self.buf.is_empty() {
                    Ok(None)
                } else {
                    Err(HttpError::Closed("inside the response head"))
                };
            }
        }
    }

    /// Bytes read but not yet consumed (after a failed [`Conn::read_head`]: whether the server
    /// had begun to answer).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Reads more bytes, giving up after `idle` without any ([`HttpError::Idle`]).
    async fn fill_within(&mut self, idle: Option<Duration>) -> Result<bool, HttpError> {
        match idle {
            None => Ok(self.fill().await?),
            Some(d) => match tokio::time::timeout(d, self.fill()).await {
                Ok(more) => Ok(more?),
                Err(_) => Err(HttpError::Idle(d)),
            },
        }
    }

    /// Reads the body, passing every piece of it to `on_data` with the time the read that
    /// delivered it returned (bytes already buffered with the head get the head's time).
    /// `on_data` returns `Ok(true)` to go on and `Ok(false)` to stop reading early (it may still
    /// be called for the rest of the bytes already read, which it must then ignore); its error
    /// ends the body with that error. `idle` bounds each wait for more bytes.
    pub async fn read_body<E>(
        &mut self,
        length: BodyLength,
        idle: Option<Duration>,
        mut on_data: impl FnMut(&[u8], Instant) -> Result<bool, E>,
    ) -> Result<Result<BodyEnd, E>, HttpError> {
        let mut at = Instant::now();
        let mut body = BodyState::new(length);
        loop {
            if !self.buf.is_empty() {
                let (used, go_on) = match body.decode(&self.buf, at, &mut on_data)? {
                    Ok(step) => step,
                    Err(e) => return Ok(Err(e)),
                };
                self.buf.advance(used);
                if !go_on {
                    let complete = body.finished();
                    return Ok(Ok(BodyEnd::Stopped { complete }));
                }
            }
            if body.finished() {
                return Ok(Ok(BodyEnd::Complete));
            }
            if !self.fill_within(idle).await? {
                return match length {
                    BodyLength::UntilClose => Ok(Ok(BodyEnd::Complete)),
                    _ => Err(HttpError::Closed("inside the response body")),
                };
            }
            at = Instant::now();
        }
    }
}

/// How a body read ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyEnd {
    /// The whole body was read.
    Complete,
    /// `on_data` asked to stop. `complete`: the body's framing ended within the bytes already
    /// read anyway, so the connection can still carry another request.
    Stopped {
        /// The whole body had been read.
        complete: bool,
    },
}

/// Where a body read is: its framing and how much of it is left.
struct BodyState {
    length: BodyLength,
    chunked: Chunked,
    left: u64,
}

impl BodyState {
    fn new(length: BodyLength) -> Self {
        BodyState {
            length,
            chunked: Chunked::new(),
            left: match length {
                BodyLength::Fixed(n) => n,
                _ => u64::MAX,
            },
        }
    }

    /// The framing says the body is over.
    fn finished(&self) -> bool {
        match self.length {
            BodyLength::Chunked => self.chunked.is_done(),
            BodyLength::Fixed(_) => self.left == 0,
            BodyLength::UntilClose => false,
        }
    }

    /// Hands the body bytes in `buf` to `on_data`: the bytes of `buf` used, and whether
    /// `on_data` wants more.
    fn decode<E>(
        &mut self,
        buf: &[u8],
        at: Instant,
        on_data: &mut impl FnMut(&[u8], Instant) -> Result<bool, E>,
    ) -> Result<Result<(usize, bool), E>, HttpError> {
        let mut go_on = true;
        if self.length == BodyLength::Chunked {
            let r = self
                .chunked
                .decode(buf, &mut |d: &[u8]| match on_data(d, at) {
                    Ok(more) => {
                        go_on &= more;
                        Ok(())
                    }
                    Err(e) => Err(e),
                })?;
            return Ok(r.map(|used| (used, go_on)));
        }
        let take = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        match on_data(&buf[..take], at) {
            Ok(more) => go_on = more,
            Err(e) => return Ok(Err(e)),
        }
        self.left -= take as u64;
        Ok(Ok((take, go_on)))
    }
}

/// Parses a complete head at the start of `buf`: the head and its length, or None if more bytes
/// are needed.
pub fn parse_head(buf: &[u8]) -> Result<Option<(Head, usize)>, HttpError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut headers);
    let len = match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(HttpError::Bad(e.to_string())),
    };
    let status = resp
        .code
        .ok_or_else(|| HttpError::Bad("no status code".into()))?;
    let mut close = resp.version == Some(0);
    let mut chunked = false;
    let mut content_length = None;
    let mut content_type = None;
    let mut error_type = None;
    for h in resp.headers.iter() {
        let value = std::str::from_utf8(h.value)
            .map_err(|_| HttpError::Bad(format!("header {} is not UTF-8", h.name)))?
            .trim();
        if h.name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value
                .rsplit(',')
                .next()
                .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"));
        } else if h.name.eq_ignore_ascii_case("content-length") {
            let n = value
                .parse::<u64>()
                .map_err(|_| HttpError::Bad(format!("Content-Length `{value}` is not a number")))?;
            content_length = Some(n);
        } else if h.name.eq_ignore_ascii_case("connection") {
            close |= value
                .split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("close"));
        } else if h.name.eq_ignore_ascii_case("content-type") {
            content_type = Some(value.to_string());
        } else if h.name.eq_ignore_ascii_case("x-amzn-errortype") {
            error_type = Some(value.split(':').next().unwrap_or(value).to_string());
        }
    }
    let body = if chunked {
        BodyLength::Chunked
    } else if let Some(n) = content_length {
        BodyLength::Fixed(n)
    } else if status == 204 || status == 304 || (100..200).contains(&status) {
        BodyLength::Fixed(0)
    } else {
        close = true;
        BodyLength::UntilClose
    };
    Ok(Some((
        Head {
            status,
            body,
            close,
            content_type,
            error_type,
        },
        len,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_streaming_head() {
        let wire = b"HTTP/1.1 200 OK\r\ncontent-type: application/vnd.amazon.eventstream\r\n\
                     transfer-encoding: chunked\r\nx-amzn-requestid: abc\r\n\r\n5\r\n";
        let (head, len) = parse_head(wire).unwrap().unwrap();
        assert_eq!(head.status, 200);
        assert_eq!(head.body, BodyLength::Chunked);
        assert!(!head.close);
        assert_eq!(
            head.content_type.as_deref(),
            Some("application/vnd.amazon.eventstream")
        );
        assert_eq!(&wire[len..], b"5\r\n");
    }

    #[test]
    fn parses_an_aws_error_head() {
        let wire = b"HTTP/1.1 429 Too Many Requests\r\nContent-Length: 2\r\n\
                     x-amzn-ErrorType: ThrottlingException:http://internal.amazon.com/\r\n\
                     Connection: close\r\n\r\n{}";
        let (head, _) = parse_head(wire).unwrap().unwrap();
        assert_eq!(head.status, 429);
        assert_eq!(head.body, BodyLength::Fixed(2));
        assert!(head.close);
        assert_eq!(head.error_type.as_deref(), Some("ThrottlingException"));
    }

    #[test]
    fn waits_for_a_whole_head_and_rejects_garbage() {
        assert!(
            parse_head(b"HTTP/1.1 200 OK\r\nContent-Le")
                .unwrap()
                .is_none()
        );
        assert!(matches!(
            parse_head(b"SSH-2.0-OpenSSH\r\n\r\n"),
            Err(HttpError::Bad(_))
        ));
        assert!(matches!(
            parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n"),
            Err(HttpError::Bad(_))
        ));
        let (head, _) = parse_head(b"HTTP/1.0 200 OK\r\n\r\n").unwrap().unwrap();
        assert_eq!(head.body, BodyLength::UntilClose);
        assert!(head.close);
    }
}
