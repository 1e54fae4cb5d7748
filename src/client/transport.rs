//! The two HTTP stacks, configured once and identically: a `ureq` agent (blocking, socket I/O on
//! the calling thread) and a `reqwest` client (async). Both:
//!
//! - set `TCP_NODELAY` (token frames are small writes; Nagle + delayed ACK add tens of ms, §10);
//! - keep `pool_size` idle keep-alive connections per host (ureq's defaults are 10 in total and 3
//!   per host, which would make a 64-way sync variant reconnect constantly);
//! - ignore `HTTP_PROXY`/`http_proxy` from the environment: a stray proxy would silently put
//!   another hop into every measured latency;
//! - speak HTTP/1.1 only (the mocks and the real Qdrant REST API do; Bedrock's SDKs use 1.1);
//! - hand back 4xx/5xx responses instead of opaque errors, so the error body is parsed into a
//!   precise [`ErrorKind`] (ureq: `http_status_as_error(false)`).
//!
//! One classification for both stacks (`tests/client_same_failure.rs` holds them to it):
//! no connection, or one that closed before any response byte, is `connect` (retry-safe: the
//! request never got an answer); no response in time is `timeout`; bytes that are not an HTTP
//! response are `bad_response` (not retried: a wrong port or protocol answers the same way
//! again); failures while reading a body map to `stream_cut` or `timeout`; a body that does not
//! parse is `bad_response`.

use std::io::Read;
use std::time::Duration;

use bytes::Bytes;

use super::ClientBuildError;
use super::config::ClientConfig;
use super::error::{ClientError, ErrorKind, Service, from_http_status};

/// Largest error body read for its message; the rest is ignored.
const MAX_ERROR_BODY: u64 = 64 * 1024;
/// Largest successful non-streaming body (a 1024-float embedding is ~20 KB; a top-k search with
/// payloads a few hundred KB).
const MAX_BODY: u64 = 64 * 1024 * 1024;
/// Read buffer of the blocking stream reader.
const STREAM_READ_BUF: usize = 16 * 1024;

/// A model id or collection name for a request path: percent-encoded, and an error naming
/// `field` (with `example`) when it is empty.
pub(crate) fn path_name(
    field: &str,
    value: &str,
    example: &str,
) -> Result<String, ClientBuildError> {
    if value.is_empty() {
        return Err(ClientBuildError(format!(
            "{field} must not be empty (e.g. {example})"
        )));
    }
    Ok(super::encode_path_segment(value))
}

/// Checks a base URL (the one rule of [`super::url`]) and strips trailing slashes. `field`
/// names where it came from.
pub(crate) fn base_url(field: &str, url: &str) -> Result<String, ClientBuildError> {
    use super::url::{UrlProblem, check_http};
    let trimmed = url.trim().trim_end_matches('/');
    match check_http(trimmed) {
        Ok(_) => Ok(trimmed.to_string()),
        Err(UrlProblem::Https) => Err(ClientBuildError(format!(
            "{field} = `{url}`: https is not supported (ragperf's clients are built without TLS \
             to measure the service, not the handshake); use an http:// URL"
        ))),
        Err(UrlProblem::NotAUrl(_) | UrlProblem::NoHost) if trimmed.starts_with("http://") => {
            Err(ClientBuildError(format!(
                "{field} = `{url}` has no host; use e.g. http://127.0.0.1:6333"
            )))
        }
        Err(UrlProblem::NotAUrl(_) | UrlProblem::Scheme(_)) => Err(ClientBuildError(format!(
            "{field} = `{url}` must start with http://, e.g. http://127.0.0.1:6333"
        ))),
        Err(problem) => Err(ClientBuildError(format!(
            "{field} = {}",
            problem.describe(url)
        ))),
    }
}

/// The blocking stack: one agent (and connection pool) shared by a variant's blocking clients.
pub(crate) fn build_agent(config: &ClientConfig, pool_size: usize) -> ureq::Agent {
    let agent_config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .no_delay(true)
        .proxy(None)
        .max_redirects(0)
        .timeout_connect(Some(config.connect_timeout()))
        // Two hosts (Qdrant, Bedrock) share the agent.
        .max_idle_connections(pool_size.saturating_mul(2))
        .max_idle_connections_per_host(pool_size)
        .build();
    ureq::Agent::with_parts(
        agent_config,
        ureq::unversioned::transport::DefaultConnector::new(),
        LiteralFirstResolver::default(),
    )
}

