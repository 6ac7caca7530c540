//! The client's error type.

use crate::account::AccountError;
use crate::archive::ArchiveError;
use crate::encoding::EncodingError;
use crate::prekey_care::PrekeyCareError;
use crate::protocol::ApiError;
use crate::session::{DeviceError, SessionError};
use crate::store::StoreError;
use crate::transport::TransportError;

/// Why a client operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// A REST call failed (network, or an error answer with the backend's message).
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The WebSocket failed.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// Local storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A session operation failed.
    #[error(transparent)]
    Session(#[from] SessionError),
    /// Making or importing the account's keys failed.
    #[error(transparent)]
    Account(#[from] AccountError),
    /// Prekey upkeep failed.
    #[error(transparent)]
    Prekeys(#[from] PrekeyCareError),
    /// A key from the backend is malformed.
    #[error("the backend sent a malformed key: {0}")]
    Encoding(#[from] EncodingError),
    /// Nobody is logged in.
    #[error("not logged in: register or log in first")]
    NotLoggedIn,
    /// The login expired and cannot be renewed (no password kept): log in again.
    #[error("the login expired: log in again")]
    SessionExpired,
    /// The WebSocket is not connected (typing indicators and the like are not queued).
    #[error("not connected")]
    NotConnected,
    /// The peer has published no keys, and plaintext is not allowed for it.
    #[error(
        "{peer_id} has no encryption keys on the server; allow plaintext for this peer to send anyway"
    )]
    PeerHasNoKeys {
        /// The peer.
        peer_id: String,
    },
    /// No user has this name or id.
    #[error("no user with the name or id {}", crate::quoted::Quoted(name))]
    UnknownUser {
        /// The name asked for.
        name: String,
    },
    /// The store holds another user's keys.
    #[error("this store holds the keys of user {user_id}; use another store for another account")]
    StoreBelongsToAnotherUser {
        /// The owner.
        user_id: String,
    },
    /// The account publishes another device's identity key (or keys this store does not
    /// have): logging in here would replace them.
    #[error(
        "{username} is in use on another device: the server publishes its identity key \
         {published_fingerprint}, {}. Logging in here would replace that device's keys: \
         its sessions would break, it could no longer decrypt what its peers send it, and \
         its peers would see an identity change, until it resets its own keys. Replace \
         them only if that device is gone",
        if *this_store_has_keys { "not this store's" } else { "and this store has no keys yet" }
    )]
    KeysInUseElsewhere {
        /// The account.
        username: String,
        /// The fingerprint of the identity key the backend publishes (grouped form).
        published_fingerprint: String,
        /// Whether this store holds keys of this account (other ones) at all.
        this_store_has_keys: bool,
    },
    /// The backend refused the login on the WebSocket (the user no longer exists).
    #[error("the server refused the login: {message}")]
    Refused {
        /// The backend's message.
        message: String,
    },
    /// An argument is not acceptable.
    #[error("invalid {what}: {why}")]
    InvalidInput {
        /// Which argument.
        what: &'static str,
        /// What is wrong.
        why: String,
    },
    /// The call that was sending this message along with its own was cancelled before it
    /// finished; the message may be in the outbox (it then goes out on the next flush).
    #[error("sending was interrupted; the message may wait in the outbox")]
    Interrupted,
    /// [`Client::run`](super::Client::run) is already running.
    #[error("the connection loop is already running")]
    AlreadyRunning,
    /// The store's account was exported to be used elsewhere: this store neither connects
    /// nor sends until [`Client::reactivate_account`](super::Client::reactivate_account).
    #[error(
        "this store's account was exported at {moved_at} (ms) to be used elsewhere; \
         re-activate it here only if it is no longer used there"
    )]
    AccountMoved {
        /// When it was exported, ms.
        moved_at: i64,
    },
    /// Exporting or importing the account failed.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
}

impl From<DeviceError> for ClientError {
    fn from(e: DeviceError) -> Self {
        match e {
            DeviceError::Closed => ClientError::NotLoggedIn,
            DeviceError::Session(e) => ClientError::Session(e),
        }
    }
}

impl ClientError {
    /// Whether the error is the backend answering `status`.
    pub fn is_status(&self, status: u16) -> bool {
        matches!(self, ClientError::Api(e) if e.status() == Some(status))
    }

    /// Whether the server could not be reached or the connection failed (as opposed to
    /// the server answering with an error): what working offline is for.
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            ClientError::Api(crate::protocol::ApiError::Transport(_)) | ClientError::Transport(_)
        )
    }
}
