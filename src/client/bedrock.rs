//! Generation: Bedrock `ConverseStream` (streamed, the pipeline's path) and `Converse`.
//!
//! `POST {bedrock}/model/{id}/converse-stream` (or `/converse`) with
//! `{"messages":[{"role":"user","content":[{"text":user}]}],"system":[{"text":system}],
//! "inferenceConfig":{"maxTokens":n,"temperature":t}}` — what boto3 sends for the same call
//! (docs/wire-facts.md §A2). An empty system prompt is left out (Bedrock rejects empty text blocks).
//!
//! Streams are retried only while opening them (a 429/5xx or connect failure before the 200);
//! once the body is being read, every failure is final — the user may already have seen tokens.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::config::{ClientConfig, Endpoints};
use super::error::{ClientError, ErrorKind, Service};
use super::eventstream::{ConverseStreamDecoder, Usage};
use super::lean::LeanStream;
pub use super::outcome::GenerateOutcome;
use super::retry::{Backoff, run_async, run_blocking};
use super::transport::path_name;
use super::transport::{
    async_json, async_open_stream, async_read_stream, base_url, blocking_json,
    blocking_open_stream, blocking_read_chunk, blocking_read_stream, stream_read_buf,
};
use super::{ClientBuildError, Reply};

const STREAM_OP: &str = "bedrock ConverseStream";
const CONVERSE_OP: &str = "bedrock Converse";

/// One generation request: a system prompt and a single user turn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ChatRequest<'a> {
    /// System prompt (left out of the request when empty).
    pub system: &'a str,
    /// The user message (question plus retrieved passages).
    pub user: &'a str,
    /// `inferenceConfig.maxTokens`: most tokens the model may generate.
    pub max_tokens: u32,
    /// `inferenceConfig.temperature` (0 = deterministic).
    pub temperature: f32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ConverseBody<'a> {
    messages: [UserMessage<'a>; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    system: Option<[Text<'a>; 1]>,
    inference_config: InferenceConfig,
}

#[derive(Serialize)]
struct UserMessage<'a> {
    role: &'static str,
    content: [Text<'a>; 1],
}

#[derive(Serialize)]
struct Text<'a> {
    text: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InferenceConfig {
    max_tokens: u32,
    temperature: f32,
}

pub(crate) fn request_body(req: &ChatRequest<'_>) -> Vec<u8> {
    let body = ConverseBody {
        messages: [UserMessage {
            role: "user",
            content: [Text { text: req.user }],
        }],
        system: (!req.system.is_empty()).then_some([Text { text: req.system }]),
        inference_config: InferenceConfig {
            max_tokens: req.max_tokens,
            temperature: req.temperature,
        },
    };
    // Strings and scalars only: cannot fail (a NaN temperature becomes null, which Bedrock
    // rejects with a 400).
    serde_json::to_vec(&body).unwrap_or_default()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConverseResponse {
    output: Option<ConverseOutput>,
    stop_reason: Option<String>,
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct ConverseOutput {
    message: Option<OutputMessage>,
}

#[derive(Deserialize)]
struct OutputMessage {
    #[serde(default)]
    content: Vec<serde_json::Value>,
}

fn parse_converse(body: &[u8]) -> Result<GenerateOutcome, ClientError> {
    let bad = |m: String| ClientError::new(ErrorKind::BadResponse, format!("{CONVERSE_OP}: {m}"));
    let resp: ConverseResponse = serde_json::from_slice(body)
        .map_err(|e| bad(format!("response is not Converse JSON: {e}")))?;
    let message = resp
        .output
        .and_then(|o| o.message)
        .ok_or_else(|| bad("response has no `output.message`".into()))?;
    let text: String = message
        .content
        .iter()
        .filter_map(|block| block.get("text").and_then(serde_json::Value::as_str))
        .collect();
    let stop_reason = resp
        .stop_reason
        .ok_or_else(|| bad("response has no `stopReason`".into()))?;
    let usage_output_tokens = resp.usage.and_then(|u| u.output_tokens);
    Ok(GenerateOutcome {
        text,
        output_tokens: usage_output_tokens.map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX)),
        usage_output_tokens,
        stop_reason,
    })
}

/// A failure while reading an opened stream, with the decoder's progress and the attempts the
/// opening took.
fn mid_stream(err: ClientError, decoder: &ConverseStreamDecoder, attempts: u32) -> ClientError {
    let mut err = match err.kind {
        ErrorKind::StreamCut => {
            let detail = err.message.strip_prefix(STREAM_OP).unwrap_or(&err.message);
            decoder.cut(&format!(
                "with a connection error ({})",
                detail.trim_start_matches(": ")
            ))
        }
        ErrorKind::Timeout | ErrorKind::BadResponse => ClientError {
            message: format!("{} (after {} tokens)", err.message, decoder.tokens()),
            ..err
        },
        _ => err,
    };
    err.attempts = attempts;
    err
}

