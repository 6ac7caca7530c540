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
//!
//! This module converts arguments and values only; what the classes do is
//! [`crate::dropin`].

use std::rc::Rc;

use quickchat_core::envelope::Envelope;
use quickchat_core::protocol::rest::{
    BundleResponse, BundleSignedPrekey, OneTimePrekeyJson, SignedPrekeyUpload, UploadPrekeysRequest,
};
use quickchat_core::session::{PeerSessions, SessionOrigin};
use wasm_bindgen::JsValue;
use wasm_bindgen::prelude::*;

use super::fields::Fields;
use super::options::ParsedOptions;
use super::promise;
use super::wire::{envelope_from_wire, header_number};
use crate::dropin::keys::Shared;
use crate::dropin::sessions::{BundleSource, SessionState, all_sessions};
use crate::error::{Error, Result};
use crate::import::WEB_CLIENT_DATABASE;
use crate::objects::{Object, array};

/// The engine of the package's `KeyManager`.
#[wasm_bindgen]
pub struct KeyManagerCore {
    shared: Rc<Shared>,
}

/// A bundle as the reference client uploads it (`POST /api/users/prekeys`): `{identityKey,
/// signingKey, fingerprint, signedPrekey: {keyId, publicKey, signature} | null,
/// oneTimePrekeys: [{keyId, publicKey}]}`.
fn bundle_to_js(request: UploadPrekeysRequest) -> JsValue {
    let signed = request.signed_prekey.map(|signed| {
        Object::new()
            .number("keyId", signed.key_id)
            .set("publicKey", signed.public_key)
            .set("signature", signed.signature)
            .build()
    });
    let one_time = request
        .one_time_prekeys
        .unwrap_or_default()
        .into_iter()
        .map(|prekey| {
            Object::new()
                .number("keyId", prekey.key_id)
                .set("publicKey", prekey.public_key)
                .build()
        });
    Object::new()
        .set("identityKey", request.identity_key)
        .set("signingKey", request.signing_key)
        .set("fingerprint", request.fingerprint)
        .or_null("signedPrekey", signed)
        .set("oneTimePrekeys", array(one_time))
        .build()
}

/// A prekey id field of a bundle: a whole number in `u32`'s range.
fn key_id(prekey: &Fields<'_>) -> Result<u32> {
    prekey
        .whole("keyId", f64::from(u32::MAX), "a prekey id")?
        // In u32's range, whole: the conversion is exact.
        .map(|id| id as u32)
        .ok_or_else(|| prekey.wrong("keyId", "a prekey id"))
}

/// The bundle `getPendingBundle` handed out, as the application hands it back (`null` or
/// `undefined`: none), read field by field.
fn bundle_from_js(value: &JsValue) -> Result<Option<UploadPrekeysRequest>> {
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    let fields = Fields::of(value, "bundle")?;
    let signed_prekey = signed_prekey(&fields)?;
    let one_time_prekeys = fields
        .array("oneTimePrekeys", "an array")?
        .unwrap_or_default()
        .iter()
        .map(|prekey| one_time_prekey(&Fields::of(prekey, "bundle")?))
        .collect::<Result<_>>()?;
    Ok(Some(UploadPrekeysRequest {
        identity_key: fields.required_string("identityKey")?,
        signing_key: fields.required_string("signingKey")?,
        fingerprint: fields.required_string("fingerprint")?,
        signed_prekey,
        one_time_prekeys: Some(one_time_prekeys),
    }))
}

/// A bundle's `signedPrekey {keyId, publicKey, signature}`, if present.
fn signed_prekey(bundle: &Fields<'_>) -> Result<Option<SignedPrekeyUpload>> {
    bundle
        .object("signedPrekey")?
        .map(|signed| {
            let signed = Fields::of(&signed, "bundle")?;
            Ok(SignedPrekeyUpload {
                key_id: key_id(&signed)?,
                public_key: signed.required_string("publicKey")?,
                signature: signed.required_string("signature")?,
            })
        })
        .transpose()
}

fn one_time_prekey(prekey: &Fields<'_>) -> Result<OneTimePrekeyJson> {
    Ok(OneTimePrekeyJson {
        key_id: key_id(prekey)?,
        public_key: prekey.required_string("publicKey")?,
    })
}

