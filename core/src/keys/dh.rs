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
/// stores; clamping happens when it is used. The X25519 itself is AWS-LC's on native
/// targets and curve25519-dalek's on wasm32, with identical results (see `x25519`).
#[derive(Clone)]
pub struct SecretKey(super::x25519::Secret);

impl SecretKey {
    /// Wraps 32 private-key bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(super::x25519::Secret::from_bytes(bytes))
    }

    /// The raw private-key bytes (for persistence; handle with care).
    pub fn as_bytes(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.public_key())
    }

    /// X25519 with the peer's public key. Refuses an all-zero output (RFC 7748 §6.1): it
    /// comes from a low-order public key, and anyone can compute it. The check is constant
    /// time; only a refused key, public and of low order, takes a slower path.
    pub fn diffie_hellman(&self, their_public: &PublicKey) -> Result<DhOutput, LowOrderKey> {
        self.0
            .diffie_hellman(&their_public.0)
            .map(DhOutput)
            .ok_or(LowOrderKey)
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

/// An X25519 public key of low order: every DH with it gives the all-zero secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("low-order X25519 public key: the shared secret would be all zeros")]
pub struct LowOrderKey;

/// The masked (bit 255 cleared) encodings whose X25519 output is all zeros for every
/// private key: the u-coordinates 0, 1 and p − 1, the two order-8 points, and p and p + 1
/// (non-canonical for 0 and 1). X25519 ignores bit 255, so the keys with it set are low
/// order too.
const LOW_ORDER_MASKED: [[u8; 32]; 7] = {
    let mut p_minus_1 = [0xff; 32];
    p_minus_1[0] = 0xec;
    p_minus_1[31] = 0x7f;
    let mut p = p_minus_1;
    p[0] = 0xed;
    let mut p_plus_1 = p_minus_1;
    p_plus_1[0] = 0xee;
    let mut one = [0u8; 32];
    one[0] = 1;
    [
        [0u8; 32],
        one,
        p_minus_1,
        p,
        p_plus_1,
        [
            0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f,
            0xc4, 0x6a, 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16,
            0x5f, 0x49, 0xb8, 0x00,
        ],
        [
            0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1, 0x55, 0x9c, 0x83,
            0xef, 0x5b, 0x04, 0x44, 0x5c, 0xc4, 0x58, 0x1c, 0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd,
            0xd0, 0x9f, 0x11, 0x57,
        ],
    ]
};

impl PublicKey {
    /// Whether this is a low-order key (constant time), for a key that is stored before
    /// any DH with it can show it (the ratchet key of a first message). A DH refuses such
    /// a key by its output anyway; the tests check that both agree.
    pub fn is_low_order(&self) -> bool {
        use subtle::ConstantTimeEq;
        let mut masked = self.0;
        masked[31] &= 0x7f;
        let mut found = subtle::Choice::from(0);
        for bad in &LOW_ORDER_MASKED {
            found |= masked.ct_eq(bad);
        }
        found.into()
    }
}

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
            a.secret().diffie_hellman(b.public()).unwrap().as_bytes(),
            b.secret().diffie_hellman(a.public()).unwrap().as_bytes()
        );
    }

    #[test]
    fn every_low_order_key_is_refused_by_its_dh_output() {
        let keys = crate::keys::test_low_order_keys();
        assert_eq!(keys.len(), 14);
        for secret in [[1u8; 32], [0x42; 32], [0xff; 32]] {
            let secret = SecretKey::from_bytes(secret);
            for key in &keys {
                // The bytes are right only if X25519 itself (dalek's, the reference) maps
                // them to zero.
                let raw = x25519_dalek::x25519(*secret.as_bytes(), key.0);
                assert_eq!(raw, [0u8; 32], "{key:?} is not low order");
                assert_eq!(secret.diffie_hellman(key).err(), Some(LowOrderKey));
                assert!(key.is_low_order(), "{key:?}");
            }
        }
    }

    #[test]
    fn ordinary_keys_are_not_low_order() {
        for seed in 0..=255u8 {
            let key = *KeyPair::from_secret(SecretKey::from_bytes([seed; 32])).public();
            assert!(!key.is_low_order());
            // p + 2 .. 2^255 − 1 reduce to 2 .. 18: not low order.
            let mut near_p = [0xff; 32];
            near_p[0] = 0xef + (seed % 0x10);
            near_p[31] = 0x7f;
            assert!(!PublicKey(near_p).is_low_order());
            assert!(
                SecretKey::from_bytes([seed; 32])
                    .diffie_hellman(&PublicKey(near_p))
                    .is_ok()
            );
        }
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
