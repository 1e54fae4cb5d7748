//! The `--target` executor's side of the wire: the one HTTP/1.1 client of [`crate::http1`], with
//! the request rendered per ticket into a reused buffer, on [`crate::http1::pool`]'s kept-alive
//! connections.
//!
//! A connection goes back to the pool only after its whole response was read, framed by
//! `Content-Length` or chunked, without `connection: close`. A pooled connection that the server
//! closed before answering is retried once on a fresh connection (the pool does that); anything
//! else is counted, never retried.

use std::cell::Cell;

use super::config::TargetSpec;
use crate::http1::pool::{OpenError, Pool};
use crate::http1::{BodyLength, Conn, Head};

/// Why a request failed: its counter key and a message.
pub struct Failure(pub &'static str, pub String);

/// The request buffers of one runtime thread: the request, and the body while it is rendered.
#[derive(Default)]
pub struct RequestBuf {
    /// Request line, headers and body, as sent.
    pub wire: Vec<u8>,
    body: String,
}

thread_local! {
    static BUFS: Cell<Option<Box<RequestBuf>>> = const { Cell::new(None) };
}

impl RequestBuf {
    /// This thread's buffer (a new one when another request has it).
    pub fn take() -> Box<RequestBuf> {
        BUFS.with(Cell::take).unwrap_or_default()
    }

    /// Hands the buffer back to the thread the request ended on.
    pub fn give_back(self: Box<Self>) {
        BUFS.with(|b| b.set(Some(self)));
    }
}

/// Where and what to send, fixed for the run.
pub struct Wire {
    /// The target's addresses and idle connections.
    pool: Pool,
    /// Request line and the fixed headers, without the blank line.
    prefix: Vec<u8>,
    /// The response has no body whatever its head says (`HEAD`).
    head_only: bool,
}

impl Wire {
    /// Resolves the host (once) and renders the fixed part of the request.
    pub fn new(spec: &TargetSpec, max_idle: usize) -> Wire {
        let url = &spec.url;
        let mut prefix = format!("{} {}", spec.method.as_str(), url.path());
        if let Some(q) = url.query() {
            prefix.push('?');
            prefix.push_str(q);
        }
        prefix.push_str(" HTTP/1.1\r\n");
        let has = |name: &str| {
            spec.headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case(name))
        };
        if !has("host") {
            let host = url.host_str().unwrap_or("");
            match url.port() {
                Some(p) => prefix.push_str(&format!("host: {host}:{p}\r\n")),
                None => prefix.push_str(&format!("host: {host}\r\n")),
            }
        }
        if !has("accept") {
            prefix.push_str("accept: */*\r\n");
        }
        for (k, v) in &spec.headers {
            // The body's length is the one this client sends.
            if !k.eq_ignore_ascii_case("content-length") {
                prefix.push_str(&format!("{k}: {v}\r\n"));
            }
        }
        Wire {
            pool: Pool::new(url, spec.connect_timeout, max_idle),
            prefix: prefix.into_bytes(),
            head_only: spec.method == reqwest::Method::HEAD,
        }
    }

    /// Renders one request into `buf.wire`; `body` writes the body (None: no body).
    pub fn render(&self, buf: &mut RequestBuf, body: Option<impl FnOnce(&mut String)>) {
        buf.wire.clear();
        buf.wire.extend_from_slice(&self.prefix);
        if let Some(write_body) = body {
            buf.body.clear();
            write_body(&mut buf.body);
            buf.wire.extend_from_slice(b"content-length: ");
            buf.wire
                .extend_from_slice(itoa(buf.body.len(), &mut [0u8; 20]));
            buf.wire.extend_from_slice(b"\r\n\r\n");
            buf.wire.extend_from_slice(buf.body.as_bytes());
        } else {
            buf.wire.extend_from_slice(b"\r\n");
        }
    }

    /// Sends `request` on a pooled or new connection and reads the response head (1xx heads
    /// skipped).
    pub async fn open(&self, request: &[u8]) -> Result<(Conn, Head), Failure> {
        match self.pool.open(request).await {
            Ok((conn, mut head)) => {
                if self.head_only {
                    head.body = BodyLength::Fixed(0);
                }
                Ok((conn, head))
            }
            Err(OpenError::Connect(m)) => Err(Failure("connect", m)),
            Err(OpenError::Timeout(m)) => Err(Failure("timeout", m)),
            Err(OpenError::Bad(m)) => Err(Failure(
                "bad_response",
                format!("no valid HTTP response: {m}"),
            )),
        }
    }

    /// Puts a connection whose response was read to its end back in the pool.
    pub fn put_back(&self, conn: Conn) {
        self.pool.put_back(conn);
    }
}

/// `n` in decimal, written at the end of `out`.
fn itoa(mut n: usize, out: &mut [u8; 20]) -> &[u8] {
    let mut i = out.len();
    loop {
        i -= 1;
        out[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &out[i..];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A server that answers each request on a connection with a keep-alive response, then
    /// closes the connection after `per_conn` of them; returns the URL and the connections
    /// accepted.
    async fn closing_server(
        per_conn: usize,
    ) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/x", listener.local_addr().expect("addr"));
        let accepted = std::sync::Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    for _ in 0..per_conn {
                        if s.read(&mut buf).await.unwrap_or(0) == 0 {
                            return;
                        }
                        let r = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                        if s.write_all(r).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        (url, accepted)
    }

    fn wire_for(url: &str) -> Wire {
        let cfg = crate::target::config::TargetConfig {
            url: url.into(),
            method: Some("GET".into()),
            ..Default::default()
        };
        let spec = cfg
            .spec(&crate::client::ClientConfig::default())
            .expect("spec");
        Wire::new(&spec, 4)
    }

    async fn get(wire: &Wire) -> Result<(), String> {
        let mut buf = RequestBuf::default();
        wire.render(&mut buf, None::<fn(&mut String)>);
        let (mut conn, head) = wire.open(&buf.wire).await.map_err(|f| f.1)?;
        assert!(buf.wire.starts_with(b"GET /x HTTP/1.1\r\nhost: 127.0.0.1:"));
        let end = conn
            .read_body(head.body, None, |_, _| Ok::<bool, ()>(true))
            .await
            .map_err(|e| e.to_string())?;
        assert_eq!(end, Ok(crate::http1::BodyEnd::Complete));
        wire.put_back(conn);
        Ok(())
    }

    #[tokio::test]
    async fn kept_alive_connections_are_reused_and_a_stale_one_is_retried_once() {
        use std::sync::atomic::Ordering;
        let (url, accepted) = closing_server(2).await;
        let wire = wire_for(&url);
        for i in 0..5 {
            get(&wire)
                .await
                .unwrap_or_else(|e| panic!("request {i}: {e}"));
            // Let the server's close reach us before the next request.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Two requests per connection, the third retried on a new one: 3 connections.
        assert_eq!(accepted.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn itoa_writes_decimal() {
        assert_eq!(itoa(0, &mut [0; 20]), b"0");
        assert_eq!(itoa(1234, &mut [0; 20]), b"1234");
        assert_eq!(
            itoa(usize::MAX, &mut [0; 20]),
            usize::MAX.to_string().as_bytes()
        );
    }
}
