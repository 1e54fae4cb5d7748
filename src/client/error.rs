//! What a failed backend call looks like: one [`ClientError`] with a stable [`ErrorKind`].
//!
//! The pipeline counts failures by kind (`throttled`, `stream_cut`, …), so every way a call can go
//! wrong maps onto one of a small, fixed set of kinds, each with a snake_case [`ErrorKind::name`]
//! that is used as a counter key in `result.json`. The mapping follows the real services' error
//! shapes (docs/wire-facts.md §A5, §B4):
//!
//! - Bedrock (rest-json): the error code comes from the `x-amzn-ErrorType` header, else the body's
//!   `code`/`Code`, else `__type` (botocore and smithy-rs agree on this order); everything after
//!   `:` and before `#` is stripped, as both SDKs do. The message is `message`/`Message`/
//!   `errorMessage`.
//! - Qdrant: `{"status":{"error":"<msg>"},"time":..}`; the kind follows the HTTP status.
//!
//! The code wins over the status when it is known (a 400 `ThrottlingException` is still
//! throttling); otherwise the status decides.

use std::fmt;

use serde_json::Value;

/// The kind of a failed call. Stable: [`ErrorKind::name`] is a counter key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// HTTP 429, `ThrottlingException`/`ModelNotReadyException` (any case). Retried.
    Throttled,
    /// HTTP 500/502/504 or `InternalServerException`. Retried.
    ServerError,
    /// HTTP 503 or `ServiceUnavailableException`. Retried.
    Unavailable,
    /// No response (headers) within `request_timeout_ms`, no body bytes for
    /// `stream_idle_timeout_ms`, or `ModelTimeoutException` (408). Not retried: the server may
    /// have done the work.
    Timeout,
    /// No connection could be made, or it failed before any response byte arrived. Retried.
    Connect,
    /// An exception frame in the middle of an event stream; the value is its `:exception-type`
    /// (e.g. `throttlingException`). Never retried (tokens may already have been delivered).
    StreamException(String),
    /// The response body ended (or the connection dropped) before the stream was complete.
    StreamCut,
    /// The response could not be understood: bad JSON, bad event-stream frame or CRC, missing
    /// fields.
    BadResponse,
    /// HTTP 400/422 (`ValidationException`) and any other 4xx the service rejects the request
    /// with (403, 409, …): our request is wrong; retrying cannot help.
    BadRequest,
    /// HTTP 404 (`ResourceNotFoundException`, a missing Qdrant collection).
    NotFound,
}

impl ErrorKind {
    /// Stable snake_case name, used as a counter key (`throttled`, `server_error`, …).
    pub fn name(&self) -> &'static str {
        match self {
            ErrorKind::Throttled => "throttled",
            ErrorKind::ServerError => "server_error",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Connect => "connect",
            ErrorKind::StreamException(_) => "stream_exception",
            ErrorKind::StreamCut => "stream_cut",
            ErrorKind::BadResponse => "bad_response",
            ErrorKind::BadRequest => "bad_request",
            ErrorKind::NotFound => "not_found",
        }
    }

    /// Whether a call that failed this way may be sent again (botocore standard mode's
    /// transient and throttling errors). Only ever produced before any response body was
    /// consumed: mid-stream failures have kinds that are never retried.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ErrorKind::Throttled
                | ErrorKind::ServerError
                | ErrorKind::Unavailable
                | ErrorKind::Connect
        )
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::StreamException(kind) => write!(f, "stream_exception({kind})"),
            other => f.write_str(other.name()),
        }
    }
}

/// A failed backend call.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {message} (after {attempts} attempt{s})", s = if *attempts == 1 { "" } else { "s" })]
pub struct ClientError {
    /// What went wrong, as a counter key.
    pub kind: ErrorKind,
    /// Human-readable detail: operation, HTTP status, service error code and message.
    pub message: String,
    /// HTTP requests sent for this call, including the failed last one (1 = no retry).
    pub attempts: u32,
}

