//! A test peer that behaves like the web app (PROTOCOL §8), over real HTTP and a real
//! WebSocket against the test server.
//!
//! What it copies from the web app, on purpose:
//! - keys as the web client makes them: identity from a 32-byte seed, signed prekey id 1 and
//!   one-time prekeys 2..101 from one id counter, uploaded 50 one-time prekeys per request;
//!   `resetE2EE` keeps the counter (the new signed prekey is 102), a reinstall starts at 1;
//! - before **every** send it fetches the peer's bundle, and starts a new session (X3DH as
//!   initiator, never with the one-time prekey) when there is none or the bundle's
//!   signed-prekey id differs from the one the session was built on;
//! - its ratchet is the web client's, weaknesses included ([`WebRatchet`]);
//! - incoming messages are handled **concurrently**, one task per frame: a first message
//!   (`x3dh`) waits for a bundle fetch (and [`WebPeerOptions::first_message_delay`]) before
//!   it decrypts; every other message loads the session, decrypts, and saves it, with
//!   IndexedDB-like delays around the load and the save, over one shared session map, so
//!   concurrent handlers race (a failed decryption's mutated state is saved too). How they
//!   race is [`SessionAccess`]: whole copies, last save wins (the default, which alone
//!   loses nothing within one chain), or the one shared session with awaited KDF steps
//!   (which loses bursts). [`WebPeerOptions::sequential`] awaits handlers in order instead,
//!   as a control;
//! - no history fetch, no `status` frames; it can send `read` and `typing`.
//!
//! Every incoming message ends as one outcome: [`WebPeer::received`] or
//! [`WebPeer::failures`].

pub(crate) mod keys;
pub(crate) mod ratchet;
pub(crate) mod session;

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use quickchat_core::envelope::{Envelope, X3dhHeader};
use quickchat_core::protocol::rest::{AuthResponse, BundleResponse, LoginRequest, RegisterRequest};
use quickchat_core::protocol::ws::{ClientFrame, MessagePayload, MessageType, ServerFrame};
use quickchat_core::rand_core::{Rng as _, UnwrapErr};
use quickchat_core::x3dh::X3dhError;
use quickchat_testserver::TestServer;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub(crate) use keys::WebKeys;
pub(crate) use ratchet::{WebRatchet, WebRatchetError};
pub(crate) use session::{WebFailure, WebSession};

/// The password every web peer registers with.
pub(crate) const PASSWORD: &str = "secret123";

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;
type SystemRng = UnwrapErr<getrandom::SysRng>;

/// How the peer schedules its work.
#[derive(Debug, Clone)]
pub(crate) struct WebPeerOptions {
    /// Before a handler reads the session (an IndexedDB read transaction).
    pub load_delay: Duration,
    /// Before a handler's session write lands (an IndexedDB write transaction).
    pub save_delay: Duration,
    /// Added to the bundle fetch a first message waits for.
    pub first_message_delay: Duration,
    /// Await each incoming message's handler before reading the next frame (the control:
    /// the web app does not do this).
    pub sequential: bool,
    /// How handlers reach the session state.
    pub access: SessionAccess,
}

/// How concurrent handlers share a session's ratchet state: the two ways a web app that
/// loads and saves sessions around each decryption can race.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum SessionAccess {
    /// Each handler loads a copy, decrypts it, and saves it back whole: last save wins.
    /// This alone never loses a message of one chain (a message's key only leaves the
    /// state through that message's own handler); it leaves stale skipped keys behind.
    #[default]
    Snapshot,
    /// Handlers work on the one in-memory session object, and every chain-key step of the
    /// ratchet awaits between reading the chain key and writing the next one, as a ratchet
    /// whose HMAC is an awaited WebCrypto promise does. Overlapping handlers then file a
    /// key under the wrong number or reuse a chain key, and messages fail to authenticate.
    SharedAwaitingKdf {
        /// How long each awaited KDF takes.
        kdf_delay: Duration,
    },
}

