#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
// Messages quote strings with `quoted::Quoted`, not `{:?}`: `str`'s `Debug` brings Unicode's
// printable-character tables into the browser's modules (about 2.6 KB gzipped of the
// drop-in's).
#![cfg_attr(not(test), deny(clippy::use_debug))]

pub mod account;
pub mod archive;
pub mod client;
pub mod codec;
pub mod encoding;
pub mod envelope;
mod error_code;
pub mod hazmat;
pub mod keys;
pub mod names;
pub mod platform;
pub mod prekey_care;
pub mod protocol;
pub mod quoted;
pub mod ratchet;
pub mod reference;
pub mod session;
pub mod store;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod transport;
pub mod x3dh;

pub use rand_core;

// The flat API: what an application or a platform crate needs, from one place. The modules
// stay public for what is rarer (wire models, the web client's storage formats, key types).
pub use account::AccountError;
pub use client::{
    Backoff, CatchUpScope, Client, ClientConfig, ClientError, Event, EventStream,
    IdentityChangePolicy, Pacing, PeerVerification,
};
pub use keys::{Fingerprint, IdentityKeyPair, PublicKey};
pub use protocol::ApiError;
pub use session::{Device, DeviceError, SessionEngine, SessionError};
pub use store::{
    Conversation, Direction, MemoryStore, MessageRecord, MessageStatus, Store, StoreError,
};
pub use transport::{Clock, Transport, TransportError};
