//! The clear header of a store: the format marker, the value layout, the KDF parameters and
//! the check value, read before anything sealed.

use quickchat_core::quoted::Quoted;
use quickchat_core::store::StoreError;
use quickchat_core::store::sealing::{KdfParams, check_kdf_params};
use wasm_bindgen::JsValue;
use web_sys::IdbTransactionMode;

use super::connection::{Connection, finish};
use super::schema::{self, META};
use super::values::{backend, bytes, bytes_of, corrupt};
use crate::idb;
use crate::objects::{Object, array};
use crate::realm::{field, whole};

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
    let what = || format!("header of IndexedDB database {}", Quoted(&connection.name));
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
    let kdf = parse_kdf(&kdf)?;
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
    let kdf = kdf_json(params)?;
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

/// What the header's key-derivation parameters are kept as: the JSON serde gives
/// [`KdfParams`] (`{"salt":[…bytes],"memoryKib":…,"iterations":…,"parallelism":…}`, which
/// every build reads), here written and read through the JavaScript engine's `JSON`, so the
/// module needs no JSON code of its own.
pub(super) fn kdf_json(params: &KdfParams) -> Result<String, StoreError> {
    let salt = params.salt.iter().map(|&b| JsValue::from_f64(f64::from(b)));
    let object = Object::new()
        .set("salt", array(salt))
        .number("memoryKib", params.memory_kib)
        .number("iterations", params.iterations)
        .number("parallelism", params.parallelism)
        .build();
    js_sys::JSON::stringify(&object)
        .ok()
        .and_then(|text| text.as_string())
        .ok_or_else(|| StoreError::Backend {
            context: "writing the header".into(),
            detail: "the key-derivation parameters did not serialize".into(),
        })
}

/// Reads what [`kdf_json`] (or serde, in any build) wrote, and checks the costs.
pub(super) fn parse_kdf(text: &str) -> Result<KdfParams, StoreError> {
    let damaged = |detail: &str| {
        corrupt(
            "key-derivation parameters",
            format!("not readable: {detail}"),
        )
    };
    let value = js_sys::JSON::parse(text).map_err(|_| damaged("not JSON"))?;
    if !value.is_object() {
        return Err(damaged("not an object"));
    }
    let cost = |name: &str| {
        whole(&field(&value, name), f64::from(u32::MAX))
            // Whole and in u32's range: the conversion is exact.
            .map(|n| n as u32)
            .ok_or_else(|| damaged(&format!("{name} is not a whole number")))
    };
    let salt = field(&value, "salt");
    if !js_sys::Array::is_array(&salt) {
        return Err(damaged("salt is not an array"));
    }
    let salt = js_sys::Array::from(&salt)
        .iter()
        // A byte: the conversion is exact.
        .map(|b| whole(&b, 255.0).map(|b| b as u8))
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(|| damaged("salt is not bytes"))?;
    let params = KdfParams {
        salt,
        memory_kib: cost("memoryKib")?,
        iterations: cost("iterations")?,
        parallelism: cost("parallelism")?,
    };
    check_kdf_params(&params)?;
    Ok(params)
}
