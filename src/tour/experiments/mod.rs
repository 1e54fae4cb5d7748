//! The tour's experiments, one file per claim named by its id (`q7_thousands.rs`), except where
//! two claims share their runs' shape and helpers (`pool.rs`: Q5 and Q4, `streams.rs`: Q22 and
//! Q30, `pitfalls.rs`: X1 and X2). Each file builds its [`crate::tour::Experiment`]s: the claim,
//! the seed's words, the steps, and the analysis that reads the results into a verdict.

pub mod pitfalls;
pub mod pool;
pub mod q16_hybrid;
pub mod q1_q3_per_request;
pub mod q6_gil;
pub mod q7_thousands;
pub mod streams;
pub mod x3_stream_pool;
pub mod x4_cpu_scaling;
