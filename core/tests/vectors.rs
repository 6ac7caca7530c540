//! The vector suite: everything the reference web client computed, replayed through core.
//!
//! Reads every `*.json` in `QC_VECTORS_DIR` (default: `tests/data/vectors`) and recognises
//! each file by its content, so another vector set of the same format runs unchanged.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

/// File and environment access, natively std's.
mod host {
    pub(crate) use std::env::var_os;
    pub(crate) use std::fs::{read_dir, read_to_string};

    /// Core's directory, where the default vector directory is found.
    pub(crate) const CORE_DIR: &str = env!("CARGO_MANIFEST_DIR");
}

#[path = "vectors/common.rs"]
mod common;

include!("vectors/suite.rs");
