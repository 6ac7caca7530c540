//! Stable, machine-readable codes for every error of the SDK (`"wrong_passphrase"`,
//! `"http_404"`, `"peer_has_no_keys"`…), so applications and the language bindings can react
//! to a kind of failure without parsing messages.
//!
//! Every match here is exhaustive on purpose: a new variant does not compile until it is given
//! a code, instead of silently getting a generic one. The codes are part of the public API
//! (the npm package and the Python package expose them): change one only with a major version.

use std::borrow::Cow;

use crate::account::AccountError;
use crate::client::ClientError;
use crate::encoding::EncodingError;
use crate::prekey_care::PrekeyCareError;
use crate::protocol::ApiError;
use crate::reference::ImportError;
use crate::session::{DeviceError, SessionError};
use crate::store::StoreError;
use crate::transport::TransportError;

impl StoreError {
    /// The stable code of this kind of failure.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::WrongPassphrase => "wrong_passphrase",
            StoreError::Corrupt { .. } => "store_corrupt",
            StoreError::InUse { .. } => "store_in_use",
            StoreError::Backend { .. } => "store_failed",
        }
    }
}

impl SessionError {
    /// The stable code of this kind of failure.
    pub fn code(&self) -> &'static str {
        match self {
            SessionError::Store(e) => e.code(),
            SessionError::NoIdentity => "no_identity",
            SessionError::NoSession { .. } => "no_session",
            SessionError::X3dh { .. } => "invalid_bundle",
            SessionError::Envelope { .. } => "malformed_message",
            SessionError::Decrypt { .. } | SessionError::NotText { .. } => "decrypt_failed",
            SessionError::Encrypt { .. } => "encrypt_failed",
            SessionError::UnknownSignedPrekey { .. } => "unknown_signed_prekey",
            SessionError::UnknownOneTimePrekey { .. } => "unknown_one_time_prekey",
            SessionError::UnacceptedIdentityChange { .. } => "identity_change_not_accepted",
            SessionError::UnknownPeer { .. } => "unknown_peer",
            SessionError::Cooling { .. } => "peer_cooling",
        }
    }
}

impl DeviceError {
    /// The stable code of this kind of failure.
    pub fn code(&self) -> &'static str {
        match self {
            DeviceError::Closed => "not_initialized",
            DeviceError::Session(e) => e.code(),
        }
    }
}

impl AccountError {
    /// The stable code of this kind of failure.
    pub fn code(&self) -> &'static str {
        match self {
            AccountError::Store(e) => e.code(),
            AccountError::AlreadyExists { .. } => "account_exists",
            AccountError::NoAccount => "not_initialized",
        }
    }
}

impl PrekeyCareError {
    /// The stable code of this kind of failure.
    pub fn code(&self) -> &'static str {
        match self {
            PrekeyCareError::Store(e) => e.code(),
            PrekeyCareError::NoIdentity | PrekeyCareError::NoSignedPrekey => "prekeys",
        }
    }
}

impl TransportError {
    /// The stable code of this kind of failure: every network failure is `"network"`.
    pub fn code(&self) -> &'static str {
        match self {
            TransportError::Connect { .. }
            | TransportError::Io { .. }
            | TransportError::Closed
            | TransportError::ResponseTooLarge { .. }
            | TransportError::Timeout { .. } => "network",
        }
    }
}

impl EncodingError {
    /// The stable code of this kind of failure.
    pub fn code(&self) -> &'static str {
        match self {
            EncodingError::InvalidBase64 { .. } | EncodingError::WrongLength { .. } => {
                "malformed_key"
            }
        }
    }
}

impl ImportError {
    /// The stable code of this kind of failure: every import failure is `"import_failed"`
    /// (the message says which part of the reference client's data is at fault).
    pub fn code(&self) -> &'static str {
        match self {
            ImportError::Layout { .. }
            | ImportError::NoIdentity { .. }
            | ImportError::NoMasterKey { .. }
            | ImportError::Encoding(_)
            | ImportError::Decrypt { .. }
            | ImportError::KeyMismatch { .. }
            | ImportError::RatchetState { .. } => "import_failed",
        }
    }
}

impl ApiError {
    /// The stable code of this kind of failure: `http_<status>` for an error answer
    /// (`"http_404"`), `"network"` when no answer came, `"bad_answer"` for an answer that is
    /// not what the endpoint returns.
    pub fn code(&self) -> Cow<'static, str> {
        match self {
            ApiError::Status { status, .. } => Cow::Owned(format!("http_{status}")),
            ApiError::Transport(e) => Cow::Borrowed(e.code()),
            ApiError::Decode { .. } => Cow::Borrowed("bad_answer"),
        }
    }
}

impl ClientError {
    /// The stable code of this kind of failure.
    pub fn code(&self) -> Cow<'static, str> {
        let code = match self {
            ClientError::Api(e) => return e.code(),
            ClientError::Transport(e) => e.code(),
            ClientError::Store(e) => e.code(),
            ClientError::Session(e) => e.code(),
            ClientError::Account(e) => e.code(),
            ClientError::Prekeys(e) => e.code(),
            ClientError::Encoding(e) => e.code(),
            ClientError::NotLoggedIn => "not_logged_in",
            ClientError::SessionExpired => "session_expired",
            ClientError::NotConnected => "not_connected",
            ClientError::PeerHasNoKeys { .. } => "peer_has_no_keys",
            ClientError::KeysInUseElsewhere { .. } => "keys_in_use_elsewhere",
            ClientError::UnknownUser { .. } => "unknown_user",
            ClientError::StoreBelongsToAnotherUser { .. } => "store_belongs_to_another_user",
            ClientError::Refused { .. } => "refused",
            ClientError::InvalidInput { .. } => "invalid_argument",
            ClientError::Interrupted => "interrupted",
            ClientError::AlreadyRunning => "already_running",
            ClientError::AccountMoved { .. } => "account_moved",
            ClientError::Archive(e) => e.code(),
        };
        Cow::Borrowed(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_wrap_through_layers() {
        let store = StoreError::WrongPassphrase;
        assert_eq!(store.code(), "wrong_passphrase");
        assert_eq!(ClientError::Store(store.clone()).code(), "wrong_passphrase");
        assert_eq!(
            ClientError::Session(SessionError::Store(store.clone())).code(),
            "wrong_passphrase"
        );
        assert_eq!(
            ClientError::Account(AccountError::Store(store)).code(),
            "wrong_passphrase"
        );
        let status = ApiError::Status {
            method: "GET",
            path: "/api/users/:id/prekeys",
            status: 404,
            message: "not found".into(),
        };
        assert_eq!(ClientError::Api(status).code(), "http_404");
        let offline = ApiError::Transport(TransportError::Closed);
        assert_eq!(ClientError::Api(offline).code(), "network");
        assert!(ClientError::Api(offline_decode()).code() == "bad_answer");
    }

    fn offline_decode() -> ApiError {
        ApiError::Decode {
            method: "GET",
            path: "/api/users",
            detail: "expected an array".into(),
        }
    }
}
