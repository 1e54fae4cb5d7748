//! What a target endpoint's response means: for a streaming protocol, what one decoded
//! [`SseEvent`] says (a token, token usage, the end with its citations, an error, or nothing);
//! for a plain JSON endpoint, the answer and citations in the whole body. Also the parsing of the
//! `--protocol`, `--token-pointer`, `--done-marker` and `--citations-pointer` flags.
//!
//! Three protocols ([`Protocol`]):
//!
//! - `sse`: events whose `data` is JSON laid out as an [`SseShape`] says, located with RFC 6901
//!   JSON pointers. The default shape is the seed service's:
//!   `{"type":"token","content":"Hel"}`, `{"type":"done","citations":["doc-1"]}`,
//!   `{"type":"error","message":"boom"}`.
//! - `openai`: OpenAI-compatible `chat/completions` (or legacy `completions`) streaming, as
//!   served by vLLM, LiteLLM, Ollama and TGI: `choices[0].delta.content` (or `choices[0].text`)
//!   tokens, an optional `usage` chunk, and `data: [DONE]`.
//! - `json`: no streaming; one JSON body laid out as a [`JsonShape`] says.
//!
//! Nothing here does I/O; the executor feeds bytes to [`super::sse::SseDecoder`] and the events
//! to [`Protocol::interpret_event`].

use serde_json::Value;
use thiserror::Error;

use super::json_at::{SeedEvent, at, at_mut, citations_at, kind};
use super::sse::SseEvent;

/// The flag that names the protocol.
pub const PROTOCOL_FLAG: &str = "--protocol";
/// The flag that sets [`SseShape::token`] (and, for `json`, [`JsonShape::answer`]).
pub const TOKEN_POINTER_FLAG: &str = "--token-pointer";
/// The flag that sets [`SseShape::done`].
pub const DONE_MARKER_FLAG: &str = "--done-marker";
/// The flag that sets [`SseShape::citations`] / [`JsonShape::citations`].
pub const CITATIONS_POINTER_FLAG: &str = "--citations-pointer";

/// How many characters of offending data a [`MalformedEvent`] quotes.
const EXCERPT_CHARS: usize = 120;

/// The protocol of a target endpoint.
#[derive(Clone, Debug, PartialEq)]
pub enum Protocol {
    /// Server-Sent Events whose `data` is JSON laid out as the shape says (the seed's protocol).
    Sse(SseShape),
    /// OpenAI-compatible `chat/completions` or `completions` streaming (vLLM, LiteLLM, Ollama,
    /// TGI): fixed shape, ends with `data: [DONE]`.
    OpenAi,
    /// One JSON response body laid out as the shape says.
    Json(JsonShape),
}

/// Where things are in an SSE event's JSON data (RFC 6901 JSON pointers).
#[derive(Clone, Debug, PartialEq)]
pub struct SseShape {
    /// Pointer to the token text (a non-empty string makes the event a token); default
    /// `/content`.
    pub token: String,
    /// What marks the last event; default `/type=done`.
    pub done: Marker,
    /// What marks an error event; default `/type=error`. `None`: no event is an error.
    pub error: Option<Marker>,
    /// Pointer to an error event's message; default `/message`.
    pub error_message: String,
    /// Pointer to the done event's citations; default `/citations`.
    pub citations: String,
}

impl Default for SseShape {
    fn default() -> Self {
        SseShape {
            token: "/content".into(),
            done: Marker::is_string("/type", "done"),
            error: Some(Marker::is_string("/type", "error")),
            error_message: "/message".into(),
            citations: "/citations".into(),
        }
    }
}

/// A test on an event's JSON data: the value at `pointer` is present and not null (`equals` is
/// `None`), or equals `equals` (numbers compare by value, so `1` matches `1.0`).
#[derive(Clone, Debug, PartialEq)]
pub struct Marker {
    /// RFC 6901 JSON pointer: empty (the whole data) or starting with `/`.
    pub pointer: String,
    /// The value the pointer must hold; `None`: any value but null.
    pub equals: Option<Value>,
}

/// Where the answer and citations are in a `json` protocol's response body (RFC 6901 pointers).
#[derive(Clone, Debug, PartialEq)]
pub struct JsonShape {
    /// Pointer to the answer text (must be a string); default `/answer`.
    pub answer: String,
    /// Pointer to the citations; default `/citations`.
    pub citations: String,
}

