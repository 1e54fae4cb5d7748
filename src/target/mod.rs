//! `ragperf run --target URL`: drive a real HTTP chat endpoint — the user's own RAG service —
//! with the same load driver, histograms, reports and `compare` gate as the built-in variants.
//!
//! - [`config`]: the `[target]` scenario section and flags, checked into a [`config::TargetSpec`]
//!   before any load starts;
//! - [`template`]: the request body, filled per request;
//! - [`sse`]: an incremental Server-Sent Events decoder (chunk boundaries anywhere);
//! - [`protocol`]: what an event means — the seed's SSE shape (configurable JSON pointers),
//!   OpenAI-compatible streaming, or a whole JSON answer;
//! - [`executor`]: the executor the load driver drives, one HTTP request per ticket;
//! - [`launch`]: starting, watching and stopping the server for `--target-cmd`.
//!
//! The server's own OS figures come from [`crate::metrics::server`].

pub mod config;
pub(crate) mod executor;
mod http;
mod json_at;
pub(crate) mod launch;
pub mod protocol;
pub mod sse;
pub(crate) mod template;
