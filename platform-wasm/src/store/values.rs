//! Errors, byte arrays and clear index fields as IndexedDB holds them.

use js_sys::Uint8Array;
#[cfg(feature = "client")]
use js_sys::{Object, Reflect};
#[cfg(feature = "client")]
use quickchat_core::store::Conversation;
use quickchat_core::store::StoreError;
use wasm_bindgen::JsValue;

use crate::idb::IdbError;

/// What the drop-in's module (`quickchat/crypto`, built without the feature `client`) answers
/// to a message read or write: it keeps no messages, and leaves the history code out (a
/// `cfg`, not a constant condition: dead code in an async function stays in its state
/// machine).
pub(super) fn no_history() -> StoreError {
    StoreError::Backend {
        context: "using message history".into(),
        detail: "this module (quickchat/crypto) keeps no messages; the full client's does".into(),
    }
}

pub(super) fn backend(context: &str) -> impl Fn(IdbError) -> StoreError + '_ {
    move |e| StoreError::Backend {
        context: context.to_string(),
        detail: e.to_string(),
    }
}

pub(super) fn corrupt(what: impl Into<String>, detail: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        what: what.into(),
        detail: detail.into(),
    }
}

pub(super) fn bytes(value: &[u8]) -> JsValue {
    Uint8Array::from(value).into()
}

pub(super) fn bytes_of(value: &JsValue, what: &str) -> Result<Vec<u8>, StoreError> {
    // Of any realm: under jsdom what IndexedDB hands back is Node's `Uint8Array`.
    crate::realm::bytes(value).ok_or_else(|| corrupt(what, "not a byte array"))
}

#[cfg(feature = "client")]
pub(super) fn get_field(object: &JsValue, field: &str) -> JsValue {
    Reflect::get(object, &JsValue::from_str(field)).unwrap_or(JsValue::UNDEFINED)
}

#[cfg(feature = "client")]
pub(super) fn set_field(object: &Object, field: &str, value: &JsValue) {
    // Setting a property on a plain object cannot fail.
    let _ = Reflect::set(object, &JsValue::from_str(field), value);
}

/// The clear key a conversation is indexed under.
#[cfg(feature = "client")]
pub(super) fn conversation_key(conversation: &Conversation) -> String {
    match conversation {
        Conversation::Direct(id) => format!("d:{id}"),
        Conversation::Group(id) => format!("g:{id}"),
    }
}

/// A record key as the text its associated data uses.
pub(super) fn key_text(key: &JsValue) -> String {
    match key.as_f64() {
        Some(number) => format!("{}", number as i64),
        None => key.as_string().unwrap_or_default(),
    }
}
