//! The encrypted message on the wire (PROTOCOL §5): the JSON string carried as the
//! `content` of a WebSocket `message` frame with `encrypted: true`.
//!
//! Serialization is byte-identical to the reference client (key order, no whitespace,
//! `authTag: ""`, `x3dh` only on a session's first message). Parsing is strict about
//! everything the receiver relies on (types, base64, key and ciphertext lengths, size, the
//! presence of every field the reference always writes) and ignores fields it does not know.
//!
//! The format does not authenticate the header: the ciphertext is bound to the message key,
//! which the ratchet key and message number select, but `previousChainLength` only tells the
//! receiver how many keys of the previous chain to keep. A changed `previousChainLength`
//! therefore cannot be detected; its effect is bounded by the skipped-key limits. Likewise
//! the ratchet key of a session's *first* message: the first receiving chain comes from the
//! X3DH secret alone, so a changed key there decrypts, and is noticed only when the
//! initiator cannot read the reply (the session then fails closed; nothing is disclosed).

use std::borrow::Cow;
use std::fmt::Write as _;

use serde::Deserialize;

use crate::encoding::{EncodingError, b64_decode, b64_encode_into};
use crate::keys::PublicKey;
use crate::ratchet::{Header, NONCE_LEN, TAG_LEN};

/// Largest envelope accepted, in bytes of JSON. Text messages are far smaller; the bound
/// keeps a hostile peer from making the client decode megabytes of base64.
pub const MAX_ENVELOPE_LEN: usize = 1 << 20;

/// The `x3dh` block of a session's first message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct X3dhHeader {
    /// The initiator's X25519 identity key.
    pub sender_identity_key: PublicKey,
    /// The initiator's ephemeral key.
    pub sender_ephemeral_key: PublicKey,
    /// Id of the responder's signed prekey used.
    pub used_signed_prekey_id: u32,
    /// Id of the responder's one-time prekey mixed in, if any.
    pub used_one_time_prekey_id: Option<u32>,
}

impl X3dhHeader {
    /// The `x3dh` block from its fields as the wire has them (keys in base64), checked as
    /// [`Envelope::parse`] checks them: for a platform that reads the JSON with another
    /// parser (the browser's drop-in takes the message as a JavaScript object).
    pub fn from_fields(
        sender_identity_key: &str,
        sender_ephemeral_key: &str,
        used_signed_prekey_id: u32,
        used_one_time_prekey_id: Option<u32>,
    ) -> Result<Self, EnvelopeError> {
        Ok(Self {
            sender_identity_key: PublicKey::from_base64(
                "x3dh.senderIdentityKey",
                sender_identity_key,
            )?,
            sender_ephemeral_key: PublicKey::from_base64(
                "x3dh.senderEphemeralKey",
                sender_ephemeral_key,
            )?,
            used_signed_prekey_id,
            used_one_time_prekey_id,
        })
    }
}

/// A parsed encrypted message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// Ratchet header.
    pub header: Header,
    /// `nonce ‖ tag ‖ ciphertext`.
    pub ciphertext: Vec<u8>,
    /// Present on the first message of a session only.
    pub x3dh: Option<X3dhHeader>,
}

