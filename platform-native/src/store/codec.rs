//! Records to sealed bytes and back: serde JSON, then AES-256-GCM under the store's key with
//! associated data binding the value to its table and key. Plaintext buffers are zeroized.

use std::fmt;
use std::io;
use std::sync::{Mutex, MutexGuard};

use quickchat_core::store::StoreError;
use quickchat_core::store::sealing::SealingKey;
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

    /// Opens a value sealed with `aad` and deserializes it.
    pub(crate) fn open<T: DeserializeOwned>(
        &self,
        what: &str,
        aad: &[u8],
        sealed: &[u8],
    ) -> Result<T, StoreError> {
        let plain = self
            .key
            .open(aad, sealed)
            .map_err(|_| StoreError::Corrupt {
                what: what.to_string(),
                detail: "sealed value does not open: damaged, or moved from another record".into(),
            })?;
        serde_json::from_slice(&plain).map_err(|e| StoreError::Corrupt {
            what: what.to_string(),
            detail: format!("opened but not readable: {e}"),
        })
    }
}

/// Serializes into a buffer of exactly the right size, so no reallocation leaves a copy of
/// the plaintext behind; the buffer is zeroized on drop.
pub(crate) fn to_json<T: Serialize>(
    what: &str,
    value: &T,
) -> Result<Zeroizing<Vec<u8>>, StoreError> {
    let fail = |e: serde_json::Error| StoreError::Backend {
        context: format!("serializing {what}"),
        detail: e.to_string(),
    };
    let mut counter = Counter(0);
    serde_json::to_writer(&mut counter, value).map_err(fail)?;
    let mut plain = Zeroizing::new(Vec::with_capacity(counter.0));
    serde_json::to_writer(&mut *plain, value).map_err(fail)?;
    Ok(plain)
}

/// Counts the bytes written to it.
struct Counter(usize);

impl io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
