//! The clear header of a store: the format marker, the value layout, the KDF parameters and
//! the check value, read before anything sealed.

use quickchat_core::store::StoreError;
use quickchat_core::store::sealing::{KdfParams, parse_kdf_params};
use wasm_bindgen::JsValue;
use web_sys::IdbTransactionMode;

use super::connection::{Connection, finish};
use super::schema::{self, META};
use super::values::{backend, bytes, bytes_of, corrupt};
use crate::idb;

/// Value of the `format` entry of `meta`: names the database as a quickchat store.
pub const FORMAT: &str = "quickchat-idb";

/// The clear header of a store.
pub(super) struct Header {
    pub(super) layout: u32,
    pub(super) kdf: KdfParams,
    pub(super) check: Vec<u8>,
}

pub(super) async fn read_header(connection: &Connection) -> Result<Option<Header>, StoreError> {
    let tx = connection.transaction(&[META], IdbTransactionMode::Readonly)?;
    let meta = tx.store(META).map_err(backend("reading the header"))?;
    let get = |key: &'static str| {
        let made = meta.get(&JsValue::from_str(key));
        async move {
            idb::call(made)
                .await
                .map(|v| Some(v).filter(|v| !v.is_undefined()))
                .map_err(backend("reading the header"))
        }
    };
    let what = || format!("header of IndexedDB database {:?}", connection.name);
    let Some(format) = get("format").await? else {
        return Ok(None);
    };
    if format.as_string().as_deref() != Some(FORMAT) {
        return Err(corrupt(what(), "not a quickchat store"));
    }
    let layout = get("layout")
        .await?
        .and_then(|v| v.as_f64())
        .ok_or_else(|| corrupt(what(), "no layout"))? as u32;
    if layout > schema::LAYOUT {
        return Err(corrupt(what(), "made by a newer version of this SDK"));
    }
    let kdf = get("kdf")
        .await?
        .and_then(|v| v.as_string())
        .ok_or_else(|| corrupt(what(), "no key-derivation parameters"))?;
    let kdf = parse_kdf_params(kdf.as_bytes())?;
    let check = get("check")
        .await?
        .ok_or_else(|| corrupt(what(), "no passphrase check"))?;
    Ok(Some(Header {
        layout,
        kdf,
        check: bytes_of(&check, "passphrase check")?,
    }))
}

pub(super) async fn write_header(
    connection: &Connection,
    params: &KdfParams,
    check: &[u8],
) -> Result<(), StoreError> {
    let kdf = serde_json::to_string(params).map_err(|e| StoreError::Backend {
        context: "writing the header".into(),
        detail: e.to_string(),
    })?;
    let tx = connection.transaction(&[META], IdbTransactionMode::Readwrite)?;
    // The requests go in order without waiting for each: a failed one aborts the
    // transaction, and `finish` reports it. `add` fails if another tab wrote the header
    // first.
    let result = (|| -> Result<(), idb::IdbError> {
        let meta = tx.store(META)?;
        idb::issued(meta.add_with_key(&FORMAT.into(), &"format".into()))?;
        idb::issued(meta.put_with_key(&JsValue::from(schema::LAYOUT), &"layout".into()))?;
        idb::issued(meta.put_with_key(&kdf.into(), &"kdf".into()))?;
        idb::issued(meta.put_with_key(&bytes(check), &"check".into()))
    })()
    .map_err(backend("writing the header"));
    finish(tx, result).await
}