/// A peer's bundle as the backend's prekeys endpoint returns it (from `fetchBundle`, or the
/// package's fetch of that endpoint), read field by field: `identityKey` and `signingKey`,
/// and `fingerprint`, `signedPrekey {keyId, publicKey, signature}` and `oneTimePrekey
/// {keyId, publicKey}` where present (`null` or absent: none). Other fields are ignored, as
/// the web client ignores them.
pub(crate) fn fetched_bundle_from_js(value: &JsValue) -> Result<BundleResponse> {
    if value.is_undefined() || value.is_null() {
        return Err(Error::invalid("bundle", "fetchBundle returned nothing"));
    }
    let fields = Fields::of(value, "bundle")?;
    let signed_prekey = signed_prekey(&fields)?.map(|signed| BundleSignedPrekey {
        key_id: signed.key_id,
        public_key: signed.public_key,
        signature: signed.signature,
        created_at: None,
    });
    let one_time_prekey = match fields.object("oneTimePrekey")? {
        None => None,
        Some(prekey) => Some(one_time_prekey(&Fields::of(&prekey, "bundle")?)?),
    };
    Ok(BundleResponse {
        identity_key: fields.required_string("identityKey")?,
        signing_key: fields.required_string("signingKey")?,
        fingerprint: fields.string("fingerprint")?,
        signed_prekey,
        one_time_prekey,
    })
}

