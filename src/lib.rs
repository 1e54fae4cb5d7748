//! ragperf: measure how sync, hybrid and fully async designs of a RAG service behave under
//! concurrent load, against protocol-faithful mock Qdrant and Bedrock services.
//!
//! The layers, top to bottom (docs/design.md §2 has the full map, the rule of direction and a
//! "where things live" table):
//!
//! - **face the user**: `main.rs` parses and dispatches to [`commands`]: one file per
//!   subcommand (its clap args, flags → plan, entry function, terminal output), and
//!   [`commands::flags`] for what they share (durations, the URL rule, `FlagError`);
//! - **engines**: [`run`] (a plan: every subject at every load point), [`compare`], [`tour`],
//!   [`calibrate`], [`streams`], [`merge`] (shard results into one; [`shard`] splits a
//!   plan's load and records where and when it ran); `report` is [`export`] alone;
//! - **one request at a time**: [`scenario`] (what is injected and asked) → [`load`] (when
//!   requests start) → [`pipeline`] (where they run: one file per variant) or [`target`] (the
//!   user's own HTTP endpoint) → [`client`] (blocking `ureq`, async `reqwest`) and [`http1`] →
//!   [`backends`] (the mocks of the `mock-services` crate, embedded or external);
//! - **what is measured and written**: [`metrics`] (the recorder, the samplers, and the metric
//!   catalogue: every figure's name, title, unit, direction and reader; own CPU once) →
//!   [`result`] (`result.json`, the contract; the atomic writer, histogram decoding, the queries
//!   every renderer shares) → [`plot`] → [`export`].
//!
//! The one rule of direction: nothing below the first bullet imports [`commands`], the request
//! layers never import an engine, and [`plot`] reads [`result`], never [`export`]
//! (`tests/layering.rs` checks these on the sources). Modules are private unless a test, bench
//! or bin needs the path. [`interrupt`] is the Ctrl-C handler `run` and `sweep` share.

pub mod backends;
pub mod calibrate;
pub mod client;
pub mod commands;
pub mod compare;
pub mod export;
pub(crate) mod html;
pub mod http1;
pub mod interrupt;
pub mod load;
pub mod merge;
pub mod metrics;
pub mod pipeline;
pub mod plot;
pub mod result;
pub mod run;
pub mod scenario;
pub mod shard;
pub mod streams;
pub mod target;
pub mod tour;