impl Default for WebPeerOptions {
    fn default() -> Self {
        Self {
            load_delay: Duration::from_millis(5),
            save_delay: Duration::from_millis(5),
            first_message_delay: Duration::from_millis(200),
            sequential: false,
            access: SessionAccess::Snapshot,
        }
    }
}

impl WebPeerOptions {
    /// The defaults with handlers awaited in order.
    pub(crate) fn sequential() -> Self {
        Self {
            sequential: true,
            ..Self::default()
        }
    }
}

/// A message the peer decrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Received {
    /// The backend's message id.
    pub message_id: String,
    /// Sender id.
    pub from: String,
    /// The text.
    pub plaintext: String,
    /// It carried `x3dh` and started a new session.
    pub new_session: bool,
}

/// A message the peer could not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    /// The backend's message id.
    pub message_id: String,
    /// Sender id.
    pub from: String,
    /// Why.
    pub reason: WebFailure,
}

/// What went wrong driving the peer (not a message outcome).
#[derive(Debug, thiserror::Error)]
pub(crate) enum WebPeerError {
    /// The HTTP request did not complete.
    #[error("{what}: HTTP request failed: {detail}")]
    Http {
        /// The request.
        what: String,
        /// The client's explanation.
        detail: String,
    },
    /// The backend answered with an error status.
    #[error("{what}: status {status}: {body}")]
    Status {
        /// The request.
        what: String,
        /// HTTP status.
        status: u16,
        /// Response body.
        body: String,
    },
    /// The response body was not what the endpoint returns.
    #[error("{what}: unexpected response: {detail}")]
    Body {
        /// The request.
        what: String,
        /// The parser's explanation.
        detail: String,
    },
    /// The WebSocket failed.
    #[error("websocket: {0}")]
    Socket(String),
    /// A bundle could not be used.
    #[error("bundle of {peer}: {source}")]
    X3dh {
        /// The peer.
        peer: String,
        /// Why.
        source: X3dhError,
    },
    /// A bundle key is malformed.
    #[error("bundle of {peer}: {detail}")]
    Bundle {
        /// The peer.
        peer: String,
        /// The decoder's explanation.
        detail: String,
    },
    /// The ratchet refused to encrypt.
    #[error("encrypt to {peer}: {source}")]
    Encrypt {
        /// The peer.
        peer: String,
        /// Why.
        source: WebRatchetError,
    },
    /// Fewer outcomes than awaited arrived in time.
    #[error("timed out with {have} of {want} message outcomes")]
    Timeout {
        /// Outcomes recorded.
        have: usize,
        /// Outcomes awaited.
        want: usize,
    },
}

/// A web-app user: one browser tab with its IndexedDB, connected.
#[derive(Clone)]
pub(crate) struct WebPeer {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for WebPeer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebPeer")
            .field("user_id", &self.inner.user_id)
            .field("username", &self.inner.username)
            .finish_non_exhaustive()
    }
}

struct Inner {
    http: reqwest::Client,
    api: String,
    ws_url: String,
    options: WebPeerOptions,
    user_id: String,
    username: String,
    token: String,
    keys: Mutex<WebKeys>,
    /// The session "database": handlers copy a session out (load) and put it back (save).
    sessions: Mutex<HashMap<String, WebSession>>,
    outcomes: Mutex<Outcomes>,
    outcome_count: watch::Sender<usize>,
    sink: tokio::sync::Mutex<Option<SplitSink<Socket, Message>>>,
    reader: Mutex<Option<JoinHandle<()>>>,
}

