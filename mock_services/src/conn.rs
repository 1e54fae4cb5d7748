//! Serving one listener: the accept loop, the connection cap and the connection timeouts
//! ([`crate::config::ConnectionsConfig`]).
//!
//! Each accepted socket is served by hyper's HTTP/1 connection with the axum router as its
//! service. The socket is wrapped in [`TimedIo`], which knows whether a request is being served
//! (a counter the service raises when a request head has been parsed and lowers when its response
//! body is finished or dropped) and applies, while none is:
//!
//! - the **header timeout** from the accept of a new connection, or from the first byte of the
//!   next request on a kept-alive one, until its head is complete (slow-loris heads);
//! - the **idle timeout** from the end of the last response until the first byte of the next
//!   request.
//!
//! While a request is served no connection deadline applies: its body has the handler's body
//! timeout, and a response may stream for as long as the model says. A timed-out socket read
//! fails, so hyper drops the connection.
//!
//! Beyond `max_open` connections, a new one is answered with a 503 in the service's error shape
//! (`Connection: close`); beyond that plus [`REJECT_SLOTS`] it is closed at once.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::task::{Context, Poll, Waker, ready};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::time::{Instant, Sleep};
use tower_service::Service;

use crate::config::ConnectionsConfig;
use crate::stats::MockStats;

/// Connections beyond the cap that are still answered with a 503 (more are closed at once).
pub const REJECT_SLOTS: usize = 64;

/// What one listener needs besides its router.
#[derive(Clone)]
pub struct Listener {
    /// The connection limits and timeouts.
    pub limits: ConnectionsConfig,
    /// Where connection events are counted.
    pub stats: Arc<MockStats>,
    /// The answer to a connection beyond the cap (a 503 in the service's error shape).
    pub over_cap: fn(usize) -> Response,
}

/// Per-connection state shared by the socket wrapper and the service.
#[derive(Debug)]
struct ConnShared {
    /// Requests being served (head parsed, response body not finished).
    active: AtomicU32,
    /// Incremented each time the last active request ends.
    epoch: AtomicU64,
    /// When the last active request ended.
    idle_since: Mutex<Instant>,
    /// The reader parked while a request was served: woken when it ends, so that the idle
    /// deadline is armed even if hyper would not poll the socket again by itself.
    parked: Mutex<Option<Waker>>,
}

impl ConnShared {
    fn begin(self: &Arc<Self>) -> ActiveGuard {
        self.active.fetch_add(1, Ordering::AcqRel);
        ActiveGuard(Arc::clone(self))
    }
}

/// Marks a request served until dropped (moved into the response body).
struct ActiveGuard(Arc<ConnShared>);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        let shared = &self.0;
        *shared.idle_since.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
        shared.epoch.fetch_add(1, Ordering::AcqRel);
        shared.active.fetch_sub(1, Ordering::AcqRel);
        let parked = shared
            .parked
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(waker) = parked {
            waker.wake();
        }
    }
}

/// A response body that keeps its request counted as active until it is finished or dropped.
struct GuardedBody {
    inner: Body,
    _guard: ActiveGuard,
}

impl HttpBody for GuardedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A socket with the header and idle timeouts (see the module doc).
struct TimedIo {
    tcp: TcpStream,
    shared: Arc<ConnShared>,
    header: Duration,
    idle: Duration,
    stats: Arc<MockStats>,
    seen_epoch: u64,
    /// When the head being received started (the accept, or its first byte); `None` while idle.
    head_started: Option<Instant>,
    sleep: Pin<Box<Sleep>>,
    armed: Option<Instant>,
}

impl TimedIo {
    fn new(
        tcp: TcpStream,
        shared: Arc<ConnShared>,
        limits: &ConnectionsConfig,
        stats: Arc<MockStats>,
    ) -> Self {
        let now = Instant::now();
        TimedIo {
            tcp,
            shared,
            header: limits.header_timeout(),
            idle: limits.idle_timeout(),
            stats,
            seen_epoch: 0,
            head_started: Some(now),
            sleep: Box::pin(tokio::time::sleep_until(now)),
            armed: None,
        }
    }

    /// The deadline while no request is served, and whether it is the idle one.
    fn deadline(&mut self) -> (Instant, bool) {
        let epoch = self.shared.epoch.load(Ordering::Acquire);
        if epoch != self.seen_epoch {
            self.seen_epoch = epoch;
            self.head_started = None;
        }
        match self.head_started {
            Some(t) => (t + self.header, false),
            None => {
                let since = *self
                    .shared
                    .idle_since
                    .lock()
                    .unwrap_or_else(|p| p.into_inner());
                (since + self.idle, true)
            }
        }
    }

    fn timed_out(&self, idle: bool) -> io::Error {
        self.stats.connection_timed_out(idle);
        let (what, d) = if idle {
            ("idle_timeout_ms", self.idle)
        } else {
            ("header_timeout_ms", self.header)
        };
        io::Error::new(
            io::ErrorKind::TimedOut,
            format!(
                "connection closed by the mock: connections.{what} ({} ms) elapsed",
                d.as_millis()
            ),
        )
    }
}

