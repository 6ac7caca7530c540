//! What a [`Store`](super::Store) holds. Every record is serde-serializable, and the key
//! records also have a compact binary form ([`super::binary`]); records with private keys
//! serialize them in the clear, so platform stores encrypt the serialized form before it is
//! written.

use serde::{Deserialize, Serialize};

use crate::keys::{IdentityKeyPair, OneTimePrekey, PublicKey, SignedPrekey, SigningPublicKey};

/// The account's own identity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdentityRecord {
    /// The user's id on the backend.
    pub user_id: String,
    /// The identity key pair.
    pub identity: IdentityKeyPair,
    /// When it was made, ms.
    pub created_at: i64,
}

/// Account bookkeeping: prekey counters and the saved login.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct AccountMeta {
    /// Next free prekey id (one counter for signed and one-time prekeys, from 1).
    pub next_prekey_id: u32,
    /// Id of the signed prekey currently published.
    pub current_signed_prekey_id: Option<u32>,
    /// Time of the last successful bundle upload, ms.
    pub last_upload_at: Option<i64>,
    /// The backend login in use, so a restarted client can reconnect without the password.
    #[serde(default)]
    pub login: Option<SavedLogin>,
    /// Users this device has dealt with, user id → user name: resolvable without the
    /// server, and the names look-alike names are compared with.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub contacts: std::collections::BTreeMap<String, String>,
    /// When the account was exported to move it elsewhere, ms: a client on this store then
    /// refuses to connect and send until it is re-activated (`crate::archive`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moved_at: Option<i64>,
    /// Where the background directory scan got to (see
    /// [`DirectoryScan`](crate::client::DirectoryScan)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory_scan: Option<ScanProgress>,
}

/// Where the background directory scan got to: kept in the store, so a restarted client
/// continues its pass.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ScanProgress {
    /// The last user id the pass in progress covered (users are scanned in id order);
    /// `None` when no pass is in progress.
    pub after: Option<String>,
    /// When the last complete pass ended, ms.
    pub finished_at: Option<i64>,
}

/// A backend login: who, and the JWT the backend issued (valid 24 h).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SavedLogin {
    /// User id.
    pub user_id: String,
    /// User name.
    pub username: String,
    /// The JWT.
    pub token: String,
    /// When the JWT expires, ms (from its `exp` claim).
    pub expires_at: i64,
}

impl std::fmt::Debug for SavedLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SavedLogin")
            .field("user_id", &self.user_id)
            .field("username", &self.username)
            .field("token", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// A signed prekey and its life cycle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignedPrekeyRecord {
    /// The prekey.
    pub prekey: SignedPrekey,
    /// Whether the backend has it.
    pub uploaded: bool,
    /// When a newer signed prekey replaced it, ms; kept a while for late first messages.
    pub retired_at: Option<i64>,
}

/// A one-time prekey not yet used by a first message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OneTimePrekeyRecord {
    /// The prekey.
    pub prekey: OneTimePrekey,
    /// Whether the backend has it.
    pub uploaded: bool,
}

/// What this device knows about a peer's identity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KnownIdentity {
    /// The peer.
    pub peer_id: String,
    /// The peer's current X25519 identity key.
    pub identity_key: PublicKey,
    /// The peer's signing key, when known from a bundle.
    pub signing_key: Option<SigningPublicKey>,
    /// When this key was first seen, ms.
    pub first_seen: i64,
    /// Whether the user verified this key (fingerprint compared).
    pub verified: bool,
    /// Set when the key of a *verified* peer changed: the key it replaced. Sending to the
    /// peer is blocked until the user accepts or verifies the new key.
    pub unaccepted_change_from: Option<PublicKey>,
}

/// A conversation: with one peer, or in a group.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "lowercase")]
pub enum Conversation {
    /// 1:1 with the user of this id.
    Direct(String),
    /// In the group of this id.
    Group(String),
}

/// Which way a message went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Received.
    Incoming,
    /// Sent by this account.
    Outgoing,
}

/// Where a message stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageStatus {
    /// Written locally, not yet accepted by the backend (the outbox).
    Pending,
    /// Stored by the backend.
    Sent,
    /// Relayed to the recipient.
    Delivered,
    /// Read by the recipient.
    Read,
    /// Given up on.
    Failed,
}

/// What a message holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContentKind {
    /// Text.
    Text,
    /// An image (data URL).
    Image,
    /// A group system message.
    System,
}

/// A message in local history, decrypted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageRecord {
    /// Message id (the backend's).
    pub id: String,
    /// The conversation it belongs to.
    pub conversation: Conversation,
    /// Sender's user id.
    pub sender_id: String,
    /// Which way it went.
    pub direction: Direction,
    /// The text (plaintext, also for messages that travelled encrypted).
    pub body: String,
    /// Text, image or system.
    pub kind: ContentKind,
    /// Image data URL.
    pub image_data: Option<String>,
    /// Time, ms (the backend's once known).
    pub timestamp: i64,
    /// Delivery status.
    pub status: MessageStatus,
    /// Whether it travelled end-to-end encrypted.
    pub encrypted: bool,
    /// When the recipient read it, ms.
    pub read_at: Option<i64>,
    /// For an outgoing message not yet accepted: the exact content to send, so a retry
    /// sends the same bytes instead of encrypting again. For an incoming message that could
    /// not be decrypted: the content as received, kept so nothing is lost.
    pub wire: Option<String>,
    /// Why an incoming encrypted message could not be decrypted (its `body` is empty then).
    #[serde(default)]
    pub decrypt_error: Option<String>,
}

/// A history query. Results come oldest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MessageQuery {
    /// Only this conversation.
    pub conversation: Option<Conversation>,
    /// Only messages strictly older than this time, ms.
    pub before: Option<i64>,
    /// With `before`: also messages at exactly that time whose id sorts before this one, so
    /// that `(before, before_id)` taken from the oldest message of a page is a cursor that
    /// misses nothing, even when several messages share a millisecond.
    pub before_id: Option<String>,
    /// At most this many (the newest ones that match).
    pub limit: Option<usize>,
    /// Only messages with this status.
    pub status: Option<MessageStatus>,
    /// Only messages whose body contains this text (case-insensitive).
    pub text: Option<String>,
}

impl MessageQuery {
    /// Whether `record` matches every condition but the limit.
    pub fn matches(&self, record: &MessageRecord) -> bool {
        self.conversation
            .as_ref()
            .is_none_or(|c| *c == record.conversation)
            && self.before.is_none_or(|t| {
                record.timestamp < t
                    || (record.timestamp == t
                        && self.before_id.as_ref().is_some_and(|id| record.id < *id))
            })
            && self.status.is_none_or(|s| s == record.status)
            && self
                .text
                .as_ref()
                .is_none_or(|t| record.body.to_lowercase().contains(&t.to_lowercase()))
    }
}
