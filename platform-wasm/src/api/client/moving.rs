//! Moving an account between the places it can live (core's [`archive`]): the client's
//! `exportAccount`, `importAccount`, `movedAt` and `reactivateAccount`, and
//! [`export_web_client_account`], which seals the web client's own keys and sessions without
//! a client.
//!
//! The file is core's account file (`QCACCT`, versioned, Argon2id + AES-256-GCM under the
//! passphrase given at export), the one the CLI and the Python package read and write: there
//! is no format of the browser's own.
//!
//! Files are sealed here but opened by the importer module (`openAccountFile`, loaded only
//! when an account is imported), which hands the records over in the form of
//! [`crate::handover`]: the file's reader (a deserializer for every record kind in it) would
//! otherwise add about 25 KB gzipped to this module on every page load.

use js_sys::Uint8Array;
use quickchat_core::archive::{self, AccountArchive, ExportOptions, ImportOptions};
use quickchat_core::client::ClientError;
use quickchat_core::store::{MemoryStore, Store};
use serde::Serialize;
use wasm_bindgen::JsValue;
use wasm_bindgen::prelude::*;
use zeroize::Zeroizing;

use super::{QuickChatClient, UserJson, to_user};
use crate::api::{promise, to_js};
use crate::error::{Error, Result};
use crate::handover::{ImportedRecords, import_with};
use crate::import::WEB_CLIENT_DATABASE;
use crate::realm::field;
use crate::rng::WebRng;
use crate::store::KdfStrength;

/// The passphrase of an options object, read straight into memory that is wiped on drop
/// (not through a JSON copy of the whole object).
fn passphrase(options: &JsValue) -> Result<Zeroizing<String>> {
    field(options, "passphrase")
        .as_string()
        .filter(|p| !p.is_empty())
        .map(Zeroizing::new)
        .ok_or_else(|| {
            Error::invalid(
                "passphrase",
                "required: the account file is sealed under it",
            )
        })
}

/// `options[name]` as a flag: `true` only when it is `true`.
fn flag(options: &JsValue, name: &str) -> bool {
    field(options, name).as_bool() == Some(true)
}

/// The export options every place uses: the recommended Argon2id costs, always (a file may
/// travel; no test shortcut belongs in it).
fn export_options(history: bool) -> ExportOptions {
    ExportOptions {
        history,
        strength: KdfStrength::Recommended,
    }
}

/// What `importAccount` resolves to: what came over, never a secret.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ImportedJson {
    user_id: String,
    fingerprint: String,
    signed_prekeys: usize,
    one_time_prekeys: usize,
    /// The peers whose sessions came over.
    sessions: Vec<String>,
    messages: usize,
    exported_at: i64,
    /// The saved login the file carried (the client is logged in with it), or `null`: log
    /// in before connecting.
    user: Option<UserJson>,
}

impl ImportedJson {
    fn of(archive: &AccountArchive, user: Option<UserJson>) -> Self {
        Self {
            user_id: archive.user_id().to_string(),
            fingerprint: archive.identity.identity.fingerprint().as_str().to_string(),
            signed_prekeys: archive.signed_prekeys.len(),
            one_time_prekeys: archive.one_time_prekeys.len(),
            sessions: archive.sessions.iter().map(|s| s.peer_id.clone()).collect(),
            messages: archive.messages.len(),
            exported_at: archive.exported_at,
            user,
        }
    }
}

#[wasm_bindgen(js_class = QuickChatClient)]
impl QuickChatClient {
    /// Exports the account, sealed under `options.passphrase` (with the history too when
    /// `options.history`), to continue it elsewhere: resolves to the file's bytes
    /// (`Uint8Array`). The store is marked moved in the same step: this client closes its
    /// connection and neither connects nor sends again (`account_moved`) until
    /// `reactivateAccount()`.
    #[wasm_bindgen(js_name = exportAccount)]
    pub fn export_account(&self, options: JsValue) -> js_sys::Promise {
        let inner = self.core();
        promise(async move {
            let passphrase = passphrase(&options)?;
            let file = Zeroizing::new(
                inner
                    .core
                    .export_account(&passphrase, export_options(flag(&options, "history")))
                    .await?,
            );
            Ok(Uint8Array::from(&file[..]).into())
        })
    }

