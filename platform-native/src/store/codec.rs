//! Records to sealed bytes and back: serde JSON, then AES-256-GCM under the store's key with
//! associated data binding the value to its table and key. Plaintext buffers are zeroized.

use std::fmt;
use std::sync::{Mutex, MutexGuard};

use quickchat_core::store::StoreError;
use quickchat_core::store::sealing::{SealingKey, to_json_zeroizing};
use rand_chacha::ChaCha20Rng;
use serde::Serialize;
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

/// The store's key and its nonce generator.
pub(crate) struct Sealer {
    key: SealingKey,
    // Seeded from the operating system when the store is opened; only draws AES-GCM nonces.
    rng: Mutex<ChaCha20Rng>,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sealer(<redacted>)")
    }
}

impl Sealer {
    pub(crate) fn new(key: SealingKey, rng: ChaCha20Rng) -> Self {
        Self {
            key,
            rng: Mutex::new(rng),
        }
    }

    fn rng(&self) -> MutexGuard<'_, ChaCha20Rng> {
        // Drawing bytes cannot leave the generator half-updated, so a poisoned lock still
        // guards a usable generator.
        self.rng
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Serializes `value` and seals it bound to `aad`.
    pub(crate) fn seal<T: Serialize>(
        &self,
        what: &str,
        aad: &[u8],
        value: &T,
    ) -> Result<Vec<u8>, StoreError> {
        let plain = to_json(what, value)?;
        Ok(self.key.seal(aad, &plain, &mut *self.rng()))
    }

    /// Seals bytes already encoded, bound to `aad`.
    pub(crate) fn seal_bytes(&self, aad: &[u8], plain: &[u8]) -> Vec<u8> {
        self.key.seal(aad, plain, &mut *self.rng())
    }

    /// Opens a value sealed with `aad` and deserializes it.
    pub(crate) fn open<T: DeserializeOwned>(
        &self,
        what: &str,
        aad: &[u8],
        sealed: &[u8],
    ) -> Result<T, StoreError> {
        let plain = self.open_bytes(what, aad, sealed)?;
        serde_json::from_slice(&plain).map_err(|e| unreadable(what, e))
    }

    /// Opens a value sealed with `aad`: its bytes, in a buffer zeroized on drop.
    pub(crate) fn open_bytes(
        &self,
        what: &str,
        aad: &[u8],
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        self.key.open(aad, sealed).map_err(|_| StoreError::Corrupt {
            what: what.to_string(),
            detail: "sealed value does not open: damaged, or moved from another record".into(),
        })
    }
}

/// The error for a value that opened but does not decode.
pub(crate) fn unreadable(what: &str, e: impl fmt::Display) -> StoreError {
    StoreError::Corrupt {
        what: what.to_string(),
        detail: format!("opened but not readable: {e}"),
    }
}

/// Serializes into a buffer that is zeroized on drop (core's
/// [`to_json_zeroizing`](quickchat_core::store::sealing::to_json_zeroizing)).
pub(crate) fn to_json<T: Serialize>(
    what: &str,
    value: &T,
) -> Result<Zeroizing<Vec<u8>>, StoreError> {
    to_json_zeroizing(value).map_err(|e| StoreError::Backend {
        context: format!("serializing {what}"),
        detail: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialization_grows_without_reallocating_in_place() {
        let value: Vec<String> = (0..500).map(|i| format!("secret-{i}")).collect();
        let json = to_json("test", &value).expect("json");
        assert_eq!(json.as_slice(), serde_json::to_vec(&value).expect("json"));
        assert!(json.len() > 1024, "the buffer had to grow");
    }
}
