//! Key material: the identity, prekeys, X25519 key pairs and fingerprints (PROTOCOL §1–2).
//!
//! Every private key type here zeroizes its bytes on drop and prints as `<redacted>` in
//! `Debug`; public keys print their base64 form.

mod dh;
mod fingerprint;
mod identity;
mod prekeys;
mod serde_impls;

pub use dh::{DhOutput, KeyPair, LowOrderKey, PublicKey, SecretKey};
pub use fingerprint::{Fingerprint, FingerprintError};
pub use identity::{IdentityKeyPair, IdentityPublic, SigningPublicKey};
pub use prekeys::{
    OneTimePrekey, OneTimePrekeyPublic, PrekeyError, SignedPrekey, SignedPrekeyPublic,
    verify_signed_prekey,
};

use rand_core::CryptoRng;
use zeroize::Zeroizing;

/// Takes one 32-byte draw from `rng`, the unit of randomness every key in the protocol uses.
pub(crate) fn draw_32<R: CryptoRng + ?Sized>(rng: &mut R) -> Zeroizing<[u8; 32]> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    rng.fill_bytes(bytes.as_mut());
    bytes
}
