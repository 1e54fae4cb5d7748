//! `cargo fuzz run qdrant`: see [`ragperf_fuzz::qdrant`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ragperf_fuzz::qdrant(data));
