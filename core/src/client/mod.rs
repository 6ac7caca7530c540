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
mod directory_scan;
mod echoes;
mod error;
mod events;
mod flight;
mod groups;
mod history;
mod inbound;
mod jwt;
pub mod limits;
mod messaging;
mod moving;
mod peer_keys;
mod trust;

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard};

use futures::channel::mpsc;
use rand_core::CryptoRng;
use zeroize::Zeroizing;

pub use config::{
    Backoff, CatchUpScope, ClientConfig, DirectoryScan, IdentityChangePolicy, Pacing,
};
pub use directory::OnlineUser;
pub use error::ClientError;
pub use events::{Event, EventStream};
pub use history::Conversation as ConversationSummary;
pub use trust::PeerVerification;

use crate::platform::MaybeSend;
use crate::protocol::Api;
use crate::protocol::rest::UserSummary;
use crate::session::{Cooling, Device};
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

/// What needs the session engine and the random source (the [`Device`]), behind one async
/// lock so that crypto operations and the writes that follow them never interleave.
pub(crate) struct Crypto<S, R> {
    device: Device<Arc<S>, R>,
    /// Per-peer budgets for failed decryptions (hostile messages are costly to refuse).
    cooling: Cooling,
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
    /// Where the last message id left off.
    ids: IdSequence,
    /// What goes out on the current socket, and when.
    flight: flight::Flight,
    /// When each peer's bundle was last fetched to look for a reset, ms.
    bundle_checks: std::collections::HashMap<String, i64>,
    /// When each peer last came online, ms (a reconnect may follow a reset of its keys).
    came_online_at: std::collections::HashMap<String, i64>,
    /// When the store's account was exported to be used elsewhere, ms: every operation that
    /// needs the account says so.
    moved_at: Option<i64>,
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
    /// Wakes the serving loop when a paced message starts waiting (its timer may be due
    /// before the loop's next wake-up). One slot: wake-ups that find it full are redundant.
    wake_sender: mpsc::Sender<()>,
    wake_receiver: futures::lock::Mutex<mpsc::Receiver<()>>,
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
        let (wake_sender, wake_receiver) = mpsc::channel(1);
        let cooling = Cooling::new(config.cooling);
        Self {
            api: Api::new(transport),
            store: Arc::new(store),
            clock,
            config,
            crypto: futures::lock::Mutex::new(Crypto {
                device: Device::new(rng),
                cooling,
            }),
            state: Mutex::new(State::default()),
            events: EventBus::default(),
            sink: futures::lock::Mutex::new(None),
            running: AtomicBool::new(false),
            stop_sender,
            stop_receiver: futures::lock::Mutex::new(stop_receiver),
            wake_sender,
            wake_receiver: futures::lock::Mutex::new(wake_receiver),
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
        if let Some(moved_at) = self.lock_state().moved_at {
            return Err(ClientError::AccountMoved { moved_at });
        }
        self.current_user().ok_or(ClientError::NotLoggedIn)
    }

    fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    fn wake_serving_loop(&self) {
        let _ = self.wake_sender.clone().try_send(());
    }
}

impl<T, S, C, R> Client<T, S, C, R>
where
    C: Clock,
{
    /// A fresh message id: a UUIDv7 (RFC 9562) whose 48-bit millisecond time and 12-bit
    /// counter keep this client's ids increasing, then 62 random bits. Ids of messages
    /// written within one millisecond therefore sort in the order they were written, which
    /// keeps a burst (an outbox flushed after a reconnect, stamped by the backend within the
    /// same millisecond) in order on the other side.
    pub(crate) fn new_message_id<G: CryptoRng + ?Sized>(&self, rng: &mut G) -> String {
        let now = u64::try_from(self.clock.now_ms()).unwrap_or(0);
        let (ms, counter) = self.lock_state().ids.next(now);
        let mut random = [0u8; 8];
        rng.fill_bytes(&mut random);
        uuid_v7(ms, counter, random)
    }
}

/// Where the last message id left off: ids keep increasing even within a millisecond or
/// when the clock goes back.
#[derive(Default)]
pub(crate) struct IdSequence {
    ms: u64,
    counter: u16,
}

impl IdSequence {
    /// The millisecond and counter of the next id.
    fn next(&mut self, now: u64) -> (u64, u16) {
        if now > self.ms {
            self.ms = now;
            self.counter = 0;
        } else if self.counter >= 0x0fff {
            self.ms += 1;
            self.counter = 0;
        } else {
            self.counter += 1;
        }
        (self.ms, self.counter)
    }
}

/// A UUIDv7 from its time, counter (12 bits, in `rand_a`) and 62 random bits.
fn uuid_v7(ms: u64, counter: u16, random: [u8; 8]) -> String {
    let mut bytes = [0u8; 16];
    bytes[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
    bytes[6] = 0x70 | ((counter >> 8) as u8 & 0x0f);
    bytes[7] = (counter & 0xff) as u8;
    bytes[8] = 0x80 | (random[0] & 0x3f);
    bytes[9..].copy_from_slice(&random[1..]);
    uuid::Uuid::from_bytes(bytes).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_in_the_order_they_were_made() {
        let mut sequence = IdSequence::default();
        let mut ids = Vec::new();
        // Within one millisecond, across a millisecond, with the clock going back, and
        // across the 12-bit counter's end.
        for now in [5, 5, 5, 6, 4, 4]
            .into_iter()
            .chain(std::iter::repeat_n(7, 5000))
        {
            let (ms, counter) = sequence.next(now);
            // Random bits that would sort the wrong way if they decided the order.
            let random = [0xff - (counter % 256) as u8; 8];
            ids.push(uuid_v7(ms, counter, random));
        }
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(sorted, ids);
        let parsed = uuid::Uuid::parse_str(&ids[0]).unwrap();
        assert_eq!(parsed.get_version_num(), 7);
    }
}
