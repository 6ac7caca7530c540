//! # quickchat-wasm
//!
//! The browser platform crate of the Quick Chat SDK, and the engine of the npm package
//! `quickchat`: core's client logic over the browser's I/O.
#![cfg(target_arch = "wasm32")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod api;
pub mod clock;
pub mod error;
pub mod import;
pub mod rng;
pub mod store;
pub mod transport;