/// The outcome of a stream whose body was read to its end (`read` is `Ok`) or failed.
fn finish(
    read: Result<(), ClientError>,
    decoder: ConverseStreamDecoder,
    attempts: u32,
) -> Result<Reply<GenerateOutcome>, ClientError> {
    match read {
        Ok(()) => match decoder.finish() {
            Ok(value) => Ok(Reply { value, attempts }),
            Err(mut e) => {
                e.attempts = attempts;
                Err(e)
            }
        },
        Err(e) => Err(mid_stream(e, &decoder, attempts)),
    }
}

/// What both stacks share.
#[derive(Clone, Debug)]
struct ChatTarget {
    stream_url: String,
    converse_url: String,
    timeout: Duration,
    idle: Duration,
    backoff: Backoff,
}

impl ChatTarget {
    fn new(
        endpoints: &Endpoints,
        config: &ClientConfig,
        backoff: Backoff,
    ) -> Result<Self, ClientBuildError> {
        let base = base_url("bedrock_url", &endpoints.bedrock_url)?;
        let model = path_name(
            "chat_model",
            &endpoints.chat_model,
            "anthropic.claude-3-haiku-20240307-v1:0",
        )?;
        Ok(ChatTarget {
            stream_url: format!("{base}/model/{model}/converse-stream"),
            converse_url: format!("{base}/model/{model}/converse"),
            timeout: config.request_timeout(),
            idle: config.stream_idle_timeout(),
            backoff,
        })
    }
}

/// Blocking Bedrock generation client (ureq; I/O on the calling thread).
#[derive(Clone, Debug)]
pub struct BlockingBedrockClient {
    agent: ureq::Agent,
    target: ChatTarget,
}

impl BlockingBedrockClient {
    /// A client on `agent` (usually built by [`super::BlockingClients::new`]).
    pub fn new(
        agent: ureq::Agent,
        endpoints: &Endpoints,
        config: &ClientConfig,
        backoff: Backoff,
    ) -> Result<Self, ClientBuildError> {
        Ok(BlockingBedrockClient {
            agent,
            target: ChatTarget::new(endpoints, config, backoff)?,
        })
    }

    /// Sends the request and waits for the 200 (retrying like botocore); the body is unread.
    fn open(&self, req: &ChatRequest<'_>) -> Result<(ureq::BodyReader<'static>, u32), ClientError> {
        let t = &self.target;
        let body = request_body(req);
        run_blocking(&t.backoff, || {
            blocking_open_stream(
                &self.agent,
                Service::Bedrock,
                STREAM_OP,
                &t.stream_url,
                &body,
                t.timeout,
                t.idle,
            )
        })
    }

    /// Streams an answer, calling `on_token` with each text delta on this thread as soon as its
    /// frame is decoded.
    pub fn converse_stream<F: FnMut(&str)>(
        &self,
        req: &ChatRequest<'_>,
        mut on_token: F,
    ) -> Result<Reply<GenerateOutcome>, ClientError> {
        self.converse_stream_reads(req, |piece| {
            if let Piece::Token(t) = piece {
                on_token(t)
            }
        })
    }

    /// [`Self::converse_stream`], telling `on_piece` of every socket read of the body too
    /// ([`Piece::Read`], before the deltas decoded from it).
    pub fn converse_stream_reads<F: FnMut(Piece<'_>)>(
        &self,
        req: &ChatRequest<'_>,
        mut on_piece: F,
    ) -> Result<Reply<GenerateOutcome>, ClientError> {
        let t = &self.target;
        let (mut reader, attempts) = self.open(req)?;
        let mut decoder = ConverseStreamDecoder::new();
        let read = blocking_read_stream(STREAM_OP, &mut reader, t.idle, |chunk| {
            feed_read(&mut decoder, chunk, true, &mut on_piece)
        });
        finish(read, decoder, attempts)
    }

    /// Opens a stream and returns it unread, to be pulled one event at a time with
    /// [`BlockingConverseStream::next_event`] — what iterating boto3's `EventStream` (or a
    /// LlamaIndex `stream_chat` generator) does. Returns once the 200 arrived (the mocks and
    /// Bedrock send it before the first token); opening failures are retried as in
    /// [`Self::converse_stream`].
    pub fn open_stream(
        &self,
        req: &ChatRequest<'_>,
    ) -> Result<BlockingConverseStream, ClientError> {
        let (reader, attempts) = self.open(req)?;
        Ok(BlockingConverseStream {
            reader,
            idle: self.target.idle,
            buf: stream_read_buf(),
            decoder: Some(ConverseStreamDecoder::new()),
            pending: VecDeque::new(),
            failed: None,
            attempts,
        })
    }

