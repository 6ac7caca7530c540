//! Import of the reference web client's IndexedDB database (`quick-chat-e2ee`): its
//! identity, prekeys with their upload state, and sessions with their ratchet state and any
//! pending first-message data, so a user keeps talking to existing peers without a new
//! session.
//!
//! The database is read, never written: it is opened without a version (so no upgrade can
//! run), read in one read-only transaction, and closed; whether it exists is asked of
//! `indexedDB.databases()` first, and only where that is missing is a missing database's
//! open aborted before the browser creates it. Its rows are turned into the JSON dump core reads
//! ([`WebStorageSnapshot`]), which decrypts the secrets with the master key the reference
//! client keeps beside them.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Array, Object, Reflect};
use quickchat_core::account::{import_account, imported_account_batch};
use quickchat_core::reference::{ImportedAccount, WebStorageSnapshot};
use quickchat_core::store::Store;
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{IdbDatabase, IdbOpenDbRequest, IdbTransactionMode};

use crate::error::{Error, Result};
use crate::handover::ImportedRecords;
use crate::idb::{IdbError, Transaction};

/// The reference web client's database name.
pub const WEB_CLIENT_DATABASE: &str = "quick-chat-e2ee";

/// The object stores of the reference client's database that hold what is imported.
pub const WEB_CLIENT_STORES: [&str; 5] = [
    "identity",
    "metadata",
    "signed_prekeys",
    "one_time_prekeys",
    "sessions",
];

/// What an import brought over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportSummary {
    /// The user whose keys were imported.
    pub user_id: String,
    /// The identity's fingerprint.
    pub fingerprint: String,
    /// Signed prekeys imported.
    pub signed_prekeys: usize,
    /// One-time prekeys imported (those not consumed).
    pub one_time_prekeys: usize,
    /// Peers whose sessions were imported.
    pub sessions: Vec<String>,
}

impl ImportSummary {
    /// The summary of an imported account.
    pub fn of(account: &ImportedAccount) -> Self {
        Self {
            user_id: account.user_id.clone(),
            fingerprint: account.identity.fingerprint().as_str().to_string(),
            signed_prekeys: account.signed_prekeys.len(),
            one_time_prekeys: account.one_time_prekeys.len(),
            sessions: account.sessions.iter().map(|s| s.peer_id.clone()).collect(),
        }
    }
}

fn idb_error(context: &str) -> impl Fn(IdbError) -> Error + '_ {
    move |e| Error::Unsupported(format!("{context}: {}", e.message))
}

/// Whether a database `name` exists, from `indexedDB.databases()`; `None` where the engine
/// cannot say (no `databases()`, as in Firefox before 126, or it failed).
async fn listed(name: &str) -> Option<bool> {
    let factory = Reflect::get(&js_sys::global(), &"indexedDB".into()).ok()?;
    let listing = crate::realm::call_method(&factory, "databases")?.ok()?;
    let databases = wasm_bindgen_futures::JsFuture::from(js_sys::Promise::resolve(&listing))
        .await
        .ok()?;
    if !Array::is_array(&databases) {
        return None;
    }
    let databases: Array = databases.unchecked_into();
    Some(
        databases
            .iter()
            .any(|db| crate::realm::field(&db, "name").as_string().as_deref() == Some(name)),
    )
}

/// Opens an existing database without changing it; `None` if there is no such database.
///
/// Where the engine lists its databases, a missing one is never opened. Elsewhere the open
/// runs and, if it turns out to create the database, its upgrade is aborted — which some
/// implementations handle badly (fake-indexeddb 5 never closes that connection, so the next
/// probe's open waits for it forever), hence the listing first.
async fn open_existing(name: &str) -> Result<Option<IdbDatabase>> {
    if listed(name).await == Some(false) {
        return Ok(None);
    }
    let request: IdbOpenDbRequest = crate::idb::factory()
        .map_err(|e| Error::Unsupported(e.message))?
        .open(name)
        .map_err(|e| idb_error("opening the web client's database")(IdbError::of(&e)))?;
    let created = Rc::new(RefCell::new(false));
    let on_upgrade = {
        let created = Rc::clone(&created);
        let request = request.clone();
        Closure::<dyn FnMut(JsValue)>::new(move |_: JsValue| {
            // An upgrade on an open without a version means the database did not exist.
            *created.borrow_mut() = true;
            if let Some(transaction) = request.transaction() {
                let _ = transaction.abort();
            }
        })
    };
    request.set_onupgradeneeded(Some(on_upgrade.as_ref().unchecked_ref()));
    let detach = crate::idb::OnDrop(|| request.set_onupgradeneeded(None));
    let result = crate::idb::request(&request).await;
    drop(detach);
    if *created.borrow() {
        if let Ok(db) = result {
            db.unchecked_into::<IdbDatabase>().close();
        }
        return Ok(None);
    }
    result
        .map(|db| Some(db.unchecked_into()))
        .map_err(idb_error("opening the web client's database"))
}