/// Resolves an IP-literal host (`http://127.0.0.1:6333`, the usual case here) without a lookup,
/// and anything else with ureq's own resolver.
///
/// ureq's resolver runs each lookup that has a timeout on a short-lived helper thread, which
/// inherits the calling worker's name; for the blocking variants that made `threads_peak` read
/// a few threads above the requests in flight. With an IP literal there is nothing to look up,
/// so no thread: a blocking variant's threads are exactly its workers. A host name still goes
/// through ureq's resolver (and its helper thread, which is what Python's blocking clients do
/// too: the lookup blocks). ureq calls this API `unversioned`; `Cargo.lock` pins the release it
/// was written against.
#[derive(Debug, Default)]
struct LiteralFirstResolver(ureq::unversioned::resolver::DefaultResolver);

impl ureq::unversioned::resolver::Resolver for LiteralFirstResolver {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: ureq::unversioned::transport::NextTimeout,
    ) -> Result<ureq::unversioned::resolver::ResolvedSocketAddrs, ureq::Error> {
        if let Some(addr) = literal_socket_addr(uri) {
            let mut addrs = self.empty();
            addrs.push(addr);
            return Ok(addrs);
        }
        self.0.resolve(uri, config, timeout)
    }
}

/// `http://<ip>[:port]` as a socket address (port 80 when absent); None for host names and
/// other schemes.
fn literal_socket_addr(uri: &ureq::http::Uri) -> Option<std::net::SocketAddr> {
    if uri.scheme_str() != Some("http") {
        return None;
    }
    let authority = uri.authority()?;
    let host = authority.host();
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let ip: std::net::IpAddr = host.parse().ok()?;
    Some(std::net::SocketAddr::new(
        ip,
        authority.port_u16().unwrap_or(80),
    ))
}

/// The async stack: one client (and connection pool) shared by a variant's async clients.
pub(crate) fn build_reqwest(
    config: &ClientConfig,
    pool_size: usize,
) -> Result<reqwest::Client, ClientBuildError> {
    reqwest::Client::builder()
        .http1_only()
        .tcp_nodelay(true)
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(config.connect_timeout())
        .pool_max_idle_per_host(pool_size)
        .build()
        .map_err(|e| ClientBuildError(format!("cannot build the async HTTP client: {e}")))
}

fn ureq_before_response(op: &str, e: ureq::Error, timeout: Duration) -> ClientError {
    use ureq::Timeout as T;
    match e {
        ureq::Error::Timeout(T::Connect | T::Resolve) => ClientError::new(
            ErrorKind::Connect,
            format!("{op}: could not connect in time (connect_timeout_ms): {e}"),
        ),
        ureq::Error::Timeout(_) => ClientError::new(
            ErrorKind::Timeout,
            format!(
                "{op}: no response within {} ms (request_timeout_ms)",
                timeout.as_millis()
            ),
        ),
        ureq::Error::Io(_) | ureq::Error::HostNotFound | ureq::Error::ConnectionFailed => {
            ClientError::new(
                ErrorKind::Connect,
                format!("{op}: connection failed before a response: {e}"),
            )
        }
        ureq::Error::BadUri(_) | ureq::Error::Http(_) => {
            ClientError::new(ErrorKind::BadRequest, format!("{op}: invalid request: {e}"))
        }
        other => ClientError::new(ErrorKind::BadResponse, format!("{op}: {other}")),
    }
}

fn ureq_in_body(op: &str, e: ureq::Error, what: &str) -> ClientError {
    match e {
        ureq::Error::Timeout(_) => {
            ClientError::new(ErrorKind::Timeout, format!("{op}: {what}: {e}"))
        }
        ureq::Error::Protocol(_) => ClientError::new(ErrorKind::BadResponse, format!("{op}: {e}")),
        other => ClientError::new(
            ErrorKind::StreamCut,
            format!("{op}: the connection failed while reading the body: {other}"),
        ),
    }
}

