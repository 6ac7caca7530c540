//! NaCl secretbox (XSalsa20-Poly1305) with the nonce in front, the ratchet's message
//! cipher: `nonce (24) ‖ tag (16) ‖ ciphertext`.

use quickchat_primitives::{secretbox_open, secretbox_seal};

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
    let (head, body) = out.split_at_mut(NONCE_LEN + TAG_LEN);
    let tag = secretbox_seal(key.as_bytes(), nonce, body);
    head[NONCE_LEN..].copy_from_slice(&tag);
    out
}

/// Opens `nonce ‖ tag ‖ ciphertext` under `key`.
pub(crate) fn open(key: &MessageKey, sealed: &[u8]) -> Result<Vec<u8>, OpenError> {
    if sealed.len() < NONCE_LEN + TAG_LEN {
        return Err(OpenError::TooShort);
    }
    let (nonce, rest) = sealed.split_at(NONCE_LEN);
    let (tag, body) = rest.split_at(TAG_LEN);
    let (Ok(nonce), Ok(tag)) = (
        <&[u8; NONCE_LEN]>::try_from(nonce),
        <&[u8; TAG_LEN]>::try_from(tag),
    ) else {
        return Err(OpenError::TooShort);
    };
    let mut plaintext = body.to_vec();
    secretbox_open(key.as_bytes(), nonce, &mut plaintext, tag).map_err(|_| OpenError::Forged)?;
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
