//! `cargo fuzz run scenario`: see [`ragperf_fuzz::scenario`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ragperf_fuzz::scenario(data));