impl ClientError {
    /// An error of `kind` for the first attempt (the retry loop sets the final count).
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ClientError {
            kind,
            message: message.into(),
            attempts: 1,
        }
    }

    /// Retries spent before giving up (`attempts - 1`).
    pub fn retries(&self) -> u32 {
        self.attempts.saturating_sub(1)
    }
}

/// Which service answered, for error-shape parsing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Service {
    /// AWS Bedrock Runtime (rest-json errors).
    Bedrock,
    /// Qdrant REST (`{"status":{"error":..}}`).
    Qdrant,
}

/// Strips what both AWS SDKs strip from an error code: a `namespace#` prefix and a `:suffix`.
fn sanitize_code(raw: &str) -> &str {
    let code = raw.split(':').next().unwrap_or(raw);
    code.rsplit('#').next().unwrap_or(code).trim()
}

/// Maps a known service error code (case-insensitive, as mid-stream codes are lowerCamel).
fn kind_from_code(code: &str) -> Option<ErrorKind> {
    let c = code.to_ascii_lowercase();
    Some(match c.as_str() {
        "throttlingexception" | "modelnotreadyexception" | "toomanyrequestsexception" => {
            ErrorKind::Throttled
        }
        "internalserverexception" | "internalfailure" => ErrorKind::ServerError,
        "serviceunavailableexception" | "serviceunavailable" => ErrorKind::Unavailable,
        "validationexception" => ErrorKind::BadRequest,
        "resourcenotfoundexception" => ErrorKind::NotFound,
        "modeltimeoutexception" => ErrorKind::Timeout,
        _ => return None,
    })
}

/// Maps an HTTP status when no known error code decides.
fn kind_from_status(status: u16) -> ErrorKind {
    match status {
        429 => ErrorKind::Throttled,
        503 => ErrorKind::Unavailable,
        404 => ErrorKind::NotFound,
        408 => ErrorKind::Timeout,
        500..=599 => ErrorKind::ServerError,
        _ => ErrorKind::BadRequest,
    }
}

fn str_field<'a>(v: &'a Value, keys: &[&str]) -> Option<&'a str> {
    keys.iter().find_map(|k| v.get(*k).and_then(Value::as_str))
}

