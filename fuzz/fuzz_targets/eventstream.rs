//! `cargo fuzz run eventstream`: see [`ragperf_fuzz::eventstream`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ragperf_fuzz::eventstream(data));
