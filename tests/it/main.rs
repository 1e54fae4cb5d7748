//! The integration tests, one module per subject, in one binary: each test binary links the
//! whole library and its dependencies, so ~50 of them spent most of a cold `cargo test` linking
//! (README "Contributing"). Run one module with `cargo test --test it client_retry::`, one test
//! by (part of) its name. What must not share a process lives in `tests/process/` (process-wide
//! thread and CPU figures) and `tests/multihost_netns.rs` (network namespaces, as root).
//!
//! Tests here run in parallel threads: none may set environment variables, change the working
//! directory or rely on a fixed port or folder (port 0 and temporary folders throughout).

#[path = "../client_support/mod.rs"]
mod client_support;
#[path = "../common/mod.rs"]
mod common;
#[path = "../compare_common/mod.rs"]
mod compare_common;
#[path = "../report_common/mod.rs"]
mod report_common;
#[path = "../schema_support/mod.rs"]
mod schema_support;
#[path = "../shard_support/mod.rs"]
mod shard_support;
#[path = "../target_support/mod.rs"]
mod target_support;

mod accounting_property;
mod calibrate;
mod calibrate_deeper;
mod calibrate_stream;
mod cli_bad_input;
mod cli_errors;
mod client_against_mocks;
mod client_eventstream;
mod client_requests;
mod client_retry;
mod client_same_failure;
mod client_stream;
mod client_stream_pull;
mod compare_baseline;
mod compare_errors;
mod compare_gates;
mod compare_verdicts;
mod cpu_steps;
mod docs_links;
mod exit_codes;
mod external_backends;
mod faults_counted;
mod fuzz_replay;
mod interrupt;
mod layering;
mod mock_cli;
mod output_equivalence;
mod process_machine_info;
mod process_stat_parse;
mod recorder_window;
mod report_charts;
mod report_cli;
mod report_exports;
mod report_hgrm;
mod report_target_server;
mod report_write;
mod result_schema;
mod scenario_files;
mod shard_merge;
mod soak_judge;
mod streams_probe;
mod target_run;
mod tour_quick;
mod tour_verdict;
mod variants_complete;
