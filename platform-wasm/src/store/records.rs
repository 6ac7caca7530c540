//! Sealed records: reading and opening them, and the stored form of a message (clear index
//! fields beside the sealed record, checked against it on every read).

#[cfg(feature = "client")]
use js_sys::Object;
use quickchat_core::quoted::Quoted;
use quickchat_core::store::StoreError;
use quickchat_core::store::binary::{self, BinaryRecord};
use quickchat_core::store::sealing::Place;
use quickchat_core::store::sealing::unreadable;
#[cfg(feature = "client")]
use quickchat_core::store::{MessageRecord, MessageStatus};
use wasm_bindgen::JsValue;
use web_sys::IdbTransactionMode;

use super::IdbStore;
#[cfg(feature = "client")]
use super::schema::MESSAGES;
use super::values::{backend, bytes_of, key_text};
#[cfg(feature = "client")]
use super::values::{bytes, conversation_key, corrupt, get_field, set_field};
use crate::idb;

impl IdbStore {
    /// The key record under `key`, if any (core's binary form: layout 5 converted the JSON
    /// records of older layouts).
    pub(super) async fn get_sealed<T: BinaryRecord>(
        &self,
        store: &'static str,
        key: JsValue,
        key_text: &str,
    ) -> Result<Option<T>, StoreError> {
        match self.get_raw(store, key, key_text).await? {
            None => Ok(None),
            Some(sealed) => self.open_record(store, key_text, &sealed).map(Some),
        }
    }

    fn open_record<T: BinaryRecord>(
        &self,
        store: &'static str,
        key_text: &str,
        sealed: &[u8],
    ) -> Result<T, StoreError> {
        let place = Place::new(store, key_text.as_bytes());
        let plain = self.sealer.open_bytes(&place, sealed)?;
        binary::decode(&plain).map_err(|e| unreadable(&place, e))
    }

    /// The sealed bytes stored under `key`, if any.
    pub(super) async fn get_raw(
        &self,
        store: &'static str,
        key: JsValue,
        key_text: &str,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let context = format!("reading {store}");
        let tx = self.transaction(&[store], IdbTransactionMode::Readonly)?;
        let made = tx.store(store).map_err(backend(&context))?.get(&key);
        let value = idb::call(made).await.map_err(backend(&context))?;
        Some(value)
            .filter(|v| !v.is_undefined())
            .map(|value| bytes_of(&value, &format!("{store} record {}", Quoted(key_text))))
            .transpose()
    }

    pub(super) async fn all_sealed<T: BinaryRecord>(
        &self,
        store: &'static str,
    ) -> Result<Vec<T>, StoreError> {
        self.all_raw(store)
            .await?
            .into_iter()
            .map(|(key_text, sealed)| self.open_record(store, &key_text, &sealed))
            .collect()
    }

    /// Every record of `store` as `(key as text, sealed bytes)`, in key order.
    pub(super) async fn all_raw(
        &self,
        store: &'static str,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let context = format!("reading {store}");
        let tx = self.transaction(&[store], IdbTransactionMode::Readonly)?;
        let object_store = tx.store(store).map_err(backend(&context))?;
        // Both in key order (IndexedDB's getAllKeys and getAll), in one transaction.
        let (keys, values) = (object_store.get_all_keys(), object_store.get_all());
        let keys = idb::call(keys).await;
        let values = idb::call(values).await;
        let (keys, values) = (
            array(keys.map_err(backend(&context))?),
            array(values.map_err(backend(&context))?),
        );
        if keys.len() != values.len() {
            return Err(StoreError::Backend {
                context,
                detail: "the store changed while it was read".into(),
            });
        }
        keys.iter()
            .zip(values.iter())
            .map(|(key, value)| {
                let key_text = key_text(key);
                let sealed = bytes_of(value, &format!("{store} record {}", Quoted(&key_text)))?;
                Ok((key_text, sealed))
            })
            .collect()
    }

    /// The stored form of a message: clear index fields and the sealed record.
    #[cfg(feature = "client")]
    pub(super) fn message_value(&self, record: &MessageRecord) -> Result<JsValue, StoreError> {
        let sealed = self
            .sealer
            .seal(&Place::new(MESSAGES, record.id.as_bytes()), record)?;
        let object = Object::new();
        set_field(&object, "id", &JsValue::from_str(&record.id));
        set_field(
            &object,
            "c",
            &JsValue::from_str(&conversation_key(&record.conversation)),
        );
        let t = JsValue::from(record.timestamp as f64);
        set_field(&object, "t", &t);
        if record.status == MessageStatus::Pending {
            set_field(&object, "o", &t);
        }
        set_field(&object, "s", &bytes(&sealed));
        Ok(object.into())
    }

    /// Opens a stored message and checks its clear fields against the sealed record.
    #[cfg(feature = "client")]
    pub(super) fn open_message(&self, value: &JsValue) -> Result<MessageRecord, StoreError> {
        let id = get_field(value, "id")
            .as_string()
            .ok_or_else(|| corrupt("message", "no id"))?;
        let what = || format!("message {}", Quoted(&id));
        let sealed = bytes_of(&get_field(value, "s"), &what())?;
        let record: MessageRecord = self
            .sealer
            .open(&Place::new(MESSAGES, id.as_bytes()), &sealed)?;
        let c = get_field(value, "c").as_string();
        let t = get_field(value, "t").as_f64();
        if record.id != id
            || c.as_deref() != Some(conversation_key(&record.conversation).as_str())
            || t != Some(record.timestamp as f64)
        {
            return Err(corrupt(
                what(),
                "its index fields do not match the sealed record",
            ));
        }
        Ok(record)
    }
}

/// The values of a `getAll`/`getAllKeys` result.
pub(super) fn array(value: JsValue) -> Vec<JsValue> {
    js_sys::Array::from(&value).to_vec()
}
