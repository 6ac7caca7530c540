//! Records to sealed bytes and back: serde JSON in zeroized buffers, then AES-256-GCM under
//! the store's key (core's [`SealingKey`]) with associated data naming the store and key, so
//! a sealed value moved to another record does not open.

use std::fmt;

use quickchat_core::store::StoreError;
use quickchat_core::store::sealing::{SealingKey, to_json_zeroizing};
use serde::Serialize;
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

use crate::rng::WebRng;

/// The store's key.
pub(crate) struct Sealer {
    key: SealingKey,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sealer(<redacted>)")
    }
}

/// The associated data of a record: store name, a zero byte, the record's key.
pub(crate) fn aad(store: &str, key: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(store.len() + 1 + key.len());
    aad.extend_from_slice(store.as_bytes());
    aad.push(0);
    aad.extend_from_slice(key.as_bytes());
    aad
}

impl Sealer {
    pub(crate) fn new(key: SealingKey) -> Self {
        Self { key }
    }

    /// Serializes `value` and seals it for `store`/`key`.
    pub(crate) fn seal<T: Serialize>(
        &self,
        store: &str,
        key: &str,
        value: &T,
    ) -> Result<Vec<u8>, StoreError> {
        let plain = to_json(store, value)?;
        Ok(self.key.seal(&aad(store, key), &plain, &mut WebRng::System))
    }

    /// Seals bytes already in their stored form (a session record in core's binary form)
    /// for `store`/`key`.
    pub(crate) fn seal_bytes(&self, store: &str, key: &str, plain: &[u8]) -> Vec<u8> {
        self.key.seal(&aad(store, key), plain, &mut WebRng::System)
    }

    /// Opens a value sealed for `store`/`key` and deserializes it.
    pub(crate) fn open<T: DeserializeOwned>(
        &self,
        store: &str,
        key: &str,
        sealed: &[u8],
    ) -> Result<T, StoreError> {
        let plain = self.open_bytes(store, key, sealed)?;
        let text = std::str::from_utf8(&plain).map_err(|e| StoreError::Corrupt {
            what: what(store, key),
            detail: format!("opened but not text: {e}"),
        })?;
        serde_json::from_str(text).map_err(|e| unreadable(store, key, e))
    }

    /// Opens a value sealed for `store`/`key`: its bytes, in a buffer zeroized on drop.
    pub(crate) fn open_bytes(
        &self,
        store: &str,
        key: &str,
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        self.key
            .open(&aad(store, key), sealed)
            .map_err(|_| StoreError::Corrupt {
                what: what(store, key),
                detail: "sealed value does not open: damaged, or moved from another record".into(),
            })
    }
}

fn what(store: &str, key: &str) -> String {
    format!("{store} record {key:?}")
}

/// The error for a record that opened but does not decode.
pub(crate) fn unreadable(store: &str, key: &str, e: impl fmt::Display) -> StoreError {
    StoreError::Corrupt {
        what: what(store, key),
        detail: format!("opened but not readable: {e}"),
    }
}

/// Serializes into a buffer that is zeroized on drop (core's
/// [`to_json_zeroizing`](quickchat_core::store::sealing::to_json_zeroizing)).
fn to_json<T: Serialize>(what: &str, value: &T) -> Result<Zeroizing<Vec<u8>>, StoreError> {
    to_json_zeroizing(value).map_err(|e| StoreError::Backend {
        context: format!("serializing a {what} record"),
        detail: e.to_string(),
    })
}
