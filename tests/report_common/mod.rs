//! Shared helpers of the `report_*` tests: the committed fixture (a real small sweep of `sync`
//! and `async-single` at c=2 and c=6, written by `ragperf sweep`; see
//! `tests/fixtures/report/README.md`), a one-point cut of it, and PNG header reading.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use ragperf::result::RunResult;
use ragperf::result::query as data;

/// The committed fixture's path.
pub fn fixture_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/report/result.json")
}

/// The fixture, read through the same reader `report` uses.
pub fn fixture() -> RunResult {
    RunResult::read(&fixture_path()).expect("the committed fixture reads")
}

/// The fixture cut down to its heaviest load point (what `ragperf run` writes).
pub fn one_point() -> RunResult {
    let mut r = fixture();
    let point = data::headline_point(&r).expect("the fixture has points");
    r.runs.retain(|run| data::same_point(&run.point, &point));
    r.plan.points = vec![point];
    r.plan.command = "run".into();
    r
}

/// Width and height from a PNG's IHDR chunk, after checking the signature.
pub fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert!(bytes.len() > 33, "a PNG is longer than its header");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    assert_eq!(&bytes[12..16], b"IHDR", "IHDR is the first chunk");
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&bytes[16..20]), be(&bytes[20..24]))
}
