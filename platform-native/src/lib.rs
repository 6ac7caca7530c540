//! # quickchat
//!
//! The native platform crate of the Quick Chat SDK.
#![forbid(unsafe_code)]

mod body;
pub mod client;
pub mod clock;
pub mod store;
pub mod timeouts;
pub mod transport;

pub use client::{Client, ClientBuilder, CoreClient, Error, SystemRng};
pub use quickchat_core;
pub use quickchat_core::client::{
    ClientConfig, ClientError, Event, EventStream, IdentityChangePolicy, Pacing,
};
pub use quickchat_core::store::{
    ContentKind, Conversation, Direction, MessageRecord, MessageStatus,
};
pub use timeouts::NetworkTimeouts;