impl Default for JsonShape {
    fn default() -> Self {
        JsonShape {
            answer: "/answer".into(),
            citations: "/citations".into(),
        }
    }
}

/// What one event means. `T` is what a token carries: its text ([`Protocol::interpret_event`])
/// or nothing ([`Protocol::classify_event`], for a caller that only counts tokens).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Interpreted<T = String> {
    /// Answer text (never empty). `completion_tokens` is the server's token count when the same
    /// chunk also carried `usage` (OpenAI with `continuous_usage_stats`); always `None` for `sse`.
    Token {
        /// The text.
        text: T,
        /// `usage.completion_tokens` of the same chunk, if any.
        completion_tokens: Option<u64>,
    },
    /// A chunk with the server's `usage.completion_tokens` and no text (OpenAI's usage chunk).
    /// The count is cumulative: the last one seen is the total.
    Usage {
        /// `usage.completion_tokens`.
        completion_tokens: u64,
    },
    /// The stream's last event, with the answer's citations (empty when the event has none, and
    /// always for `openai`).
    Done {
        /// Cited document ids, in the server's order.
        citations: Vec<String>,
    },
    /// The server reported an error in the stream; the value is its message.
    Error(String),
    /// Valid, but nothing to record: metadata, a role-only or finish chunk, an empty token.
    Ignore,
}

/// An event's data (or a response body) that the protocol cannot read: not JSON, or missing what
/// the protocol requires. Says why and quotes the first ~120 characters.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("{reason}; the data begins `{excerpt}`")]
pub struct MalformedEvent {
    /// Why the data cannot be read.
    pub reason: String,
    /// The first ~120 characters of the data (`…` marks a cut).
    pub excerpt: String,
}

impl MalformedEvent {
    fn new(reason: impl Into<String>, data: &str) -> Self {
        MalformedEvent {
            reason: reason.into(),
            excerpt: excerpt(data),
        }
    }

    fn of_bytes(reason: impl Into<String>, data: &[u8]) -> Self {
        // 4 bytes per character at most: enough bytes for the excerpt, whatever the encoding.
        let head = &data[..data.len().min(EXCERPT_CHARS * 4 + 4)];
        Self::new(reason, &String::from_utf8_lossy(head))
    }
}

/// A flag value that does not describe a protocol or shape. Displays as
/// `--flag: what is wrong and how to write it`.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("{flag}: {message}")]
pub struct ShapeError {
    /// The flag whose value is wrong, e.g. `--done-marker`.
    pub flag: &'static str,
    /// What is wrong, with a correct example.
    pub message: String,
}

impl ShapeError {
    fn new(flag: &'static str, message: impl Into<String>) -> Self {
        ShapeError {
            flag,
            message: message.into(),
        }
    }
}

