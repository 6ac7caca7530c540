//! The user's keys behind `KeyManager`: made once (or imported from the reference client's
//! database), published in bundles of the reference's size, rotated and reset as the
//! reference does.

use std::sync::Arc;

use quickchat_core::account::{create_account, reset_account};
use quickchat_core::prekey_care::{PendingUpload, PrekeyCare, PrekeyPolicy};
use quickchat_core::protocol::rest::UploadPrekeysRequest;
use quickchat_core::session::{Device, SessionConfig};
use quickchat_core::store::{IdentityRecord, OneTimePrekeyRecord, SignedPrekeyRecord, Store};

use super::{SharedStore, now, storage};
use crate::api::options::ParsedOptions;
use crate::error::{Error, Result};
use crate::handover::import_with;
use crate::rng::WebRng;

/// How far ahead, at most, the drop-in stores a sending chain ([`SessionConfig::send_ahead`]):
/// after a reload, a peer passes over at most this many message numbers of the chain the
/// page was sending on (and none if that chain had one message).
const SEND_AHEAD: u32 = 16;

/// At most this many one-time prekeys in one pending bundle (the reference's number).
const MAX_BUNDLE_ONE_TIME_PREKEYS: usize = 50;

/// At most this many one-time prekeys made by one call.
const MAX_QUEUED_AT_ONCE: u32 = 1000;

/// How `initialize()` found the user's keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Initialized {
    /// Already in the store.
    Existing,
    /// Imported from the reference client's database.
    Imported,
    /// Made now.
    Created,
}

impl Initialized {
    /// The name `initialize()` resolves to.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Initialized::Existing => "existing",
            Initialized::Imported => "imported",
            Initialized::Created => "created",
        }
    }
}

/// What a `KeyManager` and the `SessionManager`s made from it share.
pub(crate) struct Shared {
    pub(crate) user_id: String,
    pub(crate) store: SharedStore,
    pub(crate) device: futures::lock::Mutex<Device<SharedStore, WebRng>>,
    /// Held while a session is being set up (its bundle fetched), one at a time, so that
    /// messages to a new peer keep their order; the engine (`device`) stays free meanwhile.
    pub(crate) setup: futures::lock::Mutex<()>,
    /// The reference client's database to import from, if any.
    import_from: Option<String>,
    /// `importer(name, userId, now)`: the importer module's `importWebClient`, loaded by the
    /// package only when called (see [`crate::handover`]).
    importer: Option<js_sys::Function>,
    config: SessionConfig,
}

impl Shared {
    /// Opens the store of `user_id`'s keys as `parsed` says, over `disk` (the database side
    /// JavaScript opened) when there is one; `import_from` names the reference client's
    /// database to import from on first use.
    pub(crate) async fn open(
        user_id: String,
        parsed: ParsedOptions,
        import_from: Option<String>,
        importer: Option<js_sys::Function>,
        disk: Option<wasm_bindgen::JsValue>,
    ) -> Result<Self> {
        let store = storage::open_store(&parsed, disk).await?;
        let config = SessionConfig {
            one_time_prekey_use: parsed.one_time_prekeys()?,
            // A message sent alone waits for its session's write (one IndexedDB transaction,
            // about half a millisecond, fifty times its own work): on a chain with messages
            // behind it, the stored chain is ahead and most messages wait for none.
            send_ahead: SEND_AHEAD,
            ..SessionConfig::default()
        };
        Ok(Self {
            user_id,
            store,
            device: futures::lock::Mutex::new(Device::new(parsed.rng)),
            setup: futures::lock::Mutex::new(()),
            import_from,
            importer,
            config,
        })
    }

