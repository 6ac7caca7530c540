//! One holder per store across tabs: an exclusive Web Lock (`navigator.locks`) named after
//! the database, held while the store is open. Two engines over one database would each keep
//! their own copy of the sessions and let them drift apart (a message key used twice, a chain
//! the peer cannot follow), so a second opener waits a moment and is then refused with
//! [`StoreError::InUse`]. Where there is no Web Locks API (Node) nothing is coordinated.

use std::cell::RefCell;
use std::rc::Rc;

use futures::channel::oneshot;
use js_sys::{Function, Object, Promise, Reflect};
use quickchat_core::quoted::Quoted;
use quickchat_core::store::StoreError;
use wasm_bindgen::prelude::*;
use wasm_bindgen::{JsCast, JsValue};

/// The lock of an open store; released when dropped.
pub(crate) struct StoreLock {
    release: Function,
    // The request's rejection handler: never called once the lock is granted, but it must
    // outlive the request.
    _on_error: Closure<dyn FnMut(JsValue)>,
}

impl Drop for StoreLock {
    fn drop(&mut self) {
        let _ = self.release.call0(&JsValue::NULL);
    }
}

enum Outcome {
    Granted(Function),
    Refused,
    Failed(String),
}

/// Takes the lock of the store `name`, waiting up to `wait_ms` for another holder to let
/// go. `Ok(None)` where there is no Web Locks API.
pub(crate) async fn acquire(name: &str, wait_ms: u32) -> Result<Option<StoreLock>, StoreError> {
    let global = js_sys::global();
    let locks = Reflect::get(&global, &"navigator".into())
        .ok()
        .filter(|n| n.is_object())
        .and_then(|n| Reflect::get(&n, &"locks".into()).ok())
        .filter(|l| l.is_object());
    let Some(locks) = locks else {
        return Ok(None);
    };
    let failed = |detail: String| StoreError::Backend {
        context: "taking the store's lock".into(),
        detail,
    };
    let request: Function = Reflect::get(&locks, &"request".into())
        .ok()
        .and_then(|r| r.dyn_into().ok())
        .ok_or_else(|| failed("navigator.locks.request is missing".into()))?;
    let options = Object::new();
    let abort_signal = Reflect::get(&global, &"AbortSignal".into()).ok();
    let timeout = abort_signal
        .as_ref()
        .and_then(|a| Reflect::get(a, &"timeout".into()).ok())
        .and_then(|t| t.dyn_into::<Function>().ok());
    if let (Some(abort_signal), Some(timeout)) = (abort_signal, timeout) {
        let signal = timeout
            .call1(&abort_signal, &JsValue::from(wait_ms))
            .map_err(|e| failed(crate::transport::js_error_text(&e)))?;
        let _ = Reflect::set(&options, &"signal".into(), &signal);
    } else {
        let _ = Reflect::set(&options, &"ifAvailable".into(), &JsValue::TRUE);
    }

    let (tx, rx) = oneshot::channel::<Outcome>();
    let tx = Rc::new(RefCell::new(Some(tx)));
    let granted = {
        let tx = Rc::clone(&tx);
        Closure::once_into_js(move |lock: JsValue| -> JsValue {
            if lock.is_null() {
                // `ifAvailable` and someone else holds it.
                if let Some(tx) = tx.borrow_mut().take() {
                    let _ = tx.send(Outcome::Refused);
                }
                return JsValue::NULL;
            }
            // Held until the store calls `release`.
            Promise::new(&mut |release, _reject| {
                if let Some(tx) = tx.borrow_mut().take() {
                    let _ = tx.send(Outcome::Granted(release));
                }
            })
            .into()
        })
    };
    let on_error = {
        let tx = Rc::clone(&tx);
        Closure::<dyn FnMut(JsValue)>::new(move |error: JsValue| {
            let name = Reflect::get(&error, &"name".into())
                .ok()
                .and_then(|n| n.as_string())
                .unwrap_or_default();
            if let Some(tx) = tx.borrow_mut().take() {
                let _ = tx.send(if name == "AbortError" || name == "TimeoutError" {
                    Outcome::Refused
                } else {
                    Outcome::Failed(crate::transport::js_error_text(&error))
                });
            }
        })
    };
    let pending: Promise = request
        .call3(&locks, &JsValue::from_str(name), &options, &granted)
        .map_err(|e| failed(crate::transport::js_error_text(&e)))?
        .dyn_into()
        .map_err(|_| failed("navigator.locks.request did not return a promise".into()))?;
    let _ = pending.catch(&on_error);
    match rx.await {
        Ok(Outcome::Granted(release)) => Ok(Some(StoreLock {
            release,
            _on_error: on_error,
        })),
        Ok(Outcome::Refused) => Err(StoreError::InUse {
            what: format!("IndexedDB database {}", Quoted(name)),
        }),
        Ok(Outcome::Failed(detail)) => Err(failed(detail)),
        Err(_) => Err(failed("the lock request was dropped".into())),
    }
}
