//! Why a command failed, worded for the person at the terminal.

use std::path::PathBuf;

use quickchat::ClientError;

/// A command's failure. Its `Display` is what the user sees on stderr.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    /// A setting is missing.
    #[error("{0}")]
    Missing(&'static str),
    /// An argument is not acceptable.
    #[error("{0}")]
    Invalid(String),
    /// The store could not be opened.
    #[error("cannot open the store {}: {source}", path.display())]
    OpenStore {
        /// Where.
        path: PathBuf,
        /// Why.
        source: quickchat::Error,
    },
    /// The native client failed.
    #[error(transparent)]
    Native(#[from] quickchat::Error),
    /// A client operation failed.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// A client operation failed, and the command line has a way around it.
    #[error("{source} ({hint})")]
    Hinted {
        /// Why.
        source: ClientError,
        /// What to do.
        hint: &'static str,
    },
    /// No group of the user's has this name or id.
    #[error("no group named {0:?} among your groups")]
    UnknownGroup(String),
    /// Several of the user's groups have this name.
    #[error("{count} of your groups are named {name:?}: use the id of one of them ({ids})")]
    AmbiguousGroup {
        /// The name.
        name: String,
        /// How many.
        count: usize,
        /// Their ids, comma-separated.
        ids: String,
    },
    /// The connection could not be made.
    #[error("could not connect to the server: {0}")]
    Connect(String),
    /// Waiting took too long.
    #[error("timed out waiting for {0}")]
    Timeout(String),
    /// The server refused something.
    #[error("the server refused the message: {0}")]
    Refused(String),
    /// Reading a file failed.
    #[error("cannot read {}: {source}", path.display())]
    ReadFile {
        /// Which file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Writing a file failed.
    #[error("cannot write {}: {source}", path.display())]
    WriteFile {
        /// Which file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Writing the output failed.
    #[error("cannot write the output: {0}")]
    Output(std::io::Error),
    /// The daemon or its socket.
    #[error("{0}")]
    Daemon(String),
    /// The daemon ran the command, and it failed there.
    #[error("{message}")]
    Remote {
        /// The JSON-RPC error code.
        code: i64,
        /// The message.
        message: String,
    },
    /// Something else.
    #[error("{0}")]
    Other(String),
}
