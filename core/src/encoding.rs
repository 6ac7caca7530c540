//! Byte encodings used on the wire and in the reference client's storage.
//!
//! Everything is standard base64 **with** padding (RFC 4648 §4), decoded strictly: a
//! non-canonical string is refused rather than silently accepted, so two implementations
//! never disagree about which bytes a string stands for.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// A base64 field that could not be turned into the bytes it should hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodingError {
    /// The field is not valid padded standard base64.
    #[error("field `{field}` is not valid base64")]
    InvalidBase64 {
        /// Name of the field, in the caller's terms.
        field: &'static str,
    },
    /// The field decoded to the wrong number of bytes.
    #[error("field `{field}` must hold {expected} bytes, found {actual}")]
    WrongLength {
        /// Name of the field, in the caller's terms.
        field: &'static str,
        /// Required length in bytes.
        expected: usize,
        /// Length found.
        actual: usize,
    },
}

/// Encodes bytes as padded standard base64.
pub fn b64_encode(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Appends the padded standard base64 form of `bytes` to `out`.
pub fn b64_encode_into(bytes: &[u8], out: &mut String) {
    STANDARD.encode_string(bytes, out);
}

/// Decodes padded standard base64; `field` names the value in the error.
pub fn b64_decode(field: &'static str, text: &str) -> Result<Vec<u8>, EncodingError> {
    STANDARD
        .decode(text)
        .map_err(|_| EncodingError::InvalidBase64 { field })
}

/// Decodes padded standard base64 that must hold exactly `N` bytes.
pub fn b64_decode_array<const N: usize>(
    field: &'static str,
    text: &str,
) -> Result<[u8; N], EncodingError> {
    // Refuse absurd inputs before decoding them: a base64 string of N bytes is about
    // this long, and only a wrong-length error needs the full decode below.
    let mut out = [0u8; N];
    if text.len() <= N.div_ceil(3) * 4
        && let Ok(written) = STANDARD.decode_slice(text, &mut out)
        && written == N
    {
        return Ok(out);
    }
    Err(match STANDARD.decode(text) {
        Ok(bytes) => EncodingError::WrongLength {
            field,
            expected: N,
            actual: bytes.len(),
        },
        Err(_) => EncodingError::InvalidBase64 { field },
    })
}

/// Upper-case hexadecimal, as the reference client prints fingerprints.
pub fn upper_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_pads() {
        assert_eq!(b64_encode(&[1, 2]), "AQI=");
        assert_eq!(b64_decode("x", "AQI=").unwrap(), vec![1, 2]);
    }

    #[test]
    fn refuses_unpadded_and_garbage() {
        assert_eq!(
            b64_decode("x", "AQI"),
            Err(EncodingError::InvalidBase64 { field: "x" })
        );
        assert_eq!(
            b64_decode("x", "A*I="),
            Err(EncodingError::InvalidBase64 { field: "x" })
        );
    }

    #[test]
    fn array_checks_length() {
        let key = b64_encode(&[7u8; 32]);
        assert_eq!(b64_decode_array::<32>("k", &key).unwrap(), [7u8; 32]);
        assert_eq!(
            b64_decode_array::<32>("k", "AQI="),
            Err(EncodingError::WrongLength {
                field: "k",
                expected: 32,
                actual: 2
            })
        );
        let long = b64_encode(&[0u8; 33]);
        assert!(matches!(
            b64_decode_array::<32>("k", &long),
            Err(EncodingError::WrongLength { actual: 33, .. })
        ));
    }

    #[test]
    fn hex_is_upper_case() {
        assert_eq!(upper_hex(&[0xab, 0x01]), "AB01");
    }
}
