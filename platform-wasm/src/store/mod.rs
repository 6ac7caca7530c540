//! [`IdbStore`]: core's [`Store`] over one IndexedDB database, every record sealed at rest.
//!
//! The database is the store's own (never the reference client's `quick-chat-e2ee`), with a
//! versioned schema ([`schema`]). Opening upgrades an older database step by step.
//!
//! # Encryption at rest
//!
//! The key is derived from the passphrase the application supplies with Argon2id (core's
//! [`KdfParams::generate`]: 19 MiB, 2 passes, 1 lane, a fresh 16-byte salt per database);
//! each record is serialized in core's compact binary forms (key records and session
//! records; messages to JSON) in a buffer that is zeroized on drop and sealed with
//! AES-256-GCM ([`SealingKey::seal`], a random 96-bit nonce per write) with associated data
//! `store name ‖ 0x00 ‖ key`, so a sealed value copied to another key or store does not open.
//! The `meta` store keeps, in the clear, the format marker, the value layout, the KDF
//! parameters and a check value (a constant sealed under the key): a wrong passphrase is
//! refused ([`StoreError::WrongPassphrase`]) before anything else is read.
//!
//! ## What the database shows without the passphrase
//!
//! The KDF parameters; whether an account exists; the prekey ids; the user ids of the peers
//! with sessions or known identities; every message's id, conversation (peer or group id and
//! which kind) and timestamp, and which messages are still pending (the `c`, `t` and `o`
//! fields the indexes need); the size of every sealed record. Everything else is sealed:
//! message bodies, images, senders, direction, statuses, wire strings, every private key and
//! ratchet state, the login token, peers' identity keys and their verification. The clear
//! index fields are checked against the sealed record they lead to, so a tampered index
//! gives [`StoreError::Corrupt`], never another record. Someone who can write the database
//! can delete records or put back older sealed values (rollback); they cannot read or forge
//! one.
//!
//! # Commits
//!
//! [`Store::commit`] applies a batch in one IndexedDB read-write transaction over every
//! object store it touches: all of it or nothing (a failed request aborts the transaction,
//! and so does any error on the way). The values are sealed before the transaction starts.
//! IndexedDB decides when a committed transaction reaches the disk (browsers commit with
//! their default durability). A batch marked relaxed is written behind: its commit returns
//! once its transaction is started, and relaxed batches made meanwhile share the next one
//! ([`behind`]).
//!
//! [`KdfParams::generate`]: quickchat_core::store::sealing::KdfParams::generate
//! [`SealingKey::seal`]: quickchat_core::store::sealing::SealingKey::seal

mod behind;
mod connection;
mod header;
mod idb_store;
mod json_records;
mod lock;
pub mod memory;
mod reads;
mod records;
pub mod schema;
#[cfg(feature = "dropin")]
mod sealed;
mod values;
mod writes;

pub use header::FORMAT;
pub use idb_store::IdbStore;
#[cfg(feature = "json-records")]
pub use json_records::to_binary as record_to_binary;
pub use json_records::{Converted, RecordConverter, RecordKind};
pub use quickchat_core::store::sealing::KdfStrength;
#[cfg(feature = "dropin")]
pub(crate) use sealed::SealedStore;

use connection::{Connection, finish};
use values::{backend, key_text};
use writes::Write;
