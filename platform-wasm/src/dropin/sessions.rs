//! Sessions behind `SessionManager`: started once per peer from its bundle (fetched without
//! holding the engine, one set-up at a time so that messages to a new peer keep their
//! order), and messages encrypted and decrypted on them, each given out only once what it
//! changed is saved.

use std::cell::RefCell;
use std::rc::Rc;

use quickchat_core::encoding::EncodingError;
use quickchat_core::envelope::{Envelope, EnvelopeError};
use quickchat_core::protocol::rest::BundleResponse;
use quickchat_core::session::{Device, IdentityChange, PeerSessions, SessionError};
use quickchat_core::store::Store;
use wasm_bindgen::JsValue;

use super::keys::Shared;
use super::{SharedStore, now};
use crate::api::dropin::fetched_bundle_from_js;
use crate::api::report_callback_error;
use crate::error::{Error, Result};
use crate::objects::Object;
use crate::rng::WebRng;

/// Where a `SessionManager` gets its peers' bundles.
pub(crate) enum BundleSource {
    /// The application's `fetchBundle(peerId)` (resolves to a bundle as the backend's
    /// prekeys endpoint returns it); its failures are `invalid_argument`.
    Function(js_sys::Function),
    /// The package's `fetchFromServer(peerId, token)` (src/bundle-fetch.js): the backend's
    /// prekeys endpoint, whose failures come as the `QuickChatError`s to give out
    /// (`peer_has_no_keys`, `network`, `http_<status>`, `bad_answer`).
    Server(js_sys::Function),
}

/// One `SessionManager`.
pub(crate) struct SessionState {
    pub(crate) shared: Rc<Shared>,
    source: BundleSource,
    pub(crate) token: RefCell<String>,
    pub(crate) on_identity_change: RefCell<Option<js_sys::Function>>,
}

type DeviceGuard<'a> = futures::lock::MutexGuard<'a, Device<SharedStore, WebRng>>;

impl SessionState {
    /// A session manager over `shared`'s keys.
    pub(crate) fn new(
        shared: Rc<Shared>,
        source: BundleSource,
        token: String,
        on_identity_change: Option<js_sys::Function>,
    ) -> Self {
        Self {
            shared,
            source,
            token: RefCell::new(token),
            on_identity_change: RefCell::new(on_identity_change),
        }
    }

    fn report(&self, change: Option<IdentityChange>) {
        let (Some(change), Some(callback)) = (change, self.on_identity_change.borrow().clone())
        else {
            return;
        };
        let value = Object::new()
            .set("peerId", change.peer_id.as_str())
            .set("previousKey", change.previous_key.to_base64())
            .set("newKey", change.new_key.to_base64())
            .set(
                "previousFingerprint",
                change.previous_fingerprint().as_str(),
            )
            .set("newFingerprint", change.new_fingerprint().as_str())
            .set("wasVerified", change.was_verified)
            .build();
        if let Err(e) = callback.call1(&JsValue::NULL, &value) {
            report_callback_error(&e);
        }
    }

    async fn bundle(&self, peer_id: &str) -> Result<BundleResponse> {
        let peer = JsValue::from_str(peer_id);
        let (called, failed): (_, fn(&JsValue) -> Error) = match &self.source {
            BundleSource::Function(fetch) => (fetch.call1(&JsValue::NULL, &peer), |e| {
                Error::invalid("fetchBundle", crate::transport::js_error_text(e))
            }),
            BundleSource::Server(fetch) => {
                let token = JsValue::from_str(&self.token.borrow());
                (fetch.call2(&JsValue::NULL, &peer, &token), |e| {
                    Error::reported_as(e, "network")
                })
            }
        };
        // `Promise.resolve`: a promise of any realm, a thenable, or the bundle itself.
        let value = wasm_bindgen_futures::JsFuture::from(js_sys::Promise::resolve(
            &called.map_err(|e| failed(&e))?,
        ))
        .await
        .map_err(|e| failed(&e))?;
        let bundle = fetched_bundle_from_js(&value);
        match &self.source {
            BundleSource::Function(_) => bundle,
            // What the server answered is not the application's argument.
            BundleSource::Server(_) => bundle.map_err(|e| Error::Reported {
                message: format!("GET /api/users/{{id}}/prekeys: unexpected answer: {e}"),
                code: "bad_answer".into(),
            }),
        }
    }

