//! `cargo fuzz run sse`: see [`ragperf_fuzz::sse`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ragperf_fuzz::sse(data));
