//! Error types: [`ServerError`] for the public API, [`DbError`] for the database layer, and
//! the crate-internal `ApiError`, which is how a REST handler fails (an HTTP status plus the
//! backend's `{"error": "..."}` body).

use std::borrow::Cow;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::http::json_response;
use crate::json::json_object;

/// Why starting, stopping or administering a [`TestServer`](crate::TestServer) failed.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The listening socket could not be bound (port taken, address not local...).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The operating system's reason.
        source: io::Error,
    },
    /// The temporary directory for a throw-away database could not be made.
    #[error("cannot create a temporary database directory: {0}")]
    TempDir(#[source] io::Error),
    /// The database could not be opened or a statement on it failed.
    #[error("database {path}: {source}")]
    Database {
        /// The database file.
        path: PathBuf,
        /// What went wrong.
        source: DbError,
    },
    /// The operating system could not provide randomness for the JWT secret.
    #[error("cannot draw a random JWT secret: {0}")]
    Random(getrandom::Error),
    /// [`make_admin`](crate::TestServer::make_admin) was given a user name nobody has.
    #[error("no user is named {0:?}")]
    UnknownUser(String),
}

/// A failure of the database layer.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// SQLite refused a statement (constraint, I/O, corrupt file...).
    #[error("{0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The database thread has stopped (the server is shutting down).
    #[error("the database is closed")]
    Closed,
    /// The database thread could not be started.
    #[error("cannot start the database thread: {0}")]
    Thread(#[source] io::Error),
}

/// How a REST handler fails: each variant is one status code of the backend, and its
/// message is the `error` string the backend sends with it.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    /// 400.
    #[error("{0}")]
    BadRequest(&'static str),
    /// 400: a body field over its cap (see [`crate::limits`]); not a backend answer, the
    /// backend has no caps.
    #[error("{field} must be at most {max} characters")]
    FieldTooLong {
        /// The member name, or a description of the kind of field.
        field: &'static str,
        /// Its cap, in UTF-16 code units.
        max: usize,
    },
    /// 401 `Unauthorized`: no or no valid credentials.
    #[error("Unauthorized")]
    Unauthorized,
    /// 401 on login: unknown user or wrong password (the backend does not say which).
    #[error("Invalid username or password")]
    BadCredentials,
    /// 403.
    #[error("{0}")]
    Forbidden(&'static str),
    /// 404 with a JSON body (unknown paths get the plain-text 404 instead).
    #[error("{0}")]
    NotFound(&'static str),
    /// 409.
    #[error("{0}")]
    Conflict(&'static str),
    /// 500: the body is not JSON; the message is the parser's.
    #[error("{0}")]
    InvalidJson(String),
    /// 500: anything else that went wrong, with its message, as the backend's catch-all does.
    #[error("{0}")]
    Internal(Cow<'static, str>),
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) | ApiError::FieldTooLong { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized | ApiError::BadCredentials => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::InvalidJson(_) | ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<DbError> for ApiError {
    fn from(err: DbError) -> Self {
        ApiError::Internal(Cow::Owned(err.to_string()))
    }
}

impl From<rusqlite::Error> for ApiError {
    fn from(err: rusqlite::Error) -> Self {
        ApiError::from(DbError::from(err))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::warn!(error = %self, "request failed");
        }
        json_response(status, &json_object! { "error" => self.to_string() })
    }
}
