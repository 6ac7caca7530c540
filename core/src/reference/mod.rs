//! The reference web client's own formats, read (and, for the ratchet state, written) so
//! existing users can move to this SDK without losing keys or sessions.
//!
//! - [`ratchet_json`]: the serialized ratchet state (`ratchetState` in its session records).
//! - [`web_storage`]: the rows of its IndexedDB database `quick-chat-e2ee`, whose secrets
//!   are AES-256-GCM encrypted under the master key it stores beside them.

pub mod ratchet_json;
pub mod web_storage;

pub use ratchet_json::RatchetJsonError;
pub use web_storage::{
    ImportError, ImportedAccount, ImportedOneTimePrekey, ImportedSession, ImportedSignedPrekey,
    WebStorageSnapshot,
};
