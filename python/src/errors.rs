//! How a failure of the SDK reaches Python: an exception of `quickchat.exceptions` whose
//! `code` is the SDK's stable machine-readable name for the kind of failure (the same names
//! the npm package gives, e.g. `not_logged_in`, `http_401`, `wrong_passphrase`).

use pyo3::PyErr;
use quickchat::quickchat_core::account::AccountError;
use quickchat::quickchat_core::protocol::ApiError;
use quickchat::quickchat_core::session::SessionError;
use quickchat::quickchat_core::store::StoreError;
use quickchat::{ClientError, Error};

pyo3::import_exception!(quickchat.exceptions, WhatsAppClientError);
pyo3::import_exception!(quickchat.exceptions, AuthenticationError);
pyo3::import_exception!(quickchat.exceptions, ValidationError);
pyo3::import_exception!(quickchat.exceptions, ConnectionError);

/// A native client's failure as a Python exception.
pub(crate) fn from_native(error: Error) -> PyErr {
    let code = native_code(&error);
    raise(code, error.to_string())
}

/// A client operation's failure as a Python exception.
pub(crate) fn from_client(error: ClientError) -> PyErr {
    let code = client_code(&error);
    raise(code, error.to_string())
}

/// A `ValidationError` for an argument the binding refuses before calling the SDK.
pub(crate) fn invalid(message: impl Into<String>) -> PyErr {
    raise("invalid_argument".to_string(), message.into())
}

/// The exception class for a code: the caller's mistake, who they are, the network, or the
/// rest.
pub(crate) fn raise(code: String, message: String) -> PyErr {
    match code.as_str() {
        "not_logged_in"
        | "session_expired"
        | "keys_in_use_elsewhere"
        | "refused"
        | "wrong_passphrase"
        | "store_belongs_to_another_user"
        | "account_exists"
        | "http_401"
        | "http_403" => AuthenticationError::new_err((message, code)),
        "invalid_argument"
        | "unknown_user"
        | "fingerprint_mismatch"
        | "http_400"
        | "http_404"
        | "http_409"
        | "http_413" => ValidationError::new_err((message, code)),
        "network" | "not_connected" | "timeout" | "stopped" => {
            ConnectionError::new_err((message, code))
        }
        _ if code.starts_with("http_5") => ConnectionError::new_err((message, code)),
        _ => WhatsAppClientError::new_err((message, code)),
    }
}

fn native_code(error: &Error) -> String {
    match error {
        Error::Client(e) => client_code(e),
        Error::Store(e) => store_code(e).to_string(),
        Error::ServerUrl(_) | Error::Missing(_) => "invalid_argument".into(),
        Error::Timeout(_) => "timeout".into(),
        Error::Stopped(_) => "stopped".into(),
    }
}

fn api_code(error: &ApiError) -> String {
    match error.status() {
        Some(status) => format!("http_{status}"),
        None => "network".into(),
    }
}

fn store_code(error: &StoreError) -> &'static str {
    match error {
        StoreError::WrongPassphrase => "wrong_passphrase",
        StoreError::Corrupt { .. } => "store_corrupt",
        StoreError::InUse { .. } => "store_in_use",
        _ => "store_failed",
    }
}

fn session_code(error: &SessionError) -> &'static str {
    match error {
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
        #[allow(unreachable_patterns)]
        _ => "session",
    }
}

fn client_code(error: &ClientError) -> String {
    match error {
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
