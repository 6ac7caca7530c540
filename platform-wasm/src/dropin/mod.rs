//! What the drop-in for the reference web client's crypto layer does, behind the
//! package's `KeyManager` and `SessionManager` classes ([`crate::api::dropin`] converts their
//! arguments and values): the user's keys in this SDK's own encrypted store, imported once
//! from the reference's `quick-chat-e2ee` database ([`keys`]); the store and its generated
//! passphrase ([`storage`]); sessions started once per peer through core's
//! [`Device`](quickchat_core::session::Device), and messages encrypted and decrypted on them
//! ([`sessions`]).

pub(crate) mod keys;
pub(crate) mod sessions;
mod storage;

/// The store the drop-in keeps: IndexedDB, or memory (`storage: "memory"`).
pub(crate) type SharedStore = std::sync::Arc<dyn quickchat_core::store::Store>;

fn now() -> i64 {
    js_sys::Date::now() as i64
}
