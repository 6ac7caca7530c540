//! Import of the reference client's IndexedDB database `quick-chat-e2ee`.
//!
//! The snapshot is the database dumped as JSON: `{name, version, stores: {<store>: [{key,
//! value}]}}` with the stores `identity`, `metadata`, `signed_prekeys`, `one_time_prekeys`
//! and `sessions` (layout in `tests/data/vectors/web-storage-import.json`). Private keys in
//! it are AES-256-GCM encrypted (`{ciphertext, iv}`, no associated data) under the
//! `masterKey` of the user's `metadata` row. The import reads it and never writes to it.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use serde::Deserialize;
use zeroize::Zeroizing;

use super::ratchet_json::RatchetJsonError;
use crate::encoding::{EncodingError, b64_decode, b64_decode_array};
use crate::envelope::X3dhHeader;
use crate::keys::{
    IdentityKeyPair, KeyPair, OneTimePrekey, PublicKey, SecretKey, SignedPrekey, SigningPublicKey,
    verify_signed_prekey,
};
use crate::ratchet::RatchetState;

/// Why a snapshot cannot be imported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    /// The snapshot is not JSON of the expected layout.
    #[error("web storage snapshot has an unexpected layout: {detail}")]
    Layout {
        /// The parser's explanation.
        detail: String,
    },
    /// No identity row for the user.
    #[error("web storage has no identity for user {user_id}")]
    NoIdentity {
        /// The user asked for.
        user_id: String,
    },
    /// No metadata row (with the master key) for the user.
    #[error("web storage has no metadata (master key) for user {user_id}")]
    NoMasterKey {
        /// The user asked for.
        user_id: String,
    },
    /// A base64 field is malformed.
    #[error("web storage: {0}")]
    Encoding(#[from] EncodingError),
    /// An encrypted field does not open under the master key.
    #[error("web storage: {what} does not decrypt under the stored master key")]
    Decrypt {
        /// Which secret.
        what: String,
    },
    /// A decrypted secret does not match the public key stored beside it.
    #[error("web storage: {what} does not match its stored public key")]
    KeyMismatch {
        /// Which key.
        what: String,
    },
    /// A session's ratchet state cannot be read.
    #[error("web storage: ratchet state of the session with {peer_id}: {source}")]
    RatchetState {
        /// The peer.
        peer_id: String,
        /// The cause.
        source: RatchetJsonError,
    },
}

/// The database dump as the platforms read it.
#[derive(Debug, Clone, Deserialize)]
pub struct WebStorageSnapshot {
    /// Database name (`quick-chat-e2ee`).
    #[serde(default)]
    pub name: String,
    /// Database version.
    #[serde(default)]
    pub version: u32,
    stores: Stores,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct Stores {
    #[serde(default)]
    identity: Vec<Row<IdentityRow>>,
    #[serde(default)]
    metadata: Vec<Row<MetadataRow>>,
    #[serde(default)]
    signed_prekeys: Vec<Row<SignedPrekeyRow>>,
    #[serde(default)]
    one_time_prekeys: Vec<Row<OneTimePrekeyRow>>,
    #[serde(default)]
    sessions: Vec<Row<SessionRow>>,
}

#[derive(Debug, Clone, Deserialize)]
struct Row<T> {
    value: T,
}

#[derive(Clone, Deserialize)]
struct Sealed {
    ciphertext: String,
    iv: String,
}

impl std::fmt::Debug for Sealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealed(..)")
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct IdentityRow {
    user_id: String,
    signing_public_key: String,
    x25519_public_key: String,
    encrypted_seed: Sealed,
    #[serde(default)]
    created_at: Option<i64>,
}

#[derive(Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MetadataRow {
    user_id: String,
    master_key: String,
    #[serde(default)]
    next_prekey_id: Option<u32>,
    #[serde(default)]
    last_signed_prekey_id: Option<u32>,
    #[serde(default)]
    last_upload_at: Option<i64>,
}