/// Reads the reference client's database `name` as the JSON dump core imports from
/// (`{name, version, stores: {store: [{key, value}]}}`), or `None` if there is no such
/// database. Nothing is written.
pub async fn read_web_client_database(name: &str) -> Result<Option<JsValue>> {
    let Some(db) = open_existing(name).await? else {
        return Ok(None);
    };
    let result = dump(&db).await;
    db.close();
    result.map(Some)
}

async fn dump(db: &IdbDatabase) -> Result<JsValue> {
    let present = db.object_store_names();
    let names: Vec<&str> = WEB_CLIENT_STORES
        .iter()
        .copied()
        .filter(|name| present.contains(name))
        .collect();
    let stores = Object::new();
    if !names.is_empty() {
        let failed = idb_error("reading the web client's database");
        let transaction =
            Transaction::start(db, &names, IdbTransactionMode::Readonly).map_err(&failed)?;
        for name in &names {
            let store = transaction.store(name).map_err(&failed)?;
            // Both requests first: one transaction, keys and values in the same order.
            let (keys, values) = (store.get_all_keys(), store.get_all());
            let keys: Array = crate::idb::call(keys)
                .await
                .map_err(&failed)?
                .unchecked_into();
            let values: Array = crate::idb::call(values)
                .await
                .map_err(&failed)?
                .unchecked_into();
            let rows = Array::new();
            for (key, value) in keys.iter().zip(values.iter()) {
                let row = Object::new();
                let _ = Reflect::set(&row, &"key".into(), &key);
                let _ = Reflect::set(&row, &"value".into(), &value);
                rows.push(&row);
            }
            let _ = Reflect::set(&stores, &JsValue::from_str(name), &rows);
        }
    }
    let snapshot = Object::new();
    let _ = Reflect::set(&snapshot, &"name".into(), &JsValue::from_str(&db.name()));
    let _ = Reflect::set(&snapshot, &"version".into(), &JsValue::from(db.version()));
    let _ = Reflect::set(&snapshot, &"stores".into(), &stores);
    Ok(snapshot.into())
}

/// Parses a dump made by [`read_web_client_database`] (or the same JSON produced
/// elsewhere).
pub fn parse_snapshot(dump: &JsValue) -> Result<WebStorageSnapshot> {
    let text = js_sys::JSON::stringify(dump)
        .ok()
        .and_then(|t| t.as_string())
        .ok_or_else(|| Error::invalid("snapshot", "not JSON-serializable"))?;
    Ok(WebStorageSnapshot::from_json(&text)?)
}

/// Imports `user_id`'s keys and sessions from a snapshot into `store` (which must not hold
/// an identity yet).
pub async fn import_snapshot<S: Store + ?Sized>(
    store: &S,
    snapshot: &WebStorageSnapshot,
    user_id: &str,
    now: i64,
) -> Result<ImportSummary> {
    let account = snapshot.import(user_id)?;
    import_account(&store, &account, now).await?;
    Ok(ImportSummary::of(&account))
}

/// Imports `user_id`'s keys and sessions from the reference client's database `name` into
/// `store`; `None` if there is no such database or it holds nothing for the user. The
/// reference client's database is left untouched.
pub async fn import_web_client<S: Store + ?Sized>(
    store: &S,
    user_id: &str,
    name: &str,
    now: i64,
) -> Result<Option<ImportSummary>> {
    let Some(dump) = read_web_client_database(name).await? else {
        return Ok(None);
    };
    let snapshot = parse_snapshot(&dump)?;
    if !snapshot.user_ids().iter().any(|id| id == user_id) {
        return Ok(None);
    }
    import_snapshot(store, &snapshot, user_id, now)
        .await
        .map(Some)
}

/// `user_id`'s keys and sessions from the reference client's database `name`, as the records
/// to save (see [`crate::handover`]); `None` if there is no such database or it holds nothing
/// for the user. The reference client's database is left untouched.
pub async fn imported_records(
    name: &str,
    user_id: &str,
    now: i64,
) -> Result<Option<ImportedRecords>> {
    let Some(dump) = read_web_client_database(name).await? else {
        return Ok(None);
    };
    let snapshot = parse_snapshot(&dump)?;
    if !snapshot.user_ids().iter().any(|id| id == user_id) {
        return Ok(None);
    }
    let account = snapshot.import(user_id)?;
    ImportedRecords::from_batch(imported_account_batch(&account, now)).map(Some)
}

