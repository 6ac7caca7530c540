//! The reference client's serialized ratchet state, in both directions.
//!
//! ```json
//! {"rootKey":"…","sendingChainKey":"…"|null,"receivingChainKey":"…"|null,
//!  "dhRatchetKeyPair":{"publicKey":"…","secretKey":"…"}|null,"dhRatchetRemoteKey":"…"|null,
//!  "sendingChainLength":N,"receivingChainLength":N,"previousSendingChainLength":N,
//!  "skippedMessageKeys":[["<b64 ratchet key>:<n>","<b64 message key>"],…]}
//! ```
//!
//! The export is byte-identical to the reference's `JSON.stringify` of the same state; it is
//! also the form in which this SDK persists ratchet states.

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::encoding::{EncodingError, b64_decode_array, b64_encode};
use crate::keys::{KeyPair, PublicKey, SecretKey};
use crate::ratchet::{ChainKey, MessageKey, RatchetState, RootKey, SkippedKeys};

/// Why a serialized ratchet state cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RatchetJsonError {
    /// Not JSON of the expected shape.
    #[error("ratchet state is not valid JSON of the expected shape: {detail}")]
    Json {
        /// The parser's explanation.
        detail: String,
    },
    /// A key field is malformed.
    #[error("ratchet state: {0}")]
    Encoding(#[from] EncodingError),
    /// The ratchet key pair's halves do not belong together.
    #[error("ratchet state: dhRatchetKeyPair.publicKey does not match its secretKey")]
    KeyPairMismatch,
    /// A skipped-key entry's name is not `<base64 key>:<number>`.
    #[error("ratchet state: skipped message key name `{name}` is not `<key>:<number>`")]
    SkippedKeyName {
        /// The offending name.
        name: String,
    },
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Json {
    root_key: String,
    sending_chain_key: Option<String>,
    receiving_chain_key: Option<String>,
    dh_ratchet_key_pair: Option<JsonKeyPair>,
    dh_ratchet_remote_key: Option<String>,
    sending_chain_length: u32,
    receiving_chain_length: u32,
    previous_sending_chain_length: u32,
    skipped_message_keys: Vec<(String, String)>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonKeyPair {
    public_key: String,
    secret_key: String,
}

impl Drop for Json {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.root_key.zeroize();
        self.sending_chain_key.zeroize();
        self.receiving_chain_key.zeroize();
        if let Some(pair) = &mut self.dh_ratchet_key_pair {
            pair.secret_key.zeroize();
        }
        for (_, key) in &mut self.skipped_message_keys {
            key.zeroize();
        }
    }
}

impl RatchetState {
    /// Reads the reference client's serialized state.
    pub fn from_reference_json(text: &str) -> Result<Self, RatchetJsonError> {
        let json: Json = serde_json::from_str(text).map_err(|e| RatchetJsonError::Json {
            detail: e.to_string(),
        })?;
        Self::from_json(&json)
    }

    /// Writes the state exactly as the reference client serializes it.
    pub fn to_reference_json(&self) -> Zeroizing<String> {
        let json = self.to_json();
        // Serializing strings and integers cannot fail.
        Zeroizing::new(serde_json::to_string(&json).unwrap_or_default())
    }

    fn to_json(&self) -> Json {
        Json {
            root_key: b64_encode(self.root_key.as_bytes()),
            sending_chain_key: self
                .sending_chain_key
                .as_ref()
                .map(|k| b64_encode(k.as_bytes())),
            receiving_chain_key: self
                .receiving_chain_key
                .as_ref()
                .map(|k| b64_encode(k.as_bytes())),
            dh_ratchet_key_pair: self.ratchet_key_pair.as_ref().map(|pair| JsonKeyPair {
                public_key: pair.public().to_base64(),
                secret_key: b64_encode(pair.secret().as_bytes()),
            }),
            dh_ratchet_remote_key: self.remote_ratchet_key.as_ref().map(PublicKey::to_base64),
            sending_chain_length: self.sending_chain_length,
            receiving_chain_length: self.receiving_chain_length,
            previous_sending_chain_length: self.previous_sending_chain_length,
            skipped_message_keys: self
                .skipped
                .iter()
                .map(|(key, n, mk)| {
                    (
                        format!("{}:{n}", key.to_base64()),
                        b64_encode(mk.as_bytes()),
                    )
                })
                .collect(),
        }
    }

    fn from_json(json: &Json) -> Result<Self, RatchetJsonError> {
        let key32 = |field: &'static str, text: &str| {
            b64_decode_array::<32>(field, text).map(Zeroizing::new)
        };
        let root_key = RootKey::from_bytes(*key32("rootKey", &json.root_key)?);
        let sending_chain_key = json
            .sending_chain_key
            .as_deref()
            .map(|t| key32("sendingChainKey", t).map(|k| ChainKey::from_bytes(*k)))
            .transpose()?;
        let receiving_chain_key = json
            .receiving_chain_key
            .as_deref()
            .map(|t| key32("receivingChainKey", t).map(|k| ChainKey::from_bytes(*k)))
            .transpose()?;
        let ratchet_key_pair = match &json.dh_ratchet_key_pair {
            None => None,
            Some(pair) => {
                let secret =
                    SecretKey::from_bytes(*key32("dhRatchetKeyPair.secretKey", &pair.secret_key)?);
                let public =
                    PublicKey::from_base64("dhRatchetKeyPair.publicKey", &pair.public_key)?;
                Some(KeyPair::from_parts(secret, public).ok_or(RatchetJsonError::KeyPairMismatch)?)
            }
        };
        let remote_ratchet_key = json
            .dh_ratchet_remote_key
            .as_deref()
            .map(|t| PublicKey::from_base64("dhRatchetRemoteKey", t))
            .transpose()?;
        let skipped = json
            .skipped_message_keys
            .iter()
            .map(|(name, key)| {
                let bad_name = || RatchetJsonError::SkippedKeyName { name: name.clone() };
                let (ratchet_key, number) = name.rsplit_once(':').ok_or_else(bad_name)?;
                let ratchet_key = PublicKey::from_base64("skippedMessageKeys.key", ratchet_key)
                    .map_err(|_| bad_name())?;
                let number: u32 = number.parse().map_err(|_| bad_name())?;
                let message_key = MessageKey::from_bytes(*key32("skippedMessageKeys.value", key)?);
                Ok(((ratchet_key, number), message_key))
            })
            .collect::<Result<SkippedKeys, RatchetJsonError>>()?;
        Ok(Self {
            root_key,
            sending_chain_key,
            receiving_chain_key,
            ratchet_key_pair,
            remote_ratchet_key,
            sending_chain_length: json.sending_chain_length,
            receiving_chain_length: json.receiving_chain_length,
            previous_sending_chain_length: json.previous_sending_chain_length,
            skipped,
        })
    }
}

impl Serialize for RatchetState {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for RatchetState {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let json = Json::deserialize(deserializer)?;
        Self::from_json(&json).map_err(serde::de::Error::custom)
    }
}
