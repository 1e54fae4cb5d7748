//! The mock services' integration tests, one module per subject, in one binary (each test
//! binary links the crate and its dependencies; the AWS SDK's once). `tests/body_alloc.rs` stays
//! apart: it installs its own global allocator. Run one module with
//! `cargo test -p mock-services --test it hostile::`.

mod bedrock_http;
mod bedrock_sdk;
mod hostile;
mod qdrant_api;