/// The entry point of the importer module (`quickchat_import`), which the drop-in's page
/// loads only when a new user's keys may be in the reference client's database: resolves to
/// `userId`'s records to save, as bytes that `KeyManagerCore` reads and then zeroizes, or
/// `null` when there is no such database or it holds nothing for the user. Rejects with a
/// `QuickChatError` (code `import_failed` for data it cannot import).
#[cfg(feature = "importer")]
#[wasm_bindgen(js_name = importWebClient)]
pub fn import_web_client_records(name: String, user_id: String, now: f64) -> js_sys::Promise {
    wasm_bindgen_futures::future_to_promise(async move {
        // A time in ms from `Date.now()`: integral, far inside i64.
        match imported_records(&name, &user_id, now as i64).await {
            Ok(Some(records)) => {
                let bytes = records.encode()?;
                Ok(js_sys::Uint8Array::from(&bytes[..]).into())
            }
            Ok(None) => Ok(JsValue::NULL),
            Err(error) => Err(error.into()),
        }
    })
}

/// The importer module's upgrade of a drop-in store an older version of the SDK left (a
/// layout before [`crate::store::schema::LAYOUT`]): the store `name` opened with
/// `passphrase` (which upgrades it, all in one transaction) and closed again. The drop-in's
/// module reads only the current layout (the package's `src/key-store.js` calls this when it
/// finds an older one). Rejects with a `QuickChatError` (`wrong_passphrase`, `store_corrupt`,
/// `store_in_use`, `store_failed`).
#[cfg(feature = "importer")]
#[wasm_bindgen(js_name = upgradeStore)]
pub fn upgrade_store(name: String, passphrase: String) -> js_sys::Promise {
    let passphrase = zeroize::Zeroizing::new(passphrase);
    wasm_bindgen_futures::future_to_promise(async move {
        // The strength is for a new store's key; this one has its header.
        let store = crate::store::IdbStore::open(
            &name,
            &passphrase,
            crate::store::KdfStrength::Recommended,
        )
        .await
        .map_err(Error::from)?;
        store.close();
        Ok(JsValue::UNDEFINED)
    })
}

/// The importer module's converter of records that an older layout of the SDK's store left
/// in a JSON form, which the drop-in's and the whole SDK's modules do not read: `record` (the
/// unsealed JSON, zeroized here once read), of `kind` (`identity`, `meta`, `signedPrekey`,
/// `oneTimePrekey`, `knownIdentity`, `sessions`), in core's binary form, which the caller
/// reads and then zeroizes. Throws a `QuickChatError` (`store_corrupt`) for a record it
/// cannot read.
#[cfg(feature = "importer")]
#[wasm_bindgen(js_name = recordToBinary)]
pub fn record_to_binary(kind: String, record: JsValue) -> Result<js_sys::Uint8Array, JsValue> {
    let kind = crate::store::RecordKind::from_name(&kind).ok_or_else(|| {
        Error::invalid(
            "kind",
            format!("no record kind {}", quickchat_core::quoted::Quoted(&kind)),
        )
    })?;
    let array = crate::realm::uint8_array(&record)
        .ok_or_else(|| Error::invalid("record", "a record as a Uint8Array"))?;
    let json = crate::realm::take_bytes(&array);
    let converted = crate::store::record_to_binary(kind, &json).map_err(Error::from)?;
    Ok(js_sys::Uint8Array::from(&converted[..]))
}

/// The importer module's opener of account files (core's `archive`): `file` opened with
/// `passphrase` and handed over as the records to save (see [`crate::handover`]), in bytes
/// the client's module reads and then zeroizes. The file's reader (its JSON, Argon2id) lives
/// here, loaded only when an account is imported, not in the client's module on every page.
/// Throws a `QuickChatError` with the archive's codes (`wrong_passphrase`, `archive_damaged`,
/// `archive_too_new`).
#[cfg(feature = "importer")]
#[wasm_bindgen(js_name = openAccountFile)]
pub fn open_account_file(file: JsValue, passphrase: String) -> Result<js_sys::Uint8Array, JsValue> {
    let passphrase = zeroize::Zeroizing::new(passphrase);
    let bytes = crate::realm::bytes(&file)
        .ok_or_else(|| Error::invalid("file", "the account file as a Uint8Array"))?;
    let archive = quickchat_core::archive::open_archive(&bytes, &passphrase)
        .map_err(quickchat_core::client::ClientError::Archive)
        .map_err(Error::from)?;
    let records = ImportedRecords::from_archive(archive).encode()?;
    Ok(js_sys::Uint8Array::from(&records[..]))
}