impl std::fmt::Debug for MetadataRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetadataRow")
            .field("user_id", &self.user_id)
            .field("master_key", &"<redacted>")
            .finish()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SignedPrekeyRow {
    user_id: String,
    key_id: u32,
    public_key: String,
    signature: String,
    encrypted_secret_key: Sealed,
    #[serde(default)]
    created_at: Option<i64>,
    #[serde(default)]
    uploaded: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OneTimePrekeyRow {
    user_id: String,
    key_id: u32,
    public_key: String,
    encrypted_secret_key: Sealed,
    #[serde(default)]
    uploaded: bool,
    #[serde(default)]
    consumed: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SessionRow {
    user_id: String,
    peer_id: String,
    remote_identity_key: String,
    #[serde(default)]
    remote_signed_prekey: Option<String>,
    #[serde(default)]
    remote_signed_prekey_id: Option<u32>,
    #[serde(default)]
    local_ephemeral_public_key: Option<String>,
    #[serde(default)]
    created_at: Option<i64>,
    #[serde(default)]
    updated_at: Option<i64>,
    ratchet_state: String,
    /// Kept by the reference initiator until its first message carried it.
    #[serde(default)]
    x3dh_data: Option<X3dhDataRow>,
}

/// The reference's pending first-message data (keys as base64, as the snapshot holds
/// them).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct X3dhDataRow {
    local_identity_key: String,
    local_ephemeral_key: String,
    used_signed_prekey_id: u32,
    #[serde(default)]
    used_one_time_prekey_id: Option<u32>,
}

/// Everything of one user the snapshot held, decrypted.
#[derive(Debug, Clone)]
pub struct ImportedAccount {
    /// The user's id.
    pub user_id: String,
    /// The identity key pair.
    pub identity: IdentityKeyPair,
    /// When the identity was made, if recorded.
    pub identity_created_at: Option<i64>,
    /// Signed prekeys, the most recent last.
    pub signed_prekeys: Vec<ImportedSignedPrekey>,
    /// One-time prekeys not yet consumed.
    pub one_time_prekeys: Vec<ImportedOneTimePrekey>,
    /// The next free prekey id.
    pub next_prekey_id: u32,
    /// Id of the current signed prekey, if recorded.
    pub current_signed_prekey_id: Option<u32>,
    /// Time of the last bundle upload, if recorded.
    pub last_upload_at: Option<i64>,
    /// Sessions with peers.
    pub sessions: Vec<ImportedSession>,
}

/// A signed prekey and whether the backend has it.
#[derive(Debug, Clone)]
pub struct ImportedSignedPrekey {
    /// The prekey.
    pub prekey: SignedPrekey,
    /// Whether it was uploaded.
    pub uploaded: bool,
}

/// A one-time prekey and whether the backend has it.
#[derive(Debug, Clone)]
pub struct ImportedOneTimePrekey {
    /// The prekey.
    pub prekey: OneTimePrekey,
    /// Whether it was uploaded.
    pub uploaded: bool,
}

/// A session with a peer.
#[derive(Debug, Clone)]
pub struct ImportedSession {
    /// The peer's user id.
    pub peer_id: String,
    /// The peer's X25519 identity key.
    pub remote_identity_key: PublicKey,
    /// The ratchet state.
    pub ratchet: RatchetState,
    /// For a session this user initiated and has not yet sent on: the `x3dh` block its first
    /// message must carry.
    pub pending_x3dh: Option<X3dhHeader>,
    /// Whether the peer started the session (this user answered its first message).
    pub responded: bool,
    /// For a session this user started: the id of the peer's signed prekey it used.
    pub remote_signed_prekey_id: Option<u32>,
    /// For a session this user answered: the initiator's first ratchet key, which identifies
    /// a replay of the session's first message.
    pub initiator_ratchet_key: Option<PublicKey>,
    /// Creation time, if recorded.
    pub created_at: Option<i64>,
    /// Last update, if recorded.
    pub updated_at: Option<i64>,
}

struct Opener {
    cipher: Aes256Gcm,
}

impl Opener {
    fn open(&self, what: &str, sealed: &Sealed) -> Result<Zeroizing<Vec<u8>>, ImportError> {
        let iv = b64_decode_array::<12>("iv", &sealed.iv)?;
        let ciphertext = b64_decode("ciphertext", &sealed.ciphertext)?;
        self.cipher
            .decrypt(&Nonce::from(iv), ciphertext.as_slice())
            .map(Zeroizing::new)
            .map_err(|_| ImportError::Decrypt {
                what: what.to_string(),
            })
    }

    fn open_32(&self, what: &str, sealed: &Sealed) -> Result<Zeroizing<[u8; 32]>, ImportError> {
        let bytes = self.open(what, sealed)?;
        let array: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| ImportError::Decrypt {
                what: format!("{what} (not 32 bytes)"),
            })?;
        Ok(Zeroizing::new(array))
    }
}