impl AsyncRead for TimedIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.tcp).poll_read(cx, buf);
        if this.shared.active.load(Ordering::Acquire) > 0 {
            // A request is being served: its body and response have their own clocks.
            if polled.is_pending() {
                let mut parked = this.shared.parked.lock().unwrap_or_else(|p| p.into_inner());
                if !parked.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                    *parked = Some(cx.waker().clone());
                }
                drop(parked);
                // Ended in between: do not sleep on a deadline nobody armed.
                if this.shared.active.load(Ordering::Acquire) == 0 {
                    cx.waker().wake_by_ref();
                }
            }
            return polled;
        }
        match polled {
            Poll::Ready(Ok(())) => {
                let got = buf.filled().len() > before;
                let _ = this.deadline(); // notice a finished request before stamping the head
                if got && this.head_started.is_none() {
                    this.head_started = Some(Instant::now());
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                let (deadline, idle) = this.deadline();
                if Instant::now() >= deadline {
                    return Poll::Ready(Err(this.timed_out(idle)));
                }
                if this.armed != Some(deadline) {
                    this.sleep.as_mut().reset(deadline);
                    this.armed = Some(deadline);
                }
                ready!(this.sleep.as_mut().poll(cx));
                Poll::Ready(Err(this.timed_out(idle)))
            }
        }
    }
}

impl AsyncWrite for TimedIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}

/// Accepts and serves connections on `listener` until `shutdown` turns true, then stops
/// accepting and lets open connections finish their responses.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    spec: Listener,
    mut shutdown: watch::Receiver<bool>,
) {
    let open = Arc::new(Semaphore::new(spec.limits.max_open));
    let rejecting = Arc::new(Semaphore::new(REJECT_SLOTS));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let builder = hyper::server::conn::http1::Builder::new();
    let mut closing = builder.clone();
    closing.keep_alive(false);
    while let Some(tcp) = next_connection(&listener, &mut shutdown).await {
        let (io, shared) = timed(tcp, &spec);
        if let Ok(permit) = Arc::clone(&open).try_acquire_owned() {
            let open_guard = spec.stats.connection_opened();
            let router = router.clone();
            let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                let guard = shared.begin();
                let mut router = router.clone();
                let call = router.call(req.map(Body::new));
                async move {
                    let response = call.await?;
                    Ok::<_, std::convert::Infallible>(response.map(|inner| GuardedBody {
                        inner,
                        _guard: guard,
                    }))
                }
            });
            let conn = graceful.watch(builder.serve_connection(io, service));
            tokio::spawn(async move {
                let _ = conn.await;
                drop(open_guard);
                drop(permit);
            });
        } else {
            spec.stats.connection_over_cap();
            let Ok(permit) = Arc::clone(&rejecting).try_acquire_owned() else {
                continue; // dropping the socket closes it
            };
            let (answer, max_open) = (spec.over_cap, spec.limits.max_open);
            let service = hyper::service::service_fn(move |_req: hyper::Request<Incoming>| {
                let guard = shared.begin();
                let response = answer(max_open);
                async move {
                    Ok::<_, std::convert::Infallible>(response.map(|inner| GuardedBody {
                        inner,
                        _guard: guard,
                    }))
                }
            });
            let conn = graceful.watch(closing.serve_connection(io, service));
            tokio::spawn(async move {
                let _ = conn.await;
                drop(permit);
            });
        }
    }
    drop(listener);
    graceful.shutdown().await;
}

/// The next accepted socket, or None once `shutdown` turns true.
async fn next_connection(
    listener: &TcpListener,
    shutdown: &mut watch::Receiver<bool>,
) -> Option<TcpStream> {
    loop {
        let accepted = tokio::select! {
            _ = shutdown.wait_for(|stop| *stop) => return None,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((tcp, _)) => return Some(tcp),
            Err(_) => {
                // Out of descriptors or a connection reset before accept: back off briefly
                // rather than spin.
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }
}

/// An accepted socket with TCP_NODELAY, wrapped in the connection's clocks, and the state its
/// service shares with them.
fn timed(tcp: TcpStream, spec: &Listener) -> (TokioIo<TimedIo>, Arc<ConnShared>) {
    // Token frames are small writes: without TCP_NODELAY Nagle + delayed ACK stall them.
    let _ = tcp.set_nodelay(true);
    let shared = Arc::new(ConnShared {
        active: AtomicU32::new(0),
        epoch: AtomicU64::new(0),
        idle_since: Mutex::new(Instant::now()),
        parked: Mutex::new(None),
    });
    let io = TokioIo::new(TimedIo::new(
        tcp,
        Arc::clone(&shared),
        &spec.limits,
        Arc::clone(&spec.stats),
    ));
    (io, shared)
}
