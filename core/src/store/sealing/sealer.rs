//! A store's records to sealed bytes and back: serde JSON in zeroized buffers, then
//! AES-256-GCM under the store's key, bound to the record's place (table and key, and for a
//! pending message its wire) through the associated data, so that a sealed value moved to
//! another record does not open. Every platform store seals through this one type.

use std::fmt;
use std::sync::{Mutex, MutexGuard};

use rand_core::CryptoRng;
use serde::Serialize;
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

use super::{SealingKey, to_json_zeroizing};
use crate::store::StoreError;

/// Where a sealed value lives; bound into its associated data.
#[derive(Clone, Copy, Debug)]
pub struct Place<'a> {
    table: &'a str,
    key: &'a [u8],
    bound: Option<&'a [u8]>,
    name: Option<&'a str>,
}

impl<'a> Place<'a> {
    /// The record `key` of `table`.
    pub fn new(table: &'a str, key: &'a [u8]) -> Self {
        Self {
            table,
            key,
            bound: None,
            name: None,
        }
    }

    /// The same place, called `name` in error messages (for keys that are not text).
    pub fn named(self, name: &'a str) -> Self {
        Self {
            name: Some(name),
            ..self
        }
    }

    /// The same place, the value also bound to `bytes` kept elsewhere in the clear (a
    /// pending message's wire, kept in its outbox entry): changed bytes no longer open it.
    pub fn bound_to(self, bytes: &'a [u8]) -> Self {
        Self {
            bound: Some(bytes),
            ..self
        }
    }

    /// The associated data: table, a zero byte, the key; then `0xFF` and the bound bytes,
    /// if any.
    pub fn aad(&self) -> Vec<u8> {
        let extra = self.bound.map_or(0, |b| 1 + b.len());
        let mut aad = Vec::with_capacity(self.table.len() + 1 + self.key.len() + extra);
        aad.extend_from_slice(self.table.as_bytes());
        aad.push(0);
        aad.extend_from_slice(self.key);
        if let Some(bytes) = self.bound {
            aad.push(0xFF);
            aad.extend_from_slice(bytes);
        }
        aad
    }

    /// The place in words, for error messages (keys are ids, never secrets).
    pub fn describe(&self) -> String {
        if let Some(name) = self.name {
            return name.to_string();
        }
        format!(
            "{} record {}",
            self.table,
            crate::quoted::Quoted(&String::from_utf8_lossy(self.key))
        )
    }
}

/// The store's key and the generator its nonces are drawn from.
pub struct Sealer<R> {
    key: SealingKey,
    rng: Mutex<R>,
}

impl<R> fmt::Debug for Sealer<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sealer(<redacted>)")
    }
}

impl<R: CryptoRng> Sealer<R> {
    /// Seals under `key`, drawing nonces from `rng`.
    pub fn new(key: SealingKey, rng: R) -> Self {
        Self {
            key,
            rng: Mutex::new(rng),
        }
    }

    fn rng(&self) -> MutexGuard<'_, R> {
        // Drawing bytes cannot leave the generator half-updated, so a poisoned lock still
        // guards a usable generator.
        self.rng
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Serializes `value` and seals it for `place`.
    pub fn seal<T: Serialize + ?Sized>(
        &self,
        place: &Place<'_>,
        value: &T,
    ) -> Result<Vec<u8>, StoreError> {
        let plain = to_json_zeroizing(value).map_err(|e| StoreError::Backend {
            context: format!("serializing the {}", place.describe()),
            detail: e.to_string(),
        })?;
        Ok(self.seal_bytes(place, &plain))
    }

    /// Seals bytes already in their stored form (a session record in core's binary form).
    pub fn seal_bytes(&self, place: &Place<'_>, plain: &[u8]) -> Vec<u8> {
        self.key.seal(&place.aad(), plain, &mut *self.rng())
    }

    /// Opens a value sealed for `place` and deserializes it.
    pub fn open<T: DeserializeOwned>(
        &self,
        place: &Place<'_>,
        sealed: &[u8],
    ) -> Result<T, StoreError> {
        let plain = self.open_bytes(place, sealed)?;
        // Read as text, as every other JSON of the browser's modules is: one serde_json
        // reader in the .wasm instead of two.
        let text = std::str::from_utf8(&plain).map_err(|e| unreadable(place, e))?;
        serde_json::from_str(text).map_err(|e| unreadable(place, e))
    }

    /// Opens a value sealed for `place`: its bytes, in a buffer zeroized on drop.
    pub fn open_bytes(
        &self,
        place: &Place<'_>,
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        self.key
            .open(&place.aad(), sealed)
            .map_err(|_| StoreError::Corrupt {
                what: place.describe(),
                detail: "sealed value does not open: damaged, or moved from another record".into(),
            })
    }
}

/// The error for a value that opened but does not decode.
pub fn unreadable(place: &Place<'_>, e: impl fmt::Display) -> StoreError {
    StoreError::Corrupt {
        what: place.describe(),
        detail: format!("opened but not readable: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sealing::KdfParams;
    use crate::testing::ReplayRng;

    #[test]
    fn a_value_opens_only_at_its_place_and_with_its_bound_bytes() {
        let draws = (0..6u8).map(|i| vec![i; if i == 0 { 16 } else { 12 }]);
        let mut rng = ReplayRng::new(draws);
        let params = KdfParams::insecure_for_tests(&mut rng);
        let sealer = Sealer::new(SealingKey::derive("p", &params).unwrap(), rng);
        let here = Place::new("messages", b"m1").bound_to(b"wire");
        let sealed = sealer.seal(&here, &vec!["secret"]).unwrap();
        assert_eq!(
            sealer.open::<Vec<String>>(&here, &sealed).unwrap(),
            ["secret"]
        );
        for elsewhere in [
            Place::new("messages", b"m2").bound_to(b"wire"),
            Place::new("sessions", b"m1").bound_to(b"wire"),
            Place::new("messages", b"m1").bound_to(b"other wire"),
            Place::new("messages", b"m1"),
        ] {
            let refused = sealer.open::<Vec<String>>(&elsewhere, &sealed);
            assert!(
                matches!(refused, Err(StoreError::Corrupt { .. })),
                "{elsewhere:?}"
            );
        }
        let sealed = sealer.seal_bytes(&here, b"not json");
        assert!(matches!(
            sealer.open::<Vec<String>>(&here, &sealed),
            Err(StoreError::Corrupt { detail, .. }) if detail.contains("not readable")
        ));
        assert_eq!(format!("{sealer:?}"), "Sealer(<redacted>)");
    }

    #[test]
    fn the_associated_data_keeps_the_stores_layout() {
        assert_eq!(Place::new("t", b"k").aad(), b"t\0k");
        assert_eq!(Place::new("t", b"k").bound_to(b"w").aad(), b"t\0k\xFFw");
    }
}
