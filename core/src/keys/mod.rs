//! Key material: the identity, prekeys, X25519 key pairs and fingerprints (PROTOCOL §1–2).
//!
//! Every private key type here zeroizes its bytes on drop and prints as `<redacted>` in
//! `Debug`; public keys print their base64 form.

mod dh;
mod fingerprint;
mod identity;
mod prekeys;
mod serde_impls;
mod x25519;

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

/// The 14 low-order keys, written out independently of the blocklist: 0, 1, p − 1, p,
/// p + 1 and the two order-8 points, each with bit 255 clear and set.
#[cfg(test)]
pub(crate) fn test_low_order_keys() -> Vec<PublicKey> {
    let p_minus = |low: u8| {
        let mut k = [0xff; 32];
        k[0] = low;
        k[31] = 0x7f;
        k
    };
    let mut one = [0u8; 32];
    one[0] = 1;
    let order8a = "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800";
    let order8b = "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157";
    let mut masked = vec![[0u8; 32], one, p_minus(0xec), p_minus(0xed), p_minus(0xee)];
    for text in [order8a, order8b] {
        let bytes: Vec<u8> = hex::decode(text).unwrap();
        masked.push(bytes.try_into().unwrap());
    }
    masked
        .into_iter()
        .flat_map(|k| {
            let mut high = k;
            high[31] |= 0x80;
            [PublicKey::from_bytes(k), PublicKey::from_bytes(high)]
        })
        .collect()
}