impl Protocol {
    /// The protocol's `--protocol` name: `sse`, `openai` or `json`.
    pub fn name(&self) -> &'static str {
        match self {
            Protocol::Sse(_) => "sse",
            Protocol::OpenAi => "openai",
            Protocol::Json(_) => "json",
        }
    }

    /// Whether the response is an event stream ([`Protocol::interpret_event`]) rather than one
    /// JSON body ([`Protocol::interpret_json_body`]).
    pub fn is_streaming(&self) -> bool {
        !matches!(self, Protocol::Json(_))
    }

    /// The protocol from the CLI flags: `name` from `--protocol`, then the optional
    /// `--token-pointer`, `--done-marker` and `--citations-pointer` values; unset ones keep the
    /// defaults. For `json`, `--token-pointer` locates the whole answer ([`JsonShape::answer`]).
    /// A flag the protocol does not use is an error, as is a pointer that is not RFC 6901.
    pub fn parse(
        name: &str,
        token: Option<&str>,
        done: Option<&str>,
        citations: Option<&str>,
    ) -> Result<Protocol, ShapeError> {
        match name {
            "sse" => {
                let mut shape = SseShape::default();
                if let Some(p) = token {
                    shape.token = pointer(TOKEN_POINTER_FLAG, p)?;
                }
                if let Some(m) = done {
                    shape.done = Marker::parse(DONE_MARKER_FLAG, m)?;
                }
                if let Some(p) = citations {
                    shape.citations = pointer(CITATIONS_POINTER_FLAG, p)?;
                }
                Ok(Protocol::Sse(shape))
            }
            "openai" => {
                if token.is_some() {
                    return Err(ShapeError::new(
                        TOKEN_POINTER_FLAG,
                        "the openai protocol reads tokens at choices[0].delta.content; drop \
                         --token-pointer, or use --protocol sse for another JSON shape",
                    ));
                }
                if done.is_some() {
                    return Err(ShapeError::new(
                        DONE_MARKER_FLAG,
                        "the openai protocol ends at `data: [DONE]`; drop --done-marker, or use \
                         --protocol sse for another JSON shape",
                    ));
                }
                if citations.is_some() {
                    return Err(ShapeError::new(
                        CITATIONS_POINTER_FLAG,
                        "openai chunks carry no citations; drop --citations-pointer, or use \
                         --protocol sse or json",
                    ));
                }
                Ok(Protocol::OpenAi)
            }
            "json" => {
                if done.is_some() {
                    return Err(ShapeError::new(
                        DONE_MARKER_FLAG,
                        "the json protocol reads one whole response body, so nothing marks an \
                         end; drop --done-marker, or use --protocol sse for a stream",
                    ));
                }
                let mut shape = JsonShape::default();
                if let Some(p) = token {
                    shape.answer = pointer(TOKEN_POINTER_FLAG, p)?;
                }
                if let Some(p) = citations {
                    shape.citations = pointer(CITATIONS_POINTER_FLAG, p)?;
                }
                Ok(Protocol::Json(shape))
            }
            other => Err(ShapeError::new(
                PROTOCOL_FLAG,
                format!("`{other}` is not a protocol; use sse, openai or json"),
            )),
        }
    }

    /// What one event of a streaming protocol means. Data that is not JSON (other than
    /// OpenAI's `[DONE]`) is a [`MalformedEvent`]; so is any event for the `json` protocol,
    /// which does not stream. The event's `event:` type and `id` are not consulted.
    ///
    /// `sse`: the error marker is checked first (→ [`Interpreted::Error`] with the message at
    /// [`SseShape::error_message`]), then the done marker (→ [`Interpreted::Done`] with the
    /// citations), then the token pointer (a non-empty string → [`Interpreted::Token`]); any
    /// other JSON is [`Interpreted::Ignore`].
    ///
    /// `openai`: `[DONE]` → `Done` (no citations); an `error` member (object with `message`, or
    /// string) or `"object":"error"` → `Error`; a non-empty `choices[0].delta.content` or
    /// `choices[0].text` → `Token` (with the chunk's `usage.completion_tokens`, if any); else
    /// `usage.completion_tokens` → `Usage`; anything else (role-only or finish chunk) → `Ignore`.
    pub fn interpret_event(&self, ev: &SseEvent) -> Result<Interpreted, MalformedEvent> {
        self.interpret_data(&ev.data, str::to_owned)
    }

    /// What one event means, as [`Protocol::interpret_event`] says, without the token's text
    /// (never copied out of the event: the cheap call for a caller that only counts tokens).
    pub fn classify_event(&self, ev: &SseEvent) -> Result<Interpreted<()>, MalformedEvent> {
        self.interpret_data(&ev.data, |_| ())
    }

    fn interpret_data<T>(
        &self,
        data: &str,
        text: impl FnOnce(&str) -> T,
    ) -> Result<Interpreted<T>, MalformedEvent> {
        match self {
            Protocol::Sse(shape) => shape.interpret(data, text),
            Protocol::OpenAi => interpret_openai(data, text),
            Protocol::Json(_) => Err(MalformedEvent::new(
                "the json protocol reads one response body, not events",
                data,
            )),
        }
    }

    /// The answer and citations of a `json` protocol's whole response body. The answer must be
    /// a string at [`JsonShape::answer`]; citations are read as for `sse` (absent → empty). For
    /// a streaming protocol this is a [`MalformedEvent`] saying so.
    pub fn interpret_json_body(
        &self,
        body: &[u8],
    ) -> Result<(String, Vec<String>), MalformedEvent> {
        let Protocol::Json(shape) = self else {
            return Err(MalformedEvent::of_bytes(
                format!(
                    "the {} protocol streams events; only json reads one response body",
                    self.name()
                ),
                body,
            ));
        };
        let mut v: Value = serde_json::from_slice(body).map_err(|e| {
            MalformedEvent::of_bytes(format!("the response body is not JSON ({e})"), body)
        })?;
        let citations = citations_at(&v, &shape.citations);
        match at_mut(&mut v, &shape.answer) {
            Some(Value::String(s)) => Ok((std::mem::take(s), citations)),
            Some(other) => Err(MalformedEvent::of_bytes(
                format!(
                    "the answer at `{}` is {}, not a string",
                    shape.answer,
                    kind(other)
                ),
                body,
            )),
            None => Err(MalformedEvent::of_bytes(
                format!(
                    "the response body has no answer at `{}` (set it with --token-pointer)",
                    shape.answer
                ),
                body,
            )),
        }
    }
}