    fn care(&self) -> PrekeyCare<'_, SharedStore> {
        let policy = PrekeyPolicy {
            upload_batch: MAX_BUNDLE_ONE_TIME_PREKEYS,
            ..PrekeyPolicy::default()
        };
        PrekeyCare::new(&self.store, policy)
    }

    /// The identity, once `initialize()` has made or found it.
    pub(crate) async fn identity(&self) -> Result<IdentityRecord> {
        self.store
            .identity()
            .await?
            .ok_or(Error::NotInitialized("KeyManager"))
    }

    /// Makes sure the user has keys: those already in the store, else the reference
    /// client's (imported from its database when it holds them), else new ones — an
    /// identity, signed prekey 1 and one-time prekeys 2..=101, as the reference makes them.
    pub(crate) async fn initialize(&self) -> Result<Initialized> {
        let mut device = self.device.lock().await;
        let outcome = match self.store.identity().await? {
            Some(identity) if identity.user_id != self.user_id => {
                return Err(Error::invalid(
                    "userId",
                    format!(
                        "this store holds the keys of user {}, not {}",
                        identity.user_id, self.user_id
                    ),
                ));
            }
            Some(_) => Initialized::Existing,
            None => {
                let imported = match (&self.import_from, &self.importer) {
                    (Some(name), Some(importer)) if has_indexeddb() => {
                        import_with(importer, &self.store, &self.user_id, name).await?
                    }
                    _ => None,
                };
                if imported.is_some() {
                    Initialized::Imported
                } else {
                    create_account(&self.store, &self.user_id, now(), device.rng()).await?;
                    Initialized::Created
                }
            }
        };
        device.open(Arc::clone(&self.store), self.config).await?;
        Ok(outcome)
    }

    /// What the server does not have yet (at most 50 one-time prekeys), or `None`.
    pub(crate) async fn pending_upload(&self) -> Result<Option<UploadPrekeysRequest>> {
        self.identity().await?;
        Ok(self
            .care()
            .next_upload()
            .await?
            .map(|upload| upload.request))
    }

    /// Records that the server accepted `request` (a bundle `pending_upload` gave out), or,
    /// with `None`, the identity alone.
    pub(crate) async fn mark_uploaded(&self, request: Option<UploadPrekeysRequest>) -> Result<()> {
        let identity = self.identity().await?;
        let public = identity.identity.public();
        let upload = match request {
            Some(request) => {
                if request.identity_key != public.dh.to_base64() {
                    return Err(Error::invalid(
                        "bundle",
                        "it carries another identity key (made before a reset?)",
                    ));
                }
                PendingUpload {
                    signed_prekey_id: request.signed_prekey.as_ref().map(|s| s.key_id),
                    one_time_prekey_ids: request
                        .one_time_prekeys
                        .iter()
                        .flatten()
                        .map(|p| p.key_id)
                        .collect(),
                    request,
                }
            }
            None => PendingUpload {
                request: UploadPrekeysRequest {
                    identity_key: public.dh.to_base64(),
                    signing_key: public.signing.to_base64(),
                    fingerprint: public.fingerprint().as_str().to_string(),
                    signed_prekey: None,
                    one_time_prekeys: None,
                },
                signed_prekey_id: None,
                one_time_prekey_ids: Vec::new(),
            },
        };
        self.care().mark_uploaded(&upload, now()).await?;
        Ok(())
    }

    /// Makes `count` new one-time prekeys, to be uploaded with the next pending bundles.
    pub(crate) async fn queue_one_time_prekeys(&self, count: u32) -> Result<()> {
        self.identity().await?;
        if count > MAX_QUEUED_AT_ONCE {
            return Err(Error::invalid("count", "at most 1000 prekeys at once"));
        }
        let mut device = self.device.lock().await;
        self.care().add_one_time(count, device.rng()).await?;
        Ok(())
    }

    /// Makes a new signed prekey now; the old secret is kept for late first messages, and
    /// retired secrets past their keeping time go.
    pub(crate) async fn rotate_signed_prekey(&self) -> Result<()> {
        self.identity().await?;
        let mut device = self.device.lock().await;
        self.care().rotate_now(now(), device.rng()).await?;
        Ok(())
    }

    /// Forgets every key and session and makes a new identity, in one commit; the prekey id
    /// counter carries on (as the web client's reset).
    pub(crate) async fn reset(&self) -> Result<()> {
        let mut device = self.device.lock().await;
        device.close();
        reset_account(&self.store, now(), device.rng()).await?;
        device.open(Arc::clone(&self.store), self.config).await?;
        Ok(())
    }

    /// The current signed prekey, if any.
    pub(crate) async fn current_signed_prekey(&self) -> Result<Option<SignedPrekeyRecord>> {
        let current = self
            .store
            .account_meta()
            .await?
            .and_then(|meta| meta.current_signed_prekey_id);
        Ok(match current {
            Some(id) => self.store.signed_prekey(id).await?,
            None => None,
        })
    }

    /// One-time prekey `key_id`, if it is held.
    pub(crate) async fn one_time_prekey(&self, key_id: u32) -> Result<Option<OneTimePrekeyRecord>> {
        Ok(self.store.one_time_prekey(key_id).await?)
    }

    /// How many one-time prekeys are held (uploaded or not, none used).
    pub(crate) async fn one_time_prekey_count(&self) -> Result<usize> {
        Ok(self.store.one_time_prekeys().await?.len())
    }
}

fn has_indexeddb() -> bool {
    js_sys::Reflect::get(&js_sys::global(), &"indexedDB".into())
        .is_ok_and(|v| !v.is_undefined() && !v.is_null())
}
