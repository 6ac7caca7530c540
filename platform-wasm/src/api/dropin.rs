//! The drop-in replacement of the reference web client's crypto layer: the engines behind
//! the package's `KeyManager` and `SessionManager` classes, which have the reference's
//! method names and data shapes (base64 strings, the wire object of an encrypted message).
//!
//! Differences that are improvements, not changes of shape: keys and sessions live in this
//! SDK's own encrypted store (imported once from the reference's `quick-chat-e2ee` database
//! when it holds the user's keys); a session is started once per peer from its bundle and
//! kept (the reference refetches the bundle before every message, which uses up the peer's
//! one-time prekeys); decryption changes nothing unless it succeeds; `listSessions()` and
//! `getIdentityMaterial()` return public data only.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use quickchat_core::account::{create_account, reset_account};
use quickchat_core::encoding::EncodingError;
use quickchat_core::envelope::{Envelope, EnvelopeError};
use quickchat_core::prekey_care::{PendingUpload, PrekeyCare, PrekeyPolicy};
use quickchat_core::protocol::rest::{BundleResponse, UploadPrekeysRequest};
use quickchat_core::protocol::{Api, ApiError};
use quickchat_core::session::{
    Device, IdentityChange, PeerSessions, SessionConfig, SessionError, SessionOrigin,
};
use quickchat_core::store::Store;
use rexie::{ObjectStore, Rexie, TransactionMode};
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsValue;
use wasm_bindgen::prelude::*;

use super::options::{ParsedOptions, Storage};
use super::{from_js, promise, report_callback_error, to_js};
use crate::error::{Error, Result};
use crate::handover::import_with;
use crate::import::WEB_CLIENT_DATABASE;
use crate::rng::WebRng;
use crate::store::IdbStore;
use crate::store::memory::KeyMemoryStore;
use crate::transport::WebTransport;

type SharedStore = Arc<dyn Store>;

/// The database holding the generated passphrases of drop-in stores opened without one.
const DEVICE_SECRETS_DATABASE: &str = "quickchat-device-secrets";

/// At most this many one-time prekeys in one pending bundle (the reference's number).
const MAX_BUNDLE_ONE_TIME_PREKEYS: usize = 50;

fn now() -> i64 {
    js_sys::Date::now() as i64
}

/// What a `KeyManager` and the `SessionManager`s made from it share.
struct Shared {
    user_id: String,
    store: SharedStore,
    crypto: futures::lock::Mutex<Device<SharedStore, WebRng>>,
    /// Held while a session is being set up (its bundle fetched), one at a time, so that
    /// messages to a new peer keep their order; the engine (`crypto`) stays free meanwhile.
    setup: futures::lock::Mutex<()>,
    import_from: Option<String>,
    /// `importer(name, userId, now)`: the importer module's `importWebClient`, loaded by the
    /// package only when called (see [`crate::handover`]).
    importer: Option<js_sys::Function>,
    config: SessionConfig,
}

impl Shared {
    fn care(&self) -> PrekeyCare<'_, SharedStore> {
        let policy = PrekeyPolicy {
            upload_batch: MAX_BUNDLE_ONE_TIME_PREKEYS,
            ..PrekeyPolicy::default()
        };
        PrekeyCare::new(&self.store, policy)
    }

    async fn identity(&self) -> Result<quickchat_core::store::IdentityRecord> {
        self.store
            .identity()
            .await?
            .ok_or(Error::NotInitialized("KeyManager"))
    }
}

/// Opens the drop-in's store as the options say.
async fn open_store(user_id: &str, parsed: &ParsedOptions) -> Result<SharedStore> {
    match parsed.storage() {
        // An Arc because core forwards `Store` through `Arc` (the browser has one thread).
        #[allow(clippy::arc_with_non_send_sync)]
        Storage::Memory => Ok(Arc::new(KeyMemoryStore::new())),
        Storage::Indexeddb => {
            let name = parsed
                .options
                .database_name
                .clone()
                .unwrap_or_else(|| format!("quickchat-keys:{user_id}"));
            let passphrase = match &parsed.options.passphrase {
                Some(passphrase) => zeroize::Zeroizing::new(passphrase.clone()),
                None => device_secret(&name).await?,
            };
            // An Arc because core forwards `Store` through `Arc` (the browser has one thread).
            #[allow(clippy::arc_with_non_send_sync)]
            let store: SharedStore =
                Arc::new(IdbStore::open(&name, &passphrase, parsed.kdf()?).await?);
            Ok(store)
        }
    }
}

