//! The benchmark groups, one per file.

pub mod eventstream_decode;
pub mod eventstream_encode;
pub mod histogram;
pub mod qdrant_search;
pub mod variants;
