//! The at-rest key policy of the redb store: how strong a new store's key derivation is,
//! which costs a file's clear header may ask for, deriving the key and checking the
//! passphrase against the header. (Kept apart so that it can move to core's sealing module,
//! which the browser store shares, as one piece.)

use quickchat_core::rand_core::CryptoRng;
use quickchat_core::store::StoreError;
use quickchat_core::store::sealing::{KdfParams, SealError, SealingKey};

/// How costly the passphrase derivation of a *new* store is. An existing store always uses
/// the parameters it was created with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum KdfStrength {
    /// Argon2id, 19 MiB, 2 passes, 1 lane ([`KdfParams::generate`]).
    #[default]
    Recommended,
    /// Argon2id with 64 KiB and 1 pass ([`KdfParams::insecure_for_tests`]): for tests only,
    /// never for real data.
    InsecureForTests,
}

/// Largest KDF costs accepted from a file (the clear header could otherwise make an open
/// allocate without bound): 1 GiB, 64 passes, 64 lanes.
const MAX_KDF_MEMORY_KIB: u32 = 1024 * 1024;
const MAX_KDF_ITERATIONS: u32 = 64;
const MAX_KDF_PARALLELISM: u32 = 64;

impl KdfStrength {
    /// Fresh parameters of this strength (a new salt) for a new store.
    pub(super) fn params<R: CryptoRng + ?Sized>(self, rng: &mut R) -> KdfParams {
        match self {
            Self::Recommended => KdfParams::generate(rng),
            Self::InsecureForTests => KdfParams::insecure_for_tests(rng),
        }
    }
}

/// The parameters from a store's clear header, refused when out of bounds.
pub(super) fn parse_kdf(bytes: &[u8]) -> Result<KdfParams, StoreError> {
    let damaged = |detail: String| StoreError::Corrupt {
        what: "key-derivation parameters".into(),
        detail,
    };
    let params: KdfParams =
        serde_json::from_slice(bytes).map_err(|e| damaged(format!("not readable: {e}")))?;
    if params.memory_kib > MAX_KDF_MEMORY_KIB
        || params.iterations > MAX_KDF_ITERATIONS
        || params.parallelism > MAX_KDF_PARALLELISM
    {
        return Err(damaged(format!(
            "costs out of range ({} KiB, {} passes, {} lanes)",
            params.memory_kib, params.iterations, params.parallelism
        )));
    }
    Ok(params)
}

/// The store key; parameters that Argon2id refuses mean a damaged header.
pub(super) fn derive(passphrase: &str, params: &KdfParams) -> Result<SealingKey, StoreError> {
    SealingKey::derive(passphrase, params).map_err(|e| match e {
        SealError::Params { detail } => StoreError::Corrupt {
            what: "key-derivation parameters".into(),
            detail,
        },
        other => StoreError::Backend {
            context: "deriving the store key".into(),
            detail: other.to_string(),
        },
    })
}

/// Checks the passphrase: the key must open the header's check value.
pub(super) fn verify(key: &SealingKey, check: &[u8]) -> Result<(), StoreError> {
    key.verify_check(check)
        .map_err(|_| StoreError::WrongPassphrase)
}
