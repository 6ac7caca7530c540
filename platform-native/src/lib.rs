//! # quickchat
//!
//! The native platform crate of the Quick Chat SDK.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod store;
