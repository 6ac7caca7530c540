//! [`ClientBuilder`]: the server, the store and the settings of a [`Client`].

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use quickchat_core::client::ClientConfig;
use quickchat_core::rand_core::UnwrapErr;
use quickchat_core::store::{MemoryStore, Store};

use super::{Client, CoreClient, Error, Inner, Owner};
use crate::clock::TokioClock;
use crate::store::{RedbStore, StoreOptions};
use crate::timeouts::NetworkTimeouts;
use crate::transport::NativeTransport;

enum StoreChoice {
    File(PathBuf),
    Memory,
}

impl Client {
    /// A builder.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::new()
    }
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
    /// No server yet, an in-memory store, default settings.
    pub(super) fn new() -> Self {
        Self {
            server: None,
            websocket_url: None,
            store: StoreChoice::Memory,
            passphrase: None,
            options: StoreOptions::default(),
            config: ClientConfig::default(),
            timeouts: NetworkTimeouts::default(),
        }
    }

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