#[wasm_bindgen]
impl KeyManagerCore {
    /// Opens the store of `userId`'s keys (see the package's `KeyManager` for the options).
    /// `importer(name, userId, now)` converts the reference client's database `name` (a
    /// promise of the records' bytes, or `null`): the package passes the importer module's
    /// `importWebClient`, loaded on its first call; without it nothing is imported. `disk`:
    /// the store's database as the package's `src/key-store.js` opened it (its records are
    /// read into memory here, its writes sealed here), with `options.passphrase` the store's
    /// (or the device's generated one); `null` for a store in memory.
    pub fn open(
        user_id: String,
        options: JsValue,
        importer: JsValue,
        disk: JsValue,
    ) -> js_sys::Promise {
        let importer = crate::realm::function(&importer);
        let disk = Some(disk).filter(|d| d.is_object());
        promise(async move {
            let parsed = ParsedOptions::parse(&options)?;
            let import_from = match js_sys::Reflect::get(&options, &"importFrom".into()) {
                Ok(v) if v.as_bool() == Some(false) => None,
                Ok(v) => Some(v.as_string().unwrap_or_else(|| WEB_CLIENT_DATABASE.into())),
                Err(_) => Some(WEB_CLIENT_DATABASE.into()),
            };
            let shared = Shared::open(user_id, parsed, import_from, importer, disk).await?;
            Ok(KeyManagerCore {
                shared: Rc::new(shared),
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
        promise(async move { Ok(JsValue::from_str(shared.initialize().await?.as_str())) })
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
            match shared.pending_upload().await? {
                Some(request) => Ok(bundle_to_js(request)),
                None => Ok(JsValue::NULL),
            }
        })
    }

    /// Records that the server accepted `bundle` (as returned by `getPendingBundle`).
    #[wasm_bindgen(js_name = markBundleUploaded)]
    pub fn mark_bundle_uploaded(&self, bundle: JsValue) -> js_sys::Promise {
        let shared = Rc::clone(&self.shared);
        promise(async move {
            shared.mark_uploaded(bundle_from_js(&bundle)?).await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Makes `count` new one-time prekeys, to be uploaded with the next pending bundles.
    #[wasm_bindgen(js_name = queueOneTimePrekeys)]
    pub fn queue_one_time_prekeys(&self, count: u32) -> js_sys::Promise {
        let shared = Rc::clone(&self.shared);
        promise(async move {
            shared.queue_one_time_prekeys(count).await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Makes a new signed prekey now (the old secret is kept for late first messages, then
    /// forgotten by prekey upkeep); it goes out with the next pending bundle.
    #[wasm_bindgen(js_name = rotateSignedPrekey)]
    pub fn rotate_signed_prekey(&self) -> js_sys::Promise {
        let shared = Rc::clone(&self.shared);
        promise(async move {
            shared.rotate_signed_prekey().await?;
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
            Ok(Object::new()
                .set("userId", identity.user_id.as_str())
                .set("identityKey", public.dh.to_base64())
                .set("signingKey", public.signing.to_base64())
                .set("fingerprint", public.fingerprint().as_str())
                .time("createdAt", identity.created_at)
                .build())
        })
    }

    /// Forgets every key and session and makes a new identity (peers will see an identity
    /// change; upload the new pending bundle).
    #[wasm_bindgen(js_name = resetE2EE)]
    pub fn reset_e2ee(&self) -> js_sys::Promise {
        let shared = Rc::clone(&self.shared);
        promise(async move {
            shared.reset().await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// The current signed prekey's public part, for the package's `getStorage()`:
    /// `{keyId, publicKey, signature, createdAt, uploaded}`, or `null`.
    #[wasm_bindgen(js_name = signedPrekeyRecord)]
    pub fn signed_prekey_record(&self) -> js_sys::Promise {
        let shared = Rc::clone(&self.shared);
        promise(async move {
            match shared.current_signed_prekey().await? {
                Some(record) => {
                    let public = record.prekey.public();
                    Ok(Object::new()
                        .number("keyId", public.id)
                        .set("publicKey", public.public.to_base64())
                        .set(
                            "signature",
                            quickchat_core::encoding::b64_encode(&public.signature),
                        )
                        .time("createdAt", record.prekey.created_at())
                        .set("uploaded", record.uploaded)
                        .build())
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
            match shared.one_time_prekey(key_id).await? {
                Some(record) => Ok(Object::new()
                    .number("keyId", key_id)
                    .set("publicKey", record.prekey.public().public.to_base64())
                    .set("uploaded", record.uploaded)
                    .build()),
                None => Ok(JsValue::UNDEFINED),
            }
        })
    }

    /// How many one-time prekeys are held (uploaded or not, none used).
    #[wasm_bindgen(js_name = oneTimePrekeyCount)]
    pub fn one_time_prekey_count(&self) -> js_sys::Promise {
        let shared = Rc::clone(&self.shared);
        promise(async move {
            let count = shared.one_time_prekey_count().await?;
            Ok(JsValue::from(u32::try_from(count).unwrap_or(u32::MAX)))
        })
    }

    /// The session with `peerId` as `listSessions()` shows it, or `null`.
    #[wasm_bindgen(js_name = sessionRecord)]
    pub fn session_record(&self, peer_id: String) -> js_sys::Promise {
        let shared = Rc::clone(&self.shared);
        promise(async move {
            match shared.store.peer_sessions(&peer_id).await? {
                Some(sessions) => Ok(session_view(&shared.user_id, &sessions)),
                None => Ok(JsValue::NULL),
            }
        })
    }

    /// Every session, as `listSessions()` shows them.
    #[wasm_bindgen(js_name = sessionRecords)]
    pub fn session_records(&self) -> js_sys::Promise {
        let shared = Rc::clone(&self.shared);
        promise(async move { session_views(&shared).await })
    }

    /// The user id.
    #[wasm_bindgen(getter, js_name = userId)]
    pub fn user_id(&self) -> String {
        self.shared.user_id.clone()
    }
}

/// Every session of the store, as `listSessions()` shows them.
async fn session_views(shared: &Shared) -> Result<JsValue> {
    Ok(array(
        all_sessions(shared)
            .await?
            .iter()
            .map(|sessions| session_view(&shared.user_id, sessions)),
    ))
}

/// The engine of the package's `SessionManager`.
#[wasm_bindgen]
pub struct SessionManagerCore {
    state: Rc<SessionState>,
}

/// A session as `listSessions()` shows it: the reference's `StoredSessionRecord` without
/// its secrets: `{storageKey, userId, peerId, sessionId, remoteIdentityKey,
/// remoteSignedPrekeyId (null when the peer started it), remoteFingerprint, status,
/// initiatedByMe, x3dh?, createdAt, updatedAt}`, where `x3dh` is the block the first message
/// will carry while it is not sent (public keys and ids only).
fn session_view(user_id: &str, sessions: &PeerSessions) -> JsValue {
    let session = &sessions.current;
    let (remote_signed_prekey_id, initiated_by_me) = match &session.origin {
        SessionOrigin::Initiated {
            remote_signed_prekey_id,
        } => (
            Some(JsValue::from_f64(f64::from(*remote_signed_prekey_id))),
            true,
        ),
        SessionOrigin::Responded { .. } => (None, false),
    };
    let mut view = Object::new()
        .set(
            "storageKey",
            format!("{user_id}:session:{}", sessions.peer_id),
        )
        .set("userId", user_id)
        .set("peerId", sessions.peer_id.as_str())
        .set("sessionId", format!("session-{}", session.created_at))
        .set("remoteIdentityKey", session.remote_identity_key.to_base64())
        .or_null("remoteSignedPrekeyId", remote_signed_prekey_id)
        .set(
            "remoteFingerprint",
            quickchat_core::keys::Fingerprint::of(&session.remote_identity_key).as_str(),
        )
        .set("status", "ready")
        .set("initiatedByMe", initiated_by_me);
    if let Some(x3dh) = &session.pending_x3dh {
        let one_time = x3dh
            .used_one_time_prekey_id
            .map(|id| JsValue::from_f64(f64::from(id)));
        view = view.set(
            "x3dh",
            Object::new()
                .set("senderIdentityKey", x3dh.sender_identity_key.to_base64())
                .set("senderEphemeralKey", x3dh.sender_ephemeral_key.to_base64())
                .number("usedSignedPrekeyId", x3dh.used_signed_prekey_id)
                .or_null("usedOneTimePrekeyId", one_time)
                .build(),
        );
    }
    view.time("createdAt", session.created_at)
        .time("updatedAt", session.updated_at)
        .build()
}

#[wasm_bindgen]
impl SessionManagerCore {
    /// A session manager over `keyManager`'s keys; `token` is the JWT for bundle fetches.
    /// Options: `fetchBundle(peerId)` (resolves to a bundle as the backend's prekeys
    /// endpoint returns it), else `fetchFromServer(peerId, token)`, which the package sets
    /// (src/bundle-fetch.js: the endpoint of the `server` option, default the page's
    /// origin, whose errors come through as they are), and `onIdentityChange(change)`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        key_manager: &KeyManagerCore,
        token: String,
        options: JsValue,
    ) -> Result<SessionManagerCore, JsValue> {
        // Checks the options' fields as the key manager does.
        ParsedOptions::parse(&options)?;
        let function = |name: &str| crate::realm::function(&crate::realm::field(&options, name));
        let source = match (function("fetchBundle"), function("fetchFromServer")) {
            (Some(fetch), _) => BundleSource::Function(fetch),
            (None, Some(fetch)) => BundleSource::Server(fetch),
            (None, None) => {
                return Err(Error::invalid(
                    "options",
                    "give fetchBundle (the package sets fetchFromServer otherwise)",
                )
                .into());
            }
        };
        Ok(SessionManagerCore {
            state: Rc::new(SessionState::new(
                Rc::clone(&key_manager.shared),
                source,
                token,
                function("onIdentityChange"),
            )),
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
            let sessions = this.ensure_session(&peer_id).await?;
            Ok(session_view(&this.shared.user_id, &sessions))
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

    /// Decrypts a message from the peer, its wire string (the package's JavaScript turns a
    /// wire object into its string before the call: cheaper than fetching it from here), and
    /// resolves to the text. A message that does not decrypt changes nothing.
    #[wasm_bindgen(js_name = decryptWire)]
    pub fn decrypt_wire(&self, peer_id: String, wire: String) -> js_sys::Promise {
        let this = Rc::clone(&self.state);
        promise(async move {
            let envelope = envelope_from_wire(&wire);
            Ok(JsValue::from_str(
                &this.decrypt_envelope(peer_id, envelope).await?,
            ))
        })
    }

    /// As `decryptWire`, from the fields of a wire object without `x3dh`, which the
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
                    header_number(
                        "header.previousChainLength",
                        &JsValue::from_f64(previous_chain_length),
                    )?,
                    header_number("header.messageNumber", &JsValue::from_f64(message_number))?,
                    &ciphertext,
                )
            })();
            Ok(JsValue::from_str(
                &this.decrypt_envelope(peer_id, envelope).await?,
            ))
        })
    }

    /// Every session, as the reference's `StoredSessionRecord` without secrets.
    #[wasm_bindgen(js_name = listSessions)]
    pub fn list_sessions(&self) -> js_sys::Promise {
        let shared = Rc::clone(&self.state.shared);
        promise(async move { session_views(&shared).await })
    }
}
