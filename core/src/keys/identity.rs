//! The long-term identity: one 32-byte seed gives both the Ed25519 signing key and the
//! X25519 identity DH key (PROTOCOL §2).

use std::fmt;

use ed25519_dalek::Signer as _;
use rand_core::CryptoRng;
use zeroize::Zeroizing;

use super::{Fingerprint, KeyPair, PublicKey, SecretKey};
use crate::encoding::{EncodingError, b64_decode_array, b64_encode};

/// An Ed25519 public key (32 bytes), the identity's signing key as published in bundles.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SigningPublicKey([u8; 32]);

impl SigningPublicKey {
    /// Wraps 32 bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The key's bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Padded base64, the wire form.
    pub fn to_base64(&self) -> String {
        b64_encode(&self.0)
    }

    /// Parses the wire form; `field` names the value in the error.
    pub fn from_base64(field: &'static str, text: &str) -> Result<Self, EncodingError> {
        b64_decode_array::<32>(field, text).map(Self)
    }
}

impl fmt::Debug for SigningPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningPublicKey({})", self.to_base64())
    }
}

/// The public half of an identity.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct IdentityPublic {
    /// X25519 identity key (`identityKey` on the wire).
    pub dh: PublicKey,
    /// Ed25519 signing key (`signingKey` on the wire).
    pub signing: SigningPublicKey,
}

impl IdentityPublic {
    /// The fingerprint people compare, derived from the X25519 identity key.
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of(&self.dh)
    }
}

/// A user's long-term identity key pair.
#[derive(Clone)]
pub struct IdentityKeyPair {
    seed: Zeroizing<[u8; 32]>,
    signing: ed25519_dalek::SigningKey,
    dh: KeyPair,
    public: IdentityPublic,
}

impl IdentityKeyPair {
    /// Derives the identity from its seed: Ed25519 per RFC 8032, X25519 with the seed itself
    /// as private key.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        let seed = Zeroizing::new(seed);
        let signing = ed25519_dalek::SigningKey::from_bytes(&seed);
        let dh = KeyPair::from_secret(SecretKey::from_bytes(*seed));
        let public = IdentityPublic {
            dh: *dh.public(),
            signing: SigningPublicKey(signing.verifying_key().to_bytes()),
        };
        Self {
            seed,
            signing,
            dh,
            public,
        }
    }

    /// Makes a new identity from one 32-byte draw.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        Self::from_seed(*super::draw_32(rng))
    }

    /// The seed everything else derives from (persist it encrypted, never log it).
    pub fn seed(&self) -> &[u8; 32] {
        &self.seed
    }

    /// The 64-byte `seed ‖ public` Ed25519 secret key, the form the reference client keeps.
    pub fn signing_secret_bytes(&self) -> Zeroizing<[u8; 64]> {
        Zeroizing::new(self.signing.to_keypair_bytes())
    }

    /// The public identity.
    pub fn public(&self) -> &IdentityPublic {
        &self.public
    }

    /// The X25519 identity key pair.
    pub fn dh(&self) -> &KeyPair {
        &self.dh
    }

    /// This identity's fingerprint.
    pub fn fingerprint(&self) -> Fingerprint {
        self.public.fingerprint()
    }

    /// An Ed25519 signature over `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.signing.sign(message).to_bytes()
    }
}

impl PartialEq for IdentityKeyPair {
    fn eq(&self, other: &Self) -> bool {
        self.dh == other.dh
    }
}

impl Eq for IdentityKeyPair {}

impl fmt::Debug for IdentityKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentityKeyPair")
            .field("public", &self.public)
            .field("seed", &"<redacted>")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signing_secret_is_seed_then_public() {
        let id = IdentityKeyPair::from_seed([9; 32]);
        let bytes = id.signing_secret_bytes();
        assert_eq!(&bytes[..32], &[9; 32]);
        assert_eq!(&bytes[32..], id.public().signing.as_bytes());
    }

    #[test]
    fn dh_secret_is_the_seed() {
        let id = IdentityKeyPair::from_seed([3; 32]);
        assert_eq!(id.dh().secret().as_bytes(), &[3; 32]);
    }

    #[test]
    fn debug_hides_the_seed() {
        let id = IdentityKeyPair::from_seed([0x5a; 32]);
        let shown = format!("{id:?}");
        assert!(shown.contains("<redacted>"));
        assert!(!shown.contains(&b64_encode(&[0x5a; 32])));
        assert!(!shown.contains("90, 90"));
    }
}