    /// Imports an account file (`Uint8Array`) made by `exportAccount` here or elsewhere (the
    /// CLI's `quickchat export`, Python's `export_account`, the package's top-level
    /// `exportAccount`) into this client's store, in one atomic write, then restores the
    /// login it carried, if any. Refuses a store that holds an account unless
    /// `options.replace` (`account_exists`), a wrong passphrase (`wrong_passphrase`), a
    /// damaged or cut-short file (`archive_damaged`) and a newer format (`archive_too_new`);
    /// a refusal changes nothing.
    #[wasm_bindgen(js_name = importAccount)]
    pub fn import_account(&self, file: JsValue, options: JsValue) -> js_sys::Promise {
        let inner = self.core();
        promise(async move {
            if crate::realm::uint8_array(&file).is_none() {
                return Err(Error::invalid("file", "the account file as a Uint8Array"));
            }
            let passphrase = passphrase(&options)?;
            let options = ImportOptions {
                replace: flag(&options, "replace"),
            };
            let opener = inner.opener.as_ref().ok_or_else(|| {
                Error::Unsupported(
                    "no account file opener: create the client through the package".into(),
                )
            })?;
            let archive = open_with(opener, &file, &passphrase).await?;
            let imported = inner.core.import_archive(archive, options).await?;
            to_js(&ImportedJson::of(
                &imported,
                inner.core.current_user().map(to_user),
            ))
        })
    }

    /// When this store's account was exported to be used elsewhere (ms since the epoch), or
    /// `null`.
    #[wasm_bindgen(js_name = movedAt)]
    pub fn moved_at(&self) -> js_sys::Promise {
        let inner = self.core();
        promise(async move {
            Ok(match inner.core.moved_at().await? {
                // A time in ms: far inside the integers a double holds exactly.
                Some(at) => JsValue::from_f64(at as f64),
                None => JsValue::NULL,
            })
        })
    }

    /// Clears the moved mark `exportAccount` left, so this client connects and sends again
    /// (then `login` or `connect` as usual). Only when the account is no longer used where it
    /// was moved to: two places advancing the same ratchets break the conversations.
    #[wasm_bindgen(js_name = reactivateAccount)]
    pub fn reactivate_account(&self) -> js_sys::Promise {
        let inner = self.core();
        promise(async move {
            inner.core.reactivate_account().await?;
            inner.core.restore().await?;
            Ok(JsValue::UNDEFINED)
        })
    }
}

/// Opens an account file through `opener(file, passphrase)`: the importer module's
/// `openAccountFile` (see [`crate::import::open_account_file`]), which the package loads when
/// it is first called. The records it hands over hold private keys: zeroized once read.
async fn open_with(
    opener: &js_sys::Function,
    file: &JsValue,
    passphrase: &str,
) -> Result<AccountArchive> {
    let pending = opener
        .call2(&JsValue::NULL, file, &JsValue::from_str(passphrase))
        .map_err(|e| Error::reported(&e))?;
    let answer = wasm_bindgen_futures::JsFuture::from(js_sys::Promise::resolve(&pending))
        .await
        .map_err(|e| Error::reported(&e))?;
    let array = crate::realm::uint8_array(&answer)
        .ok_or_else(|| Error::invalid("account file", "the opener gave no records"))?;
    let bytes = crate::realm::take_bytes(&array);
    ImportedRecords::decode(&bytes)?.into_archive()
}

/// Exports the web client's account from its IndexedDB database (`options.database`,
/// `quick-chat-e2ee` unless named) as an account file: `options.userId`'s identity, prekeys
/// with their upload state and id counter, and sessions with their ratchet state, read
/// through `importer(name, userId, now)` (the importer module, as `importWebClient` reads
/// it) into memory and sealed under `options.passphrase`. Resolves to the file's bytes.
///
/// The web client's database is only read: nothing marks it moved, because the web app
/// would not honour a mark. The user must stop using the web app for this account.
#[wasm_bindgen(js_name = exportWebClientAccount)]
pub fn export_web_client_account(options: JsValue, importer: JsValue) -> js_sys::Promise {
    let importer = crate::realm::function(&importer);
    promise(async move {
        let passphrase = passphrase(&options)?;
        if flag(&options, "history") {
            return Err(Error::invalid(
                "history",
                "the web client's database holds no message history to export",
            ));
        }
        let user_id = field(&options, "userId")
            .as_string()
            .filter(|id| !id.is_empty())
            .ok_or_else(|| Error::invalid("userId", "whose account to export"))?;
        let database = field(&options, "database")
            .as_string()
            .unwrap_or_else(|| WEB_CLIENT_DATABASE.to_string());
        let importer = importer.ok_or_else(|| {
            Error::Unsupported("no importer: call exportAccount through the package".into())
        })?;
        // Boxed as the client's store is: the import and the export below are then the very
        // code the client runs (one copy of each in the module, not a second for MemoryStore).
        let store: Box<dyn Store> = Box::new(MemoryStore::new());
        if import_with(&importer, &store, &user_id, &database)
            .await?
            .is_none()
        {
            return Err(Error::NoWebClientAccount { database, user_id });
        }
        // The moved mark lands in the memory store and goes with it: the web client's
        // database is never written.
        let now = js_sys::Date::now() as i64;
        let file = Zeroizing::new(
            archive::export_account(
                &store,
                &passphrase,
                export_options(false),
                now,
                &mut WebRng::System,
            )
            .await
            .map_err(ClientError::Archive)?,
        );
        Ok(Uint8Array::from(&file[..]).into())
    })
}