impl WebStorageSnapshot {
    /// Parses a snapshot from its JSON dump.
    pub fn from_json(text: &str) -> Result<Self, ImportError> {
        serde_json::from_str(text).map_err(|e| ImportError::Layout {
            detail: e.to_string(),
        })
    }

    /// Builds a snapshot from an already-parsed JSON value.
    pub fn from_value(value: serde_json::Value) -> Result<Self, ImportError> {
        serde_json::from_value(value).map_err(|e| ImportError::Layout {
            detail: e.to_string(),
        })
    }

    /// The users with an identity in the snapshot.
    pub fn user_ids(&self) -> Vec<String> {
        self.stores
            .identity
            .iter()
            .map(|row| row.value.user_id.clone())
            .collect()
    }

    /// Decrypts and checks everything the snapshot holds for `user_id`.
    pub fn import(&self, user_id: &str) -> Result<ImportedAccount, ImportError> {
        let identity_row = self
            .stores
            .identity
            .iter()
            .map(|row| &row.value)
            .find(|row| row.user_id == user_id)
            .ok_or_else(|| ImportError::NoIdentity {
                user_id: user_id.to_string(),
            })?;
        let metadata = self
            .stores
            .metadata
            .iter()
            .map(|row| &row.value)
            .find(|row| row.user_id == user_id)
            .ok_or_else(|| ImportError::NoMasterKey {
                user_id: user_id.to_string(),
            })?;
        let master_key = Zeroizing::new(b64_decode_array::<32>("masterKey", &metadata.master_key)?);
        let opener = Opener {
            cipher: Aes256Gcm::new(&(*master_key).into()),
        };

        let seed = opener.open_32("identity seed", &identity_row.encrypted_seed)?;
        let identity = IdentityKeyPair::from_seed(*seed);
        let stored_dh = PublicKey::from_base64("x25519PublicKey", &identity_row.x25519_public_key)?;
        let stored_signing =
            SigningPublicKey::from_base64("signingPublicKey", &identity_row.signing_public_key)?;
        if identity.public().dh != stored_dh || identity.public().signing != stored_signing {
            return Err(ImportError::KeyMismatch {
                what: "identity seed".into(),
            });
        }

        let mut signed_prekeys = Vec::new();
        for row in self.stores.signed_prekeys.iter().map(|r| &r.value) {
            if row.user_id != user_id {
                continue;
            }
            let what = format!("signed prekey {}", row.key_id);
            let secret = opener.open_32(&what, &row.encrypted_secret_key)?;
            let public = PublicKey::from_base64("signed_prekeys.publicKey", &row.public_key)?;
            let pair = KeyPair::from_parts(SecretKey::from_bytes(*secret), public)
                .ok_or_else(|| ImportError::KeyMismatch { what: what.clone() })?;
            let signature = b64_decode_array::<64>("signed_prekeys.signature", &row.signature)?;
            let prekey =
                SignedPrekey::from_parts(row.key_id, pair, signature, row.created_at.unwrap_or(0));
            verify_signed_prekey(&identity.public().signing, &prekey.public()).map_err(|_| {
                ImportError::KeyMismatch {
                    what: format!("{what} signature"),
                }
            })?;
            signed_prekeys.push(ImportedSignedPrekey {
                prekey,
                uploaded: row.uploaded,
            });
        }
        signed_prekeys.sort_by_key(|s| (s.prekey.created_at(), s.prekey.id()));

        let mut one_time_prekeys = Vec::new();
        for row in self.stores.one_time_prekeys.iter().map(|r| &r.value) {
            if row.user_id != user_id || row.consumed {
                continue;
            }
            let what = format!("one-time prekey {}", row.key_id);
            let secret = opener.open_32(&what, &row.encrypted_secret_key)?;
            let public = PublicKey::from_base64("one_time_prekeys.publicKey", &row.public_key)?;
            let pair = KeyPair::from_parts(SecretKey::from_bytes(*secret), public)
                .ok_or(ImportError::KeyMismatch { what })?;
            one_time_prekeys.push(ImportedOneTimePrekey {
                prekey: OneTimePrekey::from_parts(row.key_id, pair),
                uploaded: row.uploaded,
            });
        }
        one_time_prekeys.sort_by_key(|p| p.prekey.id());

        let mut sessions = Vec::new();
        for row in self.stores.sessions.iter().map(|r| &r.value) {
            if row.user_id != user_id {
                continue;
            }
            sessions.push(import_session(row, &identity, &signed_prekeys)?);
        }

        let highest_id = signed_prekeys
            .iter()
            .map(|s| s.prekey.id())
            .chain(one_time_prekeys.iter().map(|p| p.prekey.id()))
            .max()
            .unwrap_or(0);
        Ok(ImportedAccount {
            user_id: user_id.to_string(),
            identity,
            identity_created_at: identity_row.created_at,
            current_signed_prekey_id: metadata
                .last_signed_prekey_id
                .or_else(|| signed_prekeys.last().map(|s| s.prekey.id())),
            signed_prekeys,
            one_time_prekeys,
            next_prekey_id: metadata
                .next_prekey_id
                .unwrap_or(0)
                .max(highest_id.saturating_add(1)),
            last_upload_at: metadata.last_upload_at,
            sessions,
        })
    }
}

