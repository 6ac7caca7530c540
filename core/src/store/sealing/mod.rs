//! Encryption at rest for platform stores: AES-256-GCM under a key derived from the user's
//! passphrase with Argon2id. Shared by the native (redb) and browser (IndexedDB) stores.
//!
//! A store keeps, in the clear, the [`KdfParams`] (salt and costs) and a *check* value
//! sealed under the derived key; opening with the wrong passphrase fails on the check before
//! anything else is read. Every record is sealed with associated data naming its table and
//! key, so a record moved to another place does not open. The policy around the key (costs
//! of a new store, bounds on a header's costs, how failures are reported) is the `policy` submodule's,
//! and the sealing of records [`Sealer`]'s: both stores use them as they are.

mod policy;
mod sealer;

use std::fmt;
use std::io;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand_core::CryptoRng;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

pub use policy::{
    KdfStrength, MAX_KDF_ITERATIONS, MAX_KDF_MEMORY_KIB, MAX_KDF_PARALLELISM, NewStoreKey,
    check_kdf_params, new_store_key, parse_kdf_params, unlock,
};
pub use sealer::{Place, Sealer, unreadable};

const NONCE_LEN: usize = 12;
const CHECK_AAD: &[u8] = b"quickchat/store-check/v1";
const CHECK_PLAINTEXT: &[u8] = b"quickchat store key check";

/// Argon2id settings and salt of one store (kept in the clear beside it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KdfParams {
    /// 16 random bytes.
    pub salt: Vec<u8>,
    /// Memory cost in KiB.
    pub memory_kib: u32,
    /// Passes.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl KdfParams {
    /// New parameters with a fresh salt (one 16-byte draw) and the OWASP-recommended
    /// Argon2id costs (19 MiB, 2 passes, 1 lane).
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut salt = vec![0u8; 16];
        rng.fill_bytes(&mut salt);
        Self {
            salt,
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
        }
    }

    /// Cheap parameters for tests (never for real data).
    pub fn insecure_for_tests<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        Self {
            memory_kib: 64,
            iterations: 1,
            ..Self::generate(rng)
        }
    }
}

/// Why sealing or opening failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The Argon2id parameters are not usable.
    #[error("invalid key-derivation parameters: {detail}")]
    Params {
        /// What Argon2 reported.
        detail: String,
    },
    /// The passphrase does not open this store.
    #[error("wrong passphrase")]
    WrongPassphrase,
    /// A sealed value does not open: damaged, or moved from elsewhere.
    #[error("sealed data is damaged or does not belong here")]
    Damaged,
}

/// The key a store's records are sealed under.
pub struct SealingKey {
    cipher: Aes256Gcm,
}

impl fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SealingKey(<redacted>)")
    }
}

impl SealingKey {
    /// Derives the key from a passphrase (this is the slow step, by design).
    pub fn derive(passphrase: &str, params: &KdfParams) -> Result<Self, SealError> {
        let argon_params = argon2::Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            Some(32),
        )
        .map_err(|e| SealError::Params {
            detail: e.to_string(),
        })?;
        let argon = argon2::Argon2::new(
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            argon_params,
        );
        let mut key = Zeroizing::new([0u8; 32]);
        argon
            .hash_password_into(passphrase.as_bytes(), &params.salt, key.as_mut())
            .map_err(|e| SealError::Params {
                detail: e.to_string(),
            })?;
        Ok(Self {
            cipher: Aes256Gcm::new(&(*key).into()),
        })
    }

    /// Seals `plaintext`, bound to `aad` (one 12-byte nonce draw): `nonce ‖ ciphertext ‖ tag`.
    pub fn seal<R: CryptoRng + ?Sized>(
        &self,
        aad: &[u8],
        plaintext: &[u8],
        rng: &mut R,
    ) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill_bytes(&mut nonce);
        // AES-GCM encryption only fails for inputs beyond 64 GiB.
        let body = self
            .cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .unwrap_or_default();
        let mut out = Vec::with_capacity(NONCE_LEN + body.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&body);
        out
    }

    /// Opens what [`SealingKey::seal`] made with the same `aad`.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, SealError> {
        if sealed.len() < NONCE_LEN + 16 {
            return Err(SealError::Damaged);
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| SealError::Damaged)?;
        self.cipher
            .decrypt(&Nonce::from(nonce), Payload { msg: body, aad })
            .map(Zeroizing::new)
            .map_err(|_| SealError::Damaged)
    }

    /// The check value to keep beside [`KdfParams`].
    pub fn make_check<R: CryptoRng + ?Sized>(&self, rng: &mut R) -> Vec<u8> {
        self.seal(CHECK_AAD, CHECK_PLAINTEXT, rng)
    }

    /// Verifies the passphrase against the stored check value.
    pub fn verify_check(&self, check: &[u8]) -> Result<(), SealError> {
        match self.open(CHECK_AAD, check) {
            Ok(plain) if plain.as_slice() == CHECK_PLAINTEXT => Ok(()),
            _ => Err(SealError::WrongPassphrase),
        }
    }
}