impl SseShape {
    fn interpret<T>(
        &self,
        data: &str,
        text: impl FnOnce(&str) -> T,
    ) -> Result<Interpreted<T>, MalformedEvent> {
        if self.is_seed()
            && let Ok(ev) = serde_json::from_str::<SeedEvent<'_>>(data)
        {
            // Neither an error nor a done event (those take the general path below).
            match ev.kind.as_deref() {
                Some("error" | "done") => {}
                _ => {
                    return Ok(match ev.content {
                        Some(t) if !t.is_empty() => Interpreted::Token {
                            text: text(&t),
                            completion_tokens: None,
                        },
                        _ => Interpreted::Ignore,
                    });
                }
            }
        }
        let v = parse_json(data)?;
        if let Some(error) = &self.error
            && error.matches(&v)
        {
            let message = match at(&v, &self.error_message) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => {
                    format!("error event without a message: {}", excerpt(data))
                }
                Some(other) => other.to_string(),
            };
            return Ok(Interpreted::Error(message));
        }
        if self.done.matches(&v) {
            return Ok(Interpreted::Done {
                citations: citations_at(&v, &self.citations),
            });
        }
        Ok(match at(&v, &self.token) {
            Some(Value::String(s)) if !s.is_empty() => Interpreted::Token {
                text: text(s),
                completion_tokens: None,
            },
            _ => Interpreted::Ignore,
        })
    }

    /// The seed's shape (the default), which [`SeedEvent`] reads without building a [`Value`].
    fn is_seed(&self) -> bool {
        self.token == "/content" && *self == *SEED_SHAPE
    }
}

/// The default shape, compared against once per event.
static SEED_SHAPE: std::sync::LazyLock<SseShape> = std::sync::LazyLock::new(SseShape::default);

fn interpret_openai<T>(
    data: &str,
    text: impl FnOnce(&str) -> T,
) -> Result<Interpreted<T>, MalformedEvent> {
    if data.trim() == "[DONE]" {
        return Ok(Interpreted::Done {
            citations: Vec::new(),
        });
    }
    let v = parse_json(data)?;
    match v.get("error") {
        None | Some(Value::Null) => {}
        Some(error) => return Ok(Interpreted::Error(openai_error_message(error))),
    }
    // Older vLLM streams `{"object":"error","message":..}`.
    if v.get("object").and_then(Value::as_str) == Some("error") {
        return Ok(Interpreted::Error(openai_error_message(&v)));
    }
    let completion_tokens = v
        .get("usage")
        .and_then(|u| u.get("completion_tokens"))
        .and_then(Value::as_u64);
    let choice = v.get("choices").and_then(|c| c.get(0));
    // `delta.content` (chat) first; `text` (legacy completions) otherwise.
    let found = choice.and_then(|choice| {
        let chat = choice.get("delta").and_then(|d| d.get("content"));
        match chat {
            Some(Value::String(s)) if !s.is_empty() => Some(s),
            _ => match choice.get("text") {
                Some(Value::String(s)) if !s.is_empty() => Some(s),
                _ => None,
            },
        }
    });
    Ok(match (found, completion_tokens) {
        (Some(s), completion_tokens) => Interpreted::Token {
            text: text(s),
            completion_tokens,
        },
        (None, Some(completion_tokens)) => Interpreted::Usage { completion_tokens },
        (None, None) => Interpreted::Ignore,
    })
}

/// The message of an OpenAI-style error: a string, or an object's `message`, else its JSON.
fn openai_error_message(error: &Value) -> String {
    match error {
        Value::String(s) => s.clone(),
        Value::Object(o) => match o.get("message") {
            Some(Value::String(s)) => s.clone(),
            _ => error.to_string(),
        },
        other => other.to_string(),
    }
}

