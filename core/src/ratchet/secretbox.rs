//! NaCl secretbox (XSalsa20-Poly1305) with the nonce in front, the ratchet's message
//! cipher: `nonce (24) ‖ tag (16) ‖ ciphertext`.

use crypto_secretbox::aead::{AeadInPlace, KeyInit};
use crypto_secretbox::{Nonce, Tag, XSalsa20Poly1305};

use super::MessageKey;

/// Nonce length in bytes.
pub const NONCE_LEN: usize = 24;
/// Poly1305 tag length in bytes.
pub const TAG_LEN: usize = 16;

/// Why a box could not be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpenError {
    /// Shorter than a nonce and a tag.
    TooShort,
    /// The tag does not verify.
    Forged,
}

/// Seals `plaintext` under `key` with `nonce`, returning `nonce ‖ tag ‖ ciphertext`.
pub(crate) fn seal(key: &MessageKey, nonce: &[u8; NONCE_LEN], plaintext: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(NONCE_LEN + TAG_LEN + plaintext.len());
    out.extend_from_slice(nonce);
    out.extend_from_slice(&[0u8; TAG_LEN]);
    out.extend_from_slice(plaintext);
    let cipher = XSalsa20Poly1305::new(key.as_bytes().into());
    let (head, body) = out.split_at_mut(NONCE_LEN + TAG_LEN);
    // Encryption without associated data cannot fail.
    if let Ok(tag) = cipher.encrypt_in_place_detached(Nonce::from_slice(nonce), b"", body) {
        head[NONCE_LEN..].copy_from_slice(&tag);
    }
    out
}

/// Opens `nonce ‖ tag ‖ ciphertext` under `key`.
pub(crate) fn open(key: &MessageKey, sealed: &[u8]) -> Result<Vec<u8>, OpenError> {
    if sealed.len() < NONCE_LEN + TAG_LEN {
        return Err(OpenError::TooShort);
    }
    let (nonce, rest) = sealed.split_at(NONCE_LEN);
    let (tag, body) = rest.split_at(TAG_LEN);
    let mut plaintext = body.to_vec();
    let cipher = XSalsa20Poly1305::new(key.as_bytes().into());
    cipher
        .decrypt_in_place_detached(
            Nonce::from_slice(nonce),
            b"",
            &mut plaintext,
            Tag::from_slice(tag),
        )
        .map_err(|_| OpenError::Forged)?;
    Ok(plaintext)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_forgery() {
        let key = MessageKey::from_bytes([4; 32]);
        let sealed = seal(&key, &[1; 24], b"hello");
        assert_eq!(sealed.len(), 24 + 16 + 5);
        assert_eq!(open(&key, &sealed).unwrap(), b"hello");
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 0x80;
            assert_eq!(open(&key, &bad), Err(OpenError::Forged), "byte {i}");
        }
        assert_eq!(open(&key, &sealed[..39]), Err(OpenError::TooShort));
        assert_eq!(
            open(&MessageKey::from_bytes([5; 32]), &sealed),
            Err(OpenError::Forged)
        );
    }
}
