//! Core's client-logic scenarios (`core/tests/client_logic/scenarios.rs`, the same source the
//! native suite runs) on wasm32, in Node: the connection loop against a scripted server with
//! virtual time, compiled to WebAssembly.
//!
//! Run: `scripts/wasm-test-node.sh` (or the wasm32 `cargo test` it runs, with
//! `wasm-bindgen-test-runner` as the runner).
#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use wasm_bindgen_test::wasm_bindgen_test as test;

include!("../../core/tests/client_logic/scenarios.rs");
