//! The JavaScript API: the full client ([`client`]), the drop-in replacement of the reference
//! web client's crypto layer ([`dropin`]), and the helpers they share.
//!
//! Values cross the boundary as plain JavaScript objects made from core's serde types
//! (`camelCase` fields, as the backend and the reference client name them).

pub mod client;
pub mod dropin;
pub mod options;

use std::future::Future;

use serde::Serialize;
use serde::de::DeserializeOwned;
use wasm_bindgen::JsValue;
use wasm_bindgen::prelude::*;

use crate::error::{Error, Result};

/// A plain JavaScript value (object, array, string, number…) made from `value`.
pub(crate) fn to_js<T: Serialize + ?Sized>(value: &T) -> Result<JsValue> {
    let text = serde_json::to_string(value)
        .map_err(|e| Error::Unsupported(format!("cannot serialize a result: {e}")))?;
    js_sys::JSON::parse(&text)
        .map_err(|_| Error::Unsupported("cannot hand a result to JavaScript".into()))
}

/// A Rust value read from a plain JavaScript value (functions in it are ignored).
pub(crate) fn from_js<T: DeserializeOwned>(value: &JsValue, what: &'static str) -> Result<T> {
    if value.is_undefined() || value.is_null() {
        return serde_json::from_str("null").map_err(|e| Error::invalid(what, e.to_string()));
    }
    let text = js_sys::JSON::stringify(value)
        .ok()
        .and_then(|t| t.as_string())
        .ok_or_else(|| Error::invalid(what, "not a JSON-like value"))?;
    serde_json::from_str(&text).map_err(|e| Error::invalid(what, e.to_string()))
}

/// A JavaScript `Promise` running `future`; its error becomes a `QuickChatError`.
pub(crate) fn promise<F>(future: F) -> js_sys::Promise
where
    F: Future<Output = Result<JsValue>> + 'static,
{
    wasm_bindgen_futures::future_to_promise(async move { future.await.map_err(JsValue::from) })
}

/// Reports an exception thrown by an application callback (it must not stop the SDK).
pub(crate) fn report_callback_error(error: &JsValue) {
    web_sys::console::error_2(
        &JsValue::from_str("quickchat: an event callback threw"),
        error,
    );
}

/// The package version.
#[wasm_bindgen(js_name = version)]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}