    /// Makes sure there is a session with the peer and hands back the engine. The peer's
    /// bundle is fetched without holding the engine: a slow or failing network delays only
    /// this call, never the other peers' messages. Callers hold `setup`.
    async fn ensure(&self, peer_id: &str) -> Result<DeviceGuard<'_>> {
        {
            let mut guard = self.shared.device.lock().await;
            if guard.has_session(peer_id).await? {
                return Ok(guard);
            }
        }
        let bundle = self
            .bundle(peer_id)
            .await?
            .to_bundle()
            .map_err(|e: EncodingError| Error::Encoding(e))?;
        let mut guard = self.shared.device.lock().await;
        // A first message from the peer may have made one meanwhile: it is used.
        let change = guard.session_from_bundle(peer_id, &bundle, now()).await?;
        self.report(change);
        Ok(guard)
    }

    /// The session with the peer, started from its bundle (fetched once) if there is none.
    pub(crate) async fn ensure_session(&self, peer_id: &str) -> Result<PeerSessions> {
        let setup = self.shared.setup.lock().await;
        drop(self.ensure(peer_id).await?);
        drop(setup);
        self.shared
            .store
            .peer_sessions(peer_id)
            .await?
            .ok_or_else(|| Error::invalid("peerId", "the session was not saved"))
    }

    /// Encrypts `plaintext` for the peer; the wire string.
    pub(crate) async fn encrypt_wire(&self, peer_id: &str, plaintext: &str) -> Result<String> {
        {
            let mut guard = self.shared.device.lock().await;
            let (engine, rng) = guard.parts()?;
            // Straight to the session (no separate existence check, which would copy the
            // session); only a peer without one gets a session first. A missing session is
            // found before any random draw.
            match engine.encrypt(peer_id, plaintext, now(), rng).await {
                Ok(prepared) => {
                    // Written behind, and waited for with the engine free: messages
                    // encrypted meanwhile share the next IndexedDB transaction. The message
                    // is given out only once its session's next state is on disk.
                    let wire = prepared.relaxed().commit().await?.wire;
                    drop(guard);
                    self.shared.store.settled().await?;
                    return Ok(wire);
                }
                Err(SessionError::NoSession { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        // The session's set-up and this first message happen under `setup`, the message
        // under the same hold of the engine as the session's start: a later message to the
        // peer cannot overtake it.
        let _setup = self.shared.setup.lock().await;
        let mut guard = self.ensure(peer_id).await?;
        let (engine, rng) = guard.parts()?;
        let outgoing = engine
            .encrypt(peer_id, plaintext, now(), rng)
            .await?
            .commit()
            .await?;
        Ok(outgoing.wire)
    }

    /// Decrypts and commits a message from `peer_id`; its text.
    pub(crate) async fn decrypt_envelope(
        &self,
        peer_id: String,
        envelope: std::result::Result<Envelope, EnvelopeError>,
    ) -> Result<String> {
        let envelope = envelope.map_err(|source| SessionError::Envelope {
            peer_id: peer_id.clone(),
            source,
        })?;
        let mut guard = self.shared.device.lock().await;
        let (engine, rng) = guard.parts()?;
        let prepared = engine
            .decrypt_envelope(&peer_id, envelope, now(), rng)
            .await?;
        // The next state of an existing session is written behind the message (a burst
        // shares IndexedDB transactions): lost in a crash, the message would only open once
        // more. A new session (and its used one-time prekey) is on disk before the text is
        // given out.
        let prepared = if prepared.value().new_session {
            prepared
        } else {
            prepared.relaxed()
        };
        let incoming = prepared.commit().await?;
        self.report(incoming.identity_change);
        Ok(incoming.plaintext)
    }
}

/// Every session of the store.
pub(crate) async fn all_sessions(shared: &Shared) -> Result<Vec<PeerSessions>> {
    let mut all = Vec::new();
    for peer in shared.store.session_peer_ids().await? {
        if let Some(sessions) = shared.store.peer_sessions(&peer).await? {
            all.push(sessions);
        }
    }
    Ok(all)
}