/// Why a string is not a valid encrypted message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// Larger than [`MAX_ENVELOPE_LEN`].
    #[error("encrypted message of {len} bytes exceeds the {max}-byte limit")]
    TooLarge {
        /// Length found.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Not JSON at all.
    #[error("encrypted message is not valid JSON: {detail}")]
    NotJson {
        /// The parser's explanation.
        detail: String,
    },
    /// JSON of the wrong shape (a wrong type or an out-of-range number).
    #[error("encrypted message has an invalid field: {detail}")]
    InvalidShape {
        /// The parser's explanation.
        detail: String,
    },
    /// A required field is absent.
    #[error("encrypted message lacks the field `{field}`")]
    MissingField {
        /// The field's path.
        field: &'static str,
    },
    /// A base64 field is malformed or a key has the wrong length.
    #[error("encrypted message: {0}")]
    Encoding(#[from] EncodingError),
    /// The ciphertext cannot even hold a nonce and a tag.
    #[error("ciphertext of {len} bytes is shorter than a nonce and a tag ({min} bytes)")]
    CiphertextTooShort {
        /// Length found.
        len: usize,
        /// Minimum length.
        min: usize,
    },
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEnvelope<'a> {
    #[serde(borrow)]
    header: Option<RawHeader<'a>>,
    #[serde(borrow)]
    ciphertext: Option<Cow<'a, str>>,
    // The reference always sends `"authTag": ""` (the tag lives inside the ciphertext);
    // requiring the field means a damaged field name is noticed rather than ignored.
    #[serde(borrow)]
    auth_tag: Option<Cow<'a, str>>,
    #[serde(borrow)]
    x3dh: Option<RawX3dh<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawHeader<'a> {
    #[serde(borrow)]
    ratchet_key: Option<Cow<'a, str>>,
    previous_chain_length: Option<u32>,
    message_number: Option<u32>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawX3dh<'a> {
    #[serde(borrow)]
    sender_identity_key: Option<Cow<'a, str>>,
    #[serde(borrow)]
    sender_ephemeral_key: Option<Cow<'a, str>>,
    used_signed_prekey_id: Option<u32>,
    used_one_time_prekey_id: Option<u32>,
}

fn required<T>(value: Option<T>, field: &'static str) -> Result<T, EnvelopeError> {
    value.ok_or(EnvelopeError::MissingField { field })
}

impl Envelope {
    /// Parses and validates an encrypted message.
    pub fn parse(text: &str) -> Result<Self, EnvelopeError> {
        if text.len() > MAX_ENVELOPE_LEN {
            return Err(EnvelopeError::TooLarge {
                len: text.len(),
                max: MAX_ENVELOPE_LEN,
            });
        }
        let raw: RawEnvelope<'_> = serde_json::from_str(text).map_err(|e| {
            if e.is_data() {
                EnvelopeError::InvalidShape {
                    detail: e.to_string(),
                }
            } else {
                EnvelopeError::NotJson {
                    detail: e.to_string(),
                }
            }
        })?;
        let header = required(raw.header, "header")?;
        let ratchet_key = required(header.ratchet_key, "header.ratchetKey")?;
        let previous_chain_length =
            required(header.previous_chain_length, "header.previousChainLength")?;
        let message_number = required(header.message_number, "header.messageNumber")?;
        let ciphertext = required(raw.ciphertext, "ciphertext")?;
        let mut envelope = Self::from_fields(
            &ratchet_key,
            previous_chain_length,
            message_number,
            &ciphertext,
        )?;
        required(raw.auth_tag, "authTag")?;
        envelope.x3dh = match raw.x3dh {
            None => None,
            Some(x) => Some(X3dhHeader::from_fields(
                &required(x.sender_identity_key, "x3dh.senderIdentityKey")?,
                &required(x.sender_ephemeral_key, "x3dh.senderEphemeralKey")?,
                required(x.used_signed_prekey_id, "x3dh.usedSignedPrekeyId")?,
                x.used_one_time_prekey_id,
            )?),
        };
        Ok(envelope)
    }

    /// A message without an X3DH header, from the fields of its wire object, checked as
    /// [`Envelope::parse`] checks them. For callers that hold the fields already (the
    /// drop-in's JavaScript has the wire object): no JSON is written or parsed.
    pub fn from_fields(
        ratchet_key: &str,
        previous_chain_length: u32,
        message_number: u32,
        ciphertext: &str,
    ) -> Result<Self, EnvelopeError> {
        let len = ratchet_key.len().saturating_add(ciphertext.len());
        if len > MAX_ENVELOPE_LEN {
            return Err(EnvelopeError::TooLarge {
                len,
                max: MAX_ENVELOPE_LEN,
            });
        }
        let header = Header {
            ratchet_key: PublicKey::from_base64("header.ratchetKey", ratchet_key)?,
            previous_chain_length,
            message_number,
        };
        let ciphertext = b64_decode("ciphertext", ciphertext)?;
        let min = NONCE_LEN + TAG_LEN;
        if ciphertext.len() < min {
            return Err(EnvelopeError::CiphertextTooShort {
                len: ciphertext.len(),
                min,
            });
        }
        Ok(Self {
            header,
            ciphertext,
            x3dh: None,
        })
    }

    /// The wire string, byte-identical to the reference client's `JSON.stringify`.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(200 + self.ciphertext.len().div_ceil(3) * 4);
        out.push_str(r#"{"header":{"ratchetKey":""#);
        b64_encode_into(self.header.ratchet_key.as_bytes(), &mut out);
        // Writing to a String cannot fail.
        let _ = write!(
            out,
            r#"","previousChainLength":{},"messageNumber":{}}},"ciphertext":""#,
            self.header.previous_chain_length, self.header.message_number
        );
        b64_encode_into(&self.ciphertext, &mut out);
        out.push_str(r#"","authTag":"""#);
        if let Some(x3dh) = &self.x3dh {
            out.push_str(r#","x3dh":{"senderIdentityKey":""#);
            b64_encode_into(x3dh.sender_identity_key.as_bytes(), &mut out);
            out.push_str(r#"","senderEphemeralKey":""#);
            b64_encode_into(x3dh.sender_ephemeral_key.as_bytes(), &mut out);
            let _ = write!(
                out,
                r#"","usedSignedPrekeyId":{}"#,
                x3dh.used_signed_prekey_id
            );
            if let Some(id) = x3dh.used_one_time_prekey_id {
                let _ = write!(out, r#","usedOneTimePrekeyId":{id}"#);
            }
            out.push('}');
        }
        out.push('}');
        out
    }
}

/// The backend's test for flagging a message `encrypted`: its content parses as a JSON
/// object with `header` and `ciphertext`, or with `ciphertext`, `iv` and
/// `ephemeralPublicKey`. Content that fails it is relayed with `encrypted: false`.
pub fn backend_flags_encrypted(content: &str) -> bool {
    match serde_json::from_str::<serde_json::Value>(content) {
        Ok(serde_json::Value::Object(map)) => {
            let has = |k: &str| map.get(k).is_some_and(|v| !v.is_null());
            has("ciphertext") && (has("header") || (has("iv") && has("ephemeralPublicKey")))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::b64_encode;

    fn sample(x3dh: bool) -> Envelope {
        Envelope {
            header: Header {
                ratchet_key: PublicKey::from_bytes([1; 32]),
                previous_chain_length: 3,
                message_number: 7,
            },
            ciphertext: vec![9; 45],
            x3dh: x3dh.then_some(X3dhHeader {
                sender_identity_key: PublicKey::from_bytes([2; 32]),
                sender_ephemeral_key: PublicKey::from_bytes([3; 32]),
                used_signed_prekey_id: 5,
                used_one_time_prekey_id: Some(6),
            }),
        }
    }

    #[test]
    fn round_trips_with_and_without_x3dh() {
        for x in [false, true] {
            let env = sample(x);
            let json = env.to_json();
            assert_eq!(Envelope::parse(&json).unwrap(), env);
            assert!(!json.contains(' '));
            assert!(backend_flags_encrypted(&json));
        }
    }

    #[test]
    fn one_time_prekey_id_follows_signed_prekey_id() {
        let json = sample(true).to_json();
        assert!(json.ends_with(r#""usedSignedPrekeyId":5,"usedOneTimePrekeyId":6}}"#));
    }

    #[test]
    fn errors_say_what_is_wrong() {
        assert!(matches!(
            Envelope::parse("{not json"),
            Err(EnvelopeError::NotJson { .. })
        ));
        assert_eq!(
            Envelope::parse(r#"{"ciphertext":"AA=="}"#),
            Err(EnvelopeError::MissingField { field: "header" })
        );
        let key = b64_encode(&[1; 32]);
        let ct = b64_encode(&[0; 40]);
        assert!(matches!(
            Envelope::parse(&format!(
                r#"{{"header":{{"ratchetKey":"{key}","previousChainLength":-1,"messageNumber":0}},"ciphertext":"{ct}"}}"#
            )),
            Err(EnvelopeError::InvalidShape { .. })
        ));
        assert_eq!(
            Envelope::parse(&format!(
                r#"{{"header":{{"ratchetKey":"AQI=","previousChainLength":0,"messageNumber":0}},"ciphertext":"{ct}"}}"#
            )),
            Err(EnvelopeError::Encoding(EncodingError::WrongLength {
                field: "header.ratchetKey",
                expected: 32,
                actual: 2
            }))
        );
        assert_eq!(
            Envelope::parse(&format!(
                r#"{{"header":{{"ratchetKey":"{key}","previousChainLength":0,"messageNumber":0}},"ciphertext":"AAAA","authTag":""}}"#
            )),
            Err(EnvelopeError::CiphertextTooShort { len: 3, min: 40 })
        );
        assert_eq!(
            Envelope::parse(&format!(
                r#"{{"header":{{"ratchetKey":"{key}","previousChainLength":0,"messageNumber":0}},"ciphertext":"@@@@","authTag":""}}"#
            )),
            Err(EnvelopeError::Encoding(EncodingError::InvalidBase64 {
                field: "ciphertext"
            }))
        );
        assert_eq!(
            Envelope::parse(&format!(
                r#"{{"header":{{"ratchetKey":"{key}","previousChainLength":0,"messageNumber":0}},"ciphertext":"{ct}","authTaf":""}}"#
            )),
            Err(EnvelopeError::MissingField { field: "authTag" })
        );
        let big = "x".repeat(MAX_ENVELOPE_LEN + 1);
        assert!(matches!(
            Envelope::parse(&big),
            Err(EnvelopeError::TooLarge { .. })
        ));
    }

    #[test]
    fn from_fields_checks_as_parse_does() {
        let env = sample(false);
        let key = b64_encode(env.header.ratchet_key.as_bytes());
        let ct = b64_encode(&env.ciphertext);
        let pn = env.header.previous_chain_length;
        let n = env.header.message_number;
        assert_eq!(Envelope::from_fields(&key, pn, n, &ct), Ok(env.clone()));
        for (key, ct) in [
            ("AQI=", ct.as_str()),
            (key.as_str(), "@@@@"),
            (key.as_str(), "AAAA"),
        ] {
            let json = format!(
                r#"{{"header":{{"ratchetKey":"{key}","previousChainLength":{pn},"messageNumber":{n}}},"ciphertext":"{ct}","authTag":""}}"#
            );
            let from_fields = Envelope::from_fields(key, pn, n, ct);
            assert!(from_fields.is_err());
            assert_eq!(from_fields, Envelope::parse(&json));
        }
        let big = "A".repeat(MAX_ENVELOPE_LEN);
        assert!(matches!(
            Envelope::from_fields(&key, pn, n, &big),
            Err(EnvelopeError::TooLarge { .. })
        ));
    }

    #[test]
    fn backend_flag_check_matches_the_protocol() {
        assert!(!backend_flags_encrypted("not json but flagged"));
        assert!(!backend_flags_encrypted(r#"{"header":{}}"#));
        assert!(backend_flags_encrypted(
            r#"{"ciphertext":"a","iv":"b","ephemeralPublicKey":"c"}"#
        ));
        assert!(!backend_flags_encrypted("[1,2]"));
    }
}
