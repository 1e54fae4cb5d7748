//! Starting and stopping the two mock servers.
//!
//! [`MockServices::start`] binds both listeners (port 0 allowed), builds the shared
//! [`MockState`] and serves the Qdrant and Bedrock routers on the current tokio runtime.
//! [`MockServices::start_on_own_runtime`] does the same on a dedicated runtime whose threads are
//! all named `mock-*`, which is what the harness uses so that the mocks' threads and CPU time can
//! be told apart from the variant's (docs/design.md §10).
//!
//! Listeners are opened with a large backlog (thousands of clients connect at once) and every
//! accepted socket gets `TCP_NODELAY` (token frames are small writes; Nagle + delayed ACK would
//! add tens of milliseconds).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::{ConfigError, MockConfig};
pub use crate::state::MockState;
use crate::stats::MockStats;

/// Listen backlog requested for both servers (the kernel caps it at `net.core.somaxconn`).
pub const LISTEN_BACKLOG: i32 = 65_535;

/// Why the mocks could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configuration is invalid.
    #[error("invalid mock configuration: {0}")]
    Config(#[from] ConfigError),
    /// A listener could not be bound.
    #[error(
        "cannot listen on {addr} for the mock {service}: {source} (is the port in use? use port 0 for any free port)"
    )]
    Bind {
        /// `qdrant` or `bedrock`.
        service: &'static str,
        /// The address asked for.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The dedicated runtime could not be built.
    #[error("cannot start the mock runtime: {0}")]
    Runtime(std::io::Error),
}

/// Where the two mocks listen.
#[derive(Clone, Copy, Debug)]
pub struct Bind {
    /// Mock Qdrant address (`127.0.0.1:0` for any free port).
    pub qdrant: SocketAddr,
    /// Mock Bedrock address.
    pub bedrock: SocketAddr,
}

impl Default for Bind {
    fn default() -> Self {
        let any: SocketAddr = ([127, 0, 0, 1], 0).into();
        Bind {
            qdrant: any,
            bedrock: any,
        }
    }
}

/// Two running mock servers.
#[derive(Debug)]
pub struct MockServices {
    qdrant_addr: SocketAddr,
    bedrock_addr: SocketAddr,
    state: Arc<MockState>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

fn listener(
    service: &'static str,
    addr: SocketAddr,
) -> Result<tokio::net::TcpListener, StartError> {
    let bind_err = |source| StartError::Bind {
        service,
        addr,
        source,
    };
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )
    .map_err(bind_err)?;
    socket.set_reuse_address(true).map_err(bind_err)?;
    socket.set_nonblocking(true).map_err(bind_err)?;
    socket.bind(&addr.into()).map_err(bind_err)?;
    socket.listen(LISTEN_BACKLOG).map_err(bind_err)?;
    tokio::net::TcpListener::from_std(socket.into()).map_err(bind_err)
}

async fn stats_handler(State(state): State<Arc<MockState>>) -> impl IntoResponse {
    // The snapshot carries `settings` (the effective MockConfig, `MockStats::with_settings`), so
    // a client can check that the mocks inject what it expects (time scale, latencies, faults).
    axum::Json(state.stats.snapshot())
}

async fn stats_reset_handler(State(state): State<Arc<MockState>>) -> impl IntoResponse {
    state.stats.reset();
    axum::Json(serde_json::json!({ "reset": true }))
}

/// A 405 naming the method to use, with `Allow` and a JSON body (not an empty reply).
fn wrong_method(allow: &'static str, path: &'static str) -> axum::response::Response {
    let mut response = (
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        axum::Json(serde_json::json!({
            "error": format!("{path} answers {allow} only: use `{allow} {path}`"),
        })),
    )
        .into_response();
    response.headers_mut().insert(
        axum::http::header::ALLOW,
        axum::http::HeaderValue::from_static(allow),
    );
    response
}

/// The `/__ragperf/stats` routes both servers carry.
fn with_stats_routes(router: Router<Arc<MockState>>) -> Router<Arc<MockState>> {
    const STATS: &str = "/__ragperf/stats";
    const RESET: &str = "/__ragperf/stats/reset";
    router
        .route(
            STATS,
            get(stats_handler).fallback(|| async { wrong_method("GET", STATS) }),
        )
        .route(
            RESET,
            post(stats_reset_handler).fallback(|| async { wrong_method("POST", RESET) }),
        )
}

fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    spec: crate::conn::Listener,
    shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(crate::conn::serve(listener, router, spec, shutdown))
}

