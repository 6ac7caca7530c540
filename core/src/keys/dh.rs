//! X25519 keys: the identity DH key, prekeys, ephemeral and ratchet keys.

use std::fmt;

use rand_core::CryptoRng;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::encoding::{EncodingError, b64_decode_array, b64_encode};

/// An X25519 public key (32 bytes).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PublicKey([u8; 32]);

impl PublicKey {
    /// Wraps 32 bytes as a public key.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The key's bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The key as padded base64, its form on the wire.
    pub fn to_base64(&self) -> String {
        b64_encode(&self.0)
    }

    /// Parses the wire form; `field` names the value in the error.
    pub fn from_base64(field: &'static str, text: &str) -> Result<Self, EncodingError> {
        b64_decode_array::<32>(field, text).map(Self)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_base64())
    }
}

/// An X25519 private key, stored as the raw (unclamped) 32 bytes the reference client
/// stores; clamping happens when it is used.
#[derive(Clone)]
pub struct SecretKey(x25519_dalek::StaticSecret);

impl SecretKey {
    /// Wraps 32 private-key bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        let mut bytes = bytes;
        let secret = x25519_dalek::StaticSecret::from(bytes);
        bytes.zeroize();
        Self(secret)
    }

    /// The raw private-key bytes (for persistence; handle with care).
    pub fn as_bytes(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(x25519_dalek::PublicKey::from(&self.0).to_bytes())
    }

    /// X25519 with the peer's public key.
    pub fn diffie_hellman(&self, their_public: &PublicKey) -> DhOutput {
        let shared = self
            .0
            .diffie_hellman(&x25519_dalek::PublicKey::from(their_public.0));
        DhOutput(shared.to_bytes())
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

impl PartialEq for SecretKey {
    fn eq(&self, other: &Self) -> bool {
        use subtle::ConstantTimeEq;
        self.as_bytes().ct_eq(other.as_bytes()).into()
    }
}

impl Eq for SecretKey {}

/// The 32-byte output of an X25519 operation; zeroized on drop.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct DhOutput([u8; 32]);

impl DhOutput {
    /// The shared bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for DhOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DhOutput(<redacted>)")
    }
}

/// An X25519 key pair.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyPair {
    secret: SecretKey,
    public: PublicKey,
}

impl KeyPair {
    /// Makes a key pair from one 32-byte draw, as the reference client does.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let bytes = super::draw_32(rng);
        Self::from_secret(SecretKey::from_bytes(*bytes))
    }

    /// Completes a private key with its public key.
    pub fn from_secret(secret: SecretKey) -> Self {
        let public = secret.public_key();
        Self { secret, public }
    }

    /// Rebuilds a pair from stored parts, checking that they belong together.
    pub fn from_parts(secret: SecretKey, public: PublicKey) -> Option<Self> {
        (secret.public_key() == public).then_some(Self { secret, public })
    }

    /// The private half.
    pub fn secret(&self) -> &SecretKey {
        &self.secret
    }

    /// The public half.
    pub fn public(&self) -> &PublicKey {
        &self.public
    }
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyPair")
            .field("public", &self.public)
            .field("secret", &self.secret)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dh_agrees_both_ways() {
        let a = KeyPair::from_secret(SecretKey::from_bytes([1; 32]));
        let b = KeyPair::from_secret(SecretKey::from_bytes([2; 32]));
        assert_eq!(
            a.secret().diffie_hellman(b.public()).as_bytes(),
            b.secret().diffie_hellman(a.public()).as_bytes()
        );
    }

    #[test]
    fn stores_unclamped_bytes() {
        let raw = [0xffu8; 32];
        assert_eq!(SecretKey::from_bytes(raw).as_bytes(), &raw);
    }

    #[test]
    fn from_parts_checks_the_pair() {
        let a = KeyPair::from_secret(SecretKey::from_bytes([1; 32]));
        let other = KeyPair::from_secret(SecretKey::from_bytes([2; 32]));
        assert!(KeyPair::from_parts(a.secret().clone(), *a.public()).is_some());
        assert!(KeyPair::from_parts(a.secret().clone(), *other.public()).is_none());
    }

    #[test]
    fn debug_never_prints_secrets() {
        let pair = KeyPair::from_secret(SecretKey::from_bytes([0x42; 32]));
        let shown = format!("{pair:?}");
        assert!(shown.contains("<redacted>"));
        assert!(!shown.contains(&b64_encode(&[0x42; 32])));
        assert!(!shown.contains("42, 42"));
    }
}