#[derive(Default)]
struct Outcomes {
    received: Vec<Received>,
    failures: Vec<Failure>,
    /// Incoming message ids in the order their frames arrived (handlers may finish in
    /// another order).
    arrivals: Vec<String>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A handler that panicked leaves plain data behind; keep recording.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn rng() -> SystemRng {
    UnwrapErr(getrandom::SysRng)
}

/// A random UUIDv4, as the web app makes message ids.
pub(crate) fn uuid_v4() -> String {
    let mut b = [0u8; 16];
    rng().fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

impl WebPeer {
    /// Registers `name` made unique, creates and uploads keys, connects. Default options.
    pub(crate) async fn register(server: &TestServer, name: &str) -> Result<Self, WebPeerError> {
        Self::register_with(server, name, WebPeerOptions::default()).await
    }

    /// [`WebPeer::register`] with options.
    pub(crate) async fn register_with(
        server: &TestServer,
        name: &str,
        options: WebPeerOptions,
    ) -> Result<Self, WebPeerError> {
        let username = super::unique(name);
        let request = RegisterRequest {
            username: username.clone(),
            password: PASSWORD.into(),
            avatar: None,
        };
        Self::sign_in(server, "register", "/auth/register", &request, options).await
    }

    /// Logs in an existing user as a fresh browser would: new keys (counter from 1),
    /// uploaded, then connects.
    pub(crate) async fn login_with(
        server: &TestServer,
        username: &str,
        password: &str,
        options: WebPeerOptions,
    ) -> Result<Self, WebPeerError> {
        let request = LoginRequest {
            username: username.to_string(),
            password: password.into(),
        };
        Self::sign_in(server, "login", "/auth/login", &request, options).await
    }

    async fn sign_in<B: serde::Serialize>(
        server: &TestServer,
        what: &str,
        path: &str,
        body: &B,
        options: WebPeerOptions,
    ) -> Result<Self, WebPeerError> {
        let http = reqwest::Client::new();
        let api = format!("{}/api", server.base_url());
        let text = send_json(
            &http,
            what,
            reqwest::Method::POST,
            &format!("{api}{path}"),
            None,
            body,
        )
        .await?;
        let auth: AuthResponse = parse_body(what, &text)?;
        let (outcome_count, _) = watch::channel(0);
        let peer = Self {
            inner: Arc::new(Inner {
                http,
                api,
                ws_url: server.ws_url(),
                options,
                user_id: auth.user.id,
                username: auth.user.username,
                token: auth.token,
                keys: Mutex::new(WebKeys::generate(1, now_ms(), &mut rng())),
                sessions: Mutex::new(HashMap::new()),
                outcomes: Mutex::new(Outcomes::default()),
                outcome_count,
                sink: tokio::sync::Mutex::new(None),
                reader: Mutex::new(None),
            }),
        };
        peer.inner.upload_keys().await?;
        peer.connect().await?;
        Ok(peer)
    }

    /// Opens the WebSocket, authenticates and waits for the online list; the frame reader
    /// runs from then on.
    pub(crate) async fn connect(&self) -> Result<(), WebPeerError> {
        let (mut socket, _) = tokio_tungstenite::connect_async(self.inner.ws_url.as_str())
            .await
            .map_err(|e| WebPeerError::Socket(e.to_string()))?;
        let auth = ClientFrame::Auth {
            user_id: self.inner.user_id.clone(),
            username: self.inner.username.clone(),
        };
        socket
            .send(Message::text(auth.to_json()))
            .await
            .map_err(|e| WebPeerError::Socket(e.to_string()))?;
        loop {
            let frame = socket
                .next()
                .await
                .ok_or_else(|| WebPeerError::Socket("closed before the online list".into()))?
                .map_err(|e| WebPeerError::Socket(e.to_string()))?;
            if let Message::Text(text) = frame
                && let Ok(ServerFrame::OnlineList(_)) = ServerFrame::parse(&text)
            {
                break;
            }
        }
        let (sink, stream) = socket.split();
        *self.inner.sink.lock().await = Some(sink);
        let reader = tokio::spawn(read_frames(self.inner.clone(), stream));
        if let Some(old) = lock(&self.inner.reader).replace(reader) {
            old.abort();
        }
        Ok(())
    }

    /// Closes the socket; handlers already running finish.
    pub(crate) async fn close(&self) {
        if let Some(mut sink) = self.inner.sink.lock().await.take() {
            let _ = sink.close().await;
        }
        if let Some(reader) = lock(&self.inner.reader).take() {
            reader.abort();
        }
    }

    /// The user id.
    pub(crate) fn user_id(&self) -> &str {
        &self.inner.user_id
    }

    /// The user name.
    pub(crate) fn username(&self) -> &str {
        &self.inner.username
    }

    /// The JWT from register/login.
    pub(crate) fn token(&self) -> &str {
        &self.inner.token
    }

    /// Id of the signed prekey currently published.
    pub(crate) fn signed_prekey_id(&self) -> u32 {
        lock(&self.inner.keys).signed_prekey_id()
    }

    /// The session with `peer_id` as last saved, if any.
    pub(crate) fn session(&self, peer_id: &str) -> Option<WebSession> {
        lock(&self.inner.sessions).get(peer_id).cloned()
    }

    /// Sends `text` as the web app does: fetch the bundle, maybe start a new session,
    /// encrypt (load → encrypt → save), send a `message` frame. Returns the message id.
    pub(crate) async fn send_text(
        &self,
        peer_id: &str,
        text: &str,
    ) -> Result<String, WebPeerError> {
        let inner = &self.inner;
        let bundle_json = inner.fetch_bundle(peer_id).await?;
        let bundle = bundle_json.to_bundle().map_err(|e| WebPeerError::Bundle {
            peer: peer_id.to_string(),
            detail: e.to_string(),
        })?;
        let signed_id =
            bundle
                .signed_prekey
                .map(|spk| spk.id)
                .ok_or_else(|| WebPeerError::X3dh {
                    peer: peer_id.to_string(),
                    source: X3dhError::MissingSignedPrekey,
                })?;
        let mut rng = rng();
        tokio::time::sleep(inner.options.load_delay).await;
        let (envelope, copy) = {
            let mut sessions = lock(&inner.sessions);
            let session = match sessions.entry(peer_id.to_string()) {
                Entry::Occupied(entry) if entry.get().remote_signed_prekey_id() == signed_id => {
                    entry.into_mut()
                }
                entry => {
                    let identity = lock(&inner.keys).identity().clone();
                    let session =
                        WebSession::initiate(&identity, &bundle, &mut rng).map_err(|source| {
                            WebPeerError::X3dh {
                                peer: peer_id.to_string(),
                                source,
                            }
                        })?;
                    entry.insert_entry(session).into_mut()
                }
            };
            match inner.options.access {
                // Encrypt a copy; it is saved after the write delay (last save wins).
                SessionAccess::Snapshot => {
                    let mut copy = session.clone();
                    (copy.encrypt(text, &mut rng), Some(copy))
                }
                // Encrypt the shared session in place.
                SessionAccess::SharedAwaitingKdf { .. } => (session.encrypt(text, &mut rng), None),
            }
        };
        let envelope = envelope.map_err(|source| WebPeerError::Encrypt {
            peer: peer_id.to_string(),
            source,
        })?;
        tokio::time::sleep(inner.options.save_delay).await;
        if let Some(copy) = copy {
            lock(&inner.sessions).insert(peer_id.to_string(), copy);
        }
        let message_id = uuid_v4();
        inner
            .send_frame(&ClientFrame::Message {
                to: peer_id.to_string(),
                content: envelope.to_json(),
                message_type: MessageType::Text,
                encrypted: true,
                message_id: Some(message_id.clone()),
                image_data: None,
            })
            .await?;
        Ok(message_id)
    }

    /// Sends a `read` frame for messages from `to`.
    pub(crate) async fn send_read(
        &self,
        message_ids: &[String],
        to: &str,
    ) -> Result<(), WebPeerError> {
        self.inner
            .send_frame(&ClientFrame::Read {
                message_ids: message_ids.to_vec(),
                to: to.to_string(),
            })
            .await
    }

    /// Sends a `typing` frame.
    pub(crate) async fn send_typing(&self, to: &str, typing: bool) -> Result<(), WebPeerError> {
        self.inner
            .send_frame(&ClientFrame::Typing {
                to: to.to_string(),
                typing,
            })
            .await
    }

    /// `resetE2EE`: new identity, prekeys and sessions deleted, the id counter kept (the new
    /// signed prekey takes the next free id), the new bundle published.
    pub(crate) async fn reset_e2ee(&self) -> Result<(), WebPeerError> {
        lock(&self.inner.keys).reset(now_ms(), &mut rng());
        lock(&self.inner.sessions).clear();
        self.inner.upload_keys().await
    }

    /// A fresh install on the same account: new keys with the counter from 1 again, no
    /// sessions, the new bundle published.
    pub(crate) async fn reinstall(&self) -> Result<(), WebPeerError> {
        *lock(&self.inner.keys) = WebKeys::generate(1, now_ms(), &mut rng());
        lock(&self.inner.sessions).clear();
        self.inner.upload_keys().await
    }

    /// Messages decrypted so far, in the order their handlers finished.
    pub(crate) fn received(&self) -> Vec<Received> {
        lock(&self.inner.outcomes).received.clone()
    }

    /// Messages decrypted so far, in the order their frames arrived (the order the backend
    /// relayed them, which is the order the sender wrote them).
    pub(crate) fn received_in_arrival_order(&self) -> Vec<Received> {
        let outcomes = lock(&self.inner.outcomes);
        let mut received = outcomes.received.clone();
        received.sort_by_key(|r| outcomes.arrivals.iter().position(|id| *id == r.message_id));
        received
    }

    /// Messages that could not be read, in the order their handlers finished.
    pub(crate) fn failures(&self) -> Vec<Failure> {
        lock(&self.inner.outcomes).failures.clone()
    }

    /// Outcomes (received + failed) recorded so far.
    pub(crate) fn outcome_count(&self) -> usize {
        *self.inner.outcome_count.borrow()
    }

    /// Waits until at least `n` messages have an outcome.
    pub(crate) async fn wait_for_outcomes(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<(), WebPeerError> {
        let mut count = self.inner.outcome_count.subscribe();
        let reached = tokio::time::timeout(timeout, count.wait_for(|c| *c >= n)).await;
        match reached {
            Ok(Ok(_)) => Ok(()),
            _ => Err(WebPeerError::Timeout {
                have: self.outcome_count(),
                want: n,
            }),
        }
    }
}

/// Waits for `n` outcomes at `peer` (failing after [`super::WAIT`]) and asserts every one
/// was decrypted.
pub(crate) async fn assert_all_decrypted(peer: &WebPeer, n: usize) {
    if let Err(e) = peer.wait_for_outcomes(n, super::WAIT).await {
        panic!("{}: {e}", peer.username());
    }
    let failures = peer.failures();
    let received = peer.received().len();
    assert!(
        failures.is_empty() && received == n,
        "{}: {received}/{n} decrypted; failures: {:#?}",
        peer.username(),
        failures
    );
}

impl Inner {
    async fn upload_keys(&self) -> Result<(), WebPeerError> {
        let requests = lock(&self.keys).upload_requests();
        for request in requests {
            send_json(
                &self.http,
                "upload prekeys",
                reqwest::Method::POST,
                &format!("{}/users/prekeys", self.api),
                Some(&self.token),
                &request,
            )
            .await?;
        }
        Ok(())
    }

    async fn fetch_bundle(&self, peer_id: &str) -> Result<BundleResponse, WebPeerError> {
        let what = format!("bundle of {peer_id}");
        let response = self
            .http
            .get(format!("{}/users/{peer_id}/prekeys", self.api))
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| WebPeerError::Http {
                what: what.clone(),
                detail: e.to_string(),
            })?;
        let text = checked_text(&what, response).await?;
        parse_body(&what, &text)
    }

    async fn send_frame(&self, frame: &ClientFrame) -> Result<(), WebPeerError> {
        let mut sink = self.sink.lock().await;
        let sink = sink
            .as_mut()
            .ok_or_else(|| WebPeerError::Socket("not connected".into()))?;
        sink.send(Message::text(frame.to_json()))
            .await
            .map_err(|e| WebPeerError::Socket(e.to_string()))
    }

    fn record(
        &self,
        payload: &MessagePayload,
        new_session: bool,
        outcome: Result<String, WebFailure>,
    ) {
        {
            let mut outcomes = lock(&self.outcomes);
            match outcome {
                Ok(plaintext) => outcomes.received.push(Received {
                    message_id: payload.id.clone(),
                    from: payload.from.clone(),
                    plaintext,
                    new_session,
                }),
                Err(reason) => outcomes.failures.push(Failure {
                    message_id: payload.id.clone(),
                    from: payload.from.clone(),
                    reason,
                }),
            }
        }
        self.outcome_count.send_modify(|c| *c += 1);
    }

    /// One incoming message, start to finish, as the web app's handler does it.
    async fn handle(self: Arc<Self>, payload: MessagePayload) {
        let mut new_session = false;
        let outcome = if payload.encrypted {
            match Envelope::parse(&payload.content) {
                Ok(envelope) => match envelope.x3dh {
                    Some(x3dh) => {
                        new_session = true;
                        self.first_message(&payload.from, &envelope, &x3dh).await
                    }
                    None => self.next_message(&payload.from, &envelope).await,
                },
                Err(e) => Err(WebFailure::Envelope(e.to_string())),
            }
        } else {
            Ok(payload.content.clone())
        };
        self.record(&payload, new_session, outcome);
    }

    /// A first message: the bundle fetch round trip, then a new responder session (it
    /// replaces any session with the sender), decrypt, save.
    async fn first_message(
        &self,
        from: &str,
        envelope: &Envelope,
        x3dh: &X3dhHeader,
    ) -> Result<String, WebFailure> {
        let bundle = self
            .fetch_bundle(from)
            .await
            .map_err(|e| WebFailure::BundleFetch(e.to_string()))?;
        tokio::time::sleep(self.options.first_message_delay).await;
        let remote_signed = bundle.signed_prekey.as_ref().map_or(0, |spk| spk.key_id);
        let mut session = {
            let keys = lock(&self.keys);
            let signed = keys
                .signed_prekey_secret(x3dh.used_signed_prekey_id)
                .ok_or(WebFailure::UnknownSignedPrekey(x3dh.used_signed_prekey_id))?;
            let one_time = x3dh
                .used_one_time_prekey_id
                .and_then(|id| keys.one_time_prekey_secret(id));
            WebSession::accept(
                keys.identity(),
                signed,
                one_time,
                x3dh,
                &envelope.header,
                remote_signed,
            )
        };
        let result = session.decrypt(envelope, &mut rng());
        tokio::time::sleep(self.options.save_delay).await;
        lock(&self.sessions).insert(from.to_string(), session);
        result
    }

    /// Any other message: load the session, decrypt in place, save what the ratchet left,
    /// whether or not the message opened.
    async fn next_message(&self, from: &str, envelope: &Envelope) -> Result<String, WebFailure> {
        match self.options.access {
            SessionAccess::Snapshot => self.next_message_snapshot(from, envelope).await,
            SessionAccess::SharedAwaitingKdf { kdf_delay } => {
                self.next_message_shared(from, envelope, kdf_delay).await
            }
        }
    }

    async fn next_message_snapshot(
        &self,
        from: &str,
        envelope: &Envelope,
    ) -> Result<String, WebFailure> {
        tokio::time::sleep(self.options.load_delay).await;
        let mut session = lock(&self.sessions)
            .get(from)
            .cloned()
            .ok_or(WebFailure::NoSession)?;
        let result = session.decrypt(envelope, &mut rng());
        tokio::time::sleep(self.options.save_delay).await;
        lock(&self.sessions).insert(from.to_string(), session);
        result
    }

    /// The ratchet's decryption steps (as [`WebRatchet::decrypt`] runs them) on the shared
    /// session, with an await wherever the web client awaits a KDF: the chain key is read
    /// before the await and the result written after it, whatever happened meanwhile.
    async fn next_message_shared(
        &self,
        from: &str,
        envelope: &Envelope,
        kdf_delay: Duration,
    ) -> Result<String, WebFailure> {
        let header = &envelope.header;
        tokio::time::sleep(self.options.load_delay).await;
        self.on_session(from, |r| {
            if r.needs_dh_step(header) {
                r.dh_step(&header.ratchet_key, &mut rng())?;
            }
            r.check_skip(header)
        })?;
        while let Some(chain_key) = self.on_session(from, |r| r.chain_key_to_skip(header))? {
            tokio::time::sleep(kdf_delay).await;
            let (message_key, next) = chain_key.step();
            self.on_session(from, |r| r.store_skipped(message_key, next))?;
        }
        let message_key = match self.on_session(from, |r| Ok(r.take_skipped(header)))? {
            Some(key) => key,
            None => {
                let chain_key = self.on_session(from, |r| r.receiving_chain_key())?;
                tokio::time::sleep(kdf_delay).await;
                let (message_key, next) = chain_key.step();
                self.on_session(from, |r| {
                    r.advance_receiving(next);
                    Ok(())
                })?;
                message_key
            }
        };
        let result = ratchet::open(&message_key, &envelope.ciphertext)
            .map_err(WebFailure::from)
            .and_then(session::text);
        tokio::time::sleep(self.options.save_delay).await;
        result
    }

    /// Runs `f` on the shared session with `peer`.
    fn on_session<T>(
        &self,
        peer: &str,
        f: impl FnOnce(&mut WebRatchet) -> Result<T, WebRatchetError>,
    ) -> Result<T, WebFailure> {
        let mut sessions = lock(&self.sessions);
        let session = sessions.get_mut(peer).ok_or(WebFailure::NoSession)?;
        Ok(f(session.ratchet_mut())?)
    }
}

async fn read_frames(inner: Arc<Inner>, mut stream: SplitStream<Socket>) {
    while let Some(Ok(frame)) = stream.next().await {
        let Message::Text(text) = frame else {
            continue;
        };
        let Ok(ServerFrame::Message(payload)) = ServerFrame::parse(&text) else {
            continue;
        };
        // The backend echoes our own sends back to us; those are not incoming.
        if payload.from == inner.user_id {
            continue;
        }
        lock(&inner.outcomes).arrivals.push(payload.id.clone());
        if inner.options.sequential {
            inner.clone().handle(payload).await;
        } else {
            tokio::spawn(inner.clone().handle(payload));
        }
    }
}

async fn send_json<B: serde::Serialize>(
    http: &reqwest::Client,
    what: &str,
    method: reqwest::Method,
    url: &str,
    token: Option<&str>,
    body: &B,
) -> Result<String, WebPeerError> {
    let body = serde_json::to_string(body).map_err(|e| WebPeerError::Body {
        what: what.to_string(),
        detail: e.to_string(),
    })?;
    let mut request = http
        .request(method, url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.map_err(|e| WebPeerError::Http {
        what: what.to_string(),
        detail: e.to_string(),
    })?;
    checked_text(what, response).await
}

async fn checked_text(what: &str, response: reqwest::Response) -> Result<String, WebPeerError> {
    let status = response.status();
    let text = response.text().await.map_err(|e| WebPeerError::Http {
        what: what.to_string(),
        detail: e.to_string(),
    })?;
    if !status.is_success() {
        return Err(WebPeerError::Status {
            what: what.to_string(),
            status: status.as_u16(),
            body: text,
        });
    }
    Ok(text)
}

fn parse_body<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> Result<T, WebPeerError> {
    serde_json::from_str(text).map_err(|e| WebPeerError::Body {
        what: what.to_string(),
        detail: e.to_string(),
    })
}
