//! `cargo fuzz run bedrock`: see [`ragperf_fuzz::bedrock`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ragperf_fuzz::bedrock(data));
