//! The native client: core's client logic over reqwest, tokio-tungstenite, redb and tokio.
//!
//! [`Client`] owns the connection task and forwards every operation of core's client. What
//! only the native client has is in `builder`, `connection` and `events`; core's operations
//! are forwarded by subject as core groups them (`account`, `messaging`, `history`,
//! `groups`, `directory`, `trust`, `admin`); this file holds the types and the accessors.

// The client's own parts, then core's operations by subject (rustdoc lists the methods in
// this order).
mod builder;
mod connection;
mod events;

mod account;
mod admin;
mod directory;
mod groups;
mod history;
mod messaging;
mod moving;
mod trust;

use std::sync::{Arc, Mutex};

use quickchat_core::client::{ClientConfig, ClientError, CurrentUser};
use quickchat_core::protocol::Api;
use quickchat_core::rand_core::UnwrapErr;
use quickchat_core::store::{Store, StoreError};
use tokio::task::JoinHandle;

pub use builder::ClientBuilder;

use crate::clock::TokioClock;
use crate::transport::{NativeTransport, ServerUrlError};

/// The operating system's random source (a failure of it aborts the operation with a
/// panic: there is no safe way to go on without randomness).
pub type SystemRng = UnwrapErr<getrandom::SysRng>;

/// Core's client with the native platform's parts.
pub type CoreClient =
    quickchat_core::client::Client<NativeTransport, Box<dyn Store>, TokioClock, SystemRng>;

/// Why the native client failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A client operation failed.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// Opening the store failed (wrong passphrase, damaged file, …).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The server URL is not usable.
    #[error(transparent)]
    ServerUrl(#[from] ServerUrlError),
    /// The builder lacks a setting.
    #[error("missing setting: {0}")]
    Missing(&'static str),
    /// Waiting for something took too long.
    #[error("timed out waiting for {0}")]
    Timeout(&'static str),
    /// The connection loop stopped for good.
    #[error("the connection stopped: {0}")]
    Stopped(String),
}

impl Error {
    /// A stable, machine-readable name for the kind of failure: core's code for core's
    /// errors (see [`ClientError::code`]), and `invalid_server_url`, `missing_setting`,
    /// `timeout`, `stopped` for the native client's own.
    pub fn code(&self) -> std::borrow::Cow<'static, str> {
        match self {
            Error::Client(e) => e.code(),
            Error::Store(e) => e.code().into(),
            Error::ServerUrl(_) => "invalid_server_url".into(),
            Error::Missing(_) => "missing_setting".into(),
            Error::Timeout(_) => "timeout".into(),
            Error::Stopped(_) => "stopped".into(),
        }
    }
}

struct Inner {
    core: CoreClient,
    task: Mutex<Option<JoinHandle<Result<(), ClientError>>>>,
}

impl Inner {
    fn lock_task(&self) -> std::sync::MutexGuard<'_, Option<JoinHandle<Result<(), ClientError>>>> {
        self.task
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Held by every user-facing clone (the background task holds only `Inner`): when the
/// last clone goes, the connection task is stopped, so dropping a client never leaves a
/// socket and an open store behind.
struct Owner {
    inner: Arc<Inner>,
}

impl Drop for Owner {
    fn drop(&mut self) {
        if let Some(task) = self.inner.lock_task().take() {
            task.abort();
        }
    }
}

/// A Quick Chat client for native Rust (bots, services, tools). Cheap to clone: clones
/// share one connection and store. Dropping the last clone stops the connection;
/// [`Client::close`] does it and waits.
///
/// Its operations are core's client's ([`CoreClient`]), which it forwards, plus what only
/// a native process has: a background connection task ([`Client::connect`],
/// [`Client::connect_and_wait`], [`Client::close`]) and event handlers on tokio tasks
/// ([`Client::on_event`], [`Client::on_message`], [`Client::on_group_message`]).
/// [`Client::core`] gives core's client itself, for code written against it.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
    _owner: Arc<Owner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.core.fmt(f)
    }
}

impl Client {
    /// Core's client, which this one forwards to: for code written against
    /// [`quickchat_core::client::Client`] (generic over platforms). Its `run` and
    /// `logout` do not know this client's background task: prefer [`Client::connect`],
    /// [`Client::close`] and [`Client::logout`].
    pub fn core(&self) -> &CoreClient {
        &self.inner.core
    }

    /// The signed-in user, if any.
    pub fn current_user(&self) -> Option<CurrentUser> {
        self.core().current_user()
    }

    /// The settings.
    pub fn config(&self) -> &ClientConfig {
        self.core().config()
    }

    /// The store (the redb file, or memory).
    // Core's signature, so that code calling `store()` through the former `Deref` compiles
    // unchanged (`&dyn Store` would make its `use Store` unused).
    #[allow(clippy::borrowed_box)]
    pub fn store(&self) -> &Box<dyn Store> {
        self.core().store()
    }

    /// The REST API, for calls this client does not wrap.
    pub fn api(&self) -> &Api<NativeTransport> {
        self.core().api()
    }
}
