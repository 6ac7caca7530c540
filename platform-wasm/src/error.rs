//! The crate's error type and how it reaches JavaScript.
//!
//! Every failure becomes a JavaScript `Error` whose `message` says what went wrong, whose
//! `name` is `"QuickChatError"`, and whose `code` is a stable machine-readable string (for
//! example `"wrong_passphrase"`, `"not_logged_in"`, `"http_404"`), so applications can react
//! to a kind of failure without parsing messages. Secrets never appear in messages.

use quickchat_core::account::AccountError;
use quickchat_core::client::ClientError;
use quickchat_core::encoding::EncodingError;
use quickchat_core::prekey_care::PrekeyCareError;
use quickchat_core::protocol::ApiError;
use quickchat_core::reference::ImportError;
use quickchat_core::session::SessionError;
use quickchat_core::store::StoreError;
use quickchat_core::transport::TransportError;
use wasm_bindgen::JsValue;

/// Why an operation of the browser SDK failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A client operation failed.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The store failed (wrong passphrase, damaged data, IndexedDB refused).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A session operation (encrypt, decrypt, start) failed.
    #[error(transparent)]
    Session(#[from] SessionError),
    /// The reference web client's data could not be imported.
    #[error(transparent)]
    Import(#[from] ImportError),
    /// Making or importing the account's keys failed.
    #[error(transparent)]
    Account(#[from] AccountError),
    /// Prekey upkeep failed.
    #[error(transparent)]
    Prekeys(#[from] PrekeyCareError),
    /// A REST call failed.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The network failed.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// A session could not be started: fetching the peer's bundle failed in the network
    /// (the message begins as the web client's, which applications match on).
    #[error("Network error while establishing encrypted session with {peer_id}: {detail}")]
    SessionNetwork {
        /// The peer.
        peer_id: String,
        /// What the network said.
        detail: String,
    },
    /// A session could not be started: the server has no keys for the peer.
    #[error("{peer_id} has no prekey bundle on the server (it has not set up encryption)")]
    PeerHasNoKeys {
        /// The peer.
        peer_id: String,
    },
    /// A key or signature is malformed.
    #[error("malformed key: {0}")]
    Encoding(#[from] EncodingError),
    /// An argument is not acceptable.
    #[error("invalid {what}: {why}")]
    Invalid {
        /// Which argument.
        what: &'static str,
        /// What is wrong with it.
        why: String,
    },
    /// The object was used before `initialize()` finished, or after it was closed.
    #[error("{0} is not initialized: call and await initialize() first")]
    NotInitialized(&'static str),
    /// The environment lacks something the operation needs.
    #[error("unsupported environment: {0}")]
    Unsupported(String),
    /// Waiting took too long.
    #[error("timed out waiting for {0}")]
    Timeout(&'static str),
    /// The connection loop stopped for good.
    #[error("the connection stopped: {0}")]
    Stopped(String),
    /// JavaScript the SDK called failed (the importer module, loaded apart): its message and
    /// code as they came, so the application sees the error that module raised.
    #[error("{message}")]
    Reported {
        /// The error's message.
        message: String,
        /// Its `code` (`import_failed` when it had none).
        code: String,
    },
}

impl Error {
    /// A stable, machine-readable name for the kind of failure.
    pub fn code(&self) -> String {
        match self {
            Error::Client(e) => client_code(e),
            Error::Store(e) => store_code(e).to_string(),
            Error::Session(e) => session_code(e).to_string(),
            Error::Import(_) => "import_failed".into(),
            Error::Account(AccountError::AlreadyExists { .. }) => "account_exists".into(),
            Error::Account(AccountError::NoAccount) => "not_initialized".into(),
            Error::Account(AccountError::Store(e)) => store_code(e).to_string(),
            Error::Prekeys(_) => "prekeys".into(),
            Error::Api(e) => api_code(e),
            Error::Transport(_) => "network".into(),
            Error::SessionNetwork { .. } => "network".into(),
            Error::PeerHasNoKeys { .. } => "peer_has_no_keys".into(),
            Error::Encoding(_) => "malformed_key".into(),
            Error::Invalid { .. } => "invalid_argument".into(),
            Error::NotInitialized(_) => "not_initialized".into(),
            Error::Unsupported(_) => "unsupported".into(),
            Error::Timeout(_) => "timeout".into(),
            Error::Stopped(_) => "stopped".into(),
            Error::Reported { code, .. } => code.clone(),
        }
    }

    /// An [`Error::Reported`] from what the importer module threw or rejected with.
    pub(crate) fn reported(thrown: &JsValue) -> Self {
        let text = |name| crate::realm::field(thrown, name).as_string();
        Error::Reported {
            message: text("message").unwrap_or_else(|| crate::transport::js_error_text(thrown)),
            code: text("code").unwrap_or_else(|| "import_failed".into()),
        }
    }

    /// An [`Error::Invalid`].
    pub(crate) fn invalid(what: &'static str, why: impl Into<String>) -> Self {
        Error::Invalid {
            what,
            why: why.into(),
        }
    }
}

fn api_code(e: &ApiError) -> String {
    match e.status() {
        Some(status) => format!("http_{status}"),
        None => "network".into(),
    }
}

fn store_code(e: &StoreError) -> &'static str {
    match e {
        StoreError::WrongPassphrase => "wrong_passphrase",
        StoreError::Corrupt { .. } => "store_corrupt",
        StoreError::InUse { .. } => "store_in_use",
        StoreError::Backend { .. } => "store_failed",
        #[allow(unreachable_patterns)]
        _ => "store_failed",
    }
}

fn session_code(e: &SessionError) -> &'static str {
    match e {
        SessionError::Store(e) => store_code(e),
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

fn client_code(e: &ClientError) -> String {
    match e {
        ClientError::Api(e) => api_code(e),
        ClientError::Transport(_) => "network".into(),
        ClientError::Store(e) => store_code(e).into(),
        ClientError::Session(e) => session_code(e).into(),
        ClientError::Account(AccountError::AlreadyExists { .. }) => "account_exists".into(),
        ClientError::Account(AccountError::NoAccount) => "not_initialized".into(),
        ClientError::Account(AccountError::Store(e)) => store_code(e).into(),
        ClientError::Prekeys(_) => "prekeys".into(),
        ClientError::Encoding(_) => "malformed_key".into(),
        ClientError::NotLoggedIn => "not_logged_in".into(),
        ClientError::SessionExpired => "session_expired".into(),
        ClientError::NotConnected => "not_connected".into(),
        ClientError::PeerHasNoKeys { .. } => "peer_has_no_keys".into(),
        ClientError::KeysInUseElsewhere { .. } => "keys_in_use_elsewhere".into(),
        ClientError::UnknownUser { .. } => "unknown_user".into(),
        ClientError::StoreBelongsToAnotherUser { .. } => "store_belongs_to_another_user".into(),
        ClientError::Refused { .. } => "refused".into(),
        ClientError::InvalidInput { .. } => "invalid_argument".into(),
        ClientError::Interrupted => "interrupted".into(),
        ClientError::AlreadyRunning => "already_running".into(),
        #[allow(unreachable_patterns)]
        _ => "client".into(),
    }
}

impl From<Error> for JsValue {
    fn from(error: Error) -> JsValue {
        let js = js_sys::Error::new(&error.to_string());
        js.set_name("QuickChatError");
        // Setting a property on a fresh Error object cannot fail.
        let _ = js_sys::Reflect::set(&js, &"code".into(), &error.code().into());
        js.into()
    }
}

/// The result type of the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