fn import_session(
    row: &SessionRow,
    identity: &IdentityKeyPair,
    signed_prekeys: &[ImportedSignedPrekey],
) -> Result<ImportedSession, ImportError> {
    let ratchet = RatchetState::from_reference_json(&row.ratchet_state).map_err(|source| {
        ImportError::RatchetState {
            peer_id: row.peer_id.clone(),
            source,
        }
    })?;
    let remote_identity_key =
        PublicKey::from_base64("sessions.remoteIdentityKey", &row.remote_identity_key)?;
    let local_ephemeral = row
        .local_ephemeral_public_key
        .as_deref()
        .map(|k| PublicKey::from_base64("sessions.localEphemeralPublicKey", k))
        .transpose()?;
    let remote_signed_prekey = row
        .remote_signed_prekey
        .as_deref()
        .filter(|k| !k.is_empty())
        .map(|k| PublicKey::from_base64("sessions.remoteSignedPrekey", k))
        .transpose()?;
    // The reference keeps the responder's signed prekey as its "local ephemeral" key and the
    // initiator's first ratchet key as the "remote signed prekey"; an initiator keeps its
    // X3DH ephemeral key and the peer's signed prekey there instead.
    let responded = local_ephemeral.is_some_and(|local| {
        signed_prekeys
            .iter()
            .any(|s| *s.prekey.pair().public() == local)
    });
    let never_sent = ratchet.sending_chain_length() == 0
        && ratchet.previous_sending_chain_length() == 0
        && ratchet.remote_ratchet_key().is_none();
    let recorded_x3dh = row
        .x3dh_data
        .as_ref()
        .map(|data| -> Result<X3dhHeader, ImportError> {
            Ok(X3dhHeader {
                sender_identity_key: PublicKey::from_base64(
                    "sessions.x3dhData.localIdentityKey",
                    &data.local_identity_key,
                )?,
                sender_ephemeral_key: PublicKey::from_base64(
                    "sessions.x3dhData.localEphemeralKey",
                    &data.local_ephemeral_key,
                )?,
                used_signed_prekey_id: data.used_signed_prekey_id,
                used_one_time_prekey_id: data.used_one_time_prekey_id,
            })
        })
        .transpose()?;
    let inferred_x3dh = match (
        responded,
        never_sent,
        local_ephemeral,
        row.remote_signed_prekey_id,
    ) {
        (false, true, Some(ephemeral), Some(spk_id)) => Some(X3dhHeader {
            sender_identity_key: identity.public().dh,
            sender_ephemeral_key: ephemeral,
            used_signed_prekey_id: spk_id,
            used_one_time_prekey_id: None,
        }),
        _ => None,
    };
    // The recorded block is authoritative; without one, a session this user started and
    // never sent on still owes its peer the `x3dh` block.
    let pending_x3dh = recorded_x3dh.or(inferred_x3dh);
    Ok(ImportedSession {
        peer_id: row.peer_id.clone(),
        remote_identity_key,
        ratchet,
        pending_x3dh,
        responded,
        remote_signed_prekey_id: if responded {
            None
        } else {
            row.remote_signed_prekey_id
        },
        initiator_ratchet_key: if responded {
            remote_signed_prekey
        } else {
            None
        },
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}
