//! Kept-alive connections to one server: its addresses resolved once, a bounded pool of idle
//! connections, and the opening of a request on one of them. Shared by the `--target` executor
//! and the event-loop variant's Bedrock stream reads.
//!
//! A connection goes back to the pool only after its whole response was read (the caller's
//! decision, [`Pool::put_back`]). A pooled connection that the server closed before answering
//! (an idle keep-alive it gave up on) is retried once on a fresh connection, as every HTTP client
//! does; anything else is the caller's failure to count.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use super::{Conn, Head, HttpError};

/// Why a request could not be opened, in the classification every client stack of ragperf uses.
#[derive(Debug)]
pub enum OpenError {
    /// No connection, or one closed before any response byte (retry-safe).
    Connect(String),
    /// No connection within the connect timeout.
    Timeout(String),
    /// Bytes arrived, but not a valid HTTP response head.
    Bad(String),
}

/// The addresses of one server and its idle connections.
pub struct Pool {
    /// The server's addresses (an error message when the host did not resolve).
    addrs: Result<Vec<SocketAddr>, String>,
    connect_timeout: Duration,
    idle: Mutex<Vec<Conn>>,
    max_idle: usize,
}

impl Pool {
    /// Resolves `url`'s host (once, now) and keeps at most `max_idle` idle connections.
    pub fn new(url: &reqwest::Url, connect_timeout: Duration, max_idle: usize) -> Pool {
        let addrs = url
            .socket_addrs(|| Some(80))
            .map_err(|e| e.to_string())
            .and_then(|a| {
                if a.is_empty() {
                    Err("the host resolves to no address".to_string())
                } else {
                    Ok(a)
                }
            })
            .map_err(|e| format!("resolving {}: {e}", url.host_str().unwrap_or("")));
        Pool {
            addrs,
            connect_timeout,
            idle: Mutex::new(Vec::new()),
            max_idle: max_idle.max(1),
        }
    }

    /// Sends `request` on a pooled or new connection and reads the response head (1xx heads
    /// skipped).
    pub async fn open(&self, request: &[u8]) -> Result<(Conn, Head), OpenError> {
        let mut fresh_retry_done = false;
        loop {
            let pooled = if fresh_retry_done {
                None
            } else {
                self.pooled()
            };
            let reused = pooled.is_some();
            let mut conn = match pooled {
                Some(c) => c,
                None => self.connect().await?,
            };
            let head = match conn.send(request).await {
                Ok(()) => read_final_head(&mut conn).await,
                Err(e) => Err(HttpError::Io(e)),
            };
            match head {
                Ok(Some(head)) => return Ok((conn, head)),
                // A kept-alive connection the server had closed before it read the request.
                Ok(None) | Err(HttpError::Io(_))
                    if reused && !fresh_retry_done && conn.buffered() == 0 =>
                {
                    fresh_retry_done = true;
                }
                // Closed (or failed) before any response byte: `connect`, the kind every
                // client stack of ragperf gives it (tests/it/client_same_failure.rs).
                Ok(None) | Err(HttpError::Io(_)) if conn.buffered() == 0 => {
                    return Err(OpenError::Connect(
                        "the server closed the connection before sending a response byte".into(),
                    ));
                }
                Ok(None) => {
                    return Err(OpenError::Bad(
                        "the server closed the connection inside the response head".into(),
                    ));
                }
                Err(e) => return Err(OpenError::Bad(e.to_string())),
            }
        }
    }

    /// Puts a connection whose response was read to its end back in the pool.
    pub fn put_back(&self, conn: Conn) {
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < self.max_idle
        {
            idle.push(conn);
        }
    }

    fn pooled(&self) -> Option<Conn> {
        self.idle.lock().ok().and_then(|mut idle| idle.pop())
    }

    /// A new connection to the first address that accepts one, within the connect timeout.
    async fn connect(&self) -> Result<Conn, OpenError> {
        let addrs = match &self.addrs {
            Ok(a) => a,
            Err(e) => return Err(OpenError::Connect(format!("could not connect: {e}"))),
        };
        let attempt = async {
            let mut last = None;
            for &addr in addrs {
                match Conn::connect(addr).await {
                    Ok(c) => return Ok(c),
                    Err(e) => last = Some(format!("connecting to {addr}: {e}")),
                }
            }
            Err(last.unwrap_or_default())
        };
        match tokio::time::timeout(self.connect_timeout, attempt).await {
            Ok(Ok(c)) => Ok(c),
            Ok(Err(e)) => Err(OpenError::Connect(format!("could not connect: {e}"))),
            Err(_) => Err(OpenError::Timeout(format!(
                "could not connect within {} ms (client.connect_timeout_ms)",
                self.connect_timeout.as_millis()
            ))),
        }
    }
}

/// The response head after any interim (1xx) ones; `Ok(None)`: closed before a byte.
async fn read_final_head(conn: &mut Conn) -> Result<Option<Head>, HttpError> {
    loop {
        match conn.read_head().await? {
            Some(h) if (100..200).contains(&h.status) && h.status != 101 => continue,
            other => return Ok(other),
        }
    }
}
