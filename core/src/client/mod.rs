//! The whole client: account, messaging, history with catch-up, outbox, presence, keys
//! and trust, groups, admin, and the connection loop — generic over the platform's
//! [`Transport`], [`Store`], [`Clock`] and random source, so that the native and browser
//! crates hold only I/O.
//!
//! The platform creates one [`Client`], shares it (it is `Sync` on native targets), spawns
//! [`Client::run`] on its executor to keep the WebSocket up, and calls the API methods from
//! anywhere. Every incoming thing is reported as an [`Event`] to each [`EventStream`] from
//! [`Client::subscribe`].

mod account;
mod admin;
mod catch_up;
mod config;
mod connection;
mod directory;
mod error;
mod events;
mod groups;
mod history;
mod inbound;
mod jwt;
mod messaging;
mod trust;

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard};

use futures::channel::mpsc;
use rand_core::CryptoRng;
use zeroize::Zeroizing;

pub use config::{Backoff, CatchUpScope, ClientConfig};
pub use directory::OnlineUser;
pub use error::ClientError;
pub use events::{Event, EventStream};
pub use history::Conversation as ConversationSummary;
pub use trust::PeerVerification;

use crate::platform::MaybeSend;
use crate::protocol::Api;
use crate::protocol::rest::UserSummary;
use crate::session::SessionEngine;
use crate::store::{SavedLogin, Store};
use crate::transport::{Clock, FrameSink, Transport};
use events::EventBus;

/// The signed-in user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CurrentUser {
    /// User id.
    pub user_id: String,
    /// User name.
    pub username: String,
}

/// What needs the session engine and the random source, behind one async lock so that
/// crypto operations and the writes that follow them never interleave.
pub(crate) struct Crypto<S, R> {
    engine: Option<SessionEngine<Arc<S>>>,
    rng: R,
}

#[derive(Default)]
pub(crate) struct State {
    login: Option<SavedLogin>,
    password: Option<Zeroizing<String>>,
    online: std::collections::BTreeMap<String, String>,
    users: Vec<UserSummary>,
    connected: bool,
    /// Image messages sent and not yet echoed, oldest first: an image permission error
    /// frame (which names no message) fails the oldest.
    images_in_flight: std::collections::VecDeque<String>,
    /// Texts waiting for the next caller that gets the session engine.
    send_queue: Vec<messaging::SendRequest>,
}

/// A Quick Chat client over platform I/O.
pub struct Client<T, S, C, R> {
    api: Api<T>,
    store: Arc<S>,
    clock: C,
    config: ClientConfig,
    crypto: futures::lock::Mutex<Crypto<S, R>>,
    state: Mutex<State>,
    events: EventBus,
    sink: futures::lock::Mutex<Option<Box<dyn FrameSink>>>,
    running: AtomicBool,
    stop_sender: mpsc::UnboundedSender<()>,
    stop_receiver: futures::lock::Mutex<mpsc::UnboundedReceiver<()>>,
}

impl<T, S, C, R> Client<T, S, C, R> {
    fn lock_state(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding this lock halfway through a change.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl<T, S, C, R> std::fmt::Debug for Client<T, S, C, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.lock_state();
        f.debug_struct("Client")
            .field("user", &state.login.as_ref().map(|l| &l.username))
            .field("connected", &state.connected)
            .finish()
    }
}

impl<T, S, C, R> Client<T, S, C, R>
where
    T: Transport,
    S: Store,
    C: Clock,
    R: CryptoRng + MaybeSend,
{
    /// A client over `transport`, keeping its state in `store`. Call
    /// [`Client::restore`] to pick up a saved login, or register / log in.
    pub fn new(transport: T, store: S, clock: C, rng: R, config: ClientConfig) -> Self {
        let (stop_sender, stop_receiver) = mpsc::unbounded();
        Self {
            api: Api::new(transport),
            store: Arc::new(store),
            clock,
            config,
            crypto: futures::lock::Mutex::new(Crypto { engine: None, rng }),
            state: Mutex::new(State::default()),
            events: EventBus::default(),
            sink: futures::lock::Mutex::new(None),
            running: AtomicBool::new(false),
            stop_sender,
            stop_receiver: futures::lock::Mutex::new(stop_receiver),
        }
    }

    /// The REST API, for calls this client does not wrap.
    pub fn api(&self) -> &Api<T> {
        &self.api
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The settings.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// Events from now on.
    pub fn subscribe(&self) -> EventStream {
        self.events.subscribe()
    }

    /// The signed-in user, if any.
    pub fn current_user(&self) -> Option<CurrentUser> {
        self.lock_state().login.as_ref().map(|login| CurrentUser {
            user_id: login.user_id.clone(),
            username: login.username.clone(),
        })
    }

    /// Whether the WebSocket is up and authenticated.
    pub fn is_connected(&self) -> bool {
        self.lock_state().connected
    }

    fn me(&self) -> Result<CurrentUser, ClientError> {
        self.current_user().ok_or(ClientError::NotLoggedIn)
    }

    fn now(&self) -> i64 {
        self.clock.now_ms()
    }
}

/// A fresh message id: a UUIDv4 from 16 random bytes.
pub(crate) fn new_message_id<R: CryptoRng + ?Sized>(rng: &mut R) -> String {
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}