    /// Generates an answer in one response (no streaming).
    pub fn converse(&self, req: &ChatRequest<'_>) -> Result<Reply<GenerateOutcome>, ClientError> {
        let t = &self.target;
        let body = request_body(req);
        blocking_json(
            &self.agent,
            &t.backoff,
            Service::Bedrock,
            CONVERSE_OP,
            &t.converse_url,
            &body,
            t.timeout,
            parse_converse,
        )
    }
}

/// What a stream hands its reader, in order: each read of the body, then the text deltas
/// decoded from it (a read can complete no frame, or several).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Piece<'a> {
    /// A read of the socket brought body bytes.
    Read,
    /// The next non-empty text delta.
    Token(&'a str),
}

/// A `chunk` into `decoder`: [`Piece::Read`] when it is the first piece of a socket read
/// (`fresh`), then its deltas.
fn feed_read<F: FnMut(Piece<'_>)>(
    decoder: &mut ConverseStreamDecoder,
    chunk: &[u8],
    fresh: bool,
    on_piece: &mut F,
) -> Result<(), ClientError> {
    if fresh {
        on_piece(Piece::Read);
    }
    decoder.feed(chunk, &mut |t: &str| on_piece(Piece::Token(t)))
}

/// One event pulled from a [`BlockingConverseStream`].
#[derive(Clone, Debug, PartialEq)]
pub enum StreamEvent {
    /// The next non-empty text delta.
    Token(String),
    /// The body ended and the stream was complete: the whole answer.
    Done(Reply<GenerateOutcome>),
}

/// An open `ConverseStream` whose body is read on demand, one event per
/// [`next_event`](Self::next_event) call, on whichever thread calls it. Between calls nothing
/// reads the socket: the bytes the server sends meanwhile wait in the kernel's buffer, as they
/// do while a Python generator is suspended. Dropping it closes the connection.
///
/// Decoding and error classification are [`BlockingBedrockClient::converse_stream`]'s: the same
/// event-stream decoder, the same `stream_cut`/`timeout`/`bad_response` mapping, and no retry
/// once the body is being read. The idle limit bounds each socket read, not the time between
/// calls.
pub struct BlockingConverseStream {
    reader: ureq::BodyReader<'static>,
    idle: Duration,
    buf: Vec<u8>,
    /// None once the stream has ended (done or failed).
    decoder: Option<ConverseStreamDecoder>,
    /// Deltas decoded from a chunk but not handed out yet (one read can complete several frames).
    pending: VecDeque<String>,
    /// A failure decoded after deltas still pending: reported once they are handed out.
    failed: Option<ClientError>,
    attempts: u32,
}

impl std::fmt::Debug for BlockingConverseStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockingConverseStream")
            .field("decoder", &self.decoder)
            .field("pending", &self.pending.len())
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

impl BlockingConverseStream {
    /// Blocks until the next text delta arrives, or the stream ends: `Ok(Token)` for a delta,
    /// `Ok(Done)` at a clean and complete end, `Err` for a failure (after every delta decoded
    /// before it). Calling it again after `Done` or an error is a `bad_request` error.
    pub fn next_event(&mut self) -> Result<StreamEvent, ClientError> {
        loop {
            if let Some(text) = self.pending.pop_front() {
                return Ok(StreamEvent::Token(text));
            }
            if let Some(e) = self.failed.take() {
                return Err(e);
            }
            let Some(decoder) = self.decoder.as_mut() else {
                return Err(ClientError::new(
                    ErrorKind::BadRequest,
                    format!("{STREAM_OP}: next_event called after the stream ended"),
                ));
            };
            let pending = &mut self.pending;
            let read = blocking_read_chunk(STREAM_OP, &mut self.reader, self.idle, &mut self.buf);
            let fed = read.and_then(|n| match n {
                0 => Ok(true),
                n => decoder
                    .feed(&self.buf[..n], &mut |t: &str| {
                        pending.push_back(t.to_owned())
                    })
                    .map(|()| false),
            });
            match fed {
                Ok(false) => {}
                Ok(true) => {
                    let decoder = self.decoder.take().unwrap_or_default();
                    return finish(Ok(()), decoder, self.attempts).map(StreamEvent::Done);
                }
                Err(e) => {
                    let decoder = self.decoder.take().unwrap_or_default();
                    self.failed = Some(mid_stream(e, &decoder, self.attempts));
                }
            }
        }
    }

    /// Whether an event decoded from an earlier read is waiting to be handed out: the next
    /// [`next_event`](Self::next_event) returns it without reading the socket.
    pub fn has_buffered_event(&self) -> bool {
        !self.pending.is_empty() || self.failed.is_some()
    }

