//! The X25519 function behind [`SecretKey`](super::SecretKey): one backend per target.
//!
//! - Native targets: AWS-LC (through `aws-lc-rs`), whose X25519 is about twice as fast as
//!   curve25519-dalek's and faster than libsodium's (`scripts/bench-libsodium.py`).
//! - wasm32: curve25519-dalek, pure Rust, as before.
//!
//! Both give byte-identical results: clamping, bit 255 of the peer's key ignored,
//! non-canonical u-coordinates reduced, and the all-zero output of a low-order key reported
//! as `None`. The native backend checks itself against dalek in its tests, and it hands
//! every failure to dalek, so an error is always dalek's answer.

#[cfg(not(target_arch = "wasm32"))]
mod native;
mod portable;

#[cfg(not(target_arch = "wasm32"))]
pub(crate) use native::Secret;
#[cfg(target_arch = "wasm32")]
pub(crate) use portable::Secret;
