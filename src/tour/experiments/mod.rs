//! The tour's experiments, one file per claim named by its id (`q22_held_thread.rs`), and
//! [`timeline`], the request-timeline chart several of them show. Each file builds its
//! [`crate::tour::Experiment`]: the claim, the seed's words, the steps, and the analysis that
//! reads the results into a verdict.

pub mod q16_hybrid;
pub mod q1_q3_per_request;
pub mod q22_held_thread;
pub mod q30_one_thread;
pub mod q4_bounded_pool;
pub mod q5_two_requests;
pub mod q6_gil;
pub mod q7_thousands;
pub(crate) mod timeline;
pub mod x1_blocking_in_async;
pub mod x2_cpu_on_loop;
pub mod x3_stream_pool;
pub mod x4_cpu_scaling;
