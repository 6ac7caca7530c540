//! The native persistent store: [`RedbStore`], core's [`Store`] over one
//! [redb](https://www.redb.org) file, every record sealed at rest.
//!
//! ```no_run
//! # async fn demo() -> Result<(), quickchat_core::store::StoreError> {
//! use quickchat::store::RedbStore;
//! use quickchat_core::store::Store;
//!
//! // Creates the file (mode 0600) if it is not there; otherwise checks the passphrase.
//! let store = RedbStore::open("alice.qcstore", "correct horse battery staple").await?;
//! let identity = store.identity().await?;
//! # Ok(()) }
//! ```
//!
//! It behaves exactly as core's `MemoryStore` (the same behavioural tests run against both),
//! and adds persistence, encryption at rest, crash safety and indexes.
//!
//! # Encryption at rest
//!
//! The key is derived from the passphrase with Argon2id (core's
//! [`KdfParams::generate`](quickchat_core::store::sealing::KdfParams::generate): 19 MiB,
//! 2 passes, 1 lane, a fresh 16-byte salt per store). Each record is serialized to JSON in a
//! buffer that is zeroized on drop (also when it grows), and sealed with AES-256-GCM
//! ([`SealingKey::seal`](quickchat_core::store::sealing::SealingKey::seal), a random 96-bit
//! nonce per write) with associated data `table name ‖ 0x00 ‖ key` — e.g.
//! `b"sessions\0" + peer id` — so a sealed value copied under another key or into another
//! table does not open ([`StoreError::Corrupt`]).
//!
//! ## What the file shows without the passphrase
//!
//! | table | key (clear) | value |
//! |---|---|---|
//! | `meta` | `format`, `kdf`, `check` | **clear**: the format marker `quickchat-store/2`; the KDF parameters as JSON (salt, memory, passes, lanes); the passphrase check value (a constant sealed under the key) |
//! | `account` | `identity`, `meta` | sealed `IdentityRecord` (user id, identity key pair) and `AccountMeta` (prekey counters, saved login and its JWT) |
//! | `signed_prekeys`, `one_time_prekeys` | prekey id (u32) | sealed record (key pair, upload state) |
//! | `sessions` | peer's user id | sealed `PeerSessions` (ratchet states) in core's binary form (`quickchat_core::session::binary`, a third of the JSON; records written as JSON by format 1 are still read) |
//! | `known_identities` | peer's user id | sealed `KnownIdentity` (identity keys, verification) |
//! | `messages` | message id | a clear *locator* (conversation kind and id, timestamp) and the sealed `MessageRecord` |
//! | `messages_by_conversation` | conversation ‖ timestamp ‖ message id | nothing |
//! | `messages_by_time` | timestamp ‖ message id | nothing |
//! | `outbox` | timestamp ‖ message id | conversation and, for an encrypted message, its wire (the end-to-end ciphertext the backend receives), both clear, for messages with status `Pending` only; the sealed record is bound to that wire through its associated data |
//!
//! So someone with the file but not the passphrase learns: the KDF parameters; whether an
//! account exists; the prekey ids; the user ids of the peers with sessions or known
//! identities; every message's id, conversation (peer or group id, and which kind) and
//! timestamp; which messages are still pending; the size of every sealed record (plaintext
//! length + 28 bytes) and the number of records. Everything else is sealed: message bodies,
//! images, senders, direction, other statuses, read times, the wire strings of failed and
//! undecryptable messages, decrypt errors,
//! every private key and ratchet state, the login token, peers' identity keys and whether
//! they were verified, the account's own user id.
//!
//! The clear index entries are checked against the sealed record they lead to (its id,
//! conversation and timestamp), so a tampered index makes a query fail with
//! [`StoreError::Corrupt`], never return another record. Not protected: someone who can
//! write the file can delete records, or put back an older sealed value of the same key
//! (rollback); they cannot read or forge one.
//!
//! Format 1 (before version 2 kept the pending wire in the outbox entry) is read as it is:
//! opening such a file marks it format 2, so an older build refuses it instead of misreading
//! the new outbox entries.
//!
//! # Opening
//!
//! [`RedbStore::open`] on a path with no file creates the store under a temporary name in
//! the same directory (mode 0600, `create_new`), commits its header, links it to the path
//! (never over an existing file), syncs the directory entry and removes the temporary name:
//! a crash never leaves a half-made store at the path. The directory itself is not created
//! or changed.
//!
//! An existing file is opened read-only first; the header is read and the passphrase checked
//! against the check value before anything else is read ([`StoreError::WrongPassphrase`]).
//! With [`StoreOptions::verify_on_open`] (the default) every page checksum of the file is then
//! verified by redb's integrity check run on a scratch overlay (reads from the file, writes
//! to memory), so a damaged or truncated file gives [`StoreError::Corrupt`] and is left
//! exactly as it was; a file that is not a quickchat store (not redb, or redb without the
//! header, or a newer format) is refused the same way. Only then is it opened for writing. A
//! file left by a crash (not closed cleanly) cannot be opened read-only: its recovery runs
//! on the scratch overlay first (header and passphrase checked there), then on the file.
//! A store open in this or another process gives [`StoreError::InUse`](quickchat_core::store::StoreError::InUse)
//! at once, never a wait (redb's file locks).
//!
//! # Durability
//!
//! [`Durability::Immediate`] (the default): every commit is fsynced before
//! [`Store::commit`] returns, so a received message and the ratchet state it advanced
//! survive a crash or power loss from then on. Its cost is one flush of the device: measured
//! alternately with a raw redb commit of the same bytes, a sealed message + session commit
//! takes 1.0–1.25× as long (0.26 ms when a bare fdatasync takes 0.13 ms; 4 ms when the shared
//! disk of the project's machine is busy and a bare fdatasync takes 3.9 ms). A single stream
//! of one-message commits therefore runs at 250–3,900 commits/s depending on the disk. Two
//! things raise that without weakening the guarantee:
//!
//! - **Group commit.** Commits made at the same time (from several tasks) are written in one
//!   transaction with one fsync: the first to get the write lock writes every batch queued so
//!   far, each batch still all or nothing (a failing batch is taken out and the others
//!   written again without it). Eight tasks committing at once: ≈ 5,000 commits/s.
//! - **Bigger batches.** Fifty messages and their session in one commit cost about one
//!   fsync, not fifty: ≈ 20,000 messages/s.
//!
//! [`Durability::Deferred`] commits are atomic and visible at once but reach the disk only
//! with the next immediate commit, [`RedbStore::flush`] or a clean close: a crash may lose the
//! latest ones (never part of one). It is for bulk imports that can be redone, not for
//! received messages.
//!
//! # Costs
//!
//! Measured with `cargo bench -p quickchat --bench store` (table: `benches/report.py`):
//!
//! - Opening a store of 10,000 messages and 1,000 peers' sessions (17.6 MB): 22–31 ms, of
//!   which the Argon2id derivation is 15–18 ms (1.45–1.7× the derivation alone); without
//!   page verification 18–21 ms. The rest is redb's two opens and the verification, which
//!   grows with the file.
//! - `peer_sessions`, `known_identity`, `message(id)`: one B-tree lookup and one AES-GCM open
//!   (1–2 µs for an identity or a message; a peer's sessions ≈ 35 µs, mostly core's
//!   deserialization of the ratchet states).
//! - `messages`: the indexes give the candidates newest first, already limited to the
//!   conversation and to `before`; each candidate is opened and checked against the whole
//!   query until `limit` match. "The last N of a conversation before T" opens N records
//!   (≈ 100 µs for 50), whatever the history size. A `Pending` status query reads only the
//!   outbox index (opens only pending messages). Other status filters and text search open
//!   every candidate in range, newest first, stopping at `limit`: a search of a whole
//!   10,000-message history that matches nothing opens all 10,000 (≈ 15–17 ms).
//! - `commit`: serialization and sealing happen before the write lock; a message replaced
//!   with a new conversation or timestamp moves its index entries without opening the old
//!   record (its clear locator says where they are).
//!
//! # Threads
//!
//! Work that waits for the disk or whose cost grows with the data — opening (Argon2id),
//! commits, flush, `messages`, `peer_sessions` (a session can hold 2,000 skipped keys), the
//! prekey lists, `session_peer_ids` — runs on tokio's blocking pool
//! ([`tokio::task::spawn_blocking`]) when called inside a tokio runtime, and on the calling
//! thread otherwise (any executor works). Point reads of small records (`identity`,
//! `account_meta`, `signed_prekey`, `one_time_prekey`, `known_identity`, `message`) run on
//! the calling thread: they take 1–2 µs, less than the round trip to the blocking pool
//! (measured in the same benchmark run). A panic inside redb (it panics on some kinds of file
//! damage) comes back as [`StoreError::Backend`] either way.
//!
//! [`Store`]: quickchat_core::store::Store
//! [`Store::commit`]: quickchat_core::store::Store::commit
//! [`StoreError::Corrupt`]: quickchat_core::store::StoreError::Corrupt
//! [`StoreError::Backend`]: quickchat_core::store::StoreError::Backend
//! [`StoreError::WrongPassphrase`]: quickchat_core::store::StoreError::WrongPassphrase

// The file's layout and sealing.
mod layout;
// Opening: the key policy, creating a file, checking and opening an existing one.
mod create;
mod open;
mod options;
mod overlay;
// The open store: the handle, reads, writes and the group commit.
mod error;
mod group_commit;
mod reads;
mod redb_store;
mod run;
#[cfg(test)]
mod tests;
mod writes;

pub use options::{Durability, StoreOptions};
pub use quickchat_core::store::sealing::KdfStrength;
pub use redb_store::RedbStore;
