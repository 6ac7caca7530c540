//! The JavaScript API: the full client ([`client`]), the drop-in replacement of the reference
//! web client's crypto layer ([`dropin`]), and the helpers they share.
//!
//! Values cross the boundary as plain JavaScript objects made from core's serde types
//! (`camelCase` fields, as the backend and the reference client name them).

#[cfg(feature = "client")]
pub mod client;
#[cfg(feature = "dropin")]
pub mod dropin;
mod fields;
pub mod options;
mod wire;
// The low-level API is the `quickchat` entry point's only: `quickchat/crypto` never loads it.
#[cfg(feature = "client")]
pub mod ratchet;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use wasm_bindgen::JsValue;
#[cfg(any(feature = "client", feature = "importer"))]
use wasm_bindgen::prelude::*;

#[cfg(feature = "client")]
use crate::error::Error;
use crate::error::Result;

/// A plain JavaScript value (object, array, string, number…) made from `value`, through
/// JSON. Only the whole client's API hands out such values; the drop-in builds its objects
/// field by field ([`crate::objects`]).
#[cfg(feature = "client")]
pub(crate) fn to_js<T: serde::Serialize + ?Sized>(value: &T) -> Result<JsValue> {
    let text = serde_json::to_string(value)
        .map_err(|e| Error::Unsupported(format!("cannot serialize a result: {e}")))?;
    js_sys::JSON::parse(&text)
        .map_err(|_| Error::Unsupported("cannot hand a result to JavaScript".into()))
}

/// A Rust value read from a plain JavaScript value (functions in it are ignored). Only the
/// whole client's API takes such values; the drop-in reads its arguments field by field.
#[cfg(feature = "client")]
pub(crate) fn from_js<T: serde::de::DeserializeOwned>(
    value: &JsValue,
    what: &'static str,
) -> Result<T> {
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
    // One instantiation of the promise machinery for every method (a smaller .wasm).
    boxed_promise(Box::pin(future))
}

fn boxed_promise(mut future: Pin<Box<dyn Future<Output = Result<JsValue>>>>) -> js_sys::Promise {
    // Most calls (everything in memory, a session that exists) finish on their first poll:
    // they are answered at once, without scheduling a task. A future that is not ready
    // goes to a task, whose first poll registers its own waker (the waker of this poll does
    // nothing, and the task polls before it waits).
    let waker = futures::task::noop_waker();
    let mut context = Context::from_waker(&waker);
    match future.as_mut().poll(&mut context) {
        Poll::Ready(Ok(value)) => js_sys::Promise::resolve(&value),
        Poll::Ready(Err(error)) => js_sys::Promise::reject(&JsValue::from(error)),
        Poll::Pending => {
            wasm_bindgen_futures::future_to_promise(
                async move { future.await.map_err(JsValue::from) },
            )
        }
    }
}

/// Reports an exception thrown by an application callback (it must not stop the SDK).
pub(crate) fn report_callback_error(error: &JsValue) {
    web_sys::console::error_2(
        &JsValue::from_str("quickchat: an event callback threw"),
        error,
    );
}

/// The package version (the `quickchat` entry point's `version()`, on the whole SDK's module).
#[cfg(feature = "client")]
#[wasm_bindgen(js_name = version)]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// Reads the reference web client's IndexedDB database (`quick-chat-e2ee` unless named) as
/// the JSON dump `{name, version, stores: {store: [{key, value}]}}`, or `null` if there is
/// none. Nothing is written (a backup before migrating, or input for tools). An export of the
/// importer module, which the `quickchat` entry point loads for it.
#[cfg(feature = "importer")]
#[wasm_bindgen(js_name = readWebClientDatabase)]
pub fn read_web_client_database(name: Option<String>) -> js_sys::Promise {
    promise(async move {
        let name = name
            .as_deref()
            .unwrap_or(crate::import::WEB_CLIENT_DATABASE);
        Ok(crate::import::read_web_client_database(name)
            .await?
            .unwrap_or(JsValue::NULL))
    })
}
