//! The native client: core's client logic over reqwest, tokio-tungstenite, redb and tokio.

use std::future::Future;
use std::ops::Deref;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use quickchat_core::client::{ClientConfig, ClientError, Event, EventStream};
use quickchat_core::rand_core::UnwrapErr;
use quickchat_core::store::{MemoryStore, MessageRecord, Store, StoreError};
use tokio::task::JoinHandle;

use crate::clock::TokioClock;
use crate::store::{RedbStore, StoreOptions};
use crate::timeouts::NetworkTimeouts;
use crate::transport::{NativeTransport, ServerUrlError};

/// How long [`Client::close`] lets the connection loop stop by itself.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

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

enum StoreChoice {
    File(PathBuf),
    Memory,
}

/// Builds a [`Client`].
pub struct ClientBuilder {
    server: Option<String>,
    websocket_url: Option<String>,
    store: StoreChoice,
    passphrase: Option<String>,
    options: StoreOptions,
    config: ClientConfig,
    timeouts: NetworkTimeouts,
}

impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("server", &self.server)
            .field(
                "passphrase",
                &self.passphrase.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl ClientBuilder {
    /// The server's origin, e.g. `https://chat.example.com` (required).
    pub fn server(mut self, url: impl Into<String>) -> Self {
        self.server = Some(url.into());
        self
    }

    /// A WebSocket URL other than `<server>/ws` (a deployment that serves it elsewhere).
    pub fn websocket_url(mut self, url: impl Into<String>) -> Self {
        self.websocket_url = Some(url.into());
        self
    }

    /// Keep keys, sessions and history in this redb file, encrypted with the passphrase.
    pub fn store_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.store = StoreChoice::File(path.into());
        self
    }

    /// Keep everything in memory only (lost when the process ends).
    pub fn in_memory(mut self) -> Self {
        self.store = StoreChoice::Memory;
        self
    }

    /// The passphrase the store file is encrypted with (required with a store file).
    pub fn passphrase(mut self, passphrase: impl Into<String>) -> Self {
        self.passphrase = Some(passphrase.into());
        self
    }

    /// Store options (key-derivation strength, durability).
    pub fn store_options(mut self, options: StoreOptions) -> Self {
        self.options = options;
        self
    }

    /// Client settings.
    pub fn config(mut self, config: ClientConfig) -> Self {
        self.config = config;
        self
    }

    /// Timeouts of the network steps (defaults: [`NetworkTimeouts::default`]).
    pub fn network_timeouts(mut self, timeouts: NetworkTimeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// Allows plaintext to a peer that has published no keys.
    pub fn allow_plaintext_to(mut self, peer_id: impl Into<String>) -> Self {
        self.config.plaintext_allowed.insert(peer_id.into());
        self
    }

    /// Opens the store and restores a saved login, if any.
    pub async fn build(self) -> Result<Client, Error> {
        let server = self.server.ok_or(Error::Missing("server URL"))?;
        let mut transport = NativeTransport::new(&server)?.with_timeouts(self.timeouts)?;
        if let Some(url) = self.websocket_url {
            transport = transport.with_websocket_url(url);
        }
        let store: Box<dyn Store> = match self.store {
            StoreChoice::Memory => Box::new(MemoryStore::new()),
            StoreChoice::File(path) => {
                let passphrase = self.passphrase.ok_or(Error::Missing("passphrase"))?;
                Box::new(RedbStore::open_with(path, &passphrase, self.options).await?)
            }
        };
        let core = CoreClient::new(
            transport,
            store,
            TokioClock,
            UnwrapErr(getrandom::SysRng),
            self.config,
        );
        core.restore().await?;
        let inner = Arc::new(Inner {
            core,
            task: Mutex::new(None),
        });
        Ok(Client {
            _owner: Arc::new(Owner {
                inner: Arc::clone(&inner),
            }),
            inner,
        })
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
/// share one connection and store. Every method of [`CoreClient`] is available on it.
/// Dropping the last clone stops the connection; [`Client::close`] does it and waits.
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

impl Deref for Client {
    type Target = CoreClient;

    fn deref(&self) -> &CoreClient {
        &self.inner.core
    }
}

impl Client {
    /// A builder.
    pub fn builder() -> ClientBuilder {
        ClientBuilder {
            server: None,
            websocket_url: None,
            store: StoreChoice::Memory,
            passphrase: None,
            options: StoreOptions::default(),
            config: ClientConfig::default(),
            timeouts: NetworkTimeouts::default(),
        }
    }

    /// Starts keeping the WebSocket up in a background task (reconnecting with backoff)
    /// until [`Client::close`]. Does nothing if it is already running.
    pub fn connect(&self) {
        let mut task = self.lock_task();
        if task.as_ref().is_some_and(|t| !t.is_finished()) {
            return;
        }
        let inner = Arc::clone(&self.inner);
        *task = Some(tokio::spawn(async move { inner.core.run().await }));
    }

    /// [`Client::connect`], then waits until the socket is up and history caught up (or
    /// catch-up failed, which the next connection retries). Fails at once when the
    /// connection loop stops for good (e.g. the backend refuses the login).
    pub async fn connect_and_wait(&self, timeout: Duration) -> Result<(), Error> {
        let mut events = self.subscribe();
        if self.is_connected() {
            return Ok(());
        }
        self.connect();
        match tokio::time::timeout(timeout, events.until_ready()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(Some(reason))) => Err(Error::Stopped(reason)),
            Ok(Err(None)) | Err(_) => Err(Error::Timeout("the connection")),
        }
    }

    /// Closes the socket and stops reconnecting; waits for the background task.
    pub async fn close(&self) {
        self.inner.core.shutdown().await;
        let task = self.lock_task().take();
        if let Some(mut task) = task {
            // A task that had not started yet when the stop was signalled does not see it:
            // give the loop a moment to stop by itself, then stop the task (dropping the
            // loop's future is a clean stop too).
            if tokio::time::timeout(CLOSE_GRACE, &mut task).await.is_err() {
                task.abort();
                let _ = task.await;
            }
            self.inner.core.shutdown().await;
        }
    }

    /// All events as an async stream (same as [`CoreClient::subscribe`]).
    pub fn events(&self) -> EventStream {
        self.subscribe()
    }

    /// Calls `handler` for every event, in order, on a background task. The task ends
    /// when the client is dropped or the returned handle is aborted.
    pub fn on_event<F, Fut>(&self, mut handler: F) -> JoinHandle<()>
    where
        F: FnMut(Event) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let mut events = self.subscribe();
        tokio::spawn(async move {
            while let Some(event) = events.next().await {
                handler(event).await;
            }
        })
    }

    /// Calls `handler` for every incoming 1:1 message (live or caught up), in order.
    pub fn on_message<F, Fut>(&self, mut handler: F) -> JoinHandle<()>
    where
        F: FnMut(MessageRecord) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.on_event(move |event| {
            let call = match event {
                Event::Message { message, .. } => Some(handler(message)),
                _ => None,
            };
            async move {
                if let Some(call) = call {
                    call.await;
                }
            }
        })
    }

    /// Calls `handler` for every incoming group message, in order.
    pub fn on_group_message<F, Fut>(&self, mut handler: F) -> JoinHandle<()>
    where
        F: FnMut(MessageRecord) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.on_event(move |event| {
            let call = match event {
                Event::GroupMessage { message, .. }
                    if message.direction == quickchat_core::store::Direction::Incoming =>
                {
                    Some(handler(message))
                }
                _ => None,
            };
            async move {
                if let Some(call) = call {
                    call.await;
                }
            }
        })
    }

    /// Logs out (see [`CoreClient::logout`]) and waits until the connection has stopped.
    pub async fn logout(&self) -> Result<(), ClientError> {
        self.inner.core.logout().await?;
        self.close().await;
        Ok(())
    }

    fn lock_task(&self) -> std::sync::MutexGuard<'_, Option<JoinHandle<Result<(), ClientError>>>> {
        self.inner.lock_task()
    }
}
