//! # quickchat-wasm
//!
//! The browser platform crate of the Quick Chat SDK, and the engine of the npm package
//! `quickchat`: core's client logic over the browser's I/O — [`transport::WebTransport`]
//! (fetch and WebSocket), [`clock::WebClock`], [`rng::WebRng`], the encrypted IndexedDB
//! [`store::IdbStore`], the [`import`] of the reference web client's database — and the
//! JavaScript API built on them: the whole client ([`api::client::QuickChatClient`]), the
//! drop-in engines of `KeyManager` / `SessionManager` ([`api::dropin`]) and the low-level
//! [`api::ratchet::Ratchet`].
//!
//! The crate is for `wasm32-unknown-unknown`; on other targets it is empty.
// On other targets the modules these docs link to do not exist (`cargo doc --workspace`).
#![cfg_attr(not(target_arch = "wasm32"), allow(rustdoc::broken_intra_doc_links))]
#![cfg(target_arch = "wasm32")]
#![forbid(unsafe_code)]
// Strings in messages are quoted with `quickchat_core::quoted::Quoted`, not `{:?}` (see
// core's lib.rs).
#![cfg_attr(not(test), deny(clippy::use_debug))]
// The importer module and the whole SDK's are built without the drop-in (the feature
// `dropin`): the helpers only the drop-in's (and, in the importer, the client's) API use are
// then unused.
#![cfg_attr(not(feature = "dropin"), allow(dead_code, unused_imports))]

pub mod api;
mod body;
pub mod clock;
#[cfg(feature = "dropin")]
mod dropin;
pub mod error;
pub mod handover;
mod idb;
pub mod import;
mod objects;
mod realm;
pub mod rng;
pub mod store;
pub mod transport;