/// Builds the error for a non-2xx HTTP response of `operation` (e.g. `bedrock InvokeModel`).
/// `error_type` is the `x-amzn-ErrorType` header, if any; `body` the (possibly empty) body.
pub(crate) fn from_http_status(
    service: Service,
    operation: &str,
    status: u16,
    error_type: Option<&str>,
    body: &[u8],
) -> ClientError {
    let json: Option<Value> = serde_json::from_slice(body).ok();
    let (code, message) = match service {
        Service::Bedrock => {
            let code = error_type
                .map(sanitize_code)
                .filter(|c| !c.is_empty())
                .or_else(|| {
                    json.as_ref()
                        .and_then(|j| str_field(j, &["code", "Code", "__type"]))
                        .map(sanitize_code)
                });
            let message = json
                .as_ref()
                .and_then(|j| str_field(j, &["message", "Message", "errorMessage"]));
            (code, message)
        }
        Service::Qdrant => {
            let message = json
                .as_ref()
                .and_then(|j| j.get("status"))
                .and_then(|s| s.get("error"))
                .and_then(Value::as_str);
            (None, message)
        }
    };
    let kind = code
        .and_then(kind_from_code)
        .unwrap_or_else(|| kind_from_status(status));
    let detail = match message {
        Some(m) => m.to_string(),
        None if body.is_empty() => "(empty body)".to_string(),
        None => {
            let text = String::from_utf8_lossy(body);
            let mut t: String = text.chars().take(200).collect();
            if text.chars().count() > 200 {
                t.push('…');
            }
            t
        }
    };
    let message = match code {
        Some(c) => format!("{operation}: HTTP {status} {c}: {detail}"),
        None => format!("{operation}: HTTP {status}: {detail}"),
    };
    ClientError::new(kind, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_stable_snake_case() {
        let all = [
            ErrorKind::Throttled,
            ErrorKind::ServerError,
            ErrorKind::Unavailable,
            ErrorKind::Timeout,
            ErrorKind::Connect,
            ErrorKind::StreamException("throttlingException".into()),
            ErrorKind::StreamCut,
            ErrorKind::BadResponse,
            ErrorKind::BadRequest,
            ErrorKind::NotFound,
        ];
        let names: Vec<_> = all.iter().map(ErrorKind::name).collect();
        assert_eq!(
            names,
            [
                "throttled",
                "server_error",
                "unavailable",
                "timeout",
                "connect",
                "stream_exception",
                "stream_cut",
                "bad_response",
                "bad_request",
                "not_found"
            ]
        );
    }

    #[test]
    fn bedrock_header_wins_and_is_sanitized() {
        let e = from_http_status(
            Service::Bedrock,
            "bedrock Converse",
            400,
            Some("ThrottlingException:http://internal.amazon.com/coral/com.amazon/"),
            br#"{"message":"slow down"}"#,
        );
        assert_eq!(e.kind, ErrorKind::Throttled);
        assert!(
            e.message.contains("ThrottlingException: slow down"),
            "{}",
            e.message
        );
        assert!(!e.message.contains("coral"));
    }

    #[test]
    fn bedrock_body_code_then_type_then_status() {
        let e = from_http_status(
            Service::Bedrock,
            "op",
            500,
            None,
            br#"{"__type":"com.amazon#InternalServerException","Message":"boom"}"#,
        );
        assert_eq!(e.kind, ErrorKind::ServerError);
        assert!(e.message.contains("InternalServerException: boom"));
        let e = from_http_status(
            Service::Bedrock,
            "op",
            400,
            None,
            br#"{"code":"ValidationException"}"#,
        );
        assert_eq!(e.kind, ErrorKind::BadRequest);
        let e = from_http_status(Service::Bedrock, "op", 503, None, b"");
        assert_eq!(e.kind, ErrorKind::Unavailable);
        assert!(e.message.contains("(empty body)"));
        let e = from_http_status(
            Service::Bedrock,
            "op",
            502,
            None,
            b"<html>bad gateway</html>",
        );
        assert_eq!(e.kind, ErrorKind::ServerError);
        assert!(e.message.contains("bad gateway"));
        let e = from_http_status(
            Service::Bedrock,
            "op",
            400,
            Some("throttlingException"),
            b"{}",
        );
        assert_eq!(e.kind, ErrorKind::Throttled);
    }

    #[test]
    fn qdrant_error_body() {
        let e = from_http_status(
            Service::Qdrant,
            "qdrant query",
            404,
            None,
            br#"{"status":{"error":"Not found: Collection `x` doesn't exist!"},"time":0.0}"#,
        );
        assert_eq!(e.kind, ErrorKind::NotFound);
        assert!(
            e.message
                .ends_with("Not found: Collection `x` doesn't exist!")
        );
        let e = from_http_status(
            Service::Qdrant,
            "q",
            422,
            None,
            br#"{"status":{"error":"Validation error"}}"#,
        );
        assert_eq!(e.kind, ErrorKind::BadRequest);
    }

    #[test]
    fn retryable_kinds() {
        assert!(ErrorKind::Throttled.is_retryable());
        assert!(ErrorKind::Connect.is_retryable());
        assert!(!ErrorKind::StreamCut.is_retryable());
        assert!(!ErrorKind::StreamException("throttlingException".into()).is_retryable());
        assert!(!ErrorKind::Timeout.is_retryable());
    }

    #[test]
    fn display_names_attempts() {
        let mut e = ClientError::new(ErrorKind::Throttled, "x");
        e.attempts = 3;
        assert_eq!(e.to_string(), "throttled: x (after 3 attempts)");
        assert_eq!(e.retries(), 2);
    }
}