fn ureq_error_type(resp: &ureq::http::Response<ureq::Body>) -> Option<String> {
    resp.headers()
        .get("x-amzn-errortype")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Sends `body` as JSON with `timeout` covering the whole call (blocking, on this thread).
fn ureq_send(
    agent: &ureq::Agent,
    op: &str,
    url: &str,
    body: &[u8],
    timeout: Duration,
    per_read: Option<Duration>,
) -> Result<ureq::http::Response<ureq::Body>, ClientError> {
    let mut request = agent.post(url).config();
    request = match per_read {
        // A stream: `timeout` bounds the wait for the headers; each read is bounded by the idle
        // limit, the stream as a whole is not.
        Some(idle) => request
            .timeout_recv_response(Some(timeout))
            .timeout_per_read(Some(idle)),
        None => request.timeout_global(Some(timeout)),
    };
    request
        .build()
        .header("content-type", "application/json")
        .send(body)
        .map_err(|e| ureq_before_response(op, e, timeout))
}

/// Fails with the service's error unless the status is 2xx.
fn ureq_check_status(
    service: Service,
    op: &str,
    mut resp: ureq::http::Response<ureq::Body>,
) -> Result<ureq::http::Response<ureq::Body>, ClientError> {
    let status = resp.status().as_u16();
    if (200..300).contains(&status) {
        return Ok(resp);
    }
    let error_type = ureq_error_type(&resp);
    let body = resp
        .body_mut()
        .with_config()
        .limit(MAX_ERROR_BODY)
        .read_to_vec()
        .unwrap_or_default();
    Err(from_http_status(
        service,
        op,
        status,
        error_type.as_deref(),
        &body,
    ))
}

/// A whole non-streaming call: POST JSON, return the 2xx body.
pub(crate) fn blocking_call(
    agent: &ureq::Agent,
    service: Service,
    op: &str,
    url: &str,
    body: &[u8],
    timeout: Duration,
) -> Result<Vec<u8>, ClientError> {
    let resp = ureq_send(agent, op, url, body, timeout, None)?;
    let mut resp = ureq_check_status(service, op, resp)?;
    resp.body_mut()
        .with_config()
        .limit(MAX_BODY)
        .read_to_vec()
        .map_err(|e| ureq_in_body(op, e, "reading the response body"))
}

/// Opens a stream: POST JSON, wait up to `timeout` for a 2xx, return the unread body reader.
pub(crate) fn blocking_open_stream(
    agent: &ureq::Agent,
    service: Service,
    op: &str,
    url: &str,
    body: &[u8],
    timeout: Duration,
    idle: Duration,
) -> Result<ureq::BodyReader<'static>, ClientError> {
    let resp = ureq_send(agent, op, url, body, timeout, Some(idle))?;
    let resp = ureq_check_status(service, op, resp)?;
    Ok(resp.into_body().into_reader())
}

/// A read buffer for [`blocking_read_chunk`].
pub(crate) fn stream_read_buf() -> Vec<u8> {
    vec![0u8; STREAM_READ_BUF]
}

/// Reads the next chunk of a stream body into `buf`, waiting at most the idle limit for it.
/// Returns the bytes read; 0 at a clean end of the body.
pub(crate) fn blocking_read_chunk(
    op: &str,
    reader: &mut ureq::BodyReader<'static>,
    idle: Duration,
    buf: &mut [u8],
) -> Result<usize, ClientError> {
    loop {
        match reader.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                let what = format!(
                    "no body bytes for {} ms (stream_idle_timeout_ms)",
                    idle.as_millis()
                );
                return Err(ureq_in_body(op, ureq::Error::from(e), &what));
            }
        }
    }
}

/// Reads a stream body chunk by chunk (each read waits at most the idle limit) and hands every
/// chunk to `on_chunk` as soon as it arrives. Returns at a clean end of the body.
pub(crate) fn blocking_read_stream(
    op: &str,
    reader: &mut ureq::BodyReader<'static>,
    idle: Duration,
    mut on_chunk: impl FnMut(&[u8]) -> Result<(), ClientError>,
) -> Result<(), ClientError> {
    let mut buf = stream_read_buf();
    loop {
        match blocking_read_chunk(op, reader, idle, &mut buf)? {
            0 => return Ok(()),
            n => on_chunk(&buf[..n])?,
        }
    }
}