/// The generated passphrase of the store `name`, made on first use and kept in the
/// `quickchat-device-secrets` database — the same protection the reference client gives
/// its keys (its master key sits beside them). An application that supplies a passphrase
/// gets real encryption at rest instead.
async fn device_secret(name: &str) -> Result<zeroize::Zeroizing<String>> {
    let failed = |e: rexie::Error| {
        Error::Store(quickchat_core::store::StoreError::Backend {
            context: "keeping the device passphrase".into(),
            detail: e.to_string(),
        })
    };
    let db = Rexie::builder(DEVICE_SECRETS_DATABASE)
        .version(1)
        .add_object_store(ObjectStore::new("secrets"))
        .build()
        .await
        .map_err(failed)?;
    let result = async {
        let tx = db
            .transaction(&["secrets"], TransactionMode::ReadWrite)
            .map_err(failed)?;
        let secrets = tx.store("secrets").map_err(failed)?;
        let existing = secrets
            .get(JsValue::from_str(name))
            .await
            .map_err(failed)?
            .and_then(|v| v.as_string());
        let secret = match existing {
            Some(secret) => secret,
            None => {
                let mut bytes = zeroize::Zeroizing::new([0u8; 32]);
                quickchat_core::rand_core::Rng::fill_bytes(&mut WebRng::System, &mut *bytes);
                let secret = quickchat_core::encoding::b64_encode(&*bytes);
                secrets
                    .put(&JsValue::from_str(&secret), Some(&JsValue::from_str(name)))
                    .await
                    .map_err(failed)?;
                secret
            }
        };
        tx.done().await.map_err(failed)?;
        Ok(zeroize::Zeroizing::new(secret))
    }
    .await;
    db.close();
    result
}

/// The engine of the package's `KeyManager`.
#[wasm_bindgen]
pub struct KeyManagerCore {
    shared: Rc<Shared>,
}

/// A bundle as the reference client uploads it (`POST /api/users/prekeys`).
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BundlePayload {
    identity_key: String,
    signing_key: String,
    fingerprint: String,
    signed_prekey: Option<quickchat_core::protocol::rest::SignedPrekeyUpload>,
    #[serde(default)]
    one_time_prekeys: Vec<quickchat_core::protocol::rest::OneTimePrekeyJson>,
}