/// Serializes `value` as JSON into a buffer that is zeroized on drop; when the buffer must
/// grow, the old one is zeroized too, so no copy of a record's plaintext (private keys,
/// ratchet state) is left behind in freed memory. What platform stores seal.
pub fn to_json_zeroizing<T: Serialize + ?Sized>(
    value: &T,
) -> Result<Zeroizing<Vec<u8>>, serde_json::Error> {
    let mut writer = ZeroizingWriter(Zeroizing::new(Vec::with_capacity(1024)));
    serde_json::to_writer(&mut writer, value)?;
    Ok(writer.0)
}

/// A growable buffer whose every allocation is zeroized before it is freed.
struct ZeroizingWriter(Zeroizing<Vec<u8>>);

impl io::Write for ZeroizingWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let needed = self.0.len() + buf.len();
        if needed > self.0.capacity() {
            let mut bigger = Zeroizing::new(Vec::with_capacity(needed.max(2 * self.0.capacity())));
            bigger.extend_from_slice(&self.0);
            // The old buffer is zeroized as it is dropped here.
            self.0 = bigger;
        }
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::ReplayRng;

    fn rng() -> ReplayRng {
        ReplayRng::new((0..8u8).map(|i| vec![i; if i == 0 { 16 } else { 12 }]))
    }

    #[test]
    fn seals_and_opens_bound_to_aad() {
        let mut rng = rng();
        let params = KdfParams::insecure_for_tests(&mut rng);
        let key = SealingKey::derive("correct horse", &params).unwrap();
        let sealed = key.seal(b"sessions/bob", b"secret state", &mut rng);
        assert_eq!(
            key.open(b"sessions/bob", &sealed).unwrap().as_slice(),
            b"secret state"
        );
        assert_eq!(key.open(b"sessions/eve", &sealed), Err(SealError::Damaged));
        let mut damaged = sealed.clone();
        damaged[20] ^= 1;
        assert_eq!(key.open(b"sessions/bob", &damaged), Err(SealError::Damaged));
        assert_eq!(
            key.open(b"sessions/bob", &sealed[..10]),
            Err(SealError::Damaged)
        );
    }

    #[test]
    fn serialization_grows_without_leaving_copies_behind() {
        let value: Vec<String> = (0..500).map(|i| format!("secret-{i}")).collect();
        let json = to_json_zeroizing(&value).unwrap();
        assert_eq!(json.as_slice(), serde_json::to_vec(&value).unwrap());
        assert!(json.len() > 1024, "the buffer had to grow");
    }

    #[test]
    fn the_check_tells_a_wrong_passphrase() {
        let mut rng = rng();
        let params = KdfParams::insecure_for_tests(&mut rng);
        let key = SealingKey::derive("right", &params).unwrap();
        let check = key.make_check(&mut rng);
        assert_eq!(key.verify_check(&check), Ok(()));
        let wrong = SealingKey::derive("wrong", &params).unwrap();
        assert_eq!(wrong.verify_check(&check), Err(SealError::WrongPassphrase));
        assert!(format!("{key:?}").contains("<redacted>"));
    }
}
