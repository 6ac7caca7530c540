//! # quickchat-primitives
//!
//! The symmetric primitives on the Quick Chat SDK's message path — HMAC-SHA256 (the chain
//! step), HKDF-SHA256 (the root step and X3DH) and XSalsa20-Poly1305 (each message) — as
//! plain, non-generic functions.
//!
//! Why a crate of its own: RustCrypto's types are generic, and a generic function is
//! compiled in the crate that names its concrete type, with that crate's optimisation
//! settings. The browser modules build core for size (opt-level `z`), which made Salsa20's
//! rounds and HMAC's padding code several times slower; instantiated here, they are compiled
//! with this crate's settings (opt-level 3 in `scripts/build-js.sh`), and core's cold code
//! stays small. Each function is `#[inline(never)]` so that the size-built caller does not
//! absorb (and recompile for size) the code it calls.
#![forbid(unsafe_code)]

use crypto_secretbox::aead::{AeadInPlace, KeyInit as _};
use crypto_secretbox::{Nonce, Tag, XSalsa20Poly1305};
use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

/// A Poly1305 tag that does not verify, or an output length HKDF cannot give.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failed;

/// `HMAC-SHA256(key, first)` and `HMAC-SHA256(key, second)`, keyed once.
#[inline(never)]
pub fn hmac_sha256_pair(key: &[u8; 32], first: &[u8], second: &[u8]) -> ([u8; 32], [u8; 32]) {
    // HMAC pads a short key with zeros to the block size: the zero-padded 64-byte key is
    // the same key, and takes the infallible fixed-size constructor.
    let mut block_key = Zeroizing::new([0u8; 64]);
    block_key[..32].copy_from_slice(key);
    // Keying HMAC costs as much as a whole tag; key once and clone for the second tag.
    let keyed = <Hmac<Sha256> as KeyInit>::new(&(*block_key).into());
    let mut first_mac = keyed.clone();
    first_mac.update(first);
    let mut second_mac = keyed;
    second_mac.update(second);
    (
        first_mac.finalize().into_bytes().into(),
        second_mac.finalize().into_bytes().into(),
    )
}

/// HKDF-SHA256: extract with `salt` from `ikm`, expand with `info` into `okm`; fails only
/// when `okm` is longer than 8160 bytes.
#[inline(never)]
pub fn hkdf_sha256(salt: &[u8], ikm: &[u8], info: &[u8], okm: &mut [u8]) -> Result<(), Failed> {
    Hkdf::<Sha256>::new(Some(salt), ikm)
        .expand(info, okm)
        .map_err(|_| Failed)
}

/// SHA-256 of `data`.
#[inline(never)]
pub fn sha256(data: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    Sha256::digest(data).into()
}

/// XSalsa20-Poly1305 (NaCl's secretbox) without associated data: encrypts `buffer` in
/// place and returns the tag.
#[inline(never)]
pub fn secretbox_seal(key: &[u8; 32], nonce: &[u8; 24], buffer: &mut [u8]) -> [u8; 16] {
    let cipher = XSalsa20Poly1305::new(key.into());
    // Encryption without associated data cannot fail; the zero tag it would leave is
    // refused by every reader.
    match cipher.encrypt_in_place_detached(Nonce::from_slice(nonce), b"", buffer) {
        Ok(tag) => tag.into(),
        Err(_) => [0; 16],
    }
}

/// Opens what [`secretbox_seal`] made: checks `tag`, then decrypts `buffer` in place (left
/// as it was when the tag does not verify).
#[inline(never)]
pub fn secretbox_open(
    key: &[u8; 32],
    nonce: &[u8; 24],
    buffer: &mut [u8],
    tag: &[u8; 16],
) -> Result<(), Failed> {
    let cipher = XSalsa20Poly1305::new(key.into());
    cipher
        .decrypt_in_place_detached(Nonce::from_slice(nonce), b"", buffer, Tag::from_slice(tag))
        .map_err(|_| Failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 4231, test case 2 ("Jefe", padded here to 32 bytes with zeros, which HMAC does
    // itself for a short key).
    #[test]
    fn hmac_matches_rfc_4231() {
        let mut key = [0u8; 32];
        key[..4].copy_from_slice(b"Jefe");
        let (tag, other) = hmac_sha256_pair(&key, b"what do ya want for nothing?", b"");
        assert_eq!(
            hex(&tag),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_ne!(tag, other);
    }

    // RFC 5869, test case 1.
    #[test]
    fn hkdf_matches_rfc_5869() {
        let ikm = [0x0b; 22];
        let salt: Vec<u8> = (0x00..=0x0c).collect();
        let info: Vec<u8> = (0xf0..=0xf9).collect();
        let mut okm = [0u8; 42];
        assert_eq!(hkdf_sha256(&salt, &ikm, &info, &mut okm), Ok(()));
        assert_eq!(
            hex(&okm),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
        );
        let mut too_long = vec![0u8; 255 * 32 + 1];
        assert_eq!(hkdf_sha256(&salt, &ikm, &info, &mut too_long), Err(Failed));
    }

    #[test]
    fn sha256_of_abc() {
        assert_eq!(
            hex(&sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn secretbox_opens_what_it_sealed_and_refuses_a_forgery() {
        let key = [7u8; 32];
        let nonce = [9u8; 24];
        let mut buffer = *b"a message";
        let tag = secretbox_seal(&key, &nonce, &mut buffer);
        assert_ne!(&buffer, b"a message");
        let sealed = buffer;
        let mut forged = tag;
        forged[0] ^= 1;
        assert_eq!(
            secretbox_open(&key, &nonce, &mut buffer, &forged),
            Err(Failed)
        );
        assert_eq!(buffer, sealed, "a refused box is left as it was");
        assert_eq!(secretbox_open(&key, &nonce, &mut buffer, &tag), Ok(()));
        assert_eq!(&buffer, b"a message");
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}
