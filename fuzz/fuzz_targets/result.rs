//! `cargo fuzz run result`: see [`ragperf_fuzz::result`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ragperf_fuzz::result(data));