/// The error and its causes: reqwest's Display hides the cause (e.g. "connection refused").
fn chain(e: &reqwest::Error) -> String {
    let mut detail = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        detail.push_str(": ");
        detail.push_str(&s.to_string());
        source = s.source();
    }
    detail
}

/// True when hyper could not parse the response head (bytes arrived, but not HTTP).
fn is_not_http(e: &reqwest::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if s.downcast_ref::<hyper::Error>()
            .is_some_and(hyper::Error::is_parse)
        {
            return true;
        }
        source = s.source();
    }
    false
}

fn reqwest_before_response(op: &str, e: &reqwest::Error) -> ClientError {
    let detail = chain(e);
    if e.is_builder() {
        ClientError::new(
            ErrorKind::BadRequest,
            format!("{op}: invalid request: {detail}"),
        )
    } else if is_not_http(e) {
        // Bytes arrived, but not an HTTP response (a wrong port, another protocol): the same
        // kind as ureq's protocol error, and not retried — sending again cannot help.
        ClientError::new(
            ErrorKind::BadResponse,
            format!("{op}: the response is not HTTP: {detail}"),
        )
    } else if e.is_connect() {
        ClientError::new(
            ErrorKind::Connect,
            format!("{op}: could not connect: {detail}"),
        )
    } else if e.is_timeout() {
        ClientError::new(
            ErrorKind::Timeout,
            format!("{op}: no response in time (request_timeout_ms): {detail}"),
        )
    } else {
        ClientError::new(
            ErrorKind::Connect,
            format!("{op}: connection failed before a response: {detail}"),
        )
    }
}

fn reqwest_in_body(op: &str, e: &reqwest::Error) -> ClientError {
    let detail = chain(e);
    if e.is_timeout() {
        ClientError::new(
            ErrorKind::Timeout,
            format!("{op}: reading the body timed out (request_timeout_ms): {detail}"),
        )
    } else {
        ClientError::new(
            ErrorKind::StreamCut,
            format!("{op}: the connection failed while reading the body: {detail}"),
        )
    }
}

async fn reqwest_check_status(
    service: Service,
    op: &str,
    resp: reqwest::Response,
) -> Result<reqwest::Response, ClientError> {
    let status = resp.status().as_u16();
    if (200..300).contains(&status) {
        return Ok(resp);
    }
    let error_type = resp
        .headers()
        .get("x-amzn-errortype")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut resp = resp;
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        body.extend_from_slice(&chunk);
        if body.len() as u64 >= MAX_ERROR_BODY {
            break;
        }
    }
    Err(from_http_status(
        service,
        op,
        status,
        error_type.as_deref(),
        &body,
    ))
}
/// One JSON call with retries on the calling thread: POSTs `body` to `url`, parses a successful
/// answer with `parse`, and retries per `backoff`. Shared by every non-streaming blocking call.
#[allow(clippy::too_many_arguments)]
pub(crate) fn blocking_json<T>(
    agent: &ureq::Agent,
    backoff: &super::retry::Backoff,
    service: Service,
    op: &str,
    url: &str,
    body: &[u8],
    timeout: Duration,
    parse: impl Fn(&[u8]) -> Result<T, ClientError>,
) -> Result<super::Reply<T>, ClientError> {
    let (value, attempts) = super::retry::run_blocking(backoff, || {
        parse(&blocking_call(agent, service, op, url, body, timeout)?)
    })?;
    Ok(super::Reply { value, attempts })
}

/// The async twin of [`blocking_json`].
#[allow(clippy::too_many_arguments)]
pub(crate) async fn async_json<T>(
    client: &reqwest::Client,
    backoff: &super::retry::Backoff,
    service: Service,
    op: &str,
    url: &str,
    body: &[u8],
    timeout: Duration,
    parse: impl Fn(&[u8]) -> Result<T, ClientError> + Sync,
) -> Result<super::Reply<T>, ClientError> {
    let parse = &parse;
    let (value, attempts) = super::retry::run_async(backoff, move || async move {
        parse(&async_call(client, service, op, url, body.to_vec(), timeout).await?)
    })
    .await?;
    Ok(super::Reply { value, attempts })
}