impl MockServices {
    /// Starts both mocks on the current tokio runtime.
    pub async fn start(config: MockConfig, bind: Bind) -> Result<Self, StartError> {
        let state = Arc::new(MockState::new(config)?);
        let q = listener("qdrant", bind.qdrant)?;
        let b = listener("bedrock", bind.bedrock)?;
        let qdrant_addr = q.local_addr().map_err(|source| StartError::Bind {
            service: "qdrant",
            addr: bind.qdrant,
            source,
        })?;
        let bedrock_addr = b.local_addr().map_err(|source| StartError::Bind {
            service: "bedrock",
            addr: bind.bedrock,
            source,
        })?;
        let (tx, rx) = watch::channel(false);
        let qdrant_router = with_stats_routes(crate::qdrant::router()).with_state(state.clone());
        let bedrock_router = with_stats_routes(crate::bedrock::router()).with_state(state.clone());
        let spec = |over_cap| crate::conn::Listener {
            limits: state.config.connections.clone(),
            stats: Arc::clone(&state.stats),
            over_cap,
        };
        let tasks = vec![
            serve(
                q,
                qdrant_router,
                spec(crate::qdrant::http::over_cap),
                rx.clone(),
            ),
            serve(b, bedrock_router, spec(crate::bedrock::over_cap), rx),
        ];
        Ok(MockServices {
            qdrant_addr,
            bedrock_addr,
            state,
            shutdown: tx,
            tasks,
        })
    }

    /// Starts both mocks on a runtime of their own with `worker_threads` threads, every one named
    /// `mock-*` (workers and blocking pool alike).
    pub fn start_on_own_runtime(
        config: MockConfig,
        bind: Bind,
        worker_threads: usize,
    ) -> Result<OwnedMockServices, StartError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(worker_threads.max(1))
            .thread_name_fn(|| {
                static N: AtomicU64 = AtomicU64::new(0);
                format!("mock-{}", N.fetch_add(1, Ordering::Relaxed))
            })
            .enable_all()
            .build()
            .map_err(StartError::Runtime)?;
        let services = runtime.block_on(MockServices::start(config, bind))?;
        Ok(OwnedMockServices {
            services: Some(services),
            runtime: Some(runtime),
        })
    }

    /// Base URL of mock Qdrant, e.g. `http://127.0.0.1:6333`.
    pub fn qdrant_url(&self) -> String {
        format!("http://{}", self.qdrant_addr)
    }

    /// Base URL of mock Bedrock Runtime.
    pub fn bedrock_url(&self) -> String {
        format!("http://{}", self.bedrock_addr)
    }

    /// Bound address of mock Qdrant.
    pub fn qdrant_addr(&self) -> SocketAddr {
        self.qdrant_addr
    }

    /// Bound address of mock Bedrock.
    pub fn bedrock_addr(&self) -> SocketAddr {
        self.bedrock_addr
    }

    /// The shared state (configuration, statistics, store).
    pub fn state(&self) -> &Arc<MockState> {
        &self.state
    }

    /// The live statistics.
    pub fn stats(&self) -> &Arc<MockStats> {
        &self.state.stats
    }

    /// Stops accepting, lets open responses finish for up to `grace`, then stops.
    pub async fn shutdown(self, grace: Duration) {
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            let abort = t.abort_handle();
            if tokio::time::timeout(grace, t).await.is_err() {
                abort.abort();
            }
        }
    }
}

/// Mocks running on their own runtime; dropping it stops them.
#[derive(Debug)]
pub struct OwnedMockServices {
    services: Option<MockServices>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl OwnedMockServices {
    /// The running services.
    pub fn services(&self) -> &MockServices {
        self.services
            .as_ref()
            .expect("services exist until the value is dropped")
    }

    /// Stops the servers, letting open responses finish for up to `grace`.
    pub fn shutdown(mut self, grace: Duration) {
        self.stop(grace);
    }

    fn stop(&mut self, grace: Duration) {
        if let (Some(s), Some(rt)) = (self.services.take(), self.runtime.take()) {
            rt.block_on(s.shutdown(grace));
            rt.shutdown_timeout(grace);
        }
    }
}

impl std::ops::Deref for OwnedMockServices {
    type Target = MockServices;
    fn deref(&self) -> &MockServices {
        self.services()
    }
}

impl Drop for OwnedMockServices {
    fn drop(&mut self) {
        self.stop(Duration::from_millis(200));
    }
}

/// Raises the soft open-files limit to the hard limit (thousands of connections need thousands
/// of descriptors; in-process mocks need two per connection). Returns `(before, after)`.
pub fn raise_fd_limit() -> std::io::Result<(u64, u64)> {
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let before = lim.rlim_cur;
        if lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok((before, lim.rlim_cur))
    }
}
