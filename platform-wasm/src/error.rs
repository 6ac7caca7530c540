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
use quickchat_core::session::{DeviceError, SessionError};
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
    /// The web client's database holds no keys for the user whose account was to be
    /// exported (or there is no such database).
    #[cfg(feature = "client")]
    #[error("the web client's database {database} holds no keys for user {user_id}")]
    NoWebClientAccount {
        /// The database read.
        database: String,
        /// The user asked for.
        user_id: String,
    },
    /// JavaScript the SDK called failed (the importer module, loaded apart; the package's
    /// fetch of a bundle): its message and code as they came, so the application sees the
    /// error that code raised.
    #[error("{message}")]
    Reported {
        /// The error's message.
        message: String,
        /// Its `code` (`import_failed` or `network` when it had none).
        code: String,
    },
}

impl Error {
    /// A stable, machine-readable name for the kind of failure (core's codes for core's
    /// errors, see `quickchat_core`'s `code()` methods).
    pub fn code(&self) -> String {
        let code = match self {
            Error::Client(e) => return e.code().into_owned(),
            Error::Api(e) => return e.code().into_owned(),
            Error::Store(e) => e.code(),
            Error::Session(e) => e.code(),
            Error::Import(e) => e.code(),
            Error::Account(e) => e.code(),
            Error::Prekeys(e) => e.code(),
            Error::Transport(e) => e.code(),
            Error::Encoding(e) => e.code(),
            Error::SessionNetwork { .. } => "network",
            Error::PeerHasNoKeys { .. } => "peer_has_no_keys",
            Error::Invalid { .. } => "invalid_argument",
            Error::NotInitialized(_) => "not_initialized",
            Error::Unsupported(_) => "unsupported",
            Error::Timeout(_) => "timeout",
            Error::Stopped(_) => "stopped",
            #[cfg(feature = "client")]
            Error::NoWebClientAccount { .. } => "not_initialized",
            Error::Reported { code, .. } => return code.clone(),
        };
        code.to_string()
    }

    /// An [`Error::Reported`] from what the importer module threw or rejected with.
    pub(crate) fn reported(thrown: &JsValue) -> Self {
        Self::reported_as(thrown, "import_failed")
    }

    /// An [`Error::Reported`] from what JavaScript threw, with `code` when it named none.
    pub(crate) fn reported_as(thrown: &JsValue, code: &str) -> Self {
        let text = |name| crate::realm::field(thrown, name).as_string();
        Error::Reported {
            message: text("message").unwrap_or_else(|| crate::transport::js_error_text(thrown)),
            code: text("code").unwrap_or_else(|| code.into()),
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

/// The drop-in's device is closed only before `KeyManager.initialize()`.
impl From<DeviceError> for Error {
    fn from(e: DeviceError) -> Self {
        match e {
            DeviceError::Closed => Error::NotInitialized("KeyManager"),
            DeviceError::Session(e) => Error::Session(e),
        }
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