/// A whole non-streaming call: POST JSON, return the 2xx body.
pub(crate) async fn async_call(
    client: &reqwest::Client,
    service: Service,
    op: &str,
    url: &str,
    body: Vec<u8>,
    timeout: Duration,
) -> Result<Bytes, ClientError> {
    let resp = client
        .post(url)
        .header("content-type", "application/json")
        .timeout(timeout)
        .body(body)
        .send()
        .await
        .map_err(|e| reqwest_before_response(op, &e))?;
    let resp = reqwest_check_status(service, op, resp).await?;
    resp.bytes().await.map_err(|e| reqwest_in_body(op, &e))
}

/// A stream's response head did not come within `timeout` (`request_timeout_ms`).
pub(crate) fn no_head_in_time(op: &str, timeout: Duration) -> ClientError {
    ClientError::new(
        ErrorKind::Timeout,
        format!(
            "{op}: no response headers within {} ms (request_timeout_ms)",
            timeout.as_millis()
        ),
    )
}

/// Opens a stream: POST JSON, wait up to `timeout` for a 2xx, return the unread response.
pub(crate) async fn async_open_stream(
    client: &reqwest::Client,
    service: Service,
    op: &str,
    url: &str,
    body: Vec<u8>,
    timeout: Duration,
) -> Result<reqwest::Response, ClientError> {
    let send = client
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send();
    let resp = match tokio::time::timeout(timeout, send).await {
        Ok(r) => r.map_err(|e| reqwest_before_response(op, &e))?,
        Err(_) => return Err(no_head_in_time(op, timeout)),
    };
    reqwest_check_status(service, op, resp).await
}

/// Reads a stream body chunk by chunk, each wait bounded by `idle`, handing every chunk to
/// `on_chunk` as soon as it arrives. Returns at a clean end of the body.
pub(crate) async fn async_read_stream(
    op: &str,
    resp: &mut reqwest::Response,
    idle: Duration,
    mut on_chunk: impl FnMut(&[u8]) -> Result<(), ClientError>,
) -> Result<(), ClientError> {
    loop {
        match tokio::time::timeout(idle, resp.chunk()).await {
            Ok(Ok(Some(chunk))) => on_chunk(&chunk)?,
            Ok(Ok(None)) => return Ok(()),
            Ok(Err(e)) => return Err(reqwest_in_body(op, &e)),
            Err(_) => {
                return Err(ClientError::new(
                    ErrorKind::Timeout,
                    format!(
                        "{op}: no body bytes for {} ms (stream_idle_timeout_ms)",
                        idle.as_millis()
                    ),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ip_literals_resolve_without_a_lookup() {
        let addr = |u: &str| super::literal_socket_addr(&u.parse().unwrap());
        assert_eq!(
            addr("http://127.0.0.1:6333/collections"),
            Some("127.0.0.1:6333".parse().unwrap())
        );
        assert_eq!(
            addr("http://[::1]:8000/model/x/invoke"),
            Some("[::1]:8000".parse().unwrap())
        );
        assert_eq!(
            addr("http://10.0.0.7/"),
            Some("10.0.0.7:80".parse().unwrap())
        );
        assert_eq!(addr("http://localhost:6333/"), None);
        assert_eq!(addr("https://127.0.0.1:443/"), None);
    }

    use super::*;

    #[test]
    fn base_urls_are_checked_and_trimmed() {
        assert_eq!(
            base_url("f", "http://127.0.0.1:6333/").unwrap(),
            "http://127.0.0.1:6333"
        );
        let e = base_url("qdrant_url", "https://x").unwrap_err();
        assert!(
            e.0.contains("qdrant_url") && e.0.contains("https"),
            "{}",
            e.0
        );
        assert!(base_url("f", "127.0.0.1:6333").is_err());
        assert!(base_url("f", "http://").is_err());
    }
}
