//! Protocol-faithful mock Qdrant REST and AWS Bedrock Runtime servers with injected latency and
//! faults, for benchmarking RAG services without the real backends.
//!
//! Architecture:
//! - [`config`]: the latency/fault model (TOML sections `[qdrant]`, `[bedrock]`, `[embedding]`,
//!   `[faults]`), validated with errors that name the field.
//! - [`latency`]: the distributions every injected wait is drawn from.
//! - [`faults`]: per-endpoint fault draws and concurrency quotas.
//! - [`stats`]: what the mocks did and injected, served at `GET /__ragperf/stats`.
//! - [`embedding`]: the deterministic embedding function shared by the embeddings endpoint and
//!   the preloaded corpus.
//! - [`qdrant`]: an in-memory vector store behind Qdrant's REST API.
//! - [`clock`]: the token clock that wakes streams at their token deadlines (sub-ms).
//! - [`bedrock`]: Converse, ConverseStream (AWS event-stream framing) and InvokeModel.
//! - [`conn`]: the accept loop, the connection cap and the connection timeouts.
//! - [`server`]: binding, serving and stopping both mocks, in-process (port 0) or standalone.

pub mod bedrock;
pub mod clock;
pub mod config;
pub mod conn;
pub mod embedding;
pub mod faults;
pub mod hist;
pub mod latency;
pub mod qdrant;
pub mod server;
pub mod state;
pub mod stats;
pub mod text;

pub use config::MockConfig;
pub use server::{Bind, MockServices, MockState, OwnedMockServices, StartError};
