//! Bedrock stream reads the way Python's asyncio does them, for the event-loop variant
//! (`async-single`): a read hands over **every byte that has arrived**, and the task decodes all
//! the token frames in it before it gives the loop back.
//!
//! aiohttp's protocol appends whatever the socket holds to the response's buffer when the loop
//! sees it readable; aiobotocore's event stream then parses every complete frame in that buffer
//! without suspending. A stream that waited behind other work therefore catches up in one turn of
//! the loop. reqwest (hyper) is built the other way: a connection task forwards the body one chunk
//! at a time over a channel to the reading task, so on a busy current-thread runtime every token
//! costs the reader a trip through the run queue — one token per turn of the loop, a stream that
//! never catches up (measured against the seed's FastAPI service: its client sees tokens arrive
//! in bursts after a wait, ITL p50 0 ms; the reqwest model streamed at one token per ~70 ms turn).
//!
//! The connection is [`crate::http1`]'s lean HTTP/1.1 client on kept-alive pooled connections;
//! failures are classified as the other stacks classify them (`transport.rs`).

use std::time::Duration;

use super::ClientBuildError;
use super::config::ClientConfig;
use super::error::{ClientError, ErrorKind, Service, from_http_status};
use super::transport::no_head_in_time;
use crate::http1::pool::{OpenError, Pool};
use crate::http1::{Conn, Head, HttpError};

/// Largest error body read for its message; the rest is ignored.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// POSTs to one streaming URL on pooled connections.
pub(crate) struct LeanStream {
    pool: Pool,
    /// Request line and fixed headers, without the length and the blank line.
    prefix: Vec<u8>,
}

impl std::fmt::Debug for LeanStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LeanStream")
    }
}

impl LeanStream {
    /// `url`: an already checked `http://` URL; keeps `pool_size` idle connections.
    pub(crate) fn new(
        url: &str,
        config: &ClientConfig,
        pool_size: usize,
    ) -> Result<Self, ClientBuildError> {
        let parsed = reqwest::Url::parse(url)
            .map_err(|e| ClientBuildError(format!("bedrock_url: `{url}`: {e}")))?;
        let host = parsed.host_str().unwrap_or("");
        let host = match parsed.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_string(),
        };
        let prefix = format!(
            "POST {} HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\n\
             accept: application/vnd.amazon.eventstream\r\n",
            parsed.path()
        );
        Ok(LeanStream {
            pool: Pool::new(&parsed, config.connect_timeout(), pool_size),
            prefix: prefix.into_bytes(),
        })
    }

    /// Sends `body` and waits up to `timeout` for a 2xx head; a non-2xx answer is read and
    /// classified like every other stack's.
    pub(crate) async fn open(
        &self,
        op: &str,
        body: &[u8],
        timeout: Duration,
    ) -> Result<(Conn, Head), ClientError> {
        let mut request = Vec::with_capacity(self.prefix.len() + 40 + body.len());
        request.extend_from_slice(&self.prefix);
        request.extend_from_slice(format!("content-length: {}\r\n\r\n", body.len()).as_bytes());
        request.extend_from_slice(body);
        let (conn, head) = match tokio::time::timeout(timeout, self.pool.open(&request)).await {
            Ok(Ok(opened)) => opened,
            Ok(Err(e)) => return Err(open_error(op, e)),
            Err(_) => return Err(no_head_in_time(op, timeout)),
        };
        if (200..300).contains(&head.status) {
            return Ok((conn, head));
        }
        Err(self.error_answer(op, conn, &head, timeout).await)
    }

    /// The error of a non-2xx answer, from its head and (up to 64 KiB of) its body.
    async fn error_answer(
        &self,
        op: &str,
        mut conn: Conn,
        head: &Head,
        idle: Duration,
    ) -> ClientError {
        let mut body = Vec::new();
        let end = conn
            .read_body(head.body, Some(idle), |d, _| {
                let room = MAX_ERROR_BODY.saturating_sub(body.len());
                body.extend_from_slice(&d[..d.len().min(room)]);
                Ok::<bool, ()>(body.len() < MAX_ERROR_BODY)
            })
            .await;
        if let Ok(Ok(end)) = end
            && head.reusable_after(end)
        {
            self.pool.put_back(conn);
        }
        from_http_status(
            Service::Bedrock,
            op,
            head.status,
            head.error_type.as_deref(),
            &body,
        )
    }

    /// Reads the body of an opened stream, handing `on_chunk` every piece of it as it is read —
    /// all that has arrived, in one go — each wait for more bounded by `idle`. `on_chunk`'s
    /// flag says the piece is the first of a socket read (a chunked body hands over each HTTP
    /// chunk of a read separately). Returns at a clean end of the body; the connection then
    /// goes back to the pool.
    pub(crate) async fn read(
        &self,
        op: &str,
        mut conn: Conn,
        head: &Head,
        idle: Duration,
        mut on_chunk: impl FnMut(&[u8], bool) -> Result<(), ClientError>,
    ) -> Result<(), ClientError> {
        // Every piece of one read carries the instant the read returned.
        let mut last_read = None;
        let end = conn
            .read_body(head.body, Some(idle), |d, at| {
                let fresh = last_read != Some(at);
                last_read = Some(at);
                on_chunk(d, fresh).map(|()| true)
            })
            .await;
        match end {
            Ok(Ok(end)) => {
                if head.reusable_after(end) {
                    self.pool.put_back(conn);
                }
                Ok(())
            }
            Ok(Err(e)) => Err(e),
            Err(HttpError::Idle(d)) => Err(ClientError::new(
                ErrorKind::Timeout,
                format!(
                    "{op}: no body bytes for {} ms (stream_idle_timeout_ms)",
                    d.as_millis()
                ),
            )),
            Err(e) => Err(ClientError::new(
                ErrorKind::StreamCut,
                format!("{op}: the connection failed while reading the body: {e}"),
            )),
        }
    }
}

/// An opening failure in the classification of `transport.rs`.
fn open_error(op: &str, e: OpenError) -> ClientError {
    match e {
        OpenError::Connect(m) => ClientError::new(ErrorKind::Connect, format!("{op}: {m}")),
        OpenError::Timeout(m) => ClientError::new(ErrorKind::Timeout, format!("{op}: {m}")),
        OpenError::Bad(m) => ClientError::new(
            ErrorKind::BadResponse,
            format!("{op}: the response is not HTTP: {m}"),
        ),
    }
}
