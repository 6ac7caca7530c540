//! Signed and one-time prekeys (PROTOCOL §2).

use std::fmt;

use ed25519_dalek::Verifier as _;
use rand_core::CryptoRng;

use super::{IdentityKeyPair, KeyPair, PublicKey, SigningPublicKey};

/// Why a signed prekey cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrekeyError {
    /// The signature does not verify under the identity's signing key (or that key is not
    /// a valid Ed25519 point). The message is the reference client's.
    #[error("Invalid signed prekey signature")]
    InvalidSignature,
}

/// Public part of a signed prekey as published in a bundle.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SignedPrekeyPublic {
    /// Prekey id.
    pub id: u32,
    /// X25519 public key.
    pub public: PublicKey,
    /// Ed25519 signature by the identity over the 32-byte public key.
    pub signature: [u8; 64],
}

/// Checks a signed prekey's signature under `signing_key`.
pub fn verify_signed_prekey(
    signing_key: &SigningPublicKey,
    prekey: &SignedPrekeyPublic,
) -> Result<(), PrekeyError> {
    let key = ed25519_dalek::VerifyingKey::from_bytes(signing_key.as_bytes())
        .map_err(|_| PrekeyError::InvalidSignature)?;
    let signature = ed25519_dalek::Signature::from_bytes(&prekey.signature);
    key.verify(prekey.public.as_bytes(), &signature)
        .map_err(|_| PrekeyError::InvalidSignature)
}

/// A signed prekey with its private key.
#[derive(Clone, PartialEq, Eq)]
pub struct SignedPrekey {
    id: u32,
    pair: KeyPair,
    signature: [u8; 64],
    created_at: i64,
}

impl SignedPrekey {
    /// Makes a signed prekey from one 32-byte draw, signed by `identity`.
    pub fn generate<R: CryptoRng + ?Sized>(
        identity: &IdentityKeyPair,
        id: u32,
        created_at: i64,
        rng: &mut R,
    ) -> Self {
        let pair = KeyPair::generate(rng);
        let signature = identity.sign(pair.public().as_bytes());
        Self {
            id,
            pair,
            signature,
            created_at,
        }
    }

    /// Rebuilds a stored signed prekey.
    pub fn from_parts(id: u32, pair: KeyPair, signature: [u8; 64], created_at: i64) -> Self {
        Self {
            id,
            pair,
            signature,
            created_at,
        }
    }

    /// Prekey id.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The key pair.
    pub fn pair(&self) -> &KeyPair {
        &self.pair
    }

    /// The identity's signature over the public key.
    pub fn signature(&self) -> &[u8; 64] {
        &self.signature
    }

    /// Creation time, milliseconds since the epoch.
    pub fn created_at(&self) -> i64 {
        self.created_at
    }

    /// What gets published.
    pub fn public(&self) -> SignedPrekeyPublic {
        SignedPrekeyPublic {
            id: self.id,
            public: *self.pair.public(),
            signature: self.signature,
        }
    }
}

impl fmt::Debug for SignedPrekey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedPrekey")
            .field("id", &self.id)
            .field("pair", &self.pair)
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// Public part of a one-time prekey as published.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct OneTimePrekeyPublic {
    /// Prekey id.
    pub id: u32,
    /// X25519 public key.
    pub public: PublicKey,
}

/// A one-time prekey with its private key.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct OneTimePrekey {
    id: u32,
    pair: KeyPair,
}

impl OneTimePrekey {
    /// Makes a one-time prekey from one 32-byte draw.
    pub fn generate<R: CryptoRng + ?Sized>(id: u32, rng: &mut R) -> Self {
        Self {
            id,
            pair: KeyPair::generate(rng),
        }
    }

    /// Rebuilds a stored one-time prekey.
    pub fn from_parts(id: u32, pair: KeyPair) -> Self {
        Self { id, pair }
    }

    /// Prekey id.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The key pair.
    pub fn pair(&self) -> &KeyPair {
        &self.pair
    }

    /// What gets published.
    pub fn public(&self) -> OneTimePrekeyPublic {
        OneTimePrekeyPublic {
            id: self.id,
            public: *self.pair.public(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(u8);
    impl rand_core::TryRng for Fixed {
        type Error = core::convert::Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
            Ok(u32::from(self.0))
        }
        fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
            Ok(u64::from(self.0))
        }
        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
            dst.fill(self.0);
            Ok(())
        }
    }
    impl rand_core::TryCryptoRng for Fixed {}

    #[test]
    fn signature_verifies_and_tampering_fails() {
        let identity = IdentityKeyPair::from_seed([1; 32]);
        let spk = SignedPrekey::generate(&identity, 1, 0, &mut Fixed(7));
        let public = spk.public();
        assert_eq!(
            verify_signed_prekey(&identity.public().signing, &public),
            Ok(())
        );
        let mut bad = public;
        bad.signature[0] ^= 1;
        assert_eq!(
            verify_signed_prekey(&identity.public().signing, &bad),
            Err(PrekeyError::InvalidSignature)
        );
        let other = IdentityKeyPair::from_seed([2; 32]);
        assert_eq!(
            verify_signed_prekey(&other.public().signing, &public),
            Err(PrekeyError::InvalidSignature)
        );
    }
}
