//! Bedrock Runtime's error replies (rest-json, docs/wire-facts.md §A5): the status, the
//! `x-amzn-ErrorType: <Code>` header both SDKs read the code from, and a JSON body
//! `{"message":"..."}`.
//!
//! The body is always JSON, never empty: botocore turns a 5xx with an empty or HTML body into a
//! bare `"503"` code, losing the exception type.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The error codes the mock answers with (the exception shapes of the Bedrock Runtime model,
/// plus the generic `UnknownOperationException` of an unknown route).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    /// 400: the request does not satisfy the API's constraints.
    Validation,
    /// 404: the model id is well formed but names nothing Bedrock hosts.
    ResourceNotFound,
    /// 429: throttled (a fault or the concurrency quota).
    Throttling,
    /// 500: an internal error (injected).
    InternalServer,
    /// 503: the service is unavailable (injected).
    ServiceUnavailable,
    /// 404: no operation at this method and path.
    UnknownOperation,
    /// 408: the request body did not arrive in time (`connections.body_timeout_ms`).
    RequestTimeout,
}

impl ErrorCode {
    /// The code as sent in `x-amzn-ErrorType`.
    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::Validation => "ValidationException",
            ErrorCode::ResourceNotFound => "ResourceNotFoundException",
            ErrorCode::Throttling => "ThrottlingException",
            ErrorCode::InternalServer => "InternalServerException",
            ErrorCode::ServiceUnavailable => "ServiceUnavailableException",
            ErrorCode::UnknownOperation => "UnknownOperationException",
            ErrorCode::RequestTimeout => "RequestTimeoutException",
        }
    }

    /// The HTTP status of the code (the `httpStatusCode` of its shape in the service model).
    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::Validation => StatusCode::BAD_REQUEST,
            ErrorCode::ResourceNotFound | ErrorCode::UnknownOperation => StatusCode::NOT_FOUND,
            ErrorCode::Throttling => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::InternalServer => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
        }
    }

    /// The outcome kind counted in the statistics (one of [`crate::stats::OUTCOME_KINDS`]).
    pub fn outcome(self) -> &'static str {
        match self {
            ErrorCode::Validation => "bad_request",
            ErrorCode::ResourceNotFound | ErrorCode::UnknownOperation => "not_found",
            ErrorCode::Throttling => "throttle",
            ErrorCode::InternalServer => "server_error",
            ErrorCode::ServiceUnavailable => "unavailable",
            ErrorCode::RequestTimeout => "client_timeout",
        }
    }
}

/// The message of a throttled request, as the real service words it.
pub const THROTTLING_MESSAGE: &str = "Too many requests, please wait before trying again.";

/// One error reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BedrockError {
    /// What kind of error.
    pub code: ErrorCode,
    /// The `message` field of the body.
    pub message: String,
}

impl BedrockError {
    /// An error of `code` with `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        BedrockError {
            code,
            message: message.into(),
        }
    }

    /// A 400 `ValidationException`.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Validation, message)
    }

    /// A 429 `ThrottlingException` with the real service's message.
    pub fn throttling() -> Self {
        Self::new(ErrorCode::Throttling, THROTTLING_MESSAGE)
    }

    /// A 500 `InternalServerException`.
    pub fn internal() -> Self {
        Self::new(
            ErrorCode::InternalServer,
            "The server encountered an internal error while processing the request.",
        )
    }

    /// A 503 `ServiceUnavailableException`.
    pub fn unavailable() -> Self {
        Self::new(
            ErrorCode::ServiceUnavailable,
            "The service is temporarily unable to handle the request. Try again later.",
        )
    }
}

impl std::fmt::Display for BedrockError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.name(), self.message)
    }
}

impl std::error::Error for BedrockError {}

/// A fresh `x-amzn-RequestId` value (a random UUID v4 in its usual text form).
pub fn request_id() -> HeaderValue {
    let mut v: u128 = rand::random();
    // Version 4, RFC 4122 variant.
    v = (v & !(0xf << 76)) | (0x4 << 76);
    v = (v & !(0x3 << 62)) | (0x2 << 62);
    let s = format!("{v:032x}");
    let text = format!(
        "{}-{}-{}-{}-{}",
        &s[..8],
        &s[8..12],
        &s[12..16],
        &s[16..20],
        &s[20..]
    );
    HeaderValue::from_str(&text).unwrap_or(HeaderValue::from_static(
        "00000000-0000-4000-8000-000000000000",
    ))
}

/// Name of the header the request id goes in.
pub const REQUEST_ID_HEADER: &str = "x-amzn-requestid";

/// Name of the header both SDKs read the error code from.
pub const ERROR_TYPE_HEADER: &str = "x-amzn-errortype";

impl IntoResponse for BedrockError {
    fn into_response(self) -> Response {
        let message = crate::text::elide(&self.message);
        let body = serde_json::json!({ "message": message }).to_string();
        let mut response = (self.code.status(), body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(
            ERROR_TYPE_HEADER,
            HeaderValue::from_static(self.code.name()),
        );
        headers.insert(REQUEST_ID_HEADER, request_id());
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_the_model_statuses() {
        assert_eq!(ErrorCode::Validation.status(), 400);
        assert_eq!(ErrorCode::ResourceNotFound.status(), 404);
        assert_eq!(ErrorCode::Throttling.status(), 429);
        assert_eq!(ErrorCode::InternalServer.status(), 500);
        assert_eq!(ErrorCode::ServiceUnavailable.status(), 503);
        assert_eq!(ErrorCode::UnknownOperation.status(), 404);
        for code in [
            ErrorCode::Validation,
            ErrorCode::ResourceNotFound,
            ErrorCode::Throttling,
            ErrorCode::InternalServer,
            ErrorCode::ServiceUnavailable,
        ] {
            assert!(crate::stats::OUTCOME_KINDS.contains(&code.outcome()));
        }
    }

    #[test]
    fn reply_has_header_json_body_and_request_id() {
        let r = BedrockError::throttling().into_response();
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers()[ERROR_TYPE_HEADER], "ThrottlingException");
        assert_eq!(r.headers()[header::CONTENT_TYPE], "application/json");
        let id = r.headers()[REQUEST_ID_HEADER].to_str().unwrap().to_string();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
    }
}
