//! ragperf: measure how sync, hybrid and fully async designs of a RAG service behave under
//! concurrent load, against protocol-faithful mock Qdrant and Bedrock services.
//!
//! Layers (DESIGN.md §2): [`scenario`] (what is injected and asked) → [`load`] (when requests
//! start) → [`pipeline`] (where they run: one file per variant) → [`client`] (blocking `ureq` and
//! async `reqwest`) → the mocks in the `mock-services` crate. [`metrics`] records; [`result`] and
//! [`export`] write; [`run`] ties a plan together; [`cli`] and [`commands`] face the user.

pub mod backends;
pub mod calibrate;
pub mod cli;
pub mod client;
pub mod commands;
pub mod compare;
pub mod export;
pub mod http1;
pub mod interrupt;
pub mod load;
pub mod metrics;
pub mod pipeline;
pub mod plot;
pub mod report;
pub mod result;
pub mod run;
pub mod scenario;
pub mod streams;
pub mod target;
pub mod tour;