impl Marker {
    /// A marker from a flag value: `POINTER` (present and not null) or `POINTER=VALUE` (split at
    /// the first `=`). VALUE is compared as JSON when it parses as a number, a boolean or a
    /// quoted string (`/n=1`, `/final=true`, `/code="1"`), else as a string (`/type=done`).
    /// The pointer must be empty or start with `/`; the error names `flag` and shows a correct
    /// example.
    pub fn parse(flag: &'static str, s: &str) -> Result<Marker, ShapeError> {
        if s.is_empty() {
            return Err(ShapeError::new(
                flag,
                format!(
                    "empty; give a JSON pointer, optionally with =VALUE, e.g. {flag} /type=done"
                ),
            ));
        }
        let (p, equals) = match s.split_once('=') {
            Some((p, value)) => (p, Some(marker_value(value))),
            None => (s, None),
        };
        let pointer = pointer_with_example(flag, p, "/type=done")?;
        Ok(Marker { pointer, equals })
    }

    /// Whether `data` passes the test.
    pub fn matches(&self, data: &Value) -> bool {
        match (at(data, &self.pointer), &self.equals) {
            (None | Some(Value::Null), None) => false,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(Value::Number(a)), Some(Value::Number(b))) => a.as_f64() == b.as_f64(),
            (Some(found), Some(want)) => found == want,
        }
    }

    fn is_string(pointer: &str, value: &str) -> Marker {
        Marker {
            pointer: pointer.into(),
            equals: Some(Value::String(value.into())),
        }
    }
}

impl std::fmt::Display for Marker {
    /// The flag syntax [`Marker::parse`] reads back: `POINTER` or `POINTER=VALUE` (a string
    /// VALUE is quoted only when it would otherwise read as a number or boolean).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.pointer)?;
        match &self.equals {
            None => Ok(()),
            Some(Value::String(s)) if marker_value(s) == Value::String(s.clone()) => {
                write!(f, "={s}")
            }
            Some(v) => write!(f, "={v}"),
        }
    }
}

/// A marker's VALUE: JSON when it parses as a number, boolean or string, else the text.
fn marker_value(s: &str) -> Value {
    match serde_json::from_str::<Value>(s) {
        Ok(v @ (Value::Number(_) | Value::Bool(_) | Value::String(_))) => v,
        _ => Value::String(s.to_owned()),
    }
}

/// Validates a pointer flag value, with the flag's default as the example.
fn pointer(flag: &'static str, p: &str) -> Result<String, ShapeError> {
    let example = if flag == CITATIONS_POINTER_FLAG {
        "/citations"
    } else {
        "/content"
    };
    pointer_with_example(flag, p, example)
}

/// `p` when it is an RFC 6901 pointer: empty, or `/`-separated tokens where `~` is followed by
/// `0` or `1`.
fn pointer_with_example(flag: &'static str, p: &str, example: &str) -> Result<String, ShapeError> {
    if !p.is_empty() && !p.starts_with('/') {
        return Err(ShapeError::new(
            flag,
            format!(
                "`{p}` is not a JSON pointer (RFC 6901): it must be empty or start with `/`, \
                 e.g. {flag} {example}"
            ),
        ));
    }
    let bytes = p.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'~' && !matches!(bytes.get(i + 1), Some(b'0' | b'1')) {
            return Err(ShapeError::new(
                flag,
                format!(
                    "`{p}` has a `~` not followed by 0 or 1 (RFC 6901 escapes `~` as `~0` and \
                     `/` as `~1`), e.g. {flag} {example}"
                ),
            ));
        }
    }
    Ok(p.to_owned())
}

fn parse_json(data: &str) -> Result<Value, MalformedEvent> {
    serde_json::from_str(data)
        .map_err(|e| MalformedEvent::new(format!("event data is not JSON ({e})"), data))
}

/// The first [`EXCERPT_CHARS`] characters of `data`, with `…` when cut.
fn excerpt(data: &str) -> String {
    match data.char_indices().nth(EXCERPT_CHARS) {
        Some((cut, _)) => format!("{}…", &data[..cut]),
        None => data.to_owned(),
    }
}

#[cfg(test)]
#[path = "protocol_tests.rs"]
mod tests;
