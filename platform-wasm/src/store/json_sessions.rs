//! Session records in the JSON form of layouts before 4, rewritten in core's binary form
//! when the store is opened.
//!
//! The shipped modules of the drop-in and of the whole SDK go without core's reader of that
//! JSON (its feature `json-sessions`: about 20 KB and 8 KB gzipped that every page would
//! download for stores only an earlier version of this package wrote): they convert such
//! records through a [`SessionConverter`], which the package makes from the importer module,
//! loaded only when a store has such records. A build with the reader (the importer module,
//! the crate's tests) converts them itself when given no converter.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use quickchat_core::session::binary;
use quickchat_core::store::StoreError;
use quickchat_core::store::sealing::Place;
use wasm_bindgen::JsValue;
use zeroize::Zeroizing;

use super::IdbStore;
use super::schema::SESSIONS;
use super::values::{bytes, corrupt};

/// What a converter resolves to: the record in core's binary form.
pub type Converted = Pin<Box<dyn Future<Output = Result<Zeroizing<Vec<u8>>, StoreError>>>>;

/// Converts one session record from the JSON form to core's binary form (its bytes hold
/// private keys: both are zeroized once used).
pub type SessionConverter = Rc<dyn Fn(Zeroizing<Vec<u8>>) -> Converted>;

/// One JSON session record in core's binary form, in this module (with the feature
/// `json-sessions`: the importer module).
#[cfg(feature = "json-sessions")]
pub fn to_binary(json: &[u8]) -> Result<Zeroizing<Vec<u8>>, StoreError> {
    let sessions = binary::decode(json).map_err(|e| corrupt("a session record", e.to_string()))?;
    Ok(binary::encode(&sessions))
}

impl IdbStore {
    /// The session records still in the JSON form, converted (by `converter`, or here when
    /// this module reads JSON) and sealed again: `(key, value)` pairs ready to put. Reads
    /// only: the caller writes them in the transaction that moves the store to the new
    /// layout.
    pub(super) async fn converted_sessions(
        &self,
        converter: Option<&SessionConverter>,
    ) -> Result<Vec<(JsValue, JsValue)>, StoreError> {
        let mut converted_records = Vec::new();
        for (peer_id, sealed) in self.all_raw(SESSIONS).await? {
            let place = Place::new(SESSIONS, peer_id.as_bytes());
            let plain = self.sealer.open_bytes(&place, &sealed)?;
            if !binary::is_json(&plain) {
                continue;
            }
            let converted = convert(converter, plain).await?;
            // Whatever converted it, the result must be this peer's sessions in the form
            // every build reads.
            let sessions = binary::decode(&converted).map_err(|e| {
                corrupt(
                    format!("the converted session record of {peer_id:?}"),
                    e.to_string(),
                )
            })?;
            if sessions.peer_id != peer_id {
                return Err(corrupt(
                    format!("the converted session record of {peer_id:?}"),
                    "it is another peer's",
                ));
            }
            converted_records.push((
                JsValue::from_str(&peer_id),
                bytes(&self.sealer.seal_bytes(&place, &converted)),
            ));
        }
        Ok(converted_records)
    }
}

async fn convert(
    converter: Option<&SessionConverter>,
    json: Zeroizing<Vec<u8>>,
) -> Result<Zeroizing<Vec<u8>>, StoreError> {
    if let Some(converter) = converter {
        return converter(json).await;
    }
    #[cfg(feature = "json-sessions")]
    return to_binary(&json);
    #[cfg(not(feature = "json-sessions"))]
    Err(corrupt(
        "a session record",
        "it is in the JSON form of an older version of this package, and no converter \
         (the importer module) was given to read it",
    ))
}