impl From<UploadPrekeysRequest> for BundlePayload {
    fn from(request: UploadPrekeysRequest) -> Self {
        Self {
            identity_key: request.identity_key,
            signing_key: request.signing_key,
            fingerprint: request.fingerprint,
            signed_prekey: request.signed_prekey,
            one_time_prekeys: request.one_time_prekeys.unwrap_or_default(),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct IdentityMaterial {
    user_id: String,
    identity_key: String,
    signing_key: String,
    fingerprint: String,
    created_at: i64,
}

#[wasm_bindgen]
impl KeyManagerCore {
    /// Opens the store of `userId`'s keys (see the package's `KeyManager` for the options).
    /// `importer(name, userId, now)` converts the reference client's database `name` (a
    /// promise of the records' bytes, or `null`): the package passes the importer module's
    /// `importWebClient`, loaded on its first call; without it nothing is imported.
    pub fn open(user_id: String, options: JsValue, importer: JsValue) -> js_sys::Promise {
        let importer = crate::realm::function(&importer);
        promise(async move {
            let parsed = ParsedOptions::parse(&options)?;
            let store = open_store(&user_id, &parsed).await?;
            let import_from = match js_sys::Reflect::get(&options, &"importFrom".into()) {
                Ok(v) if v.as_bool() == Some(false) => None,
                Ok(v) => Some(v.as_string().unwrap_or_else(|| WEB_CLIENT_DATABASE.into())),
                Err(_) => Some(WEB_CLIENT_DATABASE.into()),
            };
            let config = SessionConfig {
                one_time_prekey_use: parsed.one_time_prekeys()?,
                ..SessionConfig::default()
            };
            Ok(KeyManagerCore {
                shared: Rc::new(Shared {
                    user_id,
                    store,
                    crypto: futures::lock::Mutex::new(Device::new(parsed.rng)),
                    setup: futures::lock::Mutex::new(()),
                    import_from,
                    importer,
                    config,
                }),
            }
            .into())
        })
    }

    /// Makes sure the user has keys: those already in the store, else the reference client's
    /// (imported from its database when it holds them), else new ones — an identity, signed
    /// prekey 1 and one-time prekeys 2..=101, as the reference makes them. Resolves to
    /// `"existing"`, `"imported"` or `"created"`.
    pub fn initialize(&self) -> js_sys::Promise {
        let shared = Rc::clone(&self.shared);
        promise(async move {
            let mut crypto = shared.crypto.lock().await;
            let outcome = match shared.store.identity().await? {
                Some(identity) if identity.user_id != shared.user_id => {
                    return Err(Error::invalid(
                        "userId",
                        format!(
                            "this store holds the keys of user {}, not {}",
                            identity.user_id, shared.user_id
                        ),
                    ));
                }
                Some(_) => "existing",
                None => {
                    let imported = match (&shared.import_from, &shared.importer) {
                        (Some(name), Some(importer)) if has_indexeddb() => {
                            import_with(importer, &shared.store, &shared.user_id, name).await?
                        }
                        _ => None,
                    };
                    if imported.is_some() {
                        "imported"
                    } else {
                        create_account(&shared.store, &shared.user_id, now(), crypto.rng()).await?;
                        "created"
                    }
                }
            };
            crypto
                .open(Arc::clone(&shared.store), shared.config)
                .await?;
            Ok(JsValue::from_str(outcome))
        })
    }

    /// The identity's fingerprint: 60 upper-case hex characters.
    #[wasm_bindgen(js_name = getFingerprint)]
    pub fn get_fingerprint(&self) -> js_sys::Promise {
        let shared = Rc::clone(&self.shared);
        promise(async move {
            let identity = shared.identity().await?;
            Ok(JsValue::from_str(identity.identity.fingerprint().as_str()))
        })
    }

    /// What the server does not have yet: `{identityKey, signingKey, fingerprint,
    /// signedPrekey: {keyId, publicKey, signature} | null, oneTimePrekeys: [{keyId,
    /// publicKey}]}` with at most 50 one-time prekeys, or `null` when all is uploaded.
    #[wasm_bindgen(js_name = getPendingBundle)]
    pub fn get_pending_bundle(&self) -> js_sys::Promise {
        let shared = Rc::clone(&self.shared);
        promise(async move {
            shared.identity().await?;
            match shared.care().next_upload().await? {
                Some(upload) => to_js(&BundlePayload::from(upload.request)),
                None => Ok(JsValue::NULL),
            }
        })
    }

    /// Records that the server accepted `bundle` (as returned by `getPendingBundle`).
    #[wasm_bindgen(js_name = markBundleUploaded)]
    pub fn mark_bundle_uploaded(&self, bundle: JsValue) -> js_sys::Promise {
        let shared = Rc::clone(&self.shared);
        promise(async move {
            let identity = shared.identity().await?;
            let bundle: Option<BundlePayload> = from_js(&bundle, "bundle")?;
            let upload = match bundle {
                Some(bundle) => {
                    if bundle.identity_key != identity.identity.public().dh.to_base64() {
                        return Err(Error::invalid(
                            "bundle",
                            "it carries another identity key (made before a reset?)",
                        ));
                    }
                    PendingUpload {
                        signed_prekey_id: bundle.signed_prekey.as_ref().map(|s| s.key_id),
                        one_time_prekey_ids: bundle
                            .one_time_prekeys
                            .iter()
                            .map(|p| p.key_id)
                            .collect(),
                        request: UploadPrekeysRequest {
                            identity_key: bundle.identity_key,
                            signing_key: bundle.signing_key,
                            fingerprint: bundle.fingerprint,
                            signed_prekey: bundle.signed_prekey,
                            one_time_prekeys: Some(bundle.one_time_prekeys),
                        },
                    }
                }
                None => PendingUpload {
                    request: UploadPrekeysRequest {
                        identity_key: identity.identity.public().dh.to_base64(),
                        signing_key: identity.identity.public().signing.to_base64(),
                        fingerprint: identity.identity.fingerprint().as_str().to_string(),
                        signed_prekey: None,
                        one_time_prekeys: None,
                    },
                    signed_prekey_id: None,
                    one_time_prekey_ids: Vec::new(),
                },
            };
            shared.care().mark_uploaded(&upload, now()).await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Makes `count` new one-time prekeys, to be uploaded with the next pending bundles.
    #[wasm_bindgen(js_name = queueOneTimePrekeys)]
    pub fn queue_one_time_prekeys(&self, count: u32) -> js_sys::Promise {
        let shared = Rc::clone(&self.shared);
        promise(async move {
            shared.identity().await?;
            if count > 1000 {
                return Err(Error::invalid("count", "at most 1000 prekeys at once"));
            }
            let mut crypto = shared.crypto.lock().await;
            shared.care().add_one_time(count, crypto.rng()).await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Makes a new signed prekey now (the old secret is kept for late first messages, then
    /// forgotten by prekey upkeep); it goes out with the next pending bundle.
    #[wasm_bindgen(js_name = rotateSignedPrekey)]
    pub fn rotate_signed_prekey(&self) -> js_sys::Promise {
        let shared = Rc::clone(&self.shared);
        promise(async move {
            shared.identity().await?;
            let mut crypto = shared.crypto.lock().await;
            // The old secret is kept for late first messages; retired secrets past their
            // keeping time go.
            shared.care().rotate_now(now(), crypto.rng()).await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// The public identity: `{userId, identityKey, signingKey, fingerprint, createdAt}`
    /// (private keys never leave the SDK).
    #[wasm_bindgen(js_name = getIdentityMaterial)]
    pub fn get_identity_material(&self) -> js_sys::Promise {
        let shared = Rc::clone(&self.shared);
        promise(async move {
            let identity = shared.identity().await?;
            let public = identity.identity.public();
            to_js(&IdentityMaterial {
                user_id: identity.user_id.clone(),
                identity_key: public.dh.to_base64(),
                signing_key: public.signing.to_base64(),
                fingerprint: public.fingerprint().as_str().to_string(),
                created_at: identity.created_at,
            })
        })
    }

    /// Forgets every key and session and makes a new identity (peers will see an identity
    /// change; upload the new pending bundle).
    #[wasm_bindgen(js_name = resetE2EE)]
    pub fn reset_e2ee(&self) -> js_sys::Promise {
        let shared = Rc::clone(&self.shared);
        promise(async move {
            let mut crypto = shared.crypto.lock().await;
            crypto.close();
            // One commit, and the prekey id counter carries on (as the web client's reset).
            reset_account(&shared.store, now(), crypto.rng()).await?;
            crypto
                .open(Arc::clone(&shared.store), shared.config)
                .await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// The current signed prekey's public part, for the package's `getStorage()`:
    /// `{keyId, publicKey, signature, createdAt, uploaded}`, or `null`.
    #[wasm_bindgen(js_name = signedPrekeyRecord)]
    pub fn signed_prekey_record(&self) -> js_sys::Promise {
        let shared = Rc::clone(&self.shared);
        promise(async move {
            let current = shared
                .store
                .account_meta()
                .await?
                .and_then(|meta| meta.current_signed_prekey_id);
            let record = match current {
                Some(id) => shared.store.signed_prekey(id).await?,
                None => None,
            };
            match record {
                Some(record) => {
                    let public = record.prekey.public();
                    to_js(&SignedPrekeyView {
                        key_id: public.id,
                        public_key: public.public.to_base64(),
                        signature: quickchat_core::encoding::b64_encode(&public.signature),
                        created_at: record.prekey.created_at(),
                        uploaded: record.uploaded,
                    })
                }
                None => Ok(JsValue::NULL),
            }
        })
    }

    /// One-time prekey `keyId`'s public part, for the package's `getStorage()`: `{keyId,
    /// publicKey, uploaded}`, or `undefined` when it is not held (never made, or used up by
    /// a first message: the SDK deletes a used one-time prekey's secret at once).
    #[wasm_bindgen(js_name = oneTimePrekeyRecord)]
    pub fn one_time_prekey_record(&self, key_id: u32) -> js_sys::Promise {
        let shared = Rc::clone(&self.shared);
        promise(async move {
            match shared.store.one_time_prekey(key_id).await? {
                Some(record) => to_js(&OneTimePrekeyView {
                    key_id,
                    public_key: record.prekey.public().public.to_base64(),
                    uploaded: record.uploaded,
                }),
                None => Ok(JsValue::UNDEFINED),
            }
        })
    }

    /// How many one-time prekeys are held (uploaded or not, none used).
    #[wasm_bindgen(js_name = oneTimePrekeyCount)]
    pub fn one_time_prekey_count(&self) -> js_sys::Promise {
        let shared = Rc::clone(&self.shared);
        promise(async move {
            let count = shared.store.one_time_prekeys().await?.len();
            Ok(JsValue::from(u32::try_from(count).unwrap_or(u32::MAX)))
        })
    }

    /// The session with `peerId` as `listSessions()` shows it, or `null`.
    #[wasm_bindgen(js_name = sessionRecord)]
    pub fn session_record(&self, peer_id: String) -> js_sys::Promise {
        let shared = Rc::clone(&self.shared);
        promise(async move {
            match shared.store.peer_sessions(&peer_id).await? {
                Some(sessions) => to_js(&session_view(&shared.user_id, &sessions)),
                None => Ok(JsValue::NULL),
            }
        })
    }

    /// Every session, as `listSessions()` shows them.
    #[wasm_bindgen(js_name = sessionRecords)]
    pub fn session_records(&self) -> js_sys::Promise {
        let shared = Rc::clone(&self.shared);
        promise(async move { to_js(&session_views(&shared).await?) })
    }

    /// The user id.
    #[wasm_bindgen(getter, js_name = userId)]
    pub fn user_id(&self) -> String {
        self.shared.user_id.clone()
    }
}

/// A signed prekey's public part, as `getStorage().loadSignedPrekey()` shows it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SignedPrekeyView {
    key_id: u32,
    public_key: String,
    signature: String,
    created_at: i64,
    uploaded: bool,
}

/// A one-time prekey's public part, as `getStorage().loadOneTimePrekey()` shows it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OneTimePrekeyView {
    key_id: u32,
    public_key: String,
    uploaded: bool,
}

/// Every session of the store, as `listSessions()` shows them.
async fn session_views(shared: &Shared) -> Result<Vec<SessionView>> {
    let mut views = Vec::new();
    for peer in shared.store.session_peer_ids().await? {
        if let Some(sessions) = shared.store.peer_sessions(&peer).await? {
            views.push(session_view(&shared.user_id, &sessions));
        }
    }
    Ok(views)
}

fn has_indexeddb() -> bool {
    js_sys::Reflect::get(&js_sys::global(), &"indexedDB".into())
        .is_ok_and(|v| !v.is_undefined() && !v.is_null())
}

/// The engine of the package's `SessionManager`.
#[wasm_bindgen]
pub struct SessionManagerCore {
    state: Rc<SessionState>,
}

struct SessionState {
    shared: Rc<Shared>,
    transport: Option<WebTransport>,
    fetch_bundle: Option<js_sys::Function>,
    token: RefCell<String>,
    on_identity_change: RefCell<Option<js_sys::Function>>,
}

/// A session as `listSessions()` shows it: the reference's `StoredSessionRecord` without
/// its secrets.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SessionView {
    storage_key: String,
    user_id: String,
    peer_id: String,
    session_id: String,
    remote_identity_key: String,
    remote_signed_prekey_id: Option<u32>,
    remote_fingerprint: String,
    status: &'static str,
    initiated_by_me: bool,
    /// The `x3dh` block the first message will carry, while it is not sent (public keys
    /// and ids only).
    #[serde(skip_serializing_if = "Option::is_none")]
    x3dh: Option<quickchat_core::envelope::X3dhHeader>,
    created_at: i64,
    updated_at: i64,
}

fn session_view(user_id: &str, sessions: &PeerSessions) -> SessionView {
    let session = &sessions.current;
    let (remote_signed_prekey_id, initiated_by_me) = match &session.origin {
        SessionOrigin::Initiated {
            remote_signed_prekey_id,
        } => (Some(*remote_signed_prekey_id), true),
        SessionOrigin::Responded { .. } => (None, false),
    };
    SessionView {
        storage_key: format!("{user_id}:session:{}", sessions.peer_id),
        user_id: user_id.to_string(),
        peer_id: sessions.peer_id.clone(),
        session_id: format!("session-{}", session.created_at),
        remote_identity_key: session.remote_identity_key.to_base64(),
        remote_signed_prekey_id,
        remote_fingerprint: quickchat_core::keys::Fingerprint::of(&session.remote_identity_key)
            .as_str()
            .to_string(),
        status: "ready",
        initiated_by_me,
        x3dh: session.pending_x3dh,
        created_at: session.created_at,
        updated_at: session.updated_at,
    }
}

impl SessionState {
    fn report(&self, change: Option<IdentityChange>) {
        let (Some(change), Some(callback)) = (change, self.on_identity_change.borrow().clone())
        else {
            return;
        };
        match to_js(&change) {
            Ok(value) => {
                if let Err(e) = callback.call1(&JsValue::NULL, &value) {
                    report_callback_error(&e);
                }
            }
            Err(e) => report_callback_error(&JsValue::from(e)),
        }
    }

    async fn bundle(&self, peer_id: &str) -> Result<BundleResponse> {
        if let Some(fetch) = &self.fetch_bundle {
            let value = fetch
                .call1(&JsValue::NULL, &JsValue::from_str(peer_id))
                .map_err(|e| Error::invalid("fetchBundle", crate::transport::js_error_text(&e)))?;
            // `Promise.resolve`: a promise of any realm, a thenable, or the bundle itself.
            let value = wasm_bindgen_futures::JsFuture::from(js_sys::Promise::resolve(&value))
                .await
                .map_err(|e| Error::invalid("fetchBundle", crate::transport::js_error_text(&e)))?;
            let bundle: Option<BundleResponse> = from_js(&value, "bundle")?;
            return bundle.ok_or_else(|| Error::invalid("bundle", "fetchBundle returned nothing"));
        }
        let transport = self.transport.clone().ok_or_else(|| {
            Error::Unsupported(
                "no server to fetch bundles from: give `server` or `fetchBundle` in the options"
                    .into(),
            )
        })?;
        let token = self.token.borrow().clone();
        match Api::new(transport).fetch_bundle(&token, peer_id).await {
            Ok(bundle) => Ok(bundle),
            Err(e) if e.status() == Some(404) => Err(Error::PeerHasNoKeys {
                peer_id: peer_id.to_string(),
            }),
            Err(ApiError::Transport(e)) => Err(Error::SessionNetwork {
                peer_id: peer_id.to_string(),
                detail: e.to_string(),
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// Makes sure there is a session with the peer and hands back the engine. The peer's
    /// bundle is fetched without holding the engine: a slow or failing network delays only
    /// this call, never the other peers' messages. Callers hold `setup`.
    async fn ensure(
        &self,
        peer_id: &str,
    ) -> Result<futures::lock::MutexGuard<'_, Device<SharedStore, WebRng>>> {
        {
            let mut guard = self.shared.crypto.lock().await;
            if guard.has_session(peer_id).await? {
                return Ok(guard);
            }
        }
        let bundle = self
            .bundle(peer_id)
            .await?
            .to_bundle()
            .map_err(|e: EncodingError| Error::Encoding(e))?;
        let mut guard = self.shared.crypto.lock().await;
        // A first message from the peer may have made one meanwhile: it is used.
        let change = guard.session_from_bundle(peer_id, &bundle, now()).await?;
        self.report(change);
        Ok(guard)
    }

    async fn encrypt_wire(&self, peer_id: &str, plaintext: &str) -> Result<String> {
        {
            let mut guard = self.shared.crypto.lock().await;
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

    /// Decrypts and commits a message from `peer_id`; resolves to its text.
    async fn decrypt_envelope(
        &self,
        peer_id: String,
        envelope: std::result::Result<Envelope, EnvelopeError>,
    ) -> Result<JsValue> {
        let envelope = envelope.map_err(|source| SessionError::Envelope {
            peer_id: peer_id.clone(),
            source,
        })?;
        let mut guard = self.shared.crypto.lock().await;
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
        Ok(JsValue::from_str(&incoming.plaintext))
    }
}

/// A header number from JavaScript, held to what the JSON parser accepts for it.
fn header_number(field: &str, value: f64) -> std::result::Result<u32, EnvelopeError> {
    if value.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&value) {
        // An integer in range: the conversion is exact.
        Ok(value as u32)
    } else {
        Err(EnvelopeError::InvalidShape {
            detail: format!("{field}: {value} is not an integer in 0..=4294967295"),
        })
    }
}

#[wasm_bindgen]
impl SessionManagerCore {
    /// A session manager over `keyManager`'s keys; `token` is the JWT for bundle fetches.
    /// Options: `server` (bundles come from `<server>/api/users/{peerId}/prekeys`; default:
    /// the page's origin) or `fetchBundle(peerId)` (resolves to a bundle as that endpoint
    /// returns it), and `onIdentityChange(change)`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        key_manager: &KeyManagerCore,
        token: String,
        options: JsValue,
    ) -> Result<SessionManagerCore, JsValue> {
        let parsed = ParsedOptions::parse(&options)?;
        let function = |name: &str| crate::realm::function(&crate::realm::field(&options, name));
        let fetch_bundle = function("fetchBundle");
        let transport = if fetch_bundle.is_some() {
            parsed.transport().ok()
        } else {
            Some(parsed.transport()?)
        };
        Ok(SessionManagerCore {
            state: Rc::new(SessionState {
                shared: Rc::clone(&key_manager.shared),
                transport,
                fetch_bundle,
                token: RefCell::new(token),
                on_identity_change: RefCell::new(function("onIdentityChange")),
            }),
        })
    }

    /// Replaces the JWT (after a new login).
    #[wasm_bindgen(js_name = setToken)]
    pub fn set_token(&self, token: String) {
        *self.state.token.borrow_mut() = token;
    }

    /// Calls `callback(change)` when a peer's identity key changes
    /// (`{peerId, previousKey, newKey, previousFingerprint, newFingerprint, wasVerified}`).
    #[wasm_bindgen(js_name = onIdentityChange)]
    pub fn on_identity_change(&self, callback: Option<js_sys::Function>) {
        *self.state.on_identity_change.borrow_mut() = callback;
    }

    /// The session with the peer, started from its bundle (fetched once) if there is none.
    #[wasm_bindgen(js_name = ensureSession)]
    pub fn ensure_session(&self, peer_id: String) -> js_sys::Promise {
        let this = Rc::clone(&self.state);
        promise(async move {
            let setup = this.shared.setup.lock().await;
            drop(this.ensure(&peer_id).await?);
            drop(setup);
            let sessions = this
                .shared
                .store
                .peer_sessions(&peer_id)
                .await?
                .ok_or_else(|| Error::invalid("peerId", "the session was not saved"))?;
            to_js(&session_view(&this.shared.user_id, &sessions))
        })
    }

    /// Encrypts `plaintext` for the peer: resolves to the wire object `{header: {ratchetKey,
    /// previousChainLength, messageNumber}, ciphertext, authTag: "", x3dh?}` (send
    /// `JSON.stringify` of it as the message content, with `encrypted: true`).
    #[wasm_bindgen(js_name = encryptMessage)]
    pub fn encrypt_message(&self, peer_id: String, plaintext: String) -> js_sys::Promise {
        let this = Rc::clone(&self.state);
        promise(async move {
            let wire = this.encrypt_wire(&peer_id, &plaintext).await?;
            js_sys::JSON::parse(&wire)
                .map_err(|_| Error::Unsupported("cannot hand the message to JavaScript".into()))
        })
    }

    /// As `encryptMessage`, resolving to the wire string itself (what goes in `content`).
    #[wasm_bindgen(js_name = encryptMessageToString)]
    pub fn encrypt_message_to_string(&self, peer_id: String, plaintext: String) -> js_sys::Promise {
        let this = Rc::clone(&self.state);
        promise(async move {
            Ok(JsValue::from_str(
                &this.encrypt_wire(&peer_id, &plaintext).await?,
            ))
        })
    }

    /// Decrypts a message from the peer (the wire object, or its JSON string) and resolves
    /// to the text. A message that does not decrypt changes nothing.
    #[wasm_bindgen(js_name = decryptMessage)]
    pub fn decrypt_message(&self, peer_id: String, message: JsValue) -> js_sys::Promise {
        let wire = match message.as_string() {
            Some(text) => Ok(text),
            None => js_sys::JSON::stringify(&message)
                .ok()
                .and_then(|t| t.as_string())
                .ok_or_else(|| Error::invalid("message", "not an encrypted message")),
        };
        match wire {
            Ok(wire) => self.decrypt_wire(peer_id, wire),
            Err(e) => js_sys::Promise::reject(&JsValue::from(e)),
        }
    }

    /// As `decryptMessage`, from the wire string (the package's JavaScript turns a wire
    /// object into its string before the call: cheaper than fetching it from here).
    #[wasm_bindgen(js_name = decryptWire)]
    pub fn decrypt_wire(&self, peer_id: String, wire: String) -> js_sys::Promise {
        let this = Rc::clone(&self.state);
        promise(async move {
            let envelope = Envelope::parse(&wire);
            this.decrypt_envelope(peer_id, envelope).await
        })
    }

    /// As `decryptMessage`, from the fields of a wire object without `x3dh`, which the
    /// package's JavaScript passes when it holds such an object: no JSON is written in
    /// JavaScript or parsed here. The numbers must be integers in 0..=2^32-1, as in JSON.
    #[wasm_bindgen(js_name = decryptFields)]
    pub fn decrypt_fields(
        &self,
        peer_id: String,
        ratchet_key: String,
        previous_chain_length: f64,
        message_number: f64,
        ciphertext: String,
    ) -> js_sys::Promise {
        let this = Rc::clone(&self.state);
        promise(async move {
            let envelope = (|| {
                Envelope::from_fields(
                    &ratchet_key,
                    header_number("header.previousChainLength", previous_chain_length)?,
                    header_number("header.messageNumber", message_number)?,
                    &ciphertext,
                )
            })();
            this.decrypt_envelope(peer_id, envelope).await
        })
    }

    /// Every session, as the reference's `StoredSessionRecord` without secrets.
    #[wasm_bindgen(js_name = listSessions)]
    pub fn list_sessions(&self) -> js_sys::Promise {
        let shared = Rc::clone(&self.state.shared);
        promise(async move { to_js(&session_views(&shared).await?) })
    }
}
