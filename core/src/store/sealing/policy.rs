//! The at-rest key policy every platform store follows: how strong a new store's key
//! derivation is, which costs a store's clear header may ask for, and how each failure of
//! deriving the key or checking the passphrase is reported. One policy, so the native and
//! browser stores open, refuse and report alike.

use rand_core::CryptoRng;

use super::{KdfParams, SealError, SealingKey};
use crate::store::StoreError;

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

impl KdfStrength {
    /// Fresh parameters of this strength (a new salt) for a new store.
    pub fn params<R: CryptoRng + ?Sized>(self, rng: &mut R) -> KdfParams {
        match self {
            Self::Recommended => KdfParams::generate(rng),
            Self::InsecureForTests => KdfParams::insecure_for_tests(rng),
        }
    }
}

/// Largest memory cost accepted from a store's header, KiB (1 GiB): the clear header could
/// otherwise make an open allocate without bound.
pub const MAX_KDF_MEMORY_KIB: u32 = 1024 * 1024;
/// Largest number of passes accepted from a store's header.
pub const MAX_KDF_ITERATIONS: u32 = 64;
/// Largest number of lanes accepted from a store's header.
pub const MAX_KDF_PARALLELISM: u32 = 64;

const KDF_WHAT: &str = "key-derivation parameters";

fn damaged_params(detail: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        what: KDF_WHAT.into(),
        detail: detail.into(),
    }
}

/// Refuses parameters from a store's header whose costs are beyond the bounds above
/// ([`StoreError::Corrupt`]).
pub fn check_kdf_params(params: &KdfParams) -> Result<(), StoreError> {
    if params.memory_kib > MAX_KDF_MEMORY_KIB
        || params.iterations > MAX_KDF_ITERATIONS
        || params.parallelism > MAX_KDF_PARALLELISM
    {
        return Err(damaged_params(format!(
            "costs out of range ({} KiB, {} passes, {} lanes)",
            params.memory_kib, params.iterations, params.parallelism
        )));
    }
    Ok(())
}

/// Reads parameters kept as JSON in a store's header, refused when unreadable or out of
/// bounds.
pub fn parse_kdf_params(bytes: &[u8]) -> Result<KdfParams, StoreError> {
    // As text: one serde_json reader in the browser's modules (see `Sealer::open`).
    let text = std::str::from_utf8(bytes).map_err(|e| damaged_params(format!("not text: {e}")))?;
    let params: KdfParams =
        serde_json::from_str(text).map_err(|e| damaged_params(format!("not readable: {e}")))?;
    check_kdf_params(&params)?;
    Ok(params)
}

/// Derives the key of an existing store from its header's parameters and checks the
/// passphrase against the header's check value: parameters out of bounds or refused by
/// Argon2id are a damaged header ([`StoreError::Corrupt`]), a key that does not open the
/// check is [`StoreError::WrongPassphrase`].
pub fn unlock(
    passphrase: &str,
    params: &KdfParams,
    check: &[u8],
) -> Result<SealingKey, StoreError> {
    check_kdf_params(params)?;
    let key = derive(passphrase, params)?;
    key.verify_check(check)
        .map_err(|_| StoreError::WrongPassphrase)?;
    Ok(key)
}

/// What a new store keeps: its parameters and check value (in the clear, in its header) and
/// the key its records are sealed under.
#[derive(Debug)]
pub struct NewStoreKey {
    /// The Argon2id parameters, with a fresh salt.
    pub params: KdfParams,
    /// The check value sealed under the key, which tells a wrong passphrase at open.
    pub check: Vec<u8>,
    /// The key.
    pub key: SealingKey,
}

/// Makes the key of a new store: fresh parameters of `strength`, the derived key and its
/// check value.
pub fn new_store_key<R: CryptoRng + ?Sized>(
    passphrase: &str,
    strength: KdfStrength,
    rng: &mut R,
) -> Result<NewStoreKey, StoreError> {
    let params = strength.params(rng);
    let key = derive(passphrase, &params)?;
    let check = key.make_check(rng);
    Ok(NewStoreKey { params, check, key })
}

fn derive(passphrase: &str, params: &KdfParams) -> Result<SealingKey, StoreError> {
    SealingKey::derive(passphrase, params).map_err(|e| match e {
        SealError::Params { detail } => damaged_params(detail),
        other => StoreError::Backend {
            context: "deriving the store key".into(),
            detail: other.to_string(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::ReplayRng;

    fn rng() -> ReplayRng {
        ReplayRng::new((0..4u8).map(|i| vec![i; if i == 0 { 16 } else { 12 }]))
    }

    #[test]
    fn a_new_key_unlocks_with_its_passphrase_only() {
        let made = new_store_key("right", KdfStrength::InsecureForTests, &mut rng()).unwrap();
        assert_eq!(made.params.memory_kib, 64);
        assert!(unlock("right", &made.params, &made.check).is_ok());
        assert_eq!(
            unlock("wrong", &made.params, &made.check).err(),
            Some(StoreError::WrongPassphrase)
        );
    }

    #[test]
    fn headers_beyond_the_bounds_or_unreadable_are_damaged() {
        let made = new_store_key("p", KdfStrength::InsecureForTests, &mut rng()).unwrap();
        for params in [
            KdfParams {
                memory_kib: MAX_KDF_MEMORY_KIB + 1,
                ..made.params.clone()
            },
            KdfParams {
                iterations: MAX_KDF_ITERATIONS + 1,
                ..made.params.clone()
            },
            KdfParams {
                parallelism: MAX_KDF_PARALLELISM + 1,
                ..made.params.clone()
            },
        ] {
            let refused = unlock("p", &params, &made.check).err();
            assert!(
                matches!(&refused, Some(StoreError::Corrupt { what, .. }) if what == KDF_WHAT),
                "{refused:?}"
            );
            let json = serde_json::to_vec(&params).unwrap();
            assert!(matches!(
                parse_kdf_params(&json),
                Err(StoreError::Corrupt { .. })
            ));
        }
        // Costs Argon2id itself refuses (no memory at all) are a damaged header too.
        let zero = KdfParams {
            memory_kib: 0,
            ..made.params.clone()
        };
        assert!(matches!(
            unlock("p", &zero, &made.check),
            Err(StoreError::Corrupt { .. })
        ));
        assert!(matches!(
            parse_kdf_params(b"{"),
            Err(StoreError::Corrupt { .. })
        ));
        let json = serde_json::to_vec(&made.params).unwrap();
        assert_eq!(parse_kdf_params(&json).unwrap(), made.params);
    }
}
