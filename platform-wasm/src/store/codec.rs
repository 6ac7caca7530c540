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

    /// Opens a value sealed for `store`/`key` and deserializes it.
    pub(crate) fn open<T: DeserializeOwned>(
        &self,
        store: &str,
        key: &str,
        sealed: &[u8],
    ) -> Result<T, StoreError> {
        let what = || format!("{store} record {key:?}");
        let plain = self
            .key
            .open(&aad(store, key), sealed)
            .map_err(|_| StoreError::Corrupt {
                what: what(),
                detail: "sealed value does not open: damaged, or moved from another record".into(),
            })?;
        let text = std::str::from_utf8(&plain).map_err(|e| StoreError::Corrupt {
            what: what(),
            detail: format!("opened but not text: {e}"),
        })?;
        serde_json::from_str(text).map_err(|e| StoreError::Corrupt {
            what: what(),
            detail: format!("opened but not readable: {e}"),
        })
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
