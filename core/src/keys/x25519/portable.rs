//! X25519 by curve25519-dalek: the wasm32 backend, and the native backend's fallback and
//! reference.

use zeroize::Zeroize;

/// A raw (unclamped) X25519 private key; dalek zeroizes it on drop.
#[derive(Clone)]
pub(crate) struct Secret(x25519_dalek::StaticSecret);

impl Secret {
    /// Wraps 32 private-key bytes, wiping the caller's copy.
    pub(crate) fn from_bytes(bytes: [u8; 32]) -> Self {
        let mut bytes = bytes;
        let secret = x25519_dalek::StaticSecret::from(bytes);
        bytes.zeroize();
        Self(secret)
    }

    /// The raw bytes.
    pub(crate) fn as_bytes(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }

    /// X25519 with the base point.
    pub(crate) fn public_key(&self) -> [u8; 32] {
        x25519_dalek::PublicKey::from(&self.0).to_bytes()
    }

    /// X25519 with `their_public`; `None` for the all-zero output of a low-order key.
    pub(crate) fn diffie_hellman(&self, their_public: &[u8; 32]) -> Option<[u8; 32]> {
        let shared = self
            .0
            .diffie_hellman(&x25519_dalek::PublicKey::from(*their_public));
        shared.was_contributory().then(|| shared.to_bytes())
    }
}
