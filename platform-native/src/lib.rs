#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod body;
pub mod client;
pub mod clock;
pub mod store;
pub mod timeouts;
pub mod transport;

pub use client::{Client, ClientBuilder, CoreClient, Error, SystemRng};
pub use quickchat_core;
pub use quickchat_core::archive::{AccountArchive, ArchiveError, ExportOptions, ImportOptions};
pub use quickchat_core::client::{
    ClientConfig, ClientError, Event, EventStream, IdentityChangePolicy, Pacing,
};
pub use quickchat_core::store::{
    ContentKind, Conversation, Direction, MessageRecord, MessageStatus,
};
pub use timeouts::NetworkTimeouts;

// The repository's README, compiled as doctests of this crate (it has core and the native
// client at hand), so its examples cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct RepositoryReadme;