    /// HTTP attempts the opening took (1 = no retry).
    pub fn attempts(&self) -> u32 {
        self.attempts
    }
}

/// Async Bedrock generation client (reqwest; or, for an event loop, streams read whole-buffer
/// by [`LeanStream`]).
#[derive(Clone, Debug)]
pub struct AsyncBedrockClient {
    client: reqwest::Client,
    target: ChatTarget,
    lean: Option<Arc<LeanStream>>,
}

impl AsyncBedrockClient {
    /// A client on `client` (usually built by [`super::AsyncClients::new`]).
    pub fn new(
        client: reqwest::Client,
        endpoints: &Endpoints,
        config: &ClientConfig,
        backoff: Backoff,
    ) -> Result<Self, ClientBuildError> {
        Ok(AsyncBedrockClient {
            client,
            target: ChatTarget::new(endpoints, config, backoff)?,
            lean: None,
        })
    }

    /// From now on, streams are read as asyncio reads them: each read hands over every frame
    /// that has arrived ([`LeanStream`]), on up to `pool_size` kept-alive connections.
    pub(crate) fn read_streams_whole(
        &mut self,
        config: &ClientConfig,
        pool_size: usize,
    ) -> Result<(), ClientBuildError> {
        let lean = LeanStream::new(&self.target.stream_url, config, pool_size)?;
        self.lean = Some(Arc::new(lean));
        Ok(())
    }

    /// Streams an answer, calling `on_token` with each text delta as soon as its frame is
    /// decoded (on whichever runtime thread polls the task).
    pub async fn converse_stream<F: FnMut(&str)>(
        &self,
        req: &ChatRequest<'_>,
        mut on_token: F,
    ) -> Result<Reply<GenerateOutcome>, ClientError> {
        self.converse_stream_reads(req, |piece| {
            if let Piece::Token(t) = piece {
                on_token(t)
            }
        })
        .await
    }

    /// [`Self::converse_stream`], telling `on_piece` of every read of the body too
    /// ([`Piece::Read`], before the deltas decoded from it): on the whole-buffer reader a socket
    /// read (all that had arrived), on reqwest each chunk hyper hands over (one per HTTP chunk:
    /// the mocks send a frame per chunk, so every token is a read there).
    pub async fn converse_stream_reads<F: FnMut(Piece<'_>)>(
        &self,
        req: &ChatRequest<'_>,
        mut on_piece: F,
    ) -> Result<Reply<GenerateOutcome>, ClientError> {
        if let Some(lean) = &self.lean {
            return self.converse_stream_lean(lean, req, on_piece).await;
        }
        let t = &self.target;
        let body = request_body(req);
        let body = &body;
        let (mut resp, attempts) = run_async(&t.backoff, move || async move {
            async_open_stream(
                &self.client,
                Service::Bedrock,
                STREAM_OP,
                &t.stream_url,
                body.clone(),
                t.timeout,
            )
            .await
        })
        .await?;
        let mut decoder = ConverseStreamDecoder::new();
        let read = async_read_stream(STREAM_OP, &mut resp, t.idle, |chunk| {
            feed_read(&mut decoder, chunk, true, &mut on_piece)
        })
        .await;
        finish(read, decoder, attempts)
    }

    /// [`AsyncBedrockClient::converse_stream`] on the whole-buffer reader.
    async fn converse_stream_lean<F: FnMut(Piece<'_>)>(
        &self,
        lean: &LeanStream,
        req: &ChatRequest<'_>,
        mut on_piece: F,
    ) -> Result<Reply<GenerateOutcome>, ClientError> {
        let t = &self.target;
        let body = request_body(req);
        let body = &body;
        let ((conn, head), attempts) = run_async(&t.backoff, move || async move {
            lean.open(STREAM_OP, body, t.timeout).await
        })
        .await?;
        let mut decoder = ConverseStreamDecoder::new();
        let read = lean
            .read(STREAM_OP, conn, &head, t.idle, |chunk, fresh| {
                feed_read(&mut decoder, chunk, fresh, &mut on_piece)
            })
            .await;
        finish(read, decoder, attempts)
    }

    /// Generates an answer in one response (no streaming).
    pub async fn converse(
        &self,
        req: &ChatRequest<'_>,
    ) -> Result<Reply<GenerateOutcome>, ClientError> {
        let t = &self.target;
        let body = request_body(req);
        async_json(
            &self.client,
            &t.backoff,
            Service::Bedrock,
            CONVERSE_OP,
            &t.converse_url,
            &body,
            t.timeout,
            parse_converse,
        )
        .await
    }
}

#[cfg(test)]
#[path = "bedrock_tests.rs"]
mod tests;
