//! How a failure of the SDK reaches Python: an exception of `quickchat.exceptions` whose
//! `code` is the SDK's stable machine-readable name for the kind of failure (the same names
//! the npm package gives, e.g. `not_logged_in`, `http_401`, `wrong_passphrase`: core's
//! `code()`).

use pyo3::PyErr;
use quickchat::{ClientError, Error};

pyo3::import_exception!(quickchat.exceptions, WhatsAppClientError);
pyo3::import_exception!(quickchat.exceptions, AuthenticationError);
pyo3::import_exception!(quickchat.exceptions, ValidationError);
pyo3::import_exception!(quickchat.exceptions, ConnectionError);

/// A native client's failure as a Python exception.
pub(crate) fn from_native(error: Error) -> PyErr {
    raise(error.code().into_owned(), error.to_string())
}

/// A client operation's failure as a Python exception.
pub(crate) fn from_client(error: ClientError) -> PyErr {
    raise(error.code().into_owned(), error.to_string())
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
        | "invalid_server_url"
        | "missing_setting"
        | "archive_damaged"
        | "archive_too_new"
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
